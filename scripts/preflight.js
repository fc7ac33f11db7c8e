// Before `npm test` (or `npm run test:stack` with --stack): is every real component
// the tests run against here? If not, one line names what is missing and the one
// command that installs it, and the run stops before building anything.
import { spawnSync } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join, resolve } from 'node:path';

const repo = resolve(import.meta.dirname, '..');
const onPath = (name) => (process.env.PATH ?? '').split(delimiter).some((dir) => executable(join(dir, name)));
const executable = (file) => {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
};

const GJSON_SRC = '/usr/share/gocode/src/github.com/tidwall/gjson';
const stack = process.argv.includes('--stack');
const missing = [];
let fix;
if (stack) {
  for (const bin of ['podman', 'podman-compose']) if (!onPath(bin)) missing.push(bin);
  fix = 'run `bash .ci/podman-setup.sh` (root) first: it installs podman and podman-compose 1.3 and builds the stand-in base images';
} else {
  for (const bin of ['prometheus', 'promtool', 'openssl', 'go']) if (!onPath(bin)) missing.push(bin);
  // KEDA's JSON path library (its metrics-api trigger reads /saturation with it), as Debian packages its source.
  if (!executable(GJSON_SRC)) missing.push(`gjson's Go source (${GJSON_SRC})`);
  // kubectl renders the manifests (its built-in kustomize); not a Debian package of the right age.
  if (!onPath('kubectl')) missing.push('kubectl >= 1.27 (its kustomize renders deploy/kubernetes; Debian 12 has only 1.20)');
  const pushgateway = process.env.PUSHGATEWAY_BIN ?? 'prometheus-pushgateway';
  if (!onPath(pushgateway) && !executable(pushgateway)) missing.push(pushgateway);
  const chromium = process.env.CHROMIUM ?? '/usr/bin/chromium';
  if (!executable(chromium)) missing.push(`chromium (${chromium})`);
  fix = 'run `npm run setup` (root or sudo, Debian) first';
  // Fluent Bit 5.1.1 is not a Debian package: it comes as a binary beside the repository, or FLUENT_BIT names it.
  const fluentBit = process.env.FLUENT_BIT ?? resolve(repo, '..', 'shared', 'fluent-bit', 'fluent-bit');
  if (!executable(fluentBit)) {
    missing.push(`Fluent Bit 5.1.1 (${fluentBit})`);
    fix += ', and set FLUENT_BIT to a Fluent Bit 5.1.1 binary';
  } else {
    const ldd = spawnSync('ldd', [fluentBit], { encoding: 'utf8' });
    const absent = [...(ldd.stdout ?? '').matchAll(/^\s*(\S+) => not found/gm)].map((m) => m[1]);
    if (absent.length > 0) missing.push(`Fluent Bit's libraries (${absent.join(', ')})`);
  }
}
if (missing.length > 0) {
  console.error(`missing: ${missing.join(', ')}: ${fix}.`);
  process.exit(1);
}

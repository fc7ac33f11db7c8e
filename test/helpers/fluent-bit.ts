/**
 * The real Fluent Bit 5.1.1 (../shared/fluent-bit/fluent-bit, or FLUENT_BIT),
 * run with the project's own deploy/fluent-bit/fluent-bit.conf: the addresses come
 * from its environment variables, as compose and Kubernetes set them, and only the
 * container paths are replaced by a folder of the test's; everything else is as shipped.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const FLUENT_BIT = process.env.FLUENT_BIT ?? resolve(REPO, '..', 'shared', 'fluent-bit', 'fluent-bit');
/** The one Fluent Bit config of compose and Kubernetes, and its parsers. */
export const FLUENT_BIT_CONF = join(REPO, 'deploy', 'fluent-bit', 'fluent-bit.conf');
export const FLUENT_BIT_PARSERS = join(REPO, 'deploy', 'fluent-bit', 'parsers.conf');

export interface FluentBitOptions {
  /** host:port of the proxy Fluent Bit scrapes and sends to (PROXY_*, RELAY_*). */
  proxy: string;
  /** host:port of the relay, when it is not on the proxy's port (--otlp-relay-listen). */
  relay?: string;
  /** host:port for the request-log output (PARSEABLE_*). */
  parseable?: string;
  /** Environment for `${VAR}` in the config (OTLP_RELAY_TOKEN, P_USERNAME, ...). */
  env?: Record<string, string>;
  /** Replace the config's file paths under /var/log and /fluent-bit with this folder. */
  dataDir?: string;
}

export interface RunningFluentBit {
  process: ChildProcess;
  /** Everything it logged so far. */
  output(): string;
  stop(): Promise<void>;
}

/** The project's fluent-bit.conf with its container paths under dataDir. */
export function projectConfig(o: Pick<FluentBitOptions, 'dataDir'>): string {
  let text = readFileSync(FLUENT_BIT_CONF, 'utf8');
  if (o.dataDir) text = text.replace(/(\s)\/(?:var\/log\/vllm-metrics-proxy|fluent-bit\/state)\//g, `$1${o.dataDir}/`);
  return text.replace('/fluent-bit/etc/parsers-vllm.conf', FLUENT_BIT_PARSERS);
}

/** The ${VAR}s fluent-bit.conf reads, in order of first use, outside comments. */
export function confVariables(text = readFileSync(FLUENT_BIT_CONF, 'utf8')): string[] {
  const body = text
    .split('\n')
    .filter((l) => !/^\s*#/.test(l))
    .join('\n');
  return [...new Set([...body.matchAll(/\$\{([A-Z_][A-Z0-9_]*)\}/g)].map((m) => m[1]!))];
}

/** The variables fluent-bit.conf reads for its addresses, as compose and the pods set them. */
export function addressEnv(o: Pick<FluentBitOptions, 'proxy' | 'relay' | 'parseable'>): Record<string, string> {
  const [proxyHost, proxyPort] = o.proxy.split(':') as [string, string];
  const [relayHost, relayPort] = (o.relay ?? o.proxy).split(':') as [string, string];
  const [pHost, pPort] = (o.parseable ?? '127.0.0.1:9').split(':') as [string, string];
  return {
    PROXY_HOST: proxyHost,
    PROXY_PORT: proxyPort,
    RELAY_HOST: relayHost,
    RELAY_PORT: relayPort,
    PARSEABLE_HOST: pHost,
    PARSEABLE_PORT: pPort,
    PARSEABLE_TLS: 'Off',
  };
}

export async function startFluentBit(o: FluentBitOptions): Promise<RunningFluentBit> {
  if (!existsSync(FLUENT_BIT)) throw new Error(`Fluent Bit not found at ${FLUENT_BIT} (set FLUENT_BIT)`);
  const dir = mkdtempSync(join(tmpdir(), 'vmp-fluent-bit-'));
  const conf = join(dir, 'fluent-bit.conf');
  // Its tail database and the request log live in a folder of the test's own unless told.
  writeFileSync(conf, projectConfig({ ...o, dataDir: o.dataDir ?? dir }));
  const child = spawn(FLUENT_BIT, ['-c', conf], { env: { PATH: process.env.PATH ?? '', ...addressEnv(o), ...o.env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  await Promise.race([
    once(child, 'spawn'),
    once(child, 'error').then(([err]) => {
      throw err;
    }),
  ]);
  return {
    process: child,
    output: () => out,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = once(child, 'exit');
        child.kill('SIGTERM');
        // Fluent Bit drains for up to its grace period (5 s) before it exits.
        const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
        await exited;
        clearTimeout(timer);
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

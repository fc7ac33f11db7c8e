/**
 * The real Fluent Bit 5.1.1 (../shared/fluent-bit/fluent-bit, or FLUENT_BIT),
 * run with the project's own fluent-bit.conf: only the compose service names and
 * ports are replaced by loopback addresses, everything else is as shipped.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const FLUENT_BIT = process.env.FLUENT_BIT ?? resolve(REPO, '..', 'shared', 'fluent-bit', 'fluent-bit');

export interface FluentBitOptions {
  /** host:port that replaces `proxy:9090` (the proxy Fluent Bit scrapes and sends to). */
  proxy: string;
  /** host:port that replaces `parseable:8000`, for the request-log output. */
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

/** The project's fluent-bit.conf with compose's service names replaced. */
export function projectConfig(o: FluentBitOptions): string {
  const [proxyHost, proxyPort] = o.proxy.split(':');
  const [pHost, pPort] = (o.parseable ?? '127.0.0.1:9').split(':');
  let text = readFileSync(join(REPO, 'fluent-bit.conf'), 'utf8');
  text = text.replace(/^(\s+Host\s+)proxy\s*$/gm, `$1${proxyHost}`).replace(/^(\s+Port\s+)9090\s*$/gm, `$1${proxyPort}`);
  text = text.replace(/^(\s+Host\s+)parseable\s*$/gm, `$1${pHost}`).replace(/^(\s+Port\s+)8000\s*$/gm, `$1${pPort}`);
  if (o.dataDir) text = text.replace(/(\s)\/(?:var\/log\/vllm-metrics-proxy|fluent-bit\/state)\//g, `$1${o.dataDir}/`);
  return text.replace('/fluent-bit/etc/parsers-vllm.conf', join(REPO, 'fluent-bit-parsers.conf'));
}

export async function startFluentBit(o: FluentBitOptions): Promise<RunningFluentBit> {
  if (!existsSync(FLUENT_BIT)) throw new Error(`Fluent Bit not found at ${FLUENT_BIT} (set FLUENT_BIT)`);
  const dir = mkdtempSync(join(tmpdir(), 'vmp-fluent-bit-'));
  const conf = join(dir, 'fluent-bit.conf');
  // Its tail database and the request log live in a folder of the test's own unless told.
  writeFileSync(conf, projectConfig({ ...o, dataDir: o.dataDir ?? dir }));
  const child = spawn(FLUENT_BIT, ['-c', conf], { env: { PATH: process.env.PATH ?? '', ...o.env }, stdio: ['ignore', 'pipe', 'pipe'] });
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

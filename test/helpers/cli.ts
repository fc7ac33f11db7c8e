import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { LogLines } from './lines.js';

/** The built CLI: these tests run what a user runs (`npm test` builds first). */
export const CLI = fileURLToPath(new URL('../../dist/cli.js', import.meta.url));

/** Only what the test gives: no VLLM_* or PORT from the developer's shell. */
function cleanEnv(env: Record<string, string>): NodeJS.ProcessEnv {
  const base = Object.fromEntries(
    Object.entries(process.env).filter(
      ([k]) =>
        !/^(VLLM_|OTLP_|PUSH_|FLEET_|P_|PARSEABLE_|REQUEST_LOG_|PORT$|HOST$|LOG_LEVEL$|READY_MAX_AGE$|POLL_INTERVAL$|MAX_STALENESS$|PUSHGATEWAY_URL$)/.test(k),
    ),
  );
  return { ...base, ...env };
}

export interface CliResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

export function runCli(args: string[], env: Record<string, string> = {}): CliResult {
  const r = spawnSync(process.execPath, [CLI, ...args], { env: cleanEnv(env), encoding: 'utf8', timeout: 20_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** runCli without blocking, so a table of cases runs in parallel. */
export async function runCliAsync(args: string[], env: Record<string, string> = {}, cwd?: string): Promise<CliResult> {
  const child = spawn(process.execPath, [CLI, ...args], { env: cleanEnv(env), stdio: ['ignore', 'pipe', 'pipe'], timeout: 20_000, cwd });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const [status] = (await once(child, 'close')) as [number | null];
  return { status, stdout, stderr };
}

export interface CliProcess {
  child: ChildProcess;
  /** JSON log lines so far. */
  lines: Array<Record<string, unknown>>;
  waitFor(match: (line: Record<string, unknown>) => boolean): Promise<Record<string, unknown>>;
  exited: Promise<number | null>;
}

/** A long-running CLI command whose pino lines on stdout the test can await. */
export function spawnCli(args: string[], env: Record<string, string> = {}, cwd?: string): CliProcess {
  const child = spawn(process.execPath, [CLI, ...args], { env: cleanEnv(env), stdio: ['ignore', 'pipe', 'pipe'], cwd });
  const collected = new LogLines();
  let buffered = '';
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  child.stdout!.on('data', (d: Buffer) => {
    buffered += d.toString();
    let nl;
    while ((nl = buffered.indexOf('\n')) >= 0) {
      const text = buffered.slice(0, nl);
      buffered = buffered.slice(nl + 1);
      if (text.startsWith('{')) collected.push(text);
    }
  });
  const exited = once(child, 'exit').then(([code]) => {
    collected.close(new Error(`process exited (${code}) before the awaited log line; stderr: ${stderr}`));
    return code as number | null;
  });
  return { child, lines: collected.lines, exited, waitFor: (match) => collected.waitFor(match) };
}

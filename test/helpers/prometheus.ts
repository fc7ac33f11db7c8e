import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, request, type Dispatcher } from 'undici';
import { eventually } from './wait.js';

/** A port that was free a moment ago (for servers we cannot start on port 0). */
export async function freePort(): Promise<number> {
  const s = createServer();
  s.listen(0, '127.0.0.1');
  await once(s, 'listening');
  const { port } = s.address() as AddressInfo;
  s.close();
  await once(s, 'close');
  return port;
}

export interface ScrapeJob {
  job: string;
  /** host:port */
  target: string;
  path?: string;
  /** Keep the target's own `instance`/`job` labels (federation, a merging proxy). */
  honorLabels?: boolean;
}

export interface RunningPrometheus {
  url: string;
  /** Instant query; the result vector. */
  query(promql: string): Promise<Array<{ metric: Record<string, string>; value: [number, string] }>>;
  close(): Promise<void>;
}

/** Serve HTTPS with this key and certificate (Prometheus' --web.config.file). */
export interface PrometheusTls {
  certFile: string;
  keyFile: string;
  /** The CA that signed the certificate, for the helper's own requests. */
  ca: string;
}

/** A real Prometheus server (Debian package `prometheus`) scraping `jobs` every second. */
export async function startPrometheus(jobs: ScrapeJob[], tls?: PrometheusTls): Promise<RunningPrometheus> {
  const dir = mkdtempSync(join(tmpdir(), 'vmp-prometheus-'));
  const config = [
    'global:',
    '  scrape_interval: 1s',
    '  scrape_timeout: 1s',
    'scrape_configs:',
    ...jobs.flatMap((j) => [
      `  - job_name: ${j.job}`,
      `    metrics_path: ${j.path ?? '/metrics'}`,
      '    static_configs:',
      `      - targets: ['${j.target}']`,
      ...(j.honorLabels ? ['    honor_labels: true'] : []),
    ]),
  ].join('\n');
  writeFileSync(join(dir, 'prometheus.yml'), config);
  const port = await freePort();
  const url = `${tls ? 'https' : 'http'}://127.0.0.1:${port}`;
  const web: string[] = [];
  if (tls) {
    writeFileSync(join(dir, 'web.yml'), `tls_server_config:\n  cert_file: ${tls.certFile}\n  key_file: ${tls.keyFile}\n`);
    web.push(`--web.config.file=${join(dir, 'web.yml')}`);
  }
  const dispatcher = tls ? new Agent({ connect: { ca: tls.ca } }) : undefined;
  const child: ChildProcess = spawn(
    'prometheus',
    [
      `--config.file=${join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--log.level=warn',
      ...web,
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = once(child, 'exit');
  const close = async () => {
    if (child.exitCode === null) {
      child.kill('SIGTERM');
      await exited;
    }
    rmSync(dir, { recursive: true, force: true });
  };
  await untilReady('prometheus', url, child, () => stderr, close, dispatcher);
  return {
    url,
    async query(promql) {
      const res = await request(`${url}/api/v1/query?query=${encodeURIComponent(promql)}`, { dispatcher });
      const body = (await res.body.json()) as {
        status: string;
        error?: string;
        data: { result: Array<{ metric: Record<string, string>; value: [number, string] }> };
      };
      if (body.status !== 'success') throw new Error(`query ${promql}: ${body.error}`);
      return body.data.result;
    },
    close,
  };
}

/** Wait for a Prometheus-family server's /-/ready; if it never comes (or the process dies), close it and throw. */
export async function untilReady(
  name: string,
  url: string,
  child: ChildProcess,
  stderr: () => string,
  close: () => Promise<void>,
  dispatcher?: Dispatcher,
): Promise<void> {
  try {
    await eventually(`${name} to be ready`, async () => {
      if (child.exitCode !== null) throw new Error(`${name} exited: ${stderr()}`);
      const res = await request(`${url}/-/ready`, { dispatcher });
      await res.body.dump();
      return res.statusCode === 200 ? true : undefined;
    });
  } catch (err) {
    await close();
    throw err;
  }
}

/** `promtool check metrics` on an exposition: its exit code and complaints. */
export function promtoolCheck(exposition: Buffer | string): { status: number | null; problems: string[] } {
  const r = spawnSync('promtool', ['check', 'metrics'], { input: exposition, encoding: 'utf8' });
  const problems = `${r.stdout}${r.stderr}`.split('\n').filter(Boolean);
  return { status: r.status, problems };
}

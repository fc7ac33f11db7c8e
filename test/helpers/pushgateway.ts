import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { request } from 'undici';
import { freePort, untilReady } from './prometheus.js';

export interface RunningPushgateway {
  url: string;
  /** Its /metrics, as a scraper sees it. */
  metrics(): Promise<string>;
  close(): Promise<void>;
}

/** Debian's packaging names the binary prometheus-pushgateway; upstream tarballs name it pushgateway. */
const BINARY = process.env.PUSHGATEWAY_BIN ?? 'prometheus-pushgateway';

/** A real Prometheus Pushgateway on a free loopback port, in memory only. */
export async function startPushgateway(): Promise<RunningPushgateway> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  // Debian's build persists to /var/lib/prometheus/pushgateway.data by default: every
  // gateway started here would load the groups of earlier (and parallel) tests.
  const child: ChildProcess = spawn(BINARY, [`--web.listen-address=127.0.0.1:${port}`, '--persistence.file=', '--log.level=warn'], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = once(child, 'exit');
  const close = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      await exited;
    }
  };
  const metrics = async () => {
    const res = await request(`${url}/metrics`);
    return res.body.text();
  };
  await untilReady('the Pushgateway', url, child, () => stderr, close);
  return { url, metrics, close };
}

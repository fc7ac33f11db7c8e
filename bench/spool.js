// A long Parseable outage through the relay with a spool (--spool-dir), compressed in time:
// the OTLP/JSON of 10 minutes of scrapes every 2 s (what Fluent Bit would send) is posted to
// the proxy's relay while the destination is down, then the destination comes back. Printed:
// the spool's bytes on disk, the catch-up time at the default drain rate, and the proxy's
// peak RSS over the whole run (sampled from /proc every 50 ms).
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { JsonMetricsSerializer } from '@opentelemetry/otlp-transformer';
import { request } from 'undici';
import { parseExposition } from '../dist/exposition/parser.js';
import { StartTimes, toResourceMetrics } from '../dist/otlp/from-exposition.js';
import { Simulator } from '../dist/simulator/simulator.js';
import { Spool } from '../dist/spool/spool.js';

const cli = fileURLToPath(new URL('../dist/cli.js', import.meta.url));
const OUTAGE_S = Number(process.env.BENCH_OUTAGE_SECONDS ?? 600);
const INTERVAL_S = 2;

/** A destination that takes every OTLP request, listening only when told to. */
function sink() {
  let received = 0;
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      received++;
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{}');
    });
  });
  return {
    server,
    get received() {
      return received;
    },
  };
}

async function freePort() {
  const s = createServer();
  s.listen(0, '127.0.0.1');
  await once(s, 'listening');
  const { port } = s.address();
  s.close();
  await once(s, 'close');
  return port;
}

const rssMb = (pid) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]) / 1024;

async function selfMetric(url, name) {
  const text = await (await request(`${url}/proxy/metrics`)).body.text();
  const line = text.split('\n').find((l) => l.startsWith(`vllm_metrics_proxy_${name} `));
  return line ? Number(line.split(' ')[1]) : 0;
}

async function outage(engines) {
  const dir = mkdtempSync(join(tmpdir(), 'vmp-bench-spool-'));
  const port = await freePort();
  const child = spawn(
    process.execPath,
    [
      cli,
      'serve',
      '--host',
      '127.0.0.1',
      '--port',
      '0',
      '--upstream',
      'http://127.0.0.1:9/metrics',
      '--otlp-forward-url',
      `http://127.0.0.1:${port}/v1/metrics`,
      '--spool-dir',
      dir,
      '--otlp-timeout',
      '2s',
      '--log-level',
      'info',
    ],
    { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, OTLP_USERNAME: 'bench', OTLP_PASSWORD: 'bench' } },
  );
  const lines = createInterface({ input: child.stdout });
  const url = await new Promise((resolve) =>
    lines.on('line', (l) => {
      const j = JSON.parse(l);
      if (j.event === 'listening') resolve(j.url);
    }),
  );
  let peak = 0;
  const sampler = setInterval(() => (peak = Math.max(peak, rssMb(child.pid))), 50);

  // The scrapes of the outage, as OTLP/JSON: the simulator's exposition every 2 s of simulated load.
  const sim = new Simulator({ engines, tickMs: 0, rate: 5 }, 1_760_000_000);
  const starts = new StartTimes();
  let bytes = 0;
  let batches = 0;
  const postStarted = performance.now();
  for (let i = 0; i < OUTAGE_S / INTERVAL_S; i++) {
    sim.advance(1_760_000_000 + (i + 1) * INTERVAL_S, INTERVAL_S);
    const families = parseExposition(sim.exposition('text').toString(), 'prometheus');
    for (const r of toResourceMetrics(families, 1_760_000_000_000 + i * INTERVAL_S * 1000, starts, { attributes: { 'host.name': 'bench' } })) {
      const body = JsonMetricsSerializer.serializeRequest(r);
      const res = await request(`${url}/v1/metrics`, { method: 'POST', body, headers: { 'content-type': 'application/json' } });
      await res.body.dump();
      if (res.statusCode !== 200) throw new Error(`relay answered ${res.statusCode}`);
      bytes += body.length;
      batches++;
    }
  }
  const postSeconds = (performance.now() - postStarted) / 1000;
  const spoolBytes = await Spool.size(join(dir, 'relay'));
  const held = await selfMetric(url, 'otlp_queue_batches');

  const destination = sink();
  destination.server.listen(port, '127.0.0.1');
  await once(destination.server, 'listening');
  const back = performance.now();
  while ((await selfMetric(url, 'otlp_queue_batches')) > 0) await new Promise((r) => setTimeout(r, 100));
  const catchUp = (performance.now() - back) / 1000;
  clearInterval(sampler);
  child.kill('SIGTERM');
  await once(child, 'exit');
  destination.server.close();
  rmSync(dir, { recursive: true, force: true });
  return {
    engines,
    outageMinutes: OUTAGE_S / 60,
    batches,
    held,
    otlpBytes: bytes,
    spoolBytes,
    postSeconds,
    catchUpSeconds: catchUp,
    delivered: destination.received,
    peakRssMb: peak,
  };
}

const results = [];
for (const engines of [2, 8]) results.push(await outage(engines));
process.stdout.write(JSON.stringify(results));

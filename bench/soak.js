// A compressed day (docs/reliability.md): the proxy as shipped (fleet mode on a targets file,
// the OTLP relay with a spool, the API passthrough shipping request records) for
// SOAK_SECONDS (default an hour), under what a day brings, faster:
//   - a Fluent Bit-like scraper every 100 ms, and a writer posting OTLP to the relay as often;
//   - a Prometheus-like scraper every second;
//   - 32 of 40 simulated targets listed at a time, 4 swapped every 20 s;
//   - a chat request through the API every 100 ms;
//   - Parseable (a counting stand-in in this process) down for 20 s of every 2 minutes.
// Sampled every 5 s: the proxy's RSS, JS heap and open file descriptors. At the end, once the
// stand-in is up and the spools have drained: the points the relay took against those the
// stand-in got, and the requests answered against the records it got. Prints JSON.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { request } from 'undici';
import { encodeProtobuf } from '../dist/otlp/proto.js';
import { startSimulator } from '../dist/simulator/start.js';

const here = fileURLToPath(new URL('.', import.meta.url));
const CLI = join(here, '../dist/cli.js');
const SECONDS = Number(process.env.SOAK_SECONDS ?? 3600);
const dir = mkdtempSync(join(tmpdir(), 'vmp-soak-'));

// Parseable, counting: OTLP/JSON points on /v1/metrics, request records on /api/v1/ingest.
const got = { points: 0, records: 0, batches: 0 };
let parseablePort = 0;
let parseable;
function countPoints(body) {
  let n = 0;
  for (const rm of body.resourceMetrics ?? [])
    for (const sm of rm.scopeMetrics ?? []) for (const m of sm.metrics ?? []) n += (m.gauge ?? m.sum ?? m.histogram ?? m.summary ?? {}).dataPoints?.length ?? 0;
  return n;
}
async function parseableUp() {
  parseable = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      got.batches++;
      if (req.url.startsWith('/v1/metrics')) got.points += countPoints(JSON.parse(body));
      else if (req.url.startsWith('/api/v1/ingest')) got.records += JSON.parse(body).length;
      res.writeHead(200).end();
    });
  });
  parseable.listen(parseablePort, '127.0.0.1');
  await once(parseable, 'listening');
  parseablePort = parseable.address().port;
}
async function parseableDown() {
  parseable.closeAllConnections();
  await new Promise((r) => parseable.close(r));
}
await parseableUp();

// 40 simulated vLLMs in this process; 32 listed at a time.
const sims = [];
for (let i = 0; i < 40; i++)
  sims.push(await startSimulator({ engines: 1, seed: i + 1 }, { host: '127.0.0.1', port: 0 }, undefined, { decodeTokensPerSecond: 2000 }));
const targetsFile = join(dir, 'targets.json');
let first = 0;
const writeTargets = () =>
  writeFileSync(
    targetsFile,
    JSON.stringify(Array.from({ length: 32 }, (_, k) => (first + k) % 40).map((i) => ({ name: `gpu-${i}`, url: `${sims[i].url}/metrics` }))),
  );
writeTargets();

const proxyProc = spawn(
  process.execPath,
  [
    CLI,
    'serve',
    '--host',
    '127.0.0.1',
    '--port',
    '0',
    '--targets-file',
    targetsFile,
    '--otlp-forward-url',
    `http://127.0.0.1:${parseablePort}/v1/metrics`,
    '--spool-dir',
    join(dir, 'spool'),
    '--api-upstream',
    sims[0].url,
    '--request-log-url',
    `http://127.0.0.1:${parseablePort}/api/v1/ingest`,
  ],
  { stdio: ['ignore', 'pipe', 'inherit'] },
);
// The proxy's log: its address, and the warnings and errors it wrote, counted by event.
const logged = {};
const url = await new Promise((resolve, reject) => {
  let buf = '';
  proxyProc.once('exit', (code) => reject(new Error(`the proxy exited (${code}) before listening`)));
  proxyProc.stdout.on('data', (d) => {
    buf += d;
    const lines = buf.split('\n');
    buf = lines.pop();
    for (const l of lines) {
      const e = JSON.parse(l);
      if (e.event === 'listening') resolve(e.url);
      if (e.level < 40) continue;
      const key = `${e.level >= 50 ? 'error' : 'warn'} ${e.event ?? e.msg}`;
      logged[key] = (logged[key] ?? 0) + 1;
    }
  });
});
const pid = proxyProc.pid;

const sent = { scrapes: 0, scrapeErrors: 0, points: 0, otlpRefused: 0, requests: 0, requestErrors: 0 };
// A load's own failures (a refused connection, say), counted by load: none is expected.
const failed = {};
const every = (ms, f) => {
  const timer = setInterval(
    () => void f().catch((err) => (failed[`${f.name}: ${err.code ?? err.message}`] = (failed[`${f.name}: ${err.code ?? err.message}`] ?? 0) + 1)),
    ms,
  );
  return () => clearInterval(timer);
};
const scrape = async () => {
  const res = await request(`${url}/metrics`);
  await res.body.text();
  sent.scrapes++;
  if (res.statusCode !== 200) sent.scrapeErrors++;
};
let batch = 0;
const otlp = async () => {
  const n = 20;
  const b = batch++;
  const body = encodeProtobuf({
    resourceMetrics: [
      {
        resource: { attributes: [{ key: 'host.name', value: { stringValue: 'soak' } }] },
        scopeMetrics: [
          {
            metrics: [
              {
                name: 'soak_gauge',
                gauge: {
                  dataPoints: Array.from({ length: n }, (_, i) => ({
                    attributes: [{ key: 'i', value: { stringValue: `${b}-${i}` } }],
                    timeUnixNano: `${Date.now()}000000`,
                    asDouble: i,
                  })),
                },
              },
            ],
          },
        ],
      },
    ],
  });
  const res = await request(`${url}/v1/metrics`, { method: 'POST', body, headers: { 'content-type': 'application/x-protobuf' } });
  await res.body.text();
  if (res.statusCode === 200) sent.points += n;
  else sent.otlpRefused++;
};
const model = JSON.parse(await (await request(`${sims[0].url}/v1/models`)).body.text()).data[0].id;
const chat = async () => {
  const res = await request(`${url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model, messages: [{ role: 'user', content: 'soak' }], max_tokens: 8, stream: true }),
  });
  await res.body.text();
  sent.requests++;
  if (res.statusCode !== 200) sent.requestErrors++;
};

function sample() {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return {
    t: (performance.now() - started) / 1000,
    rssMB: Number(/VmRSS:\s+(\d+)/.exec(status)[1]) / 1024,
    fds: readdirSync(`/proc/${pid}/fd`).length,
  };
}
async function heapMB() {
  const text = await (await request(`${url}/proxy/metrics`)).body.text();
  const m = /^vllm_metrics_proxy_nodejs_heap_size_used_bytes (\S+)/m.exec(text);
  return m ? Number(m[1]) / 2 ** 20 : NaN;
}

const started = performance.now();
const samples = [];
const stops = [
  every(100, scrape),
  every(100, otlp),
  every(1_000, scrape),
  every(100, chat),
  every(20_000, async () => {
    first = (first + 4) % 40;
    writeTargets();
  }),
  every(5_000, async () => samples.push({ ...sample(), heapMB: await heapMB() })),
];
let outages = 0;
const outage = every(120_000, async () => {
  outages++;
  await parseableDown();
  await new Promise((r) => setTimeout(r, 20_000));
  await parseableUp();
});
await new Promise((r) => setTimeout(r, SECONDS * 1000));
for (const stop of [...stops, outage]) stop();
if (!parseable.listening) await parseableUp();

// Settle: every accepted point and request record delivered (the spools drain).
const deadline = Date.now() + 300_000;
while (Date.now() < deadline && (got.points < sent.points || got.records < sent.requests)) await new Promise((r) => setTimeout(r, 500));

/** Least-squares slope per hour of y over t (seconds), over the second half: warm-up left out. */
function slopePerHour(points, key) {
  const xs = points.slice(Math.floor(points.length / 2));
  const n = xs.length;
  const mx = xs.reduce((a, p) => a + p.t, 0) / n;
  const my = xs.reduce((a, p) => a + p[key], 0) / n;
  const num = xs.reduce((a, p) => a + (p.t - mx) * (p[key] - my), 0);
  const den = xs.reduce((a, p) => a + (p.t - mx) ** 2, 0);
  return den ? (num / den) * 3600 : 0;
}
// Means per outage cycle (2 minutes): the cycle's own swing (a backlog held, then drained)
// averages out, and what is left is the trend.
const CYCLE_S = 120;
const cycles = [];
for (let k = 0; (k + 1) * CYCLE_S <= SECONDS; k++) {
  const xs = samples.filter((p) => p.t >= k * CYCLE_S && p.t < (k + 1) * CYCLE_S);
  if (xs.length === 0) continue;
  const mean = (key) => xs.reduce((a, p) => a + p[key], 0) / xs.length;
  cycles.push({ t: (k + 0.5) * CYCLE_S, rssMB: mean('rssMB'), heapMB: mean('heapMB'), fds: mean('fds') });
}
const range = (key) => [Math.min(...samples.map((s) => s[key])), Math.max(...samples.map((s) => s[key]))];
// The proxy's own count of the same things: each must agree with the loads' and the stand-in's.
const self = await (await request(`${url}/proxy/metrics`)).body.text();
const sumOf = (name, labels = '') =>
  self
    .split('\n')
    .filter(
      (l) =>
        l.startsWith(`vllm_metrics_proxy_${name}`) &&
        /^[^{ ]+(\{[^}]*\})? /.test(l) &&
        l.split(/[{ ]/)[0] === `vllm_metrics_proxy_${name}` &&
        l.includes(labels),
    )
    .reduce((a, l) => a + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
const proxyCounted = {
  scrapesOk: sumOf('scrapes_total', 'outcome="ok"'),
  otlpReceivedPoints: sumOf('otlp_received_points_total'),
  otlpForwardedPoints: sumOf('otlp_forwarded_points_total'),
  otlpDroppedPoints: sumOf('otlp_dropped_points_total'),
  apiRequests: sumOf('api_requests_total'),
  recordsShipped: sumOf('request_records_shipped_total'),
  recordsDropped: sumOf('request_records_dropped_total'),
  targets: sumOf('targets'),
};
proxyProc.kill('SIGTERM');
await once(proxyProc, 'exit');
await parseableDown();
for (const s of sims) await s.close();
rmSync(dir, { recursive: true, force: true });
process.stdout.write(
  JSON.stringify({
    seconds: SECONDS,
    outages,
    sent,
    got,
    lostPoints: sent.points - got.points,
    lostRecords: sent.requests - got.records,
    rssMB: range('rssMB'),
    heapMB: range('heapMB'),
    fds: range('fds'),
    cycleMeans: cycles.map((c) => ({ t: Math.round(c.t), rssMB: Math.round(c.rssMB), heapMB: Math.round(c.heapMB), fds: Math.round(c.fds) })),
    slopePerHourOfCycleMeans: { rssMB: slopePerHour(cycles, 'rssMB'), heapMB: slopePerHour(cycles, 'heapMB'), fds: slopePerHour(cycles, 'fds') },
    slopePerHour: { rssMB: slopePerHour(samples, 'rssMB'), heapMB: slopePerHour(samples, 'heapMB'), fds: slopePerHour(samples, 'fds') },
    samples: samples.length,
    proxyCounted,
    logged,
    failed,
  }),
);
process.exit(0);

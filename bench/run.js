// npm run bench: the proxy against its baselines, measured in the same run.
//
//   (a) direct upstream: a Node server handing out the exposition from memory
//   (b) no-op passthrough: Node + undici relaying it untouched
//   (c) the proxy (the built CLI, `serve`) relaying and sanitizing it
// on the simulator's 1-engine, 8-engine and 128-series-set expositions; then
// the transformer alone on an in-memory buffer, and the proxy's RSS growth
// while it streams a 200 MB exposition. Absolute numbers vary by machine; the
// ratios are what the targets are set on.
//
// The machines this runs on share their CPUs with neighbours, and one run's
// requests per second swing by ±30%. So the three servers are measured in
// interleaved rounds (BENCH_ROUNDS, default 5, of BENCH_SECONDS each, default 3),
// each reported as its median, and the ratio is the median of the per-round
// ratios: a slow patch of the machine hits both sides of a pair.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { request } from 'undici';
import { NameSanitizer } from '../dist/exposition/sanitizer.js';
import { FamilyFilter } from '../dist/exposition/family-filter.js';
import { Simulator } from '../dist/simulator/simulator.js';
import { apiRun } from './api.js';
import { cpuOf, haveWrk, load, sweeps } from './load.js';

const here = fileURLToPath(new URL('.', import.meta.url));
const CLI = join(here, '../dist/cli.js');
const SECONDS = Number(process.env.BENCH_SECONDS ?? 3);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const median = (xs) => {
  const v = [...xs].sort((a, b) => a - b);
  return v.length % 2 ? v[(v.length - 1) / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
};
const CONNECTIONS = 8;
const TARGETS = {
  proxyVsPassthrough: 0.8,
  loneVsUncoalesced: 0.95,
  transformerMBps: 1000,
  rssGrowthMB: 32,
  pollVsDirect: 1,
  apiVsDirect: 0.9,
  apiAddedP50Ms: 1,
  apiCpuVsNoop: 1.25,
  fleetMBps: 200,
  fleetPeakOverMerged: 8,
};
const children = new Set();
process.on('exit', () => children.forEach((c) => c.kill('SIGKILL')));

/** Start a child and wait for the first stdout JSON line matching `pick`. */
async function child(args, pick = (l) => l.url) {
  const c = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  children.add(c);
  let buf = '';
  const url = await new Promise((resolve, reject) => {
    c.on('exit', (code) => reject(new Error(`${args.join(' ')} exited ${code}`)));
    c.stdout.on('data', (d) => {
      buf += d;
      // Whole lines only: a chunk can end inside one.
      const lines = buf.split('\n');
      buf = lines.pop();
      for (const line of lines) {
        if (!line.startsWith('{')) continue;
        const v = pick(JSON.parse(line));
        if (v) resolve(v);
      }
    });
  });
  c.stdout.resume();
  return { child: c, url, pid: c.pid, stop: () => (c.kill('SIGKILL'), children.delete(c)) };
}

const proxyArgs = (upstream, ...extra) => [CLI, 'serve', '--host', '127.0.0.1', '--port', '0', '--upstream', upstream, '--log-level', 'info', ...extra];
const listening = (l) => l.event === 'listening' && l.url;

async function throughputRuns(connections = CONNECTIONS, withSaturation = true) {
  const dir = mkdtempSync(join(tmpdir(), 'vmp-bench-'));
  const sizes = [
    { name: '1 engine', opts: { engines: 1 } },
    { name: '8 engines', opts: { engines: 8 } },
    { name: '128 series sets (16 models x 8 engines)', opts: { engines: 8, models: 16 } },
  ];
  const rows = [];
  // BENCH_SIZES=1,8 runs only those engine counts (for quick comparisons while working).
  const pick = process.env.BENCH_SIZES?.split(',');
  for (const size of sizes.filter((z) => !pick || pick.includes(z.name.split(' ')[0]))) {
    const sim = new Simulator({ ...size.opts, tickMs: 0 }, 1_760_000_000);
    const body = sim.exposition('text');
    const file = join(dir, `${size.opts.engines}x${size.opts.models ?? 1}.prom`);
    writeFileSync(file, body);
    const upstream = await child([join(here, 'servers.js'), 'static', file, Simulator.contentType('text')]);
    const passthrough = await child([join(here, 'servers.js'), 'passthrough', `${upstream.url}/metrics`]);
    const proxy = await child(proxyArgs(`${upstream.url}/metrics`), listening);
    const uncoalesced = await child(proxyArgs(`${upstream.url}/metrics`, '--no-coalesce'), listening);
    // As compose.yml runs it: the saturation gauges end every answer.
    const saturation = withSaturation ? await child(proxyArgs(`${upstream.url}/metrics`, '--saturation'), listening) : undefined;
    const row = { size: size.name, bytes: body.length };
    const targets = [
      ['direct', `${upstream.url}/metrics`],
      ['passthrough', `${passthrough.url}/metrics`],
      ['proxy', `${proxy.url}/metrics`],
      ['uncoalesced', `${uncoalesced.url}/metrics`],
      ...(saturation ? [['saturation', `${saturation.url}/metrics`]] : []),
    ];
    const runs = { direct: [], passthrough: [], proxy: [], uncoalesced: [], saturation: [] };
    for (const [, url] of targets) await load(url, { seconds: 1, connections }); // warm-up: JIT, connections
    for (let round = 0; round < ROUNDS; round++) {
      for (const [mode, url] of targets) {
        const r = await load(url, { seconds: SECONDS, connections });
        if (r.errors) throw new Error(`${mode} at ${size.name}: ${r.errors} errors`);
        runs[mode].push(r);
      }
    }
    for (const [mode] of targets) {
      const rs = runs[mode];
      row[mode] = {
        rps: median(rs.map((r) => r.rps)),
        p50: median(rs.map((r) => r.p50)),
        p99: median(rs.map((r) => r.p99)),
        errors: 0,
        rounds: rs.map((r) => Math.round(r.rps)),
      };
    }
    row.ratio = median(runs.proxy.map((r, i) => r.rps / runs.passthrough[i].rps));
    row.ratioUncoalesced = median(runs.uncoalesced.map((r, i) => r.rps / runs.passthrough[i].rps));
    if (saturation) row.ratioSaturation = median(runs.saturation.map((r, i) => r.rps / runs.passthrough[i].rps));
    row.ratioVsUncoalesced = median(runs.proxy.map((r, i) => r.rps / runs.uncoalesced[i].rps));
    rows.push(row);
    for (const c of [proxy, uncoalesced, saturation, passthrough, upstream]) c?.stop();
  }
  return rows;
}

function transformerRun() {
  // 8-engine exposition repeated to 64 MB, fed in 64 KiB chunks as a socket would.
  const one = new Simulator({ engines: 8, tickMs: 0 }, 1_760_000_000).exposition('text');
  const pristine = Buffer.alloc(Math.floor((64 * 2 ** 20) / one.length) * one.length);
  for (let at = 0; at < pristine.length; at += one.length) one.copy(pristine, at);
  const CHUNK = 64 * 1024;
  const work = Buffer.allocUnsafe(pristine.length);
  const best = (fn) => {
    let top = 0;
    for (let i = 0; i < 7; i++) {
      pristine.copy(work);
      const t0 = process.hrtime.bigint();
      fn(work);
      const s = Number(process.hrtime.bigint() - t0) / 1e9;
      top = Math.max(top, pristine.length / 1e6 / s);
    }
    return top;
  };
  const sanitizer = best((buf) => {
    const s = new NameSanitizer();
    const out = [];
    for (let at = 0; at < buf.length; at += CHUNK) {
      s.write(buf.subarray(at, Math.min(at + CHUNK, buf.length)), out);
      out.length = 0;
    }
    s.end(out);
  });
  // The family filter (--keep 'vllm:*', which leaves out python_gc_*, process_*, http_*) in
  // front of the sanitizer, as /metrics runs them: its cost is the difference.
  const filtered = best((buf) => {
    const f = new FamilyFilter({ keep: ['vllm:*'], drop: [] });
    const s = new NameSanitizer();
    const kept = [];
    const out = [];
    for (let at = 0; at < buf.length; at += CHUNK) {
      f.write(buf.subarray(at, Math.min(at + CHUNK, buf.length)), kept);
      for (const k of kept) s.write(k, out);
      kept.length = 0;
      out.length = 0;
    }
    f.end(kept);
    s.end(out);
  });
  // Baselines: copying the bytes (the floor of any transformer), and the usual
  // string approach (decode, regex, encode) that a script-language proxy takes.
  const copy = best((buf) => {
    const dst = Buffer.allocUnsafe(CHUNK);
    for (let at = 0; at < buf.length; at += CHUNK) buf.copy(dst, 0, at, Math.min(at + CHUNK, buf.length));
  });
  const regex = best((buf) => {
    for (let at = 0; at < buf.length; at += CHUNK) {
      const text = buf.toString('latin1', at, Math.min(at + CHUNK, buf.length));
      Buffer.from(
        text.replace(/^(#\s*(?:HELP|TYPE|UNIT)\s+)?([a-zA-Z_:][a-zA-Z0-9_:]*)/gm, (_, p = '', n) => p + n.replaceAll(':', '_')),
        'latin1',
      );
    }
  });
  return { bytes: pristine.length, sanitizerMBps: sanitizer, filteredMBps: filtered, copyMBps: copy, regexMBps: regex };
}

function rssOf(pid) {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m[1]) * 1024;
}

async function rssRun() {
  const SIZE = 200 * 1e6;
  const upstream = await child([join(here, 'servers.js'), 'stream', String(SIZE)]);
  const proxy = await child(proxyArgs(`${upstream.url}/metrics`, '--max-body-bytes', '1GiB', '--timeout', '5m'), listening);
  const setSize = async (bytes) => (await request(`${upstream.url}/size?bytes=${bytes}`, { method: 'POST' })).body.text();
  const scrape = async (label) => {
    await (await request(`${proxy.url}/health`)).body.text();
    const base = rssOf(proxy.pid);
    let peak = base;
    const sampler = setInterval(() => (peak = Math.max(peak, rssOf(proxy.pid))), 5);
    const res = await request(`${proxy.url}/metrics`);
    let received = 0;
    for await (const chunk of res.body) received += chunk.length;
    clearInterval(sampler);
    peak = Math.max(peak, rssOf(proxy.pid));
    if (res.statusCode !== 200 || received < SIZE) throw new Error(`200 MB stream: status ${res.statusCode}, ${received} bytes`);
    return { label, received, baseMB: base / 2 ** 20, growthMB: (peak - base) / 2 ** 20 };
  };
  // Cold: the first scrape the process ever serves, JIT compilation included.
  const cold = await scrape('cold');
  // Warm: a fresh process that served a few ordinary (2 MB) scrapes first, as
  // any proxy in service has; the growth is then what streaming itself costs.
  proxy.stop();
  const warmProxy = await child(proxyArgs(`${upstream.url}/metrics`, '--max-body-bytes', '1GiB', '--timeout', '5m'), listening);
  Object.assign(proxy, warmProxy);
  await setSize(2e6);
  for (let i = 0; i < 5; i++) for await (const _ of (await request(`${proxy.url}/metrics`)).body);
  await setSize(SIZE);
  const warm = [await scrape('warm'), await scrape('warm, again')];
  upstream.stop();
  warmProxy.stop();
  return { cold, warm };
}

/** A fleet of static upstreams in one process (the machine has two cores, not hundreds) and the proxy merging them. */
async function fleetOf(targets, engines, extra = []) {
  const dir = mkdtempSync(join(tmpdir(), 'vmp-bench-'));
  const file = join(dir, 'fleet.prom');
  const body = new Simulator({ engines, tickMs: 0 }, 1_760_000_000).exposition('text');
  writeFileSync(file, body);
  const fleet = await child([join(here, 'servers.js'), 'static', file, Simulator.contentType('text'), String(targets)], (l) => l.urls);
  const urls = fleet.url.map((u) => `${u}/metrics`);
  // A targets file rather than hundreds of --upstream flags.
  const list = join(dir, 'targets.json');
  writeFileSync(list, JSON.stringify(urls.map((url, i) => ({ name: `gpu-${i}`, url }))));
  const proxy = await child([CLI, 'serve', '--host', '127.0.0.1', '--port', '0', '--log-level', 'info', '--targets-file', list, ...extra], listening);
  return { urls, body, proxy, stop: () => (proxy.stop(), fleet.stop()) };
}

/**
 * One merged scrape of N targets beside the N direct fetches it replaces (a sweep, same Node
 * load generator on both sides), and the proxy's own CPU per merged scrape, from /proc: MB/s of
 * merged output per core is what decides how large a fleet one proxy can merge.
 */
async function fleetRun() {
  const shapes = [
    { targets: 16, engines: 8, clients: [1, CONNECTIONS] },
    { targets: 256, engines: 1, clients: [1] },
  ];
  const out = [];
  for (const shape of shapes) {
    const { urls, body, proxy, stop } = await fleetOf(shape.targets, shape.engines);
    const row = { targets: shape.targets, engines: shape.engines, bytesPerTarget: body.length };
    row.mergedBytes = (await (await request(`${proxy.url}/metrics`)).body.arrayBuffer()).byteLength;
    for (const connections of shape.clients) {
      const runs = { direct: [], merged: [], cpuMBps: [], cpuMs: [] };
      await sweeps(urls, { seconds: 1, connections });
      await sweeps([`${proxy.url}/metrics`], { seconds: 1, connections });
      for (let round = 0; round < ROUNDS; round++) {
        runs.direct.push(await sweeps(urls, { seconds: SECONDS, connections }));
        const cpu0 = cpuOf(proxy.pid);
        const merged = await sweeps([`${proxy.url}/metrics`], { seconds: SECONDS, connections });
        const cpu = cpuOf(proxy.pid) - cpu0;
        const scrapes = merged.rps * SECONDS;
        runs.merged.push(merged);
        runs.cpuMs.push((cpu * 1000) / scrapes);
        runs.cpuMBps.push((row.mergedBytes * scrapes) / 1e6 / cpu);
      }
      const sum = (rs) => ({ rps: median(rs.map((r) => r.rps)), p50: median(rs.map((r) => r.p50)), p99: median(rs.map((r) => r.p99)) });
      row[`c${connections}`] = {
        direct: sum(runs.direct),
        merged: sum(runs.merged),
        ratio: median(runs.merged.map((r, i) => r.rps / runs.direct[i].rps)),
        cpuMsPerScrape: median(runs.cpuMs),
        mbPerCpuSecond: median(runs.cpuMBps),
      };
    }
    stop();
    out.push(row);
  }
  return out;
}

/**
 * RSS of a proxy merging 1,000 targets (47 KB each, 47 MB merged): sampled every 5 ms over
 * 10 merged scrapes, one client. What it holds at the peak is the targets' bodies, the merge's
 * pieces and the answer: a bound in multiples of the merged size is what the docs state.
 */
async function fleetMemoryRun() {
  const TARGETS = 1000;
  const { proxy, stop } = await fleetOf(TARGETS, 1, ['--timeout', '30s']);
  const idle = rssOf(proxy.pid);
  let peak = idle;
  const timer = setInterval(() => (peak = Math.max(peak, rssOf(proxy.pid))), 5);
  let merged = 0;
  let ms = 0;
  for (let i = 0; i < 10; i++) {
    const t0 = performance.now();
    const res = await request(`${proxy.url}/metrics`, { bodyTimeout: 60_000, headersTimeout: 60_000 });
    merged = (await res.body.arrayBuffer()).byteLength;
    ms += performance.now() - t0;
  }
  clearInterval(timer);
  const after = rssOf(proxy.pid);
  stop();
  return {
    targets: TARGETS,
    mergedBytes: merged,
    idleMB: idle / 1e6,
    peakMB: peak / 1e6,
    afterMB: after / 1e6,
    msPerScrape: ms / 10,
    peakOverMerged: (peak - idle) / merged,
  };
}

/** Poll mode serves from memory: held to the direct upstream of the same exposition. */
async function pollRun() {
  const dir = mkdtempSync(join(tmpdir(), 'vmp-bench-'));
  const file = join(dir, 'poll.prom');
  const body = new Simulator({ engines: 8, tickMs: 0 }, 1_760_000_000).exposition('text');
  writeFileSync(file, body);
  const upstream = await child([join(here, 'servers.js'), 'static', file, Simulator.contentType('text')]);
  const proxy = await child(proxyArgs(`${upstream.url}/metrics`, '--poll-interval', '1s'), listening);
  const targets = [
    ['direct', `${upstream.url}/metrics`],
    ['poll', `${proxy.url}/metrics`],
  ];
  const runs = { direct: [], poll: [] };
  for (const [, url] of targets) await load(url, { seconds: 1, connections: CONNECTIONS });
  for (let round = 0; round < ROUNDS; round++) {
    for (const [mode, url] of targets) runs[mode].push(await load(url, { seconds: SECONDS, connections: CONNECTIONS }));
  }
  const sum = (rs) => ({ rps: median(rs.map((r) => r.rps)), p50: median(rs.map((r) => r.p50)), p99: median(rs.map((r) => r.p99)) });
  proxy.stop();
  upstream.stop();
  return { bytes: body.length, direct: sum(runs.direct), poll: sum(runs.poll), ratio: median(runs.poll.map((r, i) => r.rps / runs.direct[i].rps)) };
}

/** A measurement in a child process of its own, which prints its results as JSON. */
async function childRun(script, nodeFlags = []) {
  const c = spawn(process.execPath, [...nodeFlags, join(here, script)], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  c.stdout.on('data', (d) => (out += d));
  await once(c, 'exit');
  return JSON.parse(out);
}

/** The collector's stores (bench/stores.js). */
const storesRun = () => childRun('stores.js');

/** A compressed day (bench/soak.js, SOAK_SECONDS): only when asked for, BENCH_ONLY=soak. */
const soakRun = () => childRun('soak.js');

/** A scraper's latency under slow and idle clients (bench/hostile.js). */
const hostileRun = () => childRun('hostile.js');

/** A long outage through the relay's spool (bench/spool.js). */
const spoolRun = () => childRun('spool.js');

/** Memory of the fleet path per 100k series (a child with --expose-gc measures it). */
const memoryRun = () => childRun('memory.js', ['--expose-gc']);

const fmt = (n, d = 0) => n.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d });
const verdict = (ok) => (ok ? 'ok' : 'MISSED');

const started = new Date();
console.log(
  `vllm-metrics-proxy bench, ${started.toISOString()}, node ${process.version}, load by ${haveWrk ? 'wrk -t1' : 'autocannon'} -c${CONNECTIONS}, ${ROUNDS} interleaved rounds of ${SECONDS}s, medians\n`,
);
const only = (process.env.BENCH_ONLY ?? 'http,single,transformer,rss,fleet,fleetrss,poll,memory,stores,api,spool,hostile').split(',');
let missed = false;
let rows, single, tr, rss, fleet, fleetMerge, fleetFetches, fleetMemory, hostile, soak, poll, memory, stores, api, spool;
if (only.includes('http')) {
  rows = await throughputRuns();
  console.log(
    '| exposition | bytes | direct req/s (p50/p99 ms) | passthrough req/s (p50/p99 ms) | proxy req/s (p50/p99 ms) | proxy --no-coalesce req/s (p50/p99 ms) | proxy --saturation req/s (p50/p99 ms) | proxy / passthrough | --no-coalesce / passthrough | --saturation / passthrough |',
  );
  console.log('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const r of rows) {
    const cell = (m) => `${fmt(m.rps)} (${fmt(m.p50, 2)} / ${fmt(m.p99, 2)})`;
    console.log(
      `| ${r.size} | ${fmt(r.bytes)} | ${cell(r.direct)} | ${cell(r.passthrough)} | ${cell(r.proxy)} | ${cell(r.uncoalesced)} | ${cell(r.saturation)} | ${fmt(r.ratio, 2)}x ${verdict(r.ratio >= TARGETS.proxyVsPassthrough)} | ${fmt(r.ratioUncoalesced, 2)}x ${verdict(r.ratioUncoalesced >= TARGETS.proxyVsPassthrough)} | ${fmt(r.ratioSaturation, 2)}x ${verdict(r.ratioSaturation >= TARGETS.proxyVsPassthrough)} |`,
    );
  }
  // Held to the target both ways: as shipped (concurrent scrapes share a fetch), and with every scrape paying its own way.
  missed ||= rows.some(
    (r) => r.ratio < TARGETS.proxyVsPassthrough || r.ratioUncoalesced < TARGETS.proxyVsPassthrough || r.ratioSaturation < TARGETS.proxyVsPassthrough,
  );
}
if (only.includes('single')) {
  // One scraper, as Prometheus and Fluent Bit scrape: each request waits for the last.
  single = await throughputRuns(1, false);
  console.log('\none scraper (wrk -c1): how Prometheus and Fluent Bit use the proxy');
  console.log(
    '| exposition | bytes | direct req/s | passthrough req/s (p50 ms) | proxy req/s (p50 ms) | proxy --no-coalesce req/s (p50 ms) | proxy / passthrough | --no-coalesce / passthrough | proxy / --no-coalesce |',
  );
  console.log('|---|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const r of single) {
    const cell = (m) => `${fmt(m.rps)} (${fmt(m.p50, 2)})`;
    console.log(
      `| ${r.size} | ${fmt(r.bytes)} | ${fmt(r.direct.rps)} | ${cell(r.passthrough)} | ${cell(r.proxy)} | ${cell(r.uncoalesced)} | ${fmt(r.ratio, 2)}x ${verdict(r.ratio >= TARGETS.proxyVsPassthrough)} | ${fmt(r.ratioUncoalesced, 2)}x | ${fmt(r.ratioVsUncoalesced, 2)}x ${verdict(r.ratioVsUncoalesced >= TARGETS.loneVsUncoalesced)} |`,
    );
  }
  // As shipped, a lone scraper: at the target against the passthrough, and never behind --no-coalesce (within the noise).
  missed ||= single.some((r) => r.ratio < TARGETS.proxyVsPassthrough || r.ratioVsUncoalesced < TARGETS.loneVsUncoalesced);
}
if (only.includes('api')) {
  api = await apiRun({ child, cli: CLI, seconds: SECONDS, rounds: ROUNDS, servers: join(here, 'servers.js') });
  console.log(
    `\nAPI passthrough (--api, request log and server-side snapshots on): streamed chat answers of 16 tokens, the simulator direct against through the proxy`,
  );
  console.log(
    '| clients | direct req/s (p50/p99 ms) | proxy req/s (p50/p99 ms) | proxy / direct | added p50 ms | --no-request-server-view req/s | its ratio | its added p50 ms |',
  );
  console.log('|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const r of api) {
    const cell = (m) => `${fmt(m.rps)} (${fmt(m.p50, 2)} / ${fmt(m.p99, 2)})`;
    console.log(
      `| ${r.clients} | ${cell(r.direct)} | ${cell(r.proxy)} | ${fmt(r.ratio, 2)}x ${verdict(r.ratio >= TARGETS.apiVsDirect)} | ${fmt(r.addedP50Ms, 2)} ${verdict(r.addedP50Ms < TARGETS.apiAddedP50Ms)} | ${cell(r.noView)} | ${fmt(r.ratioNoView, 2)}x | ${fmt(r.addedP50MsNoView, 2)} |`,
    );
  }
  console.log('the no-op baseline (Fastify + @fastify/reply-from relaying the API untouched) and CPU per request of the process in the middle:');
  console.log(
    '| clients | no-op req/s (p50/p99 ms) | no-op / direct | its added p50 ms | CPU µs/request: proxy, without the view, no-op | proxy CPU / no-op | without the view |',
  );
  console.log('|---:|---:|---:|---:|---:|---:|---:|');
  for (const r of api) {
    const cell = (m) => `${fmt(m.rps)} (${fmt(m.p50, 2)} / ${fmt(m.p99, 2)})`;
    const ok = r.cpuVsNoop <= TARGETS.apiCpuVsNoop;
    console.log(
      `| ${r.clients} | ${cell(r.noop)} | ${fmt(r.ratioNoop, 2)}x | ${fmt(r.addedP50MsNoop, 2)} | ${fmt(r.cpuUsPerRequest.proxy)}, ${fmt(r.cpuUsPerRequest.noView)}, ${fmt(r.cpuUsPerRequest.noop)} | ${fmt(r.cpuVsNoop, 2)}x ${verdict(ok)} (target <= ${TARGETS.apiCpuVsNoop}x) | ${fmt(r.cpuVsNoopNoView, 2)}x |`,
    );
  }
  // Issue 25: the ratio and p50 against direct, or, where two cores cannot show them, the proxy's own CPU within 1.25x of the baseline's.
  missed ||= api.some((r) => (r.ratio < TARGETS.apiVsDirect || r.addedP50Ms >= TARGETS.apiAddedP50Ms) && r.cpuVsNoop > TARGETS.apiCpuVsNoop);
}
if (only.includes('transformer')) {
  tr = transformerRun();
  console.log(`\ntransformer on ${fmt(tr.bytes / 1e6)} MB in 64 KiB chunks (best of 7):`);
  console.log(`  sanitizer ${fmt(tr.sanitizerMBps)} MB/s ${verdict(tr.sanitizerMBps >= TARGETS.transformerMBps)} (target ${TARGETS.transformerMBps} MB/s)`);
  console.log(`  memcpy    ${fmt(tr.copyMBps)} MB/s  (sanitizer at ${fmt(tr.sanitizerMBps / tr.copyMBps, 2)}x of a plain copy)`);
  console.log(
    `  --keep    ${fmt(tr.filteredMBps)} MB/s  (family filter + sanitizer, input bytes; ${fmt(tr.filteredMBps / tr.sanitizerMBps, 2)}x of the sanitizer alone)`,
  );
  console.log(`  regex     ${fmt(tr.regexMBps)} MB/s  (string decode + regex + encode; sanitizer ${fmt(tr.sanitizerMBps / tr.regexMBps, 1)}x faster)`);
  missed ||= tr.sanitizerMBps < TARGETS.transformerMBps;
}
if (only.includes('rss')) {
  rss = await rssRun();
  const worst = Math.max(...rss.warm.map((r) => r.growthMB));
  const line = (r) => `${fmt(r.growthMB, 1)} MB (from ${fmt(r.baseMB, 1)} MB)`;
  console.log(`\nRSS growth streaming a 200 MB exposition through the proxy (sampled every 5 ms):`);
  console.log(`  warm process: ${rss.warm.map(line).join(', then ')} ${verdict(worst <= TARGETS.rssGrowthMB)} (target <= ${TARGETS.rssGrowthMB} MB)`);
  console.log(`  cold process (first scrape ever, includes JIT compilation): ${line(rss.cold)}`);
  missed ||= worst > TARGETS.rssGrowthMB;
}

if (only.includes('fleet')) {
  fleet = await fleetRun();
  fleetMerge = await childRun('merge.js');
  fleetFetches = await childRun('fetches.js');
  console.log('\nfleet: one merged scrape of N static targets beside a sweep (the N direct fetches it replaces), same load generator; proxy CPU from /proc');
  console.log(
    '| targets x engines | merged bytes | clients | direct sweeps/s (p50/p99 ms) | merged scrapes/s (p50/p99 ms) | merged / direct | proxy CPU ms per merged scrape | merged MB/s per core |',
  );
  console.log('|---|---:|---:|---:|---:|---:|---:|---:|');
  for (const row of fleet) {
    for (const c of [1, CONNECTIONS]) {
      const r = row[`c${c}`];
      if (!r) continue;
      const cell = (m) => `${fmt(m.rps, 1)} (${fmt(m.p50, 1)} / ${fmt(m.p99, 1)})`;
      const ok = r.mbPerCpuSecond >= TARGETS.fleetMBps;
      console.log(
        `| ${row.targets} x ${row.engines} | ${fmt(row.mergedBytes)} | ${c} | ${cell(r.direct)} | ${cell(r.merged)} | ${fmt(r.ratio, 2)}x | ${fmt(r.cpuMsPerScrape, 1)} | ${fmt(r.mbPerCpuSecond)} ${c === 1 ? `${verdict(ok)} (target >= ${TARGETS.fleetMBps})` : ''} |`,
      );
      if (c === 1) missed ||= !ok;
    }
  }
  console.log('the merge alone (bench/merge.js: TextMerge.add of each body, then renderBytes, in one process; CPU from process.cpuUsage):');
  for (const m of fleetMerge) {
    const ok = m.mbPerCpuSecond >= TARGETS.fleetMBps;
    console.log(
      `  ${m.targets} x ${m.engines}: ${fmt(m.cpuMsPerMerge, 1)} ms of CPU per merge of ${fmt(m.mergedBytes)} bytes, ${fmt(m.mbPerCpuSecond)} MB/s per core ${verdict(ok)} (target >= ${TARGETS.fleetMBps})`,
    );
    missed ||= !ok;
  }
  console.log('the fetches alone (bench/fetches.js: every target at once per round, each its own keep-alive pool, in one process):');
  for (const f of fleetFetches) {
    const merged = fleetMerge.find((m) => m.targets === f.targets && m.engines === f.engines);
    // What the target leaves the merge, serving and GC once the fetches are paid for.
    const budget = merged ? (merged.mergedBytes / 1e6 / TARGETS.fleetMBps) * 1000 : undefined;
    console.log(
      `  ${f.targets} x ${f.engines}: undici request() and the whole body ${fmt(f.undiciMsPerRound, 1)} ms of CPU a round (${fmt(f.undiciUsPerFetch)} µs a fetch), the proxy's fetchText ${fmt(f.proxyMsPerRound, 1)} ms (${fmt(f.proxyUsPerFetch)} µs)` +
        (budget ? `; ${TARGETS.fleetMBps} MB/s allows ${fmt(budget, 1)} ms a merged scrape, ${fmt(budget - f.proxyMsPerRound, 1)} ms after the fetches` : ''),
    );
  }
}
if (only.includes('fleetrss')) {
  fleetMemory = await fleetMemoryRun();
  const m = fleetMemory;
  const ok = m.peakOverMerged <= TARGETS.fleetPeakOverMerged;
  console.log(
    `\nfleet RSS, ${fmt(m.targets)} targets (${fmt(m.mergedBytes / 1e6, 1)} MB merged, ${fmt(m.msPerScrape)} ms a scrape): idle ${fmt(m.idleMB)} MB, peak ${fmt(m.peakMB)} MB, after ${fmt(m.afterMB)} MB; peak growth ${fmt(m.peakOverMerged, 1)}x the merged size ${verdict(ok)} (bound <= ${TARGETS.fleetPeakOverMerged}x)`,
  );
  missed ||= !ok;
}
if (only.includes('poll')) {
  poll = await pollRun();
  const cell = (m) => `${fmt(m.rps)} req/s (p50 ${fmt(m.p50, 2)} / p99 ${fmt(m.p99, 2)} ms)`;
  console.log(
    `\npoll mode (--poll-interval 1s), 8-engine exposition (${fmt(poll.bytes)} bytes): direct ${cell(poll.direct)}, poll ${cell(poll.poll)}: ${fmt(poll.ratio, 2)}x ${verdict(poll.ratio >= TARGETS.pollVsDirect)} (target >= ${TARGETS.pollVsDirect}x direct)`,
  );
  missed ||= poll.ratio < TARGETS.pollVsDirect;
}
if (only.includes('memory')) {
  memory = await memoryRun();
  console.log(`\nfleet memory per 100k series (${fmt(memory.series)} series from ${memory.targets} targets):`);
  console.log(`  during a merged scrape: the targets' texts ${fmt(memory.textsMBPer100k, 1)} MB + the merge ${fmt(memory.mergeMBPer100k, 1)} MB`);
  console.log(`  the rendered answer (all that poll mode keeps between polls): ${fmt(memory.renderedMBPer100k, 1)} MB`);
}

if (only.includes('stores')) {
  stores = await storesRun();
  console.log(`\ncollector stores, 8-engine exposition (${fmt(stores.samplesPerRound)} samples a round), ${stores.rounds} rounds:`);
  console.log('| store | samples/s | ms per round | bytes per million samples |');
  console.log('|---|---:|---:|---:|');
  for (const [name, r] of Object.entries(stores.stores))
    console.log(
      `| ${name} | ${fmt(r.samplesPerSecond)} | ${fmt(r.msPerRound, 2)} | ${r.bytesPerMillionSamples === undefined ? '(latest round only)' : fmt(r.bytesPerMillionSamples)} |`,
    );
  console.log(`\npostprocess, the same files (${fmt(stores.postprocess.jsonl.rows)} rows), against reading them alone:`);
  console.log('| format | read rows/s | postprocess rows/s | ratio |');
  console.log('|---|---:|---:|---:|');
  for (const [name, r] of Object.entries(stores.postprocess))
    console.log(`| ${name} | ${fmt(r.readRowsPerSecond)} | ${fmt(r.postprocessRowsPerSecond)} | ${fmt(r.ratio, 2)}x |`);
  console.log(`report of the SQLite file: ${fmt(stores.report.seconds, 2)} s, ${fmt(stores.report.bytes / 1024)} KiB of HTML`);
}

if (only.includes('spool')) {
  spool = await spoolRun();
  console.log(
    `\na ${spool[0].outageMinutes}-minute Parseable outage through the relay's spool (--spool-dir): a scrape every 2 s posted as OTLP/JSON while the destination is down, then drained at the default --spool-drain-rate 20`,
  );
  console.log('| engines | batches held | OTLP/JSON MB | spool MB on disk | posting s (fsync each) | catch-up s | peak proxy RSS MB |');
  console.log('|---:|---:|---:|---:|---:|---:|---:|');
  for (const r of spool)
    console.log(
      `| ${r.engines} | ${fmt(r.held)} | ${fmt(r.otlpBytes / 1e6, 1)} | ${fmt(r.spoolBytes / 1e6, 1)} | ${fmt(r.postSeconds, 1)} | ${fmt(r.catchUpSeconds, 1)} ${verdict(r.catchUpSeconds <= 120)} (target <= 120 s) | ${fmt(r.peakRssMb)} |`,
    );
  if (spool.some((r) => r.catchUpSeconds > 120)) missed = true;
}

if (only.includes('hostile')) {
  hostile = await hostileRun();
  const cell = (m) => `${fmt(m.rps)} scrapes/s, p50 ${fmt(m.p50, 2)} ms, p99 ${fmt(m.p99, 2)} ms, ${m.errors} errors`;
  console.log(`\none scraper, 8 engines, alone: ${cell(hostile.alone)}`);
  console.log(`the same with ${fmt(hostile.attackers)} hostile connections (slowloris, silent, never reading): ${cell(hostile.attacked)}`);
}

if (only.includes('soak')) {
  soak = await soakRun();
  const [r0, r1] = soak.rssMB;
  const [h0, h1] = soak.heapMB;
  const [f0, f1] = soak.fds;
  console.log(
    `\nsoak, ${fmt(soak.seconds)} s (${soak.outages} Parseable outages): RSS ${fmt(r0)}–${fmt(r1)} MB (${fmt(soak.slopePerHour.rssMB, 1)} MB/h over the second half), heap ${fmt(h0)}–${fmt(h1)} MB (${fmt(soak.slopePerHour.heapMB, 1)} MB/h), fds ${f0}–${f1} (${fmt(soak.slopePerHour.fds, 1)}/h)`,
  );
  console.log(
    `  ${fmt(soak.sent.scrapes)} scrapes (${soak.sent.scrapeErrors} not 200), ${fmt(soak.sent.points)} OTLP points taken, ${fmt(soak.got.points)} delivered (${fmt(soak.lostPoints)} lost); ${fmt(soak.sent.requests)} API requests (${soak.sent.requestErrors} not 200), ${fmt(soak.got.records)} records delivered (${fmt(soak.lostRecords)} lost)`,
  );
  // The proxy's own counters must tell the same story as the loads and the stand-in.
  const c = soak.proxyCounted;
  const agree =
    c.scrapesOk === soak.sent.scrapes - soak.sent.scrapeErrors &&
    c.otlpReceivedPoints === soak.sent.points &&
    c.otlpForwardedPoints === soak.got.points &&
    c.otlpDroppedPoints === 0 &&
    c.apiRequests === soak.sent.requests &&
    c.recordsShipped === soak.got.records &&
    c.recordsDropped === 0;
  console.log(
    `  the proxy's own counters: ${fmt(c.scrapesOk)} scrapes served, ${fmt(c.otlpReceivedPoints)} points received, ${fmt(c.otlpForwardedPoints)} forwarded, ${fmt(c.otlpDroppedPoints)} dropped; ${fmt(c.apiRequests)} API requests, ${fmt(c.recordsShipped)} records shipped, ${fmt(c.recordsDropped)} dropped: ${agree ? 'they agree' : 'MISSED: they disagree'}`,
  );
  console.log(`  the proxy's warnings and errors: ${JSON.stringify(soak.logged)}; the loads' own failures: ${JSON.stringify(soak.failed)}`);
  missed ||=
    soak.lostPoints !== 0 ||
    soak.lostRecords !== 0 ||
    !agree ||
    Object.keys(soak.failed).length > 0 ||
    Object.keys(soak.logged).some((k) => k.startsWith('error'));
}

mkdirSync(join(here, 'results'), { recursive: true });
writeFileSync(
  join(here, 'results', 'latest.json'),
  JSON.stringify(
    {
      started,
      node: process.version,
      wrk: haveWrk,
      seconds: SECONDS,
      rounds: ROUNDS,
      rows,
      single,
      transformer: tr,
      rss,
      fleet,
      fleetMerge,
      fleetFetches,
      fleetMemory,
      hostile,
      soak,
      poll,
      memory,
      stores,
      api,
      spool,
      targets: TARGETS,
      missed,
    },
    null,
    2,
  ),
);
console.log(`\n${missed ? 'some targets MISSED' : 'all targets met'}; details in bench/results/latest.json`);
process.exit(missed ? 1 : 0);

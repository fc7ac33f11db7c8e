/**
 * Both saturation sources against simulators at known, different loads: the
 * proxy's own window, and a real Prometheus (Debian's) scraping the simulators
 * through the proxy (sanitized names) and one simulator directly (colon names).
 * The reference is computed here, independently, from the simulators' own
 * /metrics read over the same window.
 */
import t from 'tap';
import { request } from 'undici';
import { parseExposition } from '../../src/exposition/parser.js';
import type { Sample } from '../../src/exposition/model.js';
import { PrometheusClient } from '../../src/saturation/prometheus-client.js';
import { PrometheusSaturation } from '../../src/saturation/prometheus-source.js';
import type { SaturationReport, Signals } from '../../src/saturation/report.js';
import { startSimulator, type RunningSimulator } from '../../src/simulator/start.js';
import { runCliAsync } from '../helpers/cli.js';
import { fleetProxy, selfMetric } from '../helpers/fleet.js';
import { captureLog, get } from '../helpers/net.js';
import { startPrometheus } from '../helpers/prometheus.js';
import { testProxy } from '../helpers/proxy.js';
import { eventually } from '../helpers/wait.js';

const WINDOW_MS = 20_000;
const MODEL = 'meta-llama/Llama-3.1-8B-Instruct';

/** Live simulators (ticking every second): a light load, and one that fills its KV cache and queues. */
const live = (rate: number, seed: number, port = 0) => startSimulator({ engines: 2, rate, seed, tickMs: 1000 }, { host: '127.0.0.1', port });

interface Snap {
  timeMs: number;
  samples: Sample[];
}

async function scrape(sim: RunningSimulator): Promise<Snap> {
  const res = await request(`${sim.url}/metrics`);
  const text = await res.body.text();
  return { timeMs: Date.now(), samples: parseExposition(text, 'prometheus').flatMap((f) => f.samples) };
}

const total = (s: Snap, name: string) => s.samples.filter((x) => x.name === name).reduce((a, x) => a + x.value, 0);
const gaugeMax = (s: Snap, name: string) => Math.max(...s.samples.filter((x) => x.name === name).map((x) => x.value));
/** Each series' (engine's) highest over the snapshots, added up: how the signals define waiting and running (signals.ts, sum_of_max). */
function sumOfMax(snaps: Snap[], name: string): number {
  const highest = new Map<string, number>();
  for (const s of snaps)
    for (const x of s.samples)
      if (x.name === name) {
        const key = JSON.stringify(Object.entries(x.labels).sort());
        highest.set(key, Math.max(highest.get(key) ?? -Infinity, x.value));
      }
  return [...highest.values()].reduce((a, v) => a + v, 0);
}

/** The signals over [first, last] of the snapshots, the simplest way: last minus first, maxima of what was seen. */
function reference(snaps: Snap[]) {
  const a = snaps[0]!;
  const b = snaps[snaps.length - 1]!;
  const seconds = (b.timeMs - a.timeMs) / 1000;
  const inc = (n: string) => total(b, n) - total(a, n);
  return {
    kv: Math.max(...snaps.map((s) => gaugeMax(s, 'vllm:kv_cache_usage_perc'))),
    waiting: sumOfMax(snaps, 'vllm:num_requests_waiting'),
    running: sumOfMax(snaps, 'vllm:num_requests_running'),
    finished: inc('vllm:request_success_total') / seconds,
    prompt: inc('vllm:request_prompt_tokens_sum') / inc('vllm:request_prompt_tokens_count'),
    output: inc('vllm:request_generation_tokens_sum') / inc('vllm:request_generation_tokens_count'),
    hit: inc('vllm:prefix_cache_hits_total') / inc('vllm:prefix_cache_queries_total'),
  };
}

const allOk = (s: Signals) => Object.values(s).every((v) => v.status === 'ok');

t.test('known loads give the signals they imply, from the window and from Prometheus', async (t) => {
  const [light, heavy, direct] = await Promise.all([live(3, 1), live(30, 2), live(3, 3)]);
  t.teardown(() => Promise.all([light, heavy, direct].map((s) => s.close())));
  const proxy = await fleetProxy(
    {
      static: [
        { name: 'light', url: `${light.url}/metrics` },
        { name: 'heavy', url: `${heavy.url}/metrics` },
      ],
    },
    { saturation: { windowMs: WINDOW_MS, intervalMs: 1000 } },
  );
  t.teardown(() => proxy.close());
  const prom = await startPrometheus([
    // honor_labels: the proxy's instance label names the replica, as the window does.
    { job: 'proxy', target: new URL(proxy.url).host, honorLabels: true },
    { job: 'vllm', target: new URL(direct.url).host },
  ]);
  t.teardown(() => prom.close());
  const log = captureLog('warn');
  const source = new PrometheusSaturation({
    client: new PrometheusClient({ url: prom.url, timeoutMs: 5_000 }),
    windowMs: WINDOW_MS,
    targetLabel: 'instance',
    cacheTtlMs: 0,
    maxStalenessMs: 120_000,
    log: log.log,
  });
  t.teardown(() => source.close());

  // The test's own record of the simulators, four snapshots a second.
  const history = new Map<RunningSimulator, Snap[]>([
    [light, []],
    [heavy, []],
  ]);
  let recording = true;
  const recorder = (async () => {
    while (recording) {
      for (const [sim, snaps] of history) snaps.push(await scrape(sim));
      // Four a tick (the simulators tick every second): a maximum is of what was seen, and
      // under load a snapshot a second misses ticks.
      await new Promise((r) => setTimeout(r, 250));
    }
  })();
  const started = Date.now();
  // Prometheus has a whole window of both targets (rate() needs it) and the window is full.
  await eventually(
    'a full window in both sources',
    async () => {
      if (Date.now() - started < WINDOW_MS) return undefined;
      // Prometheus' data must span the window: on less, rate() divides a partial increase by
      // the whole window and reads low (PromQL's rule; the proxy's window divides by its span).
      const oldest = await prom.query(`time() - min_over_time(timestamp(up{job="proxy"})[${WINDOW_MS / 1000 + 5}s:1s])`);
      if (!(Number(oldest[0]?.value[1]) > WINDOW_MS / 1000 + 1)) return undefined;
      const p = await source.report();
      const w = (await get(`${proxy.url}/saturation`)).body.toString();
      const win = JSON.parse(w) as SaturationReport;
      const ready = (r: SaturationReport) => ['light', 'heavy'].every((n) => r.targets.some((x) => x.target === n && allOk(x.signals)));
      return ready(p) && ready(win) ? true : undefined;
    },
    60_000,
    500,
  );
  // Now, at once: the reference, the window, Prometheus.
  for (const [sim, snaps] of history) snaps.push(await scrape(sim));
  const win = JSON.parse((await get(`${proxy.url}/saturation`)).body.toString()) as SaturationReport;
  await source.refresh(); // (report() answers from the cache while it refreshes)
  const fromProm = await source.report();
  recording = false;
  await recorder;

  for (const [name, sim] of [
    ['light', light],
    ['heavy', heavy],
  ] as const) {
    const snaps = history.get(sim)!;
    const end = snaps[snaps.length - 1]!.timeMs;
    const ref = reference(snaps.filter((s) => s.timeMs >= end - WINDOW_MS - 500));
    // A maximum depends on where the window's edges fall, and the sources' edges are a scrape
    // or two from the record's: the reference maxima are bounded by a window 2 s shorter and
    // one 3 s longer.
    const narrow = reference(snaps.filter((s) => s.timeMs >= end - WINDOW_MS + 2000));
    const wide = reference(snaps.filter((s) => s.timeMs >= end - WINDOW_MS - 3000));
    for (const [src, report] of [
      ['window', win],
      ['prometheus', fromProm],
    ] as const) {
      const row = report.targets.find((x) => x.target === name && x.model === MODEL);
      t.ok(row, `${src}: ${name} is reported`);
      const s = row!.signals;
      const near = (what: string, got: number | null, want: number, rel: number, abs = 0) =>
        t.ok(
          got !== null && Math.abs(got - want) <= rel * want + abs,
          `${src} ${name} ${what}: ${got} vs reference ${want.toFixed(3)} (±${Math.round(rel * 100)}% ±${abs})`,
        );
      const between = (what: string, got: number | null, lo: number, hi: number, rel: number, abs = 0) =>
        t.ok(
          got !== null && got >= lo * (1 - rel) - abs && got <= hi * (1 + rel) + abs,
          `${src} ${name} ${what}: ${got} vs reference maxima ${lo}..${hi} (±${Math.round(rel * 100)}% ±${abs})`,
        );
      // The same tolerance for both sources. What is left of a difference: the windows' edges
      // fall a second apart, and prompt lengths are log-normal (a long one more or less at an
      // edge moves the token-weighted values).
      between('KV-cache usage', s.kv_cache_usage.value, narrow.kv, wide.kv, 0, 0.1);
      between('waiting', s.requests_waiting.value, narrow.waiting, wide.waiting, 0.2, 2);
      between('running', s.requests_running.value, narrow.running, wide.running, 0.2, 2);
      near('finished/s', s.finished_requests_per_second.value, ref.finished, 0.2, 0.5);
      near('mean prompt tokens', s.prompt_tokens_mean.value, ref.prompt, 0.15);
      near('mean output tokens', s.output_tokens_mean.value, ref.output, 0.15);
      near('prefix-cache hit ratio', s.prefix_cache_hit_ratio.value, ref.hit, 0, 0.04);
      t.ok(s.kv_cache_usage.ageSeconds! < 5, `${src} ${name}: fresh (${s.kv_cache_usage.ageSeconds}s)`);
    }
  }
  for (const [src, report] of [
    ['window', win],
    ['prometheus', fromProm],
  ] as const) {
    const sig = (n: string) => report.targets.find((x) => x.target === n && x.model === MODEL)!.signals;
    const [l, h] = [sig('light'), sig('heavy')];
    t.equal(l.requests_waiting.value, 0, `${src}: the light load queues nothing`);
    t.ok(h.requests_waiting.value! > 0, `${src}: the heavy load queues`);
    t.ok(h.kv_cache_usage.value! > 0.8 && l.kv_cache_usage.value! < 0.5, `${src}: the heavy load fills its KV cache, the light one does not`);
    t.ok(
      h.finished_requests_per_second.value! > 1.5 * l.finished_requests_per_second.value!,
      `${src}: the heavy load finishes more (as many as its full KV cache lets it)`,
    );
  }
  // The fleet rows add up the targets of the window exactly.
  const fleet = win.models.find((m) => m.model === MODEL)!.signals;
  const rows = win.targets.filter((x) => x.model === MODEL);
  t.equal(
    fleet.finished_requests_per_second.value,
    rows.reduce((a, x) => a + x.signals.finished_requests_per_second.value!, 0),
  );
  t.equal(fleet.kv_cache_usage.value, Math.max(...rows.map((x) => x.signals.kv_cache_usage.value!)));
  t.equal(
    fleet.requests_waiting.value,
    rows.reduce((a, x) => a + x.signals.requests_waiting.value!, 0),
  );

  // Colon names scraped directly: the same signals, under Prometheus' own instance label, counted once.
  const directRow = fromProm.targets.find((x) => x.target === new URL(direct.url).host);
  t.ok(directRow && allOk(directRow.signals), 'a vLLM scraped directly (colon names) is read too');
  t.equal(fromProm.targets.filter((x) => x.model === MODEL).length, 3, 'three replicas, none counted twice');

  // The gauges on /metrics: the window's numbers, under the fleet's target label.
  const metrics = (await get(`${proxy.url}/metrics`)).body.toString();
  const gauges = parseExposition(metrics, 'prometheus')
    .flatMap((f) => f.samples)
    .filter((s) => s.name.startsWith('vllm_metrics_proxy_saturation_'));
  t.ok(gauges.some((g) => g.name === 'vllm_metrics_proxy_saturation_kv_cache_usage' && g.labels.instance === 'heavy' && g.labels.model_name === MODEL));
  t.ok(gauges.some((g) => g.name === 'vllm_metrics_proxy_saturation_fleet_requests_waiting' && g.labels.model_name === MODEL && g.value > 0));
  // ...which Prometheus scraped, as KEDA's Prometheus scaler would query them.
  const scraped = await prom.query(`vllm_metrics_proxy_saturation_kv_cache_usage{instance="heavy"}`);
  t.equal(scraped.length, 1, 'Prometheus has the gauge');

  t.test('the CLI prints the same from Prometheus, as a table and as JSON, filtered by model', async (t) => {
    const table = await runCliAsync(['saturation', '--prometheus-url', prom.url, '--window', '20s']);
    t.equal(table.status, 0, table.stderr);
    t.match(table.stdout, /MODEL\s+TARGET\s+KV\s+WAITING/);
    t.match(table.stdout, /\n\s+heavy\s+0\.\d+/);
    const json = await runCliAsync(['saturation', '--prometheus-url', prom.url, '--window', '20s', '--json', '--model', MODEL]);
    t.equal(json.status, 0, json.stderr);
    const r = JSON.parse(json.stdout) as SaturationReport;
    t.equal(r.source, 'prometheus');
    t.same(
      r.models.map((m) => m.model),
      [MODEL],
    );
    t.same(r.targets.map((x) => x.target).sort(), [new URL(direct.url).host, 'heavy', 'light'].sort());
    const none = await runCliAsync(['saturation', '--prometheus-url', prom.url, '--namespace', 'nowhere', '--json']);
    t.equal(none.status, 0, '"no data" is an answer');
    t.equal((JSON.parse(none.stdout) as SaturationReport).status, 'no_data');
    const started = Date.now();
    const bad = await runCliAsync(['saturation', '--prometheus-url', `${prom.url}/not-prometheus`]);
    t.equal(bad.status, 1);
    t.match(bad.stderr, /HTTP 404: 404 page not found/, "Prometheus' own words");
    // Retried, it would take at least 7 s (1 + 2 + 4): a 4xx is not retried.
    t.ok(Date.now() - started < 5_000, 'failed without retrying');
  });

  t.test('a simulator restart inside the window: no negative rate in either source', async (t) => {
    const port = Number(new URL(light.url).port);
    await light.close();
    const again = await live(3, 7, port);
    t.teardown(() => again.close());
    // Samples after the restart in both sources (the counters went down).
    await eventually('samples after the restart', async () => {
      const w = JSON.parse((await get(`${proxy.url}/saturation`)).body.toString()) as SaturationReport;
      const row = w.targets.find((x) => x.target === 'light');
      return row && !row.error && row.signals.finished_requests_per_second.ageSeconds! < 1 ? true : undefined;
    });
    // Prometheus saw the counters go down, and has scraped the new process since.
    await eventually('Prometheus to see the reset', async () => {
      const r = await prom.query('resets(vllm_request_success_total{instance="light"}[20s]) > 0 and on() count_over_time(up{job="proxy"}[3s]) >= 3');
      return r.length ? true : undefined;
    });
    await source.refresh();
    for (const report of [JSON.parse((await get(`${proxy.url}/saturation`)).body.toString()) as SaturationReport, await source.report()]) {
      const row = report.targets.find((x) => x.target === 'light' && x.model === MODEL)!;
      for (const [name, v] of Object.entries(row.signals)) t.ok(v.value === null || v.value >= 0, `${report.source} ${name}: ${v.value}`);
      t.ok(row.signals.finished_requests_per_second.value! > 0, `${report.source}: the increase before and after the restart both count`);
    }
  });

  t.test('a storm of 200 concurrent /saturation makes at most one query per signal per TTL', async (t) => {
    const TTL = 2_000;
    const served = await testProxy(
      { url: `${light.url}/metrics` },
      // Stale past 6 s: a sample is at most 1 s (scrape) + 1 s (age subquery step) + one TTL old while Prometheus answers.
      {
        saturation: {
          windowMs: WINDOW_MS,
          maxStalenessMs: 6_000,
          prometheus: { url: prom.url, timeoutMs: 5_000, cacheTtlMs: TTL, targetLabel: 'instance', retryDelaysMs: [50, 100, 200] },
        },
      },
    );
    t.teardown(() => served.close());
    const queries = async () => {
      const text = (await get(`${prom.url}/metrics`)).body.toString();
      const line = text.split('\n').find((l) => l.startsWith('prometheus_http_requests_total{') && l.includes('handler="/api/v1/query"'));
      return line ? Number(line.slice(line.lastIndexOf(' ') + 1)) : 0;
    };
    // The first refresh (at the start) is over and counted by Prometheus.
    await eventually('the first refresh', async () => ((await selfMetric(served, 'vllm_metrics_proxy_prometheus_queries_total')) >= 7 ? true : undefined));
    const before = await queries();
    const from = Date.now();
    let answers = 0;
    const statuses = new Set<number>();
    let complete = true;
    // Storms for a little over two TTLs.
    while (Date.now() - from < 2 * TTL + 500) {
      const storm = await Promise.all(Array.from({ length: 200 }, () => get(`${served.url}/saturation`)));
      for (const r of storm) {
        statuses.add(r.status);
        if ((JSON.parse(r.body.toString()) as SaturationReport).targets.length < 3) complete = false;
        answers++;
      }
    }
    const elapsed = Date.now() - from;
    const made = (await queries()) - before;
    t.same([...statuses], [200], 'every answer 200');
    t.ok(complete, 'every answer has the data');
    // Refreshes start a TTL apart: at most this many began while the storms ran.
    const refreshes = Math.floor(elapsed / TTL) + 1;
    t.ok(made <= 7 * refreshes, `${made} queries for ${answers} answers in ${elapsed} ms (TTL ${TTL} ms): at most 7 per refresh`);
    t.equal(
      await selfMetric(served, 'vllm_metrics_proxy_prometheus_queries_total', 'outcome="ok"'),
      await selfMetric(served, 'vllm_metrics_proxy_prometheus_queries_total'),
      'every query succeeded',
    );

    t.test('Prometheus down: a clear error, and the last good values with their age', async (t) => {
      await prom.close();
      const first = await eventually('the failure seen', async () => {
        const res = await get(`${served.url}/saturation`);
        const r = JSON.parse(res.body.toString()) as SaturationReport;
        return r.error ? { res, r } : undefined;
      });
      t.equal(first.res.status, 200, 'the last good values are still an answer');
      t.match(first.r.error, /Prometheus http:\/\/127\.0\.0\.1:\d+\/ unreachable: ECONNREFUSED/);
      const heavyRow = () => first.r.targets.find((x) => x.target === 'heavy' && x.model === MODEL)!;
      t.ok(heavyRow().signals.kv_cache_usage.value! > 0.8, 'the values are the last good ones');
      const later = await eventually('the values aging', async () => {
        const r = JSON.parse((await get(`${served.url}/saturation`)).body.toString()) as SaturationReport;
        const age = r.targets.find((x) => x.target === 'heavy' && x.model === MODEL)!.signals.kv_cache_usage.ageSeconds!;
        return age > heavyRow().signals.kv_cache_usage.ageSeconds! + 1 ? r : undefined;
      });
      t.match(later.error, /unreachable/);
      const stale = await eventually('the values stale', async () => {
        const r = JSON.parse((await get(`${served.url}/saturation`)).body.toString()) as SaturationReport;
        const kv = r.targets.find((x) => x.target === 'heavy' && x.model === MODEL)!.signals.kv_cache_usage;
        return kv.status === 'stale' ? kv : undefined;
      });
      t.ok(stale.value! > 0.8 && stale.ageSeconds! > 6, `still shown, as stale, with its age (${stale.ageSeconds}s)`);
      t.ok(
        served.logs.lines().some((l) => l.event === 'saturation_prometheus_failed'),
        'logged once, as an event',
      );

      const cli = await runCliAsync(['saturation', '--prometheus-url', prom.url, '--timeout', '1s']);
      t.equal(cli.status, 1, 'the CLI fails when it has nothing to show');
      t.match(cli.stderr, /error: Prometheus http:\/\/127\.0\.0\.1:\d+\/ unreachable/);
    });
  });
});

t.test('scale from zero: no targets is "no data", never zeros', async (t) => {
  const proxy = await fleetProxy({ static: [] }, { saturation: { windowMs: WINDOW_MS, intervalMs: 1000 } });
  t.teardown(() => proxy.close());
  const res = await get(`${proxy.url}/saturation`);
  t.equal(res.status, 200);
  const r = JSON.parse(res.body.toString()) as SaturationReport;
  t.same([r.status, r.targets, r.models], ['no_data', [], []]);
  t.notMatch((await get(`${proxy.url}/metrics`)).body.toString(), /vllm_metrics_proxy_saturation_/, 'no gauge to read as 0');
});

import t from 'tap';
import { request } from 'undici';
import { parseExposition } from '../../src/exposition/parser.js';
import { StartTimes, toResourceMetrics } from '../../src/otlp/from-exposition.js';
import type { OtlpConfig } from '../../src/server/proxy.js';
import { Simulator } from '../../src/simulator/simulator.js';
import { startSimulator } from '../../src/simulator/start.js';
import { ParseableStandIn, type Row } from '../helpers/parseable.js';
import { testProxy } from '../helpers/proxy.js';
import { eventually } from '../helpers/wait.js';

const T0 = 1_760_000_000;

function pushConfig(parseable: ParseableStandIn): OtlpConfig {
  return {
    pushUrl: `${parseable.url}/v1/metrics`,
    // One push at start; the tests call pushOnce() for more.
    pushIntervalMs: 3_600_000,
    timeoutMs: 2_000,
    maxQueueBytes: 1 << 20,
    maxRequestBytes: 1 << 20,
    destination: { stream: 'vLLMmetrics', logSource: 'otel-metrics', username: parseable.username, password: parseable.password },
  };
}

const ns = (seconds: number) => (BigInt(Math.round(seconds * 1000)) * 1_000_000n).toString();

function find(rows: Row[], name: string, labels: Record<string, string>): Row[] {
  return rows.filter((r) => r.metric_name === name && Object.entries(labels).every(([k, v]) => r[k] === v));
}

t.test('direct push: scrape, map and export OTLP/JSON that Parseable takes, with no Fluent Bit', async (t) => {
  const sim = await startSimulator({ tickMs: 0, engines: 2, models: 2 }, { host: '127.0.0.1', port: 0 });
  const parseable = await new ParseableStandIn().start();
  const proxy = await testProxy({ url: `${sim.url}/metrics` }, { otlp: pushConfig(parseable) });
  t.teardown(async () => {
    await proxy.close();
    await parseable.stop();
    await sim.close();
  });
  const rows = await eventually('first push', async () => {
    const bad = parseable.requests.find((r) => r.status !== 200);
    if (bad) throw new Error(`Parseable answered ${bad.status}: ${bad.answer}`);
    return parseable.requests.length >= 3 ? parseable.rows() : undefined;
  });
  t.equal(parseable.requests.length, 3, 'one export per served model, one for the series without a model (process_*, python_gc_*)');
  for (const r of parseable.requests) {
    t.equal(r.headers['content-type'], 'application/json');
    t.equal(r.headers['x-p-stream'], 'vLLMmetrics');
    t.equal(r.headers['x-p-log-source'], 'otel-metrics');
  }
  t.notOk(
    rows.some((r) => String(r.metric_name).includes(':')),
    'no colon in any name',
  );
  t.notOk(
    rows.some((r) => String(r.metric_name).endsWith('_created')),
    '_created series are start times, not metrics',
  );

  const families = new Map(parseExposition(sim.sim.exposition('text'), 'prometheus').map((f) => [f.name, f]));
  const model = sim.sim.engines[0]!.model;
  const labels = { model_name: model, engine: '0' };

  // Counter: cumulative monotonic sum, start time from _created.
  const prompt = families.get('vllm:prompt_tokens_total')!.samples.find((s) => s.labels.model_name === model && s.labels.engine === '0')!;
  const created = families.get('vllm:prompt_tokens_created')!.samples.find((s) => s.labels.model_name === model && s.labels.engine === '0')!;
  const [counter] = find(rows, 'vllm_prompt_tokens_total', labels);
  t.match(counter, {
    metric_type: 'sum',
    is_monotonic: true,
    aggregation_temporality: 2,
    data_point_value: prompt.value,
    start_time_unix_nano: ns(created.value),
  });
  t.equal(counter!['service.name'], 'vllm');
  t.equal(counter!['server.address'], '127.0.0.1');
  t.equal(counter!['vllm.model_name'], model);

  // Gauge.
  const running = families.get('vllm:num_requests_running')!.samples.find((s) => s.labels.model_name === model && s.labels.engine === '0')!;
  t.match(find(rows, 'vllm_num_requests_running', labels)[0], { metric_type: 'gauge', data_point_value: running.value });

  // Histogram: per-bucket counts, bounds without +Inf, count and sum.
  const ttft = families.get('vllm:time_to_first_token_seconds')!.samples.filter((s) => s.labels.model_name === model && s.labels.engine === '0');
  const buckets = ttft.filter((s) => s.name.endsWith('_bucket'));
  const [h] = find(rows, 'vllm_time_to_first_token_seconds', labels);
  t.same(
    h!.data_point_explicit_bounds,
    buckets.filter((b) => b.labels.le !== '+Inf').map((b) => Number(b.labels.le)),
  );
  t.same(
    h!.data_point_bucket_counts,
    buckets.map((b, i) => b.value - (i > 0 ? buckets[i - 1]!.value : 0)),
  );
  t.equal(h!.data_point_count, ttft.find((s) => s.name.endsWith('_count'))!.value);
  t.equal(h!.data_point_sum, ttft.find((s) => s.name.endsWith('_sum'))!.value);
  t.equal(h!.aggregation_temporality, 2);

  // Summary (vLLM's HTTP server metric): _sum and _count as monotonic sums.
  t.match(find(rows, 'http_request_size_bytes_count', { handler: '/metrics' })[0], { metric_type: 'sum', is_monotonic: true });

  // A second push after load moved: same start times, larger values.
  sim.sim.advance(sim.sim.startTime + 60 + 30);
  await proxy.pusher!.pushOnce();
  const after = find(parseable.rows(), 'vllm_prompt_tokens_total', labels);
  t.equal(after.length, 2);
  t.equal(after[1]!.start_time_unix_nano, after[0]!.start_time_unix_nano, 'stable start time');
  t.ok(Number(after[1]!.data_point_value) > Number(after[0]!.data_point_value), 'counter went up');
  const text = await (await request(`${proxy.url}/proxy/metrics`)).body.text();
  t.match(text, /vllm_metrics_proxy_otlp_pushes_total\{outcome="ok"\} 2/);
});

t.test('direct push failures: upstream down and Parseable refusing are counted and logged once', async (t) => {
  const parseable = await new ParseableStandIn().start();
  const proxy = await testProxy({ url: 'http://127.0.0.1:9/metrics', timeoutMs: 1_000 }, { otlp: pushConfig(parseable) });
  t.teardown(async () => {
    await proxy.close();
    await parseable.stop();
  });
  await proxy.logs.waitFor((l) => l.event === 'otlp_push_failed');
  await proxy.pusher!.pushOnce();
  const warnings = proxy.logs.lines().filter((l) => l.event === 'otlp_push_failed' && l.level === 40);
  t.equal(warnings.length, 1, 'a run of failures warns once');
  t.match(warnings[0]!.reason, /upstream scrape of .* failed/);
  const text = await (await request(`${proxy.url}/proxy/metrics`)).body.text();
  t.match(text, /vllm_metrics_proxy_otlp_pushes_total\{outcome="scrape_error"\} 2/);
  t.equal(parseable.requests.length, 0);
});

t.test('direct push to a Parseable with other credentials: export_error, points counted as dropped', async (t) => {
  const sim = await startSimulator({ tickMs: 0 }, { host: '127.0.0.1', port: 0 });
  const parseable = await new ParseableStandIn().start();
  const config = pushConfig(parseable);
  config.destination.password = 'wrong';
  const proxy = await testProxy({ url: `${sim.url}/metrics` }, { otlp: config });
  t.teardown(async () => {
    await proxy.close();
    await parseable.stop();
    await sim.close();
  });
  const line = await proxy.logs.waitFor((l) => l.event === 'otlp_push_failed');
  t.match(line.reason, /OTLP export failed/);
  t.equal(parseable.requests[0]?.status, 401);
  const text = await (await request(`${proxy.url}/proxy/metrics`)).body.text();
  t.match(text, /vllm_metrics_proxy_otlp_pushes_total\{outcome="export_error"\} 1/);
  t.match(text, /vllm_metrics_proxy_otlp_dropped_points_total\{reason="push_failed"\} [1-9]/);
  t.notMatch(JSON.stringify(proxy.logs.lines()), /wrong/);
});

// --- the mapping, without sockets ------------------------------------------

type Point = { startTime: [number, number]; endTime: [number, number]; attributes: Record<string, unknown>; value: unknown };

function points(families: ReturnType<typeof parseExposition>, scrapeMs: number, starts: StartTimes) {
  const out = new Map<string, Point[]>();
  for (const rm of toResourceMetrics(families, scrapeMs, starts, { attributes: {} })) {
    for (const m of rm.scopeMetrics[0]!.metrics) out.set(m.descriptor.name, [...(out.get(m.descriptor.name) ?? []), ...(m.dataPoints as unknown as Point[])]);
  }
  return out;
}

const ms = (hr: [number, number]) => hr[0] * 1000 + hr[1] / 1e6;

t.test('counter start times: first seen, stable, and a reset starts a new run', async (t) => {
  const starts = new StartTimes();
  const at = (v: number) => parseExposition(`# TYPE c_total counter\nc_total ${v}\n`, 'prometheus');
  t.equal(ms(points(at(5), 1000, starts).get('c_total')![0]!.startTime), 1000, 'first seen');
  t.equal(ms(points(at(9), 2000, starts).get('c_total')![0]!.startTime), 1000, 'stable while it grows');
  t.equal(ms(points(at(2), 3000, starts).get('c_total')![0]!.startTime), 2000, 'reset: starts after the last good scrape');
  t.equal(ms(points(at(4), 4000, starts).get('c_total')![0]!.startTime), 2000);
  points(parseExposition('g 1\n', 'prometheus'), 5000, starts);
  t.equal(starts.size, 0, 'series gone from the exposition are forgotten');
});

t.test('_created gives the same start time in OpenMetrics and in the classic format', async (t) => {
  const sim = new Simulator({ engines: 1, models: 1, tickMs: 0 }, T0);
  const om = points(parseExposition(sim.exposition('openmetrics'), 'openmetrics'), T0 * 1000, new StartTimes());
  const classic = points(parseExposition(sim.exposition('text'), 'prometheus'), T0 * 1000, new StartTimes());
  for (const name of ['vllm_prompt_tokens_total', 'vllm_e2e_request_latency_seconds']) {
    const a = om.get(name)!;
    const b = classic.get(name)!;
    t.ok(a.length > 0 && a.length === b.length, `${name}: same points`);
    t.same(
      a.map((p) => p.startTime),
      b.map((p) => p.startTime),
      `${name}: same start times`,
    );
    t.ok(ms(a[0]!.startTime) < T0 * 1000, `${name}: start time is the process's, before the scrape`);
  }
  t.same([...om.keys()].sort(), [...classic.keys()].sort(), 'the same metric names from both formats');
});

t.test('summaries, gauge histograms, histograms without +Inf, untyped', async (t) => {
  const families = parseExposition(
    [
      '# TYPE s summary',
      's{quantile="0.5"} 3',
      's_sum 10',
      's_count 4',
      '# TYPE gh gaugehistogram',
      'gh_bucket{le="1"} 2',
      'gh_bucket{le="+Inf"} 5',
      'gh_gcount 5',
      'gh_gsum 3',
      '# EOF',
    ].join('\n'),
    'openmetrics',
  );
  const p = points(families, 7000, new StartTimes());
  t.same(
    p.get('s')!.map((x) => [x.attributes, x.value]),
    [[{ quantile: '0.5' }, 3]],
  );
  t.same(
    p.get('s_sum')!.map((x) => x.value),
    [10],
  );
  t.same(
    p.get('s_count')!.map((x) => x.value),
    [4],
  );
  t.same(p.get('gh')![0]!.value, { buckets: { boundaries: [1], counts: [2, 3] }, count: 5, sum: 3 });
  t.equal(ms(p.get('gh')![0]!.startTime), 7000, 'a gauge histogram point starts at its own time');
  const noInf = points(parseExposition('# TYPE h histogram\nh_bucket{le="1"} 2\nh_count 5\nu 1 1700000000000\n', 'prometheus'), 7000, new StartTimes());
  t.same(noInf.get('h')![0]!.value, { buckets: { boundaries: [1], counts: [2, 3] }, count: 5 });
  t.equal(ms(noInf.get('u')![0]!.endTime), 1700000000000, 'an exposition timestamp is the point time');
});

t.test('--keep vllm:*: the direct push sends only the families kept, and their start times still', async (t) => {
  const sim = await startSimulator({ tickMs: 0, engines: 1 }, { host: '127.0.0.1', port: 0 });
  const parseable = await new ParseableStandIn().start();
  const proxy = await testProxy({ url: `${sim.url}/metrics`, families: { keep: ['vllm:*'], drop: [] } }, { otlp: pushConfig(parseable) });
  t.teardown(async () => {
    await proxy.close();
    await parseable.stop();
    await sim.close();
  });
  const rows = await eventually('first push', async () => (parseable.requests.length >= 1 && parseable.rows().length > 0 ? parseable.rows() : undefined));
  t.same(
    [...new Set(rows.map((r) => String(r.metric_name)))].filter((n) => !n.startsWith('vllm_')),
    [],
    'only vLLM families',
  );
  const counter = rows.find((r) => r.metric_name === 'vllm_prompt_tokens_total')!;
  t.not(String(counter.start_time_unix_nano), '0', 'a counter keeps its start time from its _created (kept with it: vllm:*)');
});

import t from 'tap';
import { chartData, formatQuantity, renderReport } from '../../src/report/html.js';
import { RunBuilder, type Run } from '../../src/report/run.js';
import type { Row } from '../../src/store/store.js';

const T0 = 1_800_000_000_000;
const at = (s: number) => T0 + s * 1000;
const row = (s: number, target: string, family: string, type: Row['type'], name: string, value: number, labels: Record<string, string> = {}): Row => ({
  timeMs: at(s),
  target,
  family,
  type,
  name,
  labels,
  value,
});
const TTFT = 'vllm_time_to_first_token_seconds';
const buckets = (s: number, target: string, counts: [number, number, number]) =>
  (['0.1', '1', '+Inf'] as const).map((le, i) => row(s, target, TTFT, 'delta', `${TTFT}_bucket_delta`, counts[i]!, { le }));

/** Two targets, two intervals (10 s and 20 s), as post-processing gives them. */
function run(label = 'a.jsonl', shift = 0): Run {
  const b = new RunBuilder(label);
  const rows = [
    ...['gpu-a', 'gpu-b'].flatMap((tg, k) => [
      row(0, tg, 'vllm_num_requests_running', 'gauge', 'vllm_num_requests_running', 2 + k),
      row(0, tg, 'vllm_kv_cache_usage_perc', 'gauge', 'vllm_kv_cache_usage_perc', 0.2 + 0.4 * k),
    ]),
    // Interval ending at 10 s: gpu-a 3 tok/s, gpu-b 5 tok/s; TTFT: a has 4 obs at <= 0.1, b has 4 in (0.1, 1].
    row(10, 'gpu-a', 'vllm_generation_tokens_total', 'rate', 'vllm_generation_tokens_total_rate', 3),
    row(10, 'gpu-a', 'vllm_generation_tokens_total', 'delta', 'vllm_generation_tokens_total_delta', 30),
    row(10, 'gpu-b', 'vllm_generation_tokens_total', 'rate', 'vllm_generation_tokens_total_rate', 5),
    row(10, 'gpu-b', 'vllm_generation_tokens_total', 'delta', 'vllm_generation_tokens_total_delta', 50),
    ...buckets(10, 'gpu-a', [4, 4, 4]),
    ...buckets(10, 'gpu-b', [0, 4, 4]),
    row(10, 'gpu-a', TTFT, 'delta', `${TTFT}_sum_delta`, 0.2),
    row(10, 'gpu-a', TTFT, 'delta', `${TTFT}_count_delta`, 4),
    row(10, 'gpu-b', TTFT, 'delta', `${TTFT}_sum_delta`, 2),
    row(10, 'gpu-b', TTFT, 'delta', `${TTFT}_count_delta`, 4),
    // A per-target percentile row is not what the report draws: it merges buckets instead.
    row(10, 'gpu-a', TTFT, 'quantile', `${TTFT}_p50`, 0.05),
    ...['gpu-a', 'gpu-b'].flatMap((tg, k) => [
      row(10, tg, 'vllm_num_requests_running', 'gauge', 'vllm_num_requests_running', 4 + k),
      row(10, tg, 'vllm_kv_cache_usage_perc', 'gauge', 'vllm_kv_cache_usage_perc', 0.5 + 0.3 * k),
    ]),
    row(30, 'gpu-a', 'vllm_generation_tokens_total', 'rate', 'vllm_generation_tokens_total_rate', 1),
    row(30, 'gpu-a', 'vllm_generation_tokens_total', 'delta', 'vllm_generation_tokens_total_delta', 20),
    ...buckets(30, 'gpu-a', [0, 0, 2]),
  ];
  for (const r of rows) b.add({ ...r, timeMs: r.timeMs + shift });
  return b.build();
}

/** NaN spelled out so t.same compares it; floats to 9 places, as hand-computed. */
const NaNs = (xs: number[]) => xs.map((v) => (Number.isNaN(v) ? 'NaN' : Math.round(v * 1e9) / 1e9));

t.test('one run: sums across targets per round, percentiles from the merged buckets (hand-computed)', async (t) => {
  const r = run();
  t.same(r.times, [at(0), at(10), at(30)]);
  t.same(r.targets, ['gpu-a', 'gpu-b']);
  const v = (chart: string, label: string) => NaNs(r.values.get(chart)!.get(label)!);
  t.same(v('tokens', 'generation'), ['NaN', 3 + 5, 1], 'generation tokens/s summed across targets; no interval before the first round');
  t.notOk(r.values.get('tokens')!.has('prompt'), 'a signal the file lacks has no series');
  t.same(v('queue', 'running'), [2 + 3, 4 + 5, 'NaN']);
  t.same(v('kv', 'busiest engine'), [60, 80, 'NaN'], 'the fullest engine, in percent');
  t.same(v('kv', 'mean of engines'), [40, 65, 'NaN']);
  // Merged at 10 s: cumulative [4, 8, 8]; p50 = rank 4, the top of (0, 0.1]; p90 = rank 7.2 in (0.1, 1] holding 4..8: 0.1 + 0.9 * 3.2/4.
  t.same(v('ttft', 'p50'), ['NaN', 0.1, 1], 'at 30 s both observations are above 1: the highest finite bound');
  t.same(v('ttft', 'p90'), ['NaN', 0.82, 1]);
  t.equal(r.found.get('ttft'), TTFT);
  t.equal(r.found.get('e2e'), undefined);

  const s = Object.fromEntries(r.summary.map((l) => [l.label, l.value]));
  t.equal(s.Duration, 30);
  t.equal(s['Generation tokens'], 30 + 50 + 20);
  t.equal(s['Generation throughput'], 100 / 30);
  t.equal(s['Peak running'], 9);
  t.equal(s['Peak KV-cache usage'], 80);
  // The whole run, merged: cumulative [4, 8, 10]; p50 = rank 5 in (0.1, 1] holding 4..8: 0.1 + 0.9 * 1/4.
  t.equal(s['TTFT p50'], 0.1 + 0.9 * (1 / 4));
  t.equal(s['TTFT mean'], 2.2 / 8);
  t.ok(Number.isNaN(s['Requests finished']!), 'nothing to say without the counter');
});

t.test('the older KV-cache name is a fallback, and a run with both is not counted twice', async (t) => {
  const gauge = (name: string, v: number): Row => ({ timeMs: T0, target: 'x', family: name, type: 'gauge', name, labels: {}, value: v });
  const old = new RunBuilder('old');
  old.add(gauge('vllm_gpu_cache_usage_perc', 0.5));
  t.same(old.build().values.get('kv')!.get('busiest engine'), [50]);
  const both = new RunBuilder('both');
  both.add(gauge('vllm_gpu_cache_usage_perc', 0.5));
  both.add(gauge('vllm_kv_cache_usage_perc', 0.25));
  t.same(both.build().values.get('kv')!.get('mean of engines'), [25]);
});

t.test('comparing: both runs on "seconds since start", each value at its own offset', async (t) => {
  const a = run('a.jsonl');
  const b = run('b.sqlite', 3_600_000 + 500);
  const tokens = chartData([a, b]).find((c) => c.id === 'tokens')!;
  t.same(tokens.x, [0, 10, 30], 'offsets from each run start, merged');
  t.same(
    tokens.series.map((s) => [s.label, s.run, s.values]),
    [
      ['A: generation', 0, [null, 8, 1]],
      ['B: generation', 1, [null, 8, 1]],
    ],
  );
  const single = chartData([a]).find((c) => c.id === 'e2e')!;
  t.match(single.missing, /Not in this file: vllm_e2e_request_latency_seconds/);
  const idle = new RunBuilder('idle');
  for (const s of [10, 20]) idle.add(row(s, 'x', 'vllm_e2e_request_latency_seconds', 'delta', 'vllm_e2e_request_latency_seconds_count_delta', 0));
  const e2e = chartData([idle.build()]).find((c) => c.id === 'e2e')!;
  t.same(e2e.series, [], 'no request finished: no percentile line');
  t.match(e2e.missing, /No value in any interval/, 'and the chart says why, rather than drawing an empty frame');
});

t.test('the page: self-contained, names escaped, no value can close the script element', async (t) => {
  const r = run('</script><img src=x onerror=alert(1)>.jsonl');
  const html = renderReport([r], { uplotJs: '/*uplot*/', uplotCss: '/*css*/' }, { version: '9.9.9', generatedAt: new Date(T0) });
  t.notMatch(html, /<img src=x/, 'the file name is escaped');
  t.equal(html.match(/<\/script>/g)!.length, 3, 'only the three script elements close');
  t.notMatch(html, /\b(src|href)=["']?https?:/, 'nothing fetched from the network');
  t.match(html, /Not in this file: vllm_e2e_request_latency_seconds/);
  t.match(html, /Generated by vllm-metrics-proxy 9\.9\.9/);
});

t.test('numbers as people read them', async (t) => {
  t.equal(formatQuantity(1234567, ''), '1,234,567');
  t.equal(formatQuantity(0.0123, 's'), '12.3 ms');
  t.equal(formatQuantity(12.345, 's'), '12.35 s');
  t.equal(formatQuantity(NaN, 's'), '–');
  t.equal(formatQuantity(95.1, '%'), '95.1 %');
});

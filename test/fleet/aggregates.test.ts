import t from 'tap';
import type { MetricFamily } from '../../src/exposition/model.js';
import { aggregatedFamilies, FleetAggregator } from '../../src/fleet/aggregates.js';
import { TextMerge } from '../../src/fleet/text-merge.js';

/** What the aggregator sees: the families the merge collects, from per-target text. */
function merged(targets: Record<string, string>): MetricFamily[] {
  const m = new TextMerge({ label: 'instance', collect: aggregatedFamilies() });
  for (const [target, text] of Object.entries(targets)) m.add(target, text);
  return m.collected();
}

function target(o: {
  running: number;
  waiting: number;
  kv: number;
  stop: number;
  length?: number;
  hits: number;
  queries: number;
  gen: number;
  model?: string;
}): string {
  const m = `model_name="${o.model ?? 'm1'}",engine="0"`;
  return [
    '# TYPE vllm:num_requests_running gauge',
    `vllm:num_requests_running{${m}} ${o.running}`,
    '# TYPE vllm:num_requests_waiting gauge',
    `vllm:num_requests_waiting{${m}} ${o.waiting}`,
    '# TYPE vllm:kv_cache_usage_perc gauge',
    `vllm:kv_cache_usage_perc{${m}} ${o.kv}`,
    '# TYPE vllm:request_success_total counter',
    `vllm:request_success_total{${m},finished_reason="stop"} ${o.stop}`,
    `vllm:request_success_total{${m},finished_reason="length"} ${o.length ?? 0}`,
    '# TYPE vllm:prefix_cache_hits_total counter',
    `vllm:prefix_cache_hits_total{${m}} ${o.hits}`,
    '# TYPE vllm:prefix_cache_queries_total counter',
    `vllm:prefix_cache_queries_total{${m}} ${o.queries}`,
    '# TYPE vllm:generation_tokens_total counter',
    `vllm:generation_tokens_total{${m}} ${o.gen}`,
    '',
  ].join('\n');
}

/** name{model_name} → value */
function values(families: MetricFamily[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const f of families)
    for (const s of f.samples) out[`${s.name.replace('vllm_metrics_proxy_fleet_', '')}${s.labels.model_name ? `{${s.labels.model_name}}` : ''}`] = s.value;
  return out;
}

t.test('sums, maxima, and reset-aware rates over the window, per model (hand-computed)', async (t) => {
  const agg = new FleetAggregator(60_000);
  const t0 = 1_000_000;
  const first = agg.aggregate(
    merged({
      a: target({ running: 3, waiting: 1, kv: 0.5, stop: 10, length: 2, hits: 100, queries: 200, gen: 1000 }),
      b: target({ running: 4, waiting: 0, kv: 0.7, stop: 20, hits: 50, queries: 100, gen: 500 }),
      c: target({ running: 2, waiting: 5, kv: 0.9, stop: 7, hits: 0, queries: 0, gen: 0, model: 'm2' }),
    }),
    t0,
    3,
    4,
  );
  t.same(
    values(first),
    {
      targets: 4,
      targets_up: 3,
      'num_requests_running{m1}': 7,
      'num_requests_running{m2}': 2,
      'num_requests_waiting{m1}': 1,
      'num_requests_waiting{m2}': 5,
      'kv_cache_usage_perc_max{m1}': 0.7,
      'kv_cache_usage_perc_max{m2}': 0.9,
    },
    'no rates before there is a baseline',
  );

  const second = agg.aggregate(
    merged({
      // a: +6 stop, +0 length; b restarted (20 -> 5): its increase is 5; d is new and has no baseline yet.
      a: target({ running: 1, waiting: 0, kv: 0.2, stop: 16, length: 2, hits: 160, queries: 300, gen: 1400 }),
      b: target({ running: 0, waiting: 0, kv: 0.1, stop: 5, hits: 10, queries: 20, gen: 100 }),
      c: target({ running: 2, waiting: 5, kv: 0.9, stop: 9, hits: 0, queries: 0, gen: 0, model: 'm2' }),
      d: target({ running: 9, waiting: 9, kv: 0.3, stop: 1000, hits: 1, queries: 1, gen: 99999 }),
    }),
    t0 + 10_000,
    4,
    4,
  );
  const v = values(second);
  t.equal(v['requests_per_second{m1}'], (6 + 5) / 10);
  t.equal(v['requests_per_second{m2}'], 2 / 10);
  t.equal(v['generation_tokens_per_second{m1}'], (400 + 100) / 10);
  t.equal(v['prefix_cache_hit_ratio{m1}'], (60 + 10) / (100 + 20));
  t.notOk('prefix_cache_hit_ratio{m2}' in v, 'no ratio where there were no queries');
  t.equal(v['num_requests_running{m1}'], 10);
  t.equal(v['kv_cache_usage_perc_max{m1}'], 0.3);
  t.notOk('prompt_tokens_per_second{m1}' in v, 'a counter nobody exposes gives no family');

  // 70 s in: the t0 snapshot left the one-minute window; rates are over the last 60 s from t0+10s.
  const third = values(
    agg.aggregate(
      merged({
        a: target({ running: 0, waiting: 0, kv: 0, stop: 76, length: 2, hits: 160, queries: 300, gen: 1400 }),
        b: target({ running: 0, waiting: 0, kv: 0, stop: 5, hits: 10, queries: 20, gen: 100 }),
      }),
      t0 + 70_000,
      2,
      2,
    ),
  );
  t.equal(third['requests_per_second{m1}'], 60 / 60, 'a: 16 -> 76 over 60 s; b unchanged');
});

t.test('the older gpu_cache_usage_perc stands in for kv_cache_usage_perc', async (t) => {
  const agg = new FleetAggregator(60_000);
  const out = values(agg.aggregate(merged({ a: '# TYPE vllm:gpu_cache_usage_perc gauge\nvllm:gpu_cache_usage_perc{model_name="m"} 0.4\n' }), 0, 1, 1));
  t.equal(out['kv_cache_usage_perc_max{m}'], 0.4);
});

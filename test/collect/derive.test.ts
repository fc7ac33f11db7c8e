import t from 'tap';
import { Deriver } from '../../src/collect/derive.js';
import type { Row } from '../../src/store/store.js';

const at = (s: number) => 1_800_000_000_000 + s * 1000;
const model = { model_name: 'm', engine: '0' };
const row = (s: number, family: string, type: Row['type'], name: string, value: number, labels: Record<string, string> = model): Row => ({
  timeMs: at(s),
  target: 'gpu-a',
  family,
  type,
  name,
  labels,
  value,
});

const TTFT = 'vllm_time_to_first_token_seconds';
/** One histogram point as collect writes it: buckets, then sum and count. */
const histogram = (s: number, buckets: [number, number, number, number], sum: number, count: number): Row[] => [
  ...(['0.1', '0.5', '1.0', '+Inf'] as const).map((le, i) => row(s, TTFT, 'histogram', `${TTFT}_bucket`, buckets[i]!, { ...model, le })),
  row(s, TTFT, 'histogram', `${TTFT}_sum`, sum),
  row(s, TTFT, 'histogram', `${TTFT}_count`, count),
  row(s, TTFT, 'histogram', `${TTFT}_created`, 1_700_000_000),
];
const PROMPT = 'vllm_prompt_tokens';
const counter = (s: number, v: number) => row(s, PROMPT, 'counter', `${PROMPT}_total`, v);
const gauge = (s: number, v: number) => row(s, 'vllm_num_requests_running', 'gauge', 'vllm_num_requests_running', v);

/** name → [seconds since start, value] pairs, NaN as 'NaN' so t.same compares it. */
function byName(rows: Row[]): Record<string, Array<[number, number | string]>> {
  const out: Record<string, Array<[number, number | string]>> = {};
  for (const r of rows) {
    const key = r.labels.le === undefined ? r.name : `${r.name}{le=${r.labels.le}}`;
    (out[key] ??= []).push([(r.timeMs - at(0)) / 1000, Number.isNaN(r.value) ? 'NaN' : r.value]);
  }
  return out;
}

t.test('counters, histograms and gauges of four rounds with a restart, hand-computed', async (t) => {
  const d = new Deriver();
  const out = [
    ...d.push([gauge(0, 3), counter(0, 100), ...histogram(0, [2, 8, 9, 10], 4, 10)]),
    // In the interval, cumulative [2, 6, 9, 10]: 2 at or below 0.1, 4 in (0.1, 0.5], 3 in (0.5, 1], 1 above.
    ...d.push([gauge(10, 5), counter(10, 130), ...histogram(10, [4, 14, 18, 20], 9, 20)]),
    // The engine restarted: everything counts from zero again.
    ...d.push([gauge(20, 0), counter(20, 10), ...histogram(20, [1, 1, 1, 1], 0.05, 1)]),
    // Nothing happened.
    ...d.push([gauge(30, 0), counter(30, 10), ...histogram(30, [1, 1, 1, 1], 0.05, 1)]),
    ...d.end(),
  ];
  const got = byName(out);
  t.same(
    got.vllm_num_requests_running,
    [
      [0, 3],
      [10, 5],
      [20, 0],
      [30, 0],
    ],
    'gauges kept as they are',
  );
  t.same(
    got.vllm_prompt_tokens_total_delta,
    [
      [10, 30],
      [20, 10],
      [30, 0],
    ],
    'a restart counts from zero',
  );
  t.same(got.vllm_prompt_tokens_total_rate, [
    [10, 3],
    [20, 1],
    [30, 0],
  ]);
  t.same(got.vllm_prompt_tokens_total_resets, [[20, 1]], 'the restart is marked');
  t.notOk(got.vllm_prompt_tokens_total, 'the cumulative counter is replaced');

  t.same(got[`${TTFT}_bucket_delta{le=0.1}`], [
    [10, 2],
    [20, 1],
    [30, 0],
  ]);
  t.same(
    got[`${TTFT}_bucket_delta{le=0.5}`],
    [
      [10, 14 - 8],
      [20, 1],
      [30, 0],
    ],
    'bucket deltas stay cumulative, with le as the source spelled it',
  );
  t.same(got[`${TTFT}_bucket_delta{le=1.0}`], [
    [10, 9],
    [20, 1],
    [30, 0],
  ]);
  t.same(got[`${TTFT}_bucket_delta{le=+Inf}`], [
    [10, 10],
    [20, 1],
    [30, 0],
  ]);
  t.same(got[`${TTFT}_count_delta`], [
    [10, 10],
    [20, 1],
    [30, 0],
  ]);
  t.same(got[`${TTFT}_sum_delta`], [
    [10, 5],
    [20, 0.05],
    [30, 0],
  ]);
  t.same(got[`${TTFT}_mean`], [
    [10, 0.5],
    [20, 0.05],
    [30, 'NaN'],
  ]);
  // Interval 1: rank 5 of 10 in (0.1, 0.5] holding ranks 2..6: 0.1 + 0.4 * 3/4.
  // Interval 2: one observation in (0, 0.1]: rank q in it, 0.1 * q.
  t.same(got[`${TTFT}_p50`], [
    [10, 0.1 + 0.4 * (3 / 4)],
    [20, 0.05],
    [30, 'NaN'],
  ]);
  // Rank 9 of 10: (0.5, 1] holds 6..9, so its top; rank 9.9 is in +Inf: the highest finite bound.
  t.same(got[`${TTFT}_p90`], [
    [10, 1],
    [20, 0.1 * 0.9],
    [30, 'NaN'],
  ]);
  t.same(got[`${TTFT}_p99`], [
    [10, 1],
    [20, 0.1 * 0.99],
    [30, 'NaN'],
  ]);
  t.same(got[`${TTFT}_resets`], [[20, 1]]);
  t.notOk(got[`${TTFT}_bucket`] ?? got[`${TTFT}_created`], 'cumulative buckets and _created are not carried');

  const p50 = out.find((r) => r.name === `${TTFT}_p50`)!;
  t.same({ ...p50.labels }, model, 'derived rows keep the series labels, without le');
  t.equal(p50.family, TTFT, 'and the source family');
  t.equal(p50.type, 'quantile');
  t.same(d.stats, { rowsIn: 4 * (1 + 1 + 7), rowsOut: out.length, outOfOrder: 0, resets: 2 });
});

t.test('summaries: _sum and _count become deltas, quantiles pass through', async (t) => {
  const d = new Deriver();
  const s = (sec: number, sum: number, count: number, q: number) => [
    row(sec, 'rpc', 'summary', 'rpc', q, { quantile: '0.5' }),
    row(sec, 'rpc', 'summary', 'rpc_sum', sum, {}),
    row(sec, 'rpc', 'summary', 'rpc_count', count, {}),
  ];
  const got = byName([...d.push(s(0, 1, 2, 0.4)), ...d.push(s(5, 4, 5, 0.6)), ...d.end()]);
  t.same(got.rpc, [
    [0, 0.4],
    [5, 0.6],
  ]);
  t.same(got.rpc_sum_delta, [[5, 3]]);
  t.same(got.rpc_count_delta, [[5, 3]]);
  t.same(got.rpc_count_rate, [[5, 3 / 5]]);
});

t.test('series are kept apart by target and labels; NaN and out-of-order points give no interval', async (t) => {
  const d = new Deriver();
  const other = (s: number, v: number): Row => ({ ...counter(s, v), target: 'gpu-b' });
  const engine1 = (s: number, v: number): Row => ({ ...counter(s, v), labels: { ...model, engine: '1' } });
  const out = [
    ...d.push([counter(0, 10), other(0, 1000), engine1(0, 50)]),
    ...d.push([counter(10, 20), other(10, 1010), engine1(10, 50)]),
    ...d.push([counter(5, 15)]), // older than the series' last point
    ...d.push([counter(20, NaN)]),
    ...d.push([counter(30, 40)]), // after a NaN: no interval to speak of
    ...d.end(),
  ];
  const deltas = out.filter((r) => r.type === 'delta').map((r) => [r.target, r.labels.engine, (r.timeMs - at(0)) / 1000, r.value]);
  t.same(deltas, [
    ['gpu-a', '0', 10, 10],
    ['gpu-b', '0', 10, 10],
    ['gpu-a', '1', 10, 0],
  ]);
  t.equal(d.stats.outOfOrder, 1);
});

t.test('a histogram without _count takes it from +Inf; one without +Inf has no quantiles', async (t) => {
  const d = new Deriver();
  const h = (s: number, b: number[], les: string[]) => les.map((le, i) => row(s, 'h', 'histogram', 'h_bucket', b[i]!, { le }));
  const got = byName([...d.push(h(0, [1, 2], ['1', '+Inf'])), ...d.push(h(1, [3, 6], ['1', '+Inf'])), ...d.end()]);
  t.same(got.h_count_delta, [[1, 4]]);
  t.same(got.h_p50, [[1, 1]], 'rank 2 of 4 inside (0, 1], 2 of the 4 there: 0 + 1 * 2/2');
  t.notOk(got.h_mean, 'no _sum, no mean');
  const d2 = new Deriver();
  const got2 = byName([...d2.push(h(0, [1], ['1'])), ...d2.push(h(1, [3], ['1'])), ...d2.end()]);
  t.same(got2.h_p50, [[1, 'NaN']]);
});

t.test('rows that are derived already are refused, so nothing is derived twice', async (t) => {
  const d = new Deriver();
  t.throws(() => d.push([row(0, PROMPT, 'delta', `${PROMPT}_total_delta`, 3)]), { code: 'VMP_ALREADY_POSTPROCESSED' });
});

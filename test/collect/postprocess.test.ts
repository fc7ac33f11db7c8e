import t from 'tap';
import { counterDeltas, histogramQuantile, histogramWindows } from '../../src/exposition/series.js';

const at = (s: number) => 1_700_000_000_000 + s * 1000;

t.test('counter deltas and rates, with a restart in the middle (hand-computed)', async (t) => {
  const d = counterDeltas([
    { timeMs: at(0), value: 100 },
    { timeMs: at(20), value: 130 }, // +30 in 20 s
    { timeMs: at(10), value: 110 }, // out of order on purpose: +10 in 10 s
    { timeMs: at(30), value: 5 }, // restart: 5 since
    { timeMs: at(40), value: 25 }, // +20
  ]);
  t.same(
    d.map((x) => [x.timeMs - at(0), x.delta, x.rate, x.reset]),
    [
      [10_000, 10, 1, false],
      [20_000, 20, 2, false],
      [30_000, 5, 0.5, true],
      [40_000, 20, 2, false],
    ],
  );
  t.same(counterDeltas([{ timeMs: at(0), value: 1 }]), [], 'one point: no interval');
});

t.test('histogram_quantile as PromQL computes it (hand-computed)', async (t) => {
  // 10 observations: 2 at or below 0.1, 6 more up to 0.5, 1 more up to 1, 1 above.
  const h = new Map([
    [0.1, 2],
    [0.5, 8],
    [1, 9],
    [Infinity, 10],
  ]);
  // q=0.5: rank 5, bucket (0.1, 0.5] holds ranks 2..8: 0.1 + 0.4 * (5-2)/6 = 0.3
  t.equal(histogramQuantile(0.5, h), 0.1 + 0.4 * (3 / 6));
  // q=0.1: rank 1, first bucket from 0: 0.1 * 1/2 = 0.05
  t.equal(histogramQuantile(0.1, h), 0.05);
  // q=0.9: rank 9, bucket (0.5, 1] holds 8..9: 0.5 + 0.5 * 1/1 = 1
  t.equal(histogramQuantile(0.9, h), 1);
  // q=0.99: rank 9.9 lands in +Inf: the highest finite bound
  t.equal(histogramQuantile(0.99, h), 1);
  t.ok(
    Number.isNaN(
      histogramQuantile(
        0.5,
        new Map([
          [1, 0],
          [Infinity, 0],
        ]),
      ),
    ),
    'no observations: NaN',
  );
  t.ok(Number.isNaN(histogramQuantile(0.5, new Map([[1, 3]]))), 'no +Inf bucket: NaN');
  t.equal(histogramQuantile(-0.1, h), -Infinity);
  t.equal(histogramQuantile(1.1, h), Infinity);
  t.equal(
    histogramQuantile(
      0.5,
      new Map([
        [-1, 4],
        [0, 4],
        [Infinity, 4],
      ]),
    ),
    -1,
    'a first bound at or below 0 is the answer there',
  );
});

t.test('histogram windows: bucket deltas, mean and quantiles per interval; a reset starts over', async (t) => {
  const point = (s: number, b: [number, number, number], sum: number) => ({
    timeMs: at(s),
    buckets: new Map([
      [0.1, b[0]],
      [1, b[1]],
      [Infinity, b[2]],
    ]),
    sum,
    count: b[2],
  });
  const w = histogramWindows([point(0, [1, 2, 2], 0.6), point(10, [3, 6, 6], 2.6), point(20, [0, 1, 1], 0.5)]);
  t.equal(w.length, 2);
  // Interval 1: +2 at or below 0.1, +4 at or below 1, +4 in all; sum +2.0
  t.same(
    [...w[0]!.buckets],
    [
      [0.1, 2],
      [1, 4],
      [Infinity, 4],
    ],
  );
  t.equal(w[0]!.count, 4);
  t.equal(w[0]!.mean, 2.0 / 4);
  t.equal(w[0]!.p50, 0.1 + 0.9 * ((2 - 2) / 2)); // rank 2 is the top of the first bucket
  t.equal(w[0]!.p90, 0.1 + 0.9 * ((3.6 - 2) / 2));
  t.equal(w[0]!.reset, false);
  // Interval 2: the count went down, a restart: the new point's own values.
  t.equal(w[1]!.reset, true);
  t.same(
    [...w[1]!.buckets],
    [
      [0.1, 0],
      [1, 1],
      [Infinity, 1],
    ],
  );
  t.equal(w[1]!.mean, 0.5);
  t.equal(w[1]!.seconds, 10);
  // A restart with as many observations since as before: no count or bucket went down, the sum did.
  const [same] = histogramWindows([point(0, [1, 2, 2], 2.6), point(10, [1, 2, 2], 0.4)]);
  t.equal(same!.reset, true, 'a sum that went down is a restart too');
  t.equal(same!.sum, 0.4, 'and the interval counts from zero, never negative');
});

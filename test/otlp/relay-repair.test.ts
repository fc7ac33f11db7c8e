import t from 'tap';
import { RelayRepair, repairBuckets } from '../../src/otlp/relay-repair.js';
import type { HistogramDataPoint, MetricsRequest } from '../../src/otlp/types.js';

const point = (counts: number[], count: number): HistogramDataPoint => ({
  bucketCounts: counts.map(String),
  count: String(count),
  explicitBounds: counts.slice(1).map((_, i) => i + 1),
});

t.test('bucket counts: cumulative ones are made per bucket, correct ones pass, others are left and reported', async (t) => {
  const cumulative = point([9, 35, 61, 87], 87);
  t.equal(repairBuckets(cumulative), 'cumulative');
  t.same(cumulative.bucketCounts, ['9', '26', '26', '26'], 'the Fluent Bit point observed (DESIGN.md)');
  const correct = point([9, 26, 26, 26], 87);
  t.equal(repairBuckets(correct), 'per_bucket');
  t.same(correct.bucketCounts, ['9', '26', '26', '26'], 'untouched');
  t.equal(repairBuckets(point([0, 0, 0, 5], 5)), 'per_bucket', 'all in the last bucket reads the same either way');
  t.equal(repairBuckets(point([0, 0, 0], 0)), 'per_bucket');
  const down = point([5, 3, 7], 7);
  t.equal(repairBuckets(down), 'inconsistent', 'a count that goes down is not cumulative');
  t.same(down.bucketCounts, ['5', '3', '7'], 'forwarded as it is');
  t.equal(repairBuckets(point([1, 2, 3], 9)), 'inconsistent', 'cumulative must end at count');
  const big = point([0, 0], 0);
  big.bucketCounts = ['9007199254740993', '9007199254740995'];
  big.count = '9007199254740995';
  t.equal(repairBuckets(big), 'cumulative');
  t.same(big.bucketCounts, ['9007199254740993', '2'], '64-bit counts stay exact');
});

t.test('_created folded into start times, first-seen starts, resets, resources kept or split', async (t) => {
  const repair = new RelayRepair({ sourceOf: (label) => ({ 'service.name': 'vllm', 'service.instance.id': label('instance') ?? 'one' }), extra: { env: 'x' } });
  const labels = [{ key: 'instance', value: { stringValue: 'a' } }];
  const request = (value: number, timeNs: string): MetricsRequest => ({
    resourceMetrics: [
      {
        scopeMetrics: [
          {
            metrics: [
              {
                name: 'c_total',
                sum: { aggregationTemporality: 2, isMonotonic: true, dataPoints: [{ attributes: labels, timeUnixNano: timeNs, asDouble: value }] },
              },
              { name: 'c_created', gauge: { dataPoints: [{ attributes: labels, timeUnixNano: timeNs, asDouble: 1700000000.5 }] } },
              {
                name: 'd_total',
                sum: { aggregationTemporality: 2, isMonotonic: true, dataPoints: [{ attributes: labels, timeUnixNano: timeNs, asDouble: value }] },
              },
              { name: 'orphan_created', gauge: { dataPoints: [{ timeUnixNano: timeNs, asDouble: 1 }] } },
            ],
          },
        ],
      },
      {
        resource: { attributes: [{ key: 'host.name', value: { stringValue: 'h' } }] },
        scopeMetrics: [{ metrics: [{ name: 'g', gauge: { dataPoints: [{ asDouble: 1 }] } }] }],
      },
    ],
  });
  const first = repair.repair(request(10, '1700000010000000000'), 1_000);
  const [scraped, ...rest] = first.request.resourceMetrics!;
  const names = scraped!.scopeMetrics![0]!.metrics!.map((m) => m.name);
  t.same(names, ['c_total', 'd_total'], 'the owned _created is gone; an orphan _created stays a gauge');
  t.same(
    rest.at(-1)!.resource!.attributes!.map((a) => a.key),
    ['host.name', 'env'],
    "a sender's own resource is kept, with --otlp-resource added",
  );
  const orphan = rest.find((r) => r.scopeMetrics![0]!.metrics![0]!.name === 'orphan_created');
  t.ok(orphan, 'a point without the target label goes to a resource of its own');
  t.same(scraped!.resource!.attributes, [
    { key: 'service.name', value: { stringValue: 'vllm' } },
    { key: 'service.instance.id', value: { stringValue: 'a' } },
    { key: 'env', value: { stringValue: 'x' } },
  ]);
  const start = (r: MetricsRequest, name: string) =>
    r.resourceMetrics![0]!.scopeMetrics![0]!.metrics!.find((m) => m.name === name)!.sum!.dataPoints![0]!.startTimeUnixNano;
  t.equal(start(first.request, 'c_total'), '1700000000500000000', 'from _created');
  t.equal(start(first.request, 'd_total'), '1700000010000000000', 'first seen');
  t.same(
    { ...first.counts },
    { cumulative_buckets: 0, temporality_unspecified: 0, created_folded: 1, start_from_created: 1, start_first_seen: 1, inconsistentBuckets: 0 },
  );
  const second = repair.repair(request(12, '1700000020000000000'), 2_000);
  t.equal(start(second.request, 'd_total'), '1700000010000000000', 'the same run keeps its start');
  const reset = repair.repair(request(3, '1700000030000000000'), 3_000);
  const forgotten = repair.repair(request(4, '1700000040000000000'), 3_000 + 11 * 60_000);
  t.equal(start(forgotten.request, 'd_total'), '1700000040000000000', 'a series unseen for 10 minutes starts afresh');
  t.equal(start(reset.request, 'd_total'), '1700000020000000000', 'after a reset the run starts at the previous point');
});

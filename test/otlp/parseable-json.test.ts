import t from 'tap';
import { backoffDelay } from '../../src/backoff.js';
import { encodeForParseable } from '../../src/otlp/parseable-json.js';
import { decodeJson } from '../../src/otlp/proto.js';
import { metricsDataRows, parseExactJson } from '../helpers/parseable.js';

const point = {
  attributes: [{ key: 'model_name', value: { stringValue: 'm' } }],
  startTimeUnixNano: '1760000000000000001',
  timeUnixNano: '1760000000123456789',
};

t.test('every metric type encodes to what the Parseable contract accepts, 64-bit integers exact and bare', async (t) => {
  const request = decodeJson(
    JSON.stringify({
      resourceMetrics: [
        {
          scopeMetrics: [
            {
              metrics: [
                { name: 'vllm:g', gauge: { dataPoints: [{ ...point, asDouble: 0.5 }] } },
                { name: 'vllm:c', sum: { aggregationTemporality: 2, isMonotonic: true, dataPoints: [{ ...point, asInt: '9007199254740993' }] } },
                {
                  name: 'vllm:h',
                  histogram: { aggregationTemporality: 2, dataPoints: [{ ...point, count: '3', sum: 1.5, bucketCounts: ['1', '2'], explicitBounds: [0.5] }] },
                },
                { name: 's', summary: { dataPoints: [{ ...point, count: '2', sum: 3, quantileValues: [{ quantile: 0.5, value: 1 }] }] } },
                {
                  name: 'e',
                  exponentialHistogram: {
                    aggregationTemporality: 2,
                    dataPoints: [{ ...point, count: '3', sum: 2, scale: 1, zeroCount: '1', positive: { offset: 0, bucketCounts: ['2'] } }],
                  },
                },
              ],
            },
          ],
        },
      ],
    }),
  );
  const { body, points, dropped } = encodeForParseable(request);
  t.equal(points, 5);
  t.equal(dropped, 0);
  t.match(body, /"asInt":9007199254740993[,}]/, 'beyond 2^53, written exactly');
  t.match(body, /"timeUnixNano":1760000000123456789/);
  t.match(body, /"count":3,/);
  t.match(body, /"bucketCounts":\[1,2\]/);
  const rows = metricsDataRows(parseExactJson(body));
  t.same(
    rows.map((r) => [r.metric_name, r.metric_type, r.model_name]),
    [
      ['vllm_g', 'gauge', 'm'],
      ['vllm_c', 'sum', 'm'],
      ['vllm_h', 'histogram', 'm'],
      ['s', 'summary', 'm'],
      ['e', 'exponentialHistogram', 'm'],
    ],
  );
  t.equal(rows[0]!.time_unix_nano, '1760000000123456789');
});

t.test('non-finite values are left out and counted; empty metrics and scopes vanish', async (t) => {
  const { body, points, dropped } = encodeForParseable({
    resourceMetrics: [
      {
        scopeMetrics: [
          {
            metrics: [
              { name: 'stale', gauge: { dataPoints: [{ asDouble: NaN }, { asDouble: Infinity }] } },
              { name: 'h', histogram: { dataPoints: [{ count: '1', sum: NaN, bucketCounts: ['1'] }] } },
            ],
          },
        ],
      },
    ],
  });
  t.equal(points, 0);
  t.equal(dropped, 3);
  t.equal(body, '{"resourceMetrics":[]}');
});

t.test('exemplar ids go out in hex, as OTLP/JSON writes them', async (t) => {
  const request = decodeJson(
    JSON.stringify({
      resourceMetrics: [
        {
          scopeMetrics: [
            {
              metrics: [
                {
                  name: 'c',
                  sum: {
                    dataPoints: [{ asDouble: 1, exemplars: [{ asDouble: 0.2, traceId: '0af7651916cd43dd8448eb211c80319c', spanId: 'b7ad6b7169203331' }] }],
                  },
                },
              ],
            },
          ],
        },
      ],
    }),
  );
  const { body } = encodeForParseable(request);
  t.match(body, /"spanId":"b7ad6b7169203331","traceId":"0af7651916cd43dd8448eb211c80319c"/);
});

t.test('backoff: exponential, capped, fully jittered', async (t) => {
  t.equal(
    backoffDelay(0, 500, 30_000, () => 0.999999),
    499.9995,
  );
  t.equal(
    backoffDelay(3, 500, 30_000, () => 0.5),
    2_000,
  );
  t.equal(
    backoffDelay(20, 500, 30_000, () => 1),
    30_000,
    'capped',
  );
  t.equal(
    backoffDelay(1000, 500, 30_000, () => 0),
    0,
    'jitter reaches zero; huge attempts do not overflow',
  );
});

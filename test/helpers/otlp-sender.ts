/**
 * A correct OTLP/HTTP protobuf sender, built by hand from parsed families: counters
 * as cumulative monotonic sums, gauges and untyped as gauges, histograms as
 * explicit-bucket histograms with per-bucket counts as OTLP defines them,
 * summaries as summaries; labels as string attributes; gzip'd. It is what a
 * sender that gets OTLP right sends, for the relay's protocol and queue tests.
 * It is NOT what Fluent Bit sends (Fluent Bit's buckets are cumulative and its
 * `_created` series come as gauges): the tests of the Fluent Bit path run the
 * real Fluent Bit (helpers/fluent-bit.ts).
 */
import { gzipSync } from 'node:zlib';
import type { MetricFamily } from '../../src/exposition/model.js';
import { encodeProtobuf } from '../../src/otlp/proto.js';
import type { KeyValue, Metric, MetricsRequest } from '../../src/otlp/types.js';

const attrs = (labels: Record<string, string>, without = ''): KeyValue[] =>
  Object.entries(labels)
    .filter(([k]) => k !== without)
    .map(([key, v]) => ({ key, value: { stringValue: v } }));

export function otlpFromFamilies(families: MetricFamily[], timeNs: bigint): MetricsRequest {
  const t = timeNs.toString();
  const metrics: Metric[] = [];
  for (const f of families) {
    const help = f.help ?? '';
    if (f.type === 'counter') {
      metrics.push({
        name: f.name,
        description: help,
        sum: {
          aggregationTemporality: 2,
          isMonotonic: true,
          dataPoints: f.samples.map((s) => ({ attributes: attrs(s.labels), timeUnixNano: t, asDouble: s.value })),
        },
      });
    } else if (f.type === 'histogram') {
      const groups = new Map<string, { labels: Record<string, string>; buckets: Array<[number, number]>; sum: number; count: number }>();
      for (const s of f.samples) {
        const key = JSON.stringify(attrs(s.labels, 'le'));
        const g = groups.get(key) ?? { labels: { ...s.labels }, buckets: [], sum: 0, count: 0 };
        delete g.labels.le;
        groups.set(key, g);
        if (s.name.endsWith('_bucket')) g.buckets.push([s.labels.le === '+Inf' ? Infinity : Number(s.labels.le), s.value]);
        else if (s.name.endsWith('_sum')) g.sum = s.value;
        else if (s.name.endsWith('_count')) g.count = s.value;
      }
      const dataPoints = [...groups.values()].map((g) => {
        g.buckets.sort((a, b) => a[0] - b[0]);
        const counts = g.buckets.map(([, c], i) => c - (i > 0 ? g.buckets[i - 1]![1] : 0));
        return {
          attributes: attrs(g.labels),
          timeUnixNano: t,
          count: String(g.count),
          sum: g.sum,
          bucketCounts: counts.map(String),
          explicitBounds: g.buckets.filter(([le]) => le !== Infinity).map(([le]) => le),
        };
      });
      metrics.push({ name: f.name, description: help, histogram: { aggregationTemporality: 2, dataPoints } });
    } else if (f.type === 'summary') {
      const groups = new Map<
        string,
        { labels: Record<string, string>; count: number; sum: number; quantileValues: Array<{ quantile: number; value: number }> }
      >();
      for (const s of f.samples) {
        const key = JSON.stringify(attrs(s.labels, 'quantile'));
        const g = groups.get(key) ?? { labels: { ...s.labels }, count: 0, sum: 0, quantileValues: [] };
        delete g.labels.quantile;
        groups.set(key, g);
        if (s.name.endsWith('_count')) g.count = s.value;
        else if (s.name.endsWith('_sum')) g.sum = s.value;
        else g.quantileValues.push({ quantile: Number(s.labels.quantile), value: s.value });
      }
      const dataPoints = [...groups.values()].map((g) => ({
        attributes: attrs(g.labels),
        timeUnixNano: t,
        count: String(g.count),
        sum: g.sum,
        quantileValues: g.quantileValues,
      }));
      metrics.push({ name: f.name, description: help, summary: { dataPoints } });
    } else {
      metrics.push({
        name: f.name,
        description: help,
        gauge: { dataPoints: f.samples.map((s) => ({ attributes: attrs(s.labels), timeUnixNano: t, asDouble: s.value })) },
      });
    }
  }
  return { resourceMetrics: [{ resource: { attributes: [] }, scopeMetrics: [{ scope: { name: 'hand-built' }, metrics }] }] };
}

/** An OTLP/HTTP protobuf request, gzip'd. */
export function otlpHttpBody(request: MetricsRequest): { body: Buffer; headers: Record<string, string> } {
  return {
    body: gzipSync(encodeProtobuf(request)),
    headers: { 'content-type': 'application/x-protobuf', 'content-encoding': 'gzip', 'user-agent': 'hand-built-otlp' },
  };
}

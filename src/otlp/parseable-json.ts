/**
 * OTLP/JSON in the dialect Parseable OSS reads (serde mapping of the Rust crate
 * opentelemetry-proto, see DESIGN.md): camelCase keys, and every 64-bit integer
 * (`count`, `bucketCounts`, `asInt`, times) as a plain JSON number written with
 * all its digits. Canonical proto3 JSON quotes them, which Parseable rejects.
 *
 * Points Parseable cannot store are left out and counted: a double that is NaN
 * or infinite has no JSON number (Prometheus uses NaN for staleness and for
 * empty summary quantiles). Metric names are rewritten like the exposition
 * transformer does, so the same series has the same name on every path (but the
 * GenAI conventions' names, which keep their dots).
 */
import { sanitizeName } from '../exposition/sanitizer.js';
import { GENAI_METRIC_NAMES } from './genai-names.js';
import type {
  AnyValue,
  Exemplar,
  ExponentialHistogramDataPoint,
  HistogramDataPoint,
  KeyValue,
  Metric,
  MetricsRequest,
  NumberDataPoint,
  SummaryDataPoint,
  U64,
} from './types.js';

/** A JSON number written exactly as given. */
class Digits {
  constructor(readonly text: string) {}
}

const UNSIGNED = /^\d+$/;
const SIGNED = /^-?\d+$/;

function u64(value: U64 | number | undefined): Digits {
  const text = value === undefined ? '0' : String(value);
  if (!UNSIGNED.test(text)) throw new Error(`not an unsigned integer: ${text}`);
  return new Digits(text);
}

function i64(value: U64 | number | undefined): Digits {
  const text = value === undefined ? '0' : String(value);
  if (!SIGNED.test(text)) throw new Error(`not an integer: ${text}`);
  return new Digits(text);
}

export interface EncodeResult {
  body: string;
  /** Points written. */
  points: number;
  /** Points left out because a value had no JSON number. */
  dropped: number;
}

export function encodeForParseable(request: MetricsRequest): EncodeResult {
  const stats = { points: 0, dropped: 0 };
  const resourceMetrics = [];
  for (const rm of request.resourceMetrics ?? []) {
    const scopeMetrics = [];
    for (const sm of rm.scopeMetrics ?? []) {
      const metrics = [];
      for (const m of sm.metrics ?? []) {
        const out = metric(m, stats);
        if (out) metrics.push(out);
      }
      if (metrics.length === 0) continue;
      scopeMetrics.push({
        scope: {
          name: sm.scope?.name ?? '',
          version: sm.scope?.version ?? '',
          attributes: attributes(sm.scope?.attributes),
          droppedAttributesCount: sm.scope?.droppedAttributesCount ?? 0,
        },
        metrics,
        schemaUrl: sm.schemaUrl ?? '',
      });
    }
    if (scopeMetrics.length === 0) continue;
    resourceMetrics.push({
      resource: { attributes: attributes(rm.resource?.attributes), droppedAttributesCount: rm.resource?.droppedAttributesCount ?? 0 },
      scopeMetrics,
      schemaUrl: rm.schemaUrl ?? '',
    });
  }
  return { body: writeJson({ resourceMetrics }), points: stats.points, dropped: stats.dropped };
}

interface Stats {
  points: number;
  dropped: number;
}

function metric(m: Metric, stats: Stats): object | undefined {
  // The GenAI names asked for with --otlp-names genai are OpenTelemetry's, dots included.
  const name = m.name ?? '';
  const head = { name: GENAI_METRIC_NAMES.has(name) ? name : sanitizeName(name), description: m.description ?? '', unit: m.unit ?? '' };
  let data: Record<string, unknown> | undefined;
  let points = 0;
  const keep = <P, O>(list: P[] | undefined, map: (p: P) => O | undefined): O[] => {
    const out: O[] = [];
    for (const p of list ?? []) {
      const o = map(p);
      if (o === undefined) stats.dropped++;
      else out.push(o);
    }
    points = out.length;
    return out;
  };
  if (m.gauge) data = { gauge: { dataPoints: keep(m.gauge.dataPoints, numberPoint) } };
  else if (m.sum) {
    data = {
      sum: {
        dataPoints: keep(m.sum.dataPoints, numberPoint),
        aggregationTemporality: m.sum.aggregationTemporality ?? 0,
        isMonotonic: m.sum.isMonotonic ?? false,
      },
    };
  } else if (m.histogram) {
    data = { histogram: { dataPoints: keep(m.histogram.dataPoints, histogramPoint), aggregationTemporality: m.histogram.aggregationTemporality ?? 0 } };
  } else if (m.exponentialHistogram) {
    data = {
      exponentialHistogram: {
        dataPoints: keep(m.exponentialHistogram.dataPoints, exponentialPoint),
        aggregationTemporality: m.exponentialHistogram.aggregationTemporality ?? 0,
      },
    };
  } else if (m.summary) {
    data = { summary: { dataPoints: keep(m.summary.dataPoints, summaryPoint) } };
  }
  if (!data || points === 0) return undefined;
  stats.points += points;
  return { ...head, ...data };
}

const finite = (x: number | undefined): x is number => x !== undefined && Number.isFinite(x);

function times(p: { startTimeUnixNano?: U64; timeUnixNano?: U64 }) {
  return { startTimeUnixNano: u64(p.startTimeUnixNano), timeUnixNano: u64(p.timeUnixNano) };
}

function numberPoint(p: NumberDataPoint): object | undefined {
  let value: object;
  if (p.asInt !== undefined) value = { asInt: i64(p.asInt) };
  else if (finite(p.asDouble ?? 0)) value = { asDouble: p.asDouble ?? 0 };
  else return undefined;
  return { attributes: attributes(p.attributes), ...times(p), ...value, exemplars: exemplars(p.exemplars), flags: p.flags ?? 0 };
}

function histogramPoint(p: HistogramDataPoint): object | undefined {
  if (p.sum !== undefined && !Number.isFinite(p.sum)) return undefined;
  return {
    attributes: attributes(p.attributes),
    ...times(p),
    count: u64(p.count),
    ...(p.sum !== undefined ? { sum: p.sum } : {}),
    bucketCounts: (p.bucketCounts ?? []).map(u64),
    explicitBounds: p.explicitBounds ?? [],
    exemplars: exemplars(p.exemplars),
    flags: p.flags ?? 0,
    ...(finite(p.min) ? { min: p.min } : {}),
    ...(finite(p.max) ? { max: p.max } : {}),
  };
}

function exponentialPoint(p: ExponentialHistogramDataPoint): object | undefined {
  if (p.sum !== undefined && !Number.isFinite(p.sum)) return undefined;
  const buckets = (b: ExponentialHistogramDataPoint['positive']) => ({ offset: b?.offset ?? 0, bucketCounts: (b?.bucketCounts ?? []).map(u64) });
  return {
    attributes: attributes(p.attributes),
    ...times(p),
    count: u64(p.count),
    ...(p.sum !== undefined ? { sum: p.sum } : {}),
    scale: p.scale ?? 0,
    zeroCount: u64(p.zeroCount),
    positive: buckets(p.positive),
    negative: buckets(p.negative),
    flags: p.flags ?? 0,
    exemplars: exemplars(p.exemplars),
    ...(finite(p.min) ? { min: p.min } : {}),
    ...(finite(p.max) ? { max: p.max } : {}),
    zeroThreshold: p.zeroThreshold ?? 0,
  };
}

/** Every field present (Parseable requires it for summaries); NaN quantiles, which mean "no observations", are left out. */
function summaryPoint(p: SummaryDataPoint): object | undefined {
  const sum = p.sum ?? 0;
  if (!Number.isFinite(sum)) return undefined;
  return {
    attributes: attributes(p.attributes),
    ...times(p),
    count: u64(p.count),
    sum,
    quantileValues: (p.quantileValues ?? []).filter((q) => finite(q.value ?? 0)).map((q) => ({ quantile: q.quantile ?? 0, value: q.value ?? 0 })),
    flags: p.flags ?? 0,
  };
}

function exemplars(list: Exemplar[] | undefined): object[] {
  const out: object[] = [];
  for (const e of list ?? []) {
    let value: object;
    if (e.asInt !== undefined) value = { asInt: i64(e.asInt) };
    else if (finite(e.asDouble ?? 0)) value = { asDouble: e.asDouble ?? 0 };
    else continue;
    out.push({
      filteredAttributes: attributes(e.filteredAttributes),
      timeUnixNano: u64(e.timeUnixNano),
      ...value,
      spanId: e.spanId ? Buffer.from(e.spanId, 'base64').toString('hex') : '',
      traceId: e.traceId ? Buffer.from(e.traceId, 'base64').toString('hex') : '',
    });
  }
  return out;
}

function attributes(list: KeyValue[] | undefined): object[] {
  const out: object[] = [];
  for (const kv of list ?? []) {
    const value = anyValue(kv.value);
    if (value !== undefined) out.push({ key: kv.key, value });
  }
  return out;
}

function anyValue(v: AnyValue | undefined): object | undefined {
  if (!v) return undefined;
  if (v.stringValue !== undefined) return { stringValue: v.stringValue };
  if (v.boolValue !== undefined) return { boolValue: v.boolValue };
  if (v.intValue !== undefined) return { intValue: i64(v.intValue) };
  if (v.doubleValue !== undefined) return Number.isFinite(v.doubleValue) ? { doubleValue: v.doubleValue } : { stringValue: String(v.doubleValue) };
  if (v.arrayValue) return { arrayValue: { values: (v.arrayValue.values ?? []).map(anyValue).filter((x) => x !== undefined) } };
  if (v.kvlistValue) return { kvlistValue: { values: attributes(v.kvlistValue.values) } };
  if (v.bytesValue !== undefined) return { bytesValue: v.bytesValue };
  return undefined;
}

/** JSON.stringify, except that Digits are written bare. */
function writeJson(value: unknown): string {
  if (value instanceof Digits) return value.text;
  if (Array.isArray(value)) return `[${value.map(writeJson).join(',')}]`;
  if (typeof value === 'object' && value !== null) {
    const parts: string[] = [];
    for (const [k, v] of Object.entries(value)) {
      if (v !== undefined) parts.push(`${JSON.stringify(k)}:${writeJson(v)}`);
    }
    return `{${parts.join(',')}}`;
  }
  return JSON.stringify(value);
}

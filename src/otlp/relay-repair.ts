/**
 * What the relay fixes in OTLP scraped by Fluent Bit, before Parseable stores it.
 *
 * Fluent Bit 5.1.1's `opentelemetry` output, fed by `prometheus_scrape`, sends
 * (observed; DESIGN.md, "What the other programs do"):
 * - histogram `bucket_counts` cumulative, as Prometheus keeps them, where OTLP
 *   defines them per bucket (cmetrics' OTLP encoder copies its cumulative
 *   buckets; fluent/fluent-bit#8919, closed unfixed). Every percentile computed
 *   from such rows is wrong, so they are converted;
 * - each `_created` series as a gauge of its own, while the counter and
 *   histogram points it belongs to have `startTimeUnixNano: 0`. The value becomes
 *   those points' start time and the gauge is not forwarded (the same rule as the
 *   direct push, `created.ts`); a cumulative point with no `_created` starts when
 *   the relay first saw its series, or at the previous point after a reset;
 * - an empty resource. A resource left empty was scraped from this proxy, so it
 *   is split like the direct push splits its own: one resource per target and
 *   served model, with the same attributes (`resource.ts`);
 * - histograms with an unspecified aggregation temporality: a scraped Prometheus
 *   histogram is cumulative, and says so once repaired.
 * What a sender got right passes untouched: a histogram whose buckets already
 * add up to its count, a point with a start time, a resource with attributes
 * (which only gains the `--otlp-resource` ones).
 */
import { applyGenaiNames, type OtlpNames } from './genai-names.js';
import { millisToHrTime } from '@opentelemetry/core';
import type { Logger } from '../logger.js';
import { createdOwnerNames } from './created.js';
import { StartTimes } from './from-exposition.js';
import { MODEL_ATTRIBUTE, MODEL_LABEL, type ResourceAttributes } from './resource.js';
import type { HistogramDataPoint, KeyValue, Metric, MetricsRequest, NumberDataPoint, ResourceMetrics, ScopeMetrics, SummaryDataPoint } from './types.js';

export type RepairReason = 'cumulative_buckets' | 'temporality_unspecified' | 'created_folded' | 'start_from_created' | 'start_first_seen';
export type RepairCounts = Record<RepairReason, number> & {
  /** Histogram points whose buckets are neither per bucket nor cumulative: forwarded as they are. */
  inconsistentBuckets: number;
};

export interface RelayRepairOptions {
  /** Resource attributes of a scrape of this proxy, from a point's labels (the target label in fleet mode). */
  sourceOf: (label: (key: string) => string | undefined) => ResourceAttributes;
  /** `--otlp-resource`: on every resource. */
  extra?: ResourceAttributes;
  /** A series not seen for this long is forgotten (its next point starts a new run). */
  forgetAfterMs?: number;
  /** `--otlp-names genai`: the GenAI conventions' names where they match (genai-names.ts). */
  names?: OtlpNames;
  log?: Logger;
}

export type BucketVerdict = 'per_bucket' | 'cumulative' | 'inconsistent';

/**
 * OTLP's per-bucket counts add up to `count`. Counts that do not, but never go
 * down and end at `count`, are Prometheus' cumulative ones: they are converted
 * in place. (Cumulative counts that add up to `count` are zeros then `count`
 * alone, which reads the same either way.)
 */
export function repairBuckets(p: HistogramDataPoint): BucketVerdict {
  const counts = (p.bucketCounts ?? []).map((c) => BigInt(c));
  if (counts.length === 0) return 'per_bucket';
  const count = BigInt(p.count ?? '0');
  let total = 0n;
  let monotone = true;
  counts.forEach((c, i) => {
    total += c;
    if (i > 0 && c < counts[i - 1]!) monotone = false;
  });
  if (total === count) return 'per_bucket';
  if (!monotone || counts[counts.length - 1] !== count) return 'inconsistent';
  p.bucketCounts = counts.map((c, i) => String(i === 0 ? c : c - counts[i - 1]!));
  return 'cumulative';
}

const attrKey = (attributes: KeyValue[] | undefined): string =>
  JSON.stringify(
    (attributes ?? [])
      .map((kv) => [kv.key, kv.value?.stringValue ?? JSON.stringify(kv.value ?? null)])
      .sort((a, b) => (a[0]! < b[0]! ? -1 : a[0]! > b[0]! ? 1 : 0)),
  );

const label = (attributes: KeyValue[] | undefined) => (key: string) => attributes?.find((kv) => kv.key === key)?.value?.stringValue;

/** Milliseconds to decimal nanoseconds, rounded as the JS exporter rounds (so both paths give the same start times). */
function msToNanos(ms: number): string {
  const [s, ns] = millisToHrTime(ms);
  return String(BigInt(Math.trunc(s)) * 1_000_000_000n + BigInt(Math.trunc(ns)));
}

const nanosToMs = (ns: string | undefined): number => Number(BigInt(ns ?? '0') / 1_000_000n);

const toKeyValues = (attributes: ResourceAttributes): KeyValue[] =>
  Object.entries(attributes).map(([key, v]) => ({ key, value: typeof v === 'number' ? { intValue: String(v) } : { stringValue: v } }));

type PointKind = 'gauge' | 'sum' | 'histogram' | 'exponentialHistogram' | 'summary';
const KINDS: PointKind[] = ['gauge', 'sum', 'histogram', 'exponentialHistogram', 'summary'];
const kindOf = (m: Metric): PointKind | undefined => KINDS.find((k) => m[k] !== undefined);

export class RelayRepair {
  readonly #o: RelayRepairOptions;
  readonly #starts: StartTimes;
  #announced = false;

  constructor(options: RelayRepairOptions) {
    this.#o = options;
    this.#starts = new StartTimes({ forgetAfterMs: options.forgetAfterMs ?? 10 * 60_000 });
  }

  /** Repairs `request` in place where it can, and returns it with what was done. */
  repair(request: MetricsRequest, nowMs = Date.now()): { request: MetricsRequest; counts: RepairCounts } {
    const counts: RepairCounts = {
      cumulative_buckets: 0,
      temporality_unspecified: 0,
      created_folded: 0,
      start_from_created: 0,
      start_first_seen: 0,
      inconsistentBuckets: 0,
    };
    this.#starts.beginRound(nowMs);
    const out: ResourceMetrics[] = [];
    for (const rm of request.resourceMetrics ?? []) {
      const scraped = !rm.resource?.attributes?.length;
      const resourceKey = scraped ? '' : attrKey(rm.resource?.attributes);
      const created = foldCreated(rm, counts);
      for (const sm of rm.scopeMetrics ?? []) {
        for (const m of sm.metrics ?? []) this.#repairMetric(m, resourceKey, created.get(m.name), counts);
      }
      if (scraped) out.push(...this.#split(rm));
      else {
        const extra = toKeyValues(this.#o.extra ?? {});
        const keep = (rm.resource?.attributes ?? []).filter((kv) => !extra.some((e) => e.key === kv.key));
        out.push({ ...rm, resource: { ...rm.resource, attributes: [...keep, ...extra] } });
      }
    }
    this.#starts.endRound();
    if (counts.cumulative_buckets > 0 && !this.#announced) {
      this.#announced = true;
      this.#o.log?.info(
        { event: 'otlp_repair_cumulative_buckets', points: counts.cumulative_buckets },
        'repairing OTLP histograms sent with cumulative bucket counts (Fluent Bit opentelemetry output, fluent/fluent-bit#8919): converted to per-bucket counts',
      );
    }
    const request2: MetricsRequest = { resourceMetrics: out };
    return { request: this.#o.names === 'genai' ? applyGenaiNames(request2) : request2, counts };
  }

  #repairMetric(m: Metric, resourceKey: string, created: Map<string, number> | undefined, counts: RepairCounts): void {
    const fill = (p: NumberDataPoint | HistogramDataPoint | SummaryDataPoint, value: number) => {
      if (p.startTimeUnixNano !== undefined && p.startTimeUnixNano !== '0') return;
      const key = attrKey(p.attributes);
      const createdMs = created?.get(key);
      const startMs = this.#starts.start(`${resourceKey}\u0000${m.name}\u0000${key}`, value, nanosToMs(p.timeUnixNano), createdMs);
      p.startTimeUnixNano = msToNanos(startMs);
      counts[createdMs !== undefined ? 'start_from_created' : 'start_first_seen']++;
    };
    if (m.sum && m.sum.aggregationTemporality === 2) {
      for (const p of m.sum.dataPoints ?? []) fill(p, p.asDouble ?? Number(p.asInt ?? 0));
    } else if (m.histogram) {
      // Fluent Bit leaves a scraped histogram's temporality unspecified; a Prometheus histogram is cumulative.
      if (!m.histogram.aggregationTemporality) {
        m.histogram.aggregationTemporality = 2;
        counts.temporality_unspecified += m.histogram.dataPoints?.length ?? 0;
      }
      for (const p of m.histogram.dataPoints ?? []) {
        const verdict = repairBuckets(p);
        if (verdict === 'cumulative') counts.cumulative_buckets++;
        else if (verdict === 'inconsistent') counts.inconsistentBuckets++;
        if (m.histogram.aggregationTemporality === 2) fill(p, Number(p.count ?? 0));
      }
    } else if (m.summary) {
      for (const p of m.summary.dataPoints ?? []) fill(p, Number(p.count ?? 0));
    }
  }

  /** One resource per (source, model), as the direct push groups its own. */
  #split(rm: ResourceMetrics): ResourceMetrics[] {
    const groups = new Map<string, { attributes: KeyValue[]; scopes: Map<ScopeMetrics, Map<Metric, Metric>> }>();
    for (const sm of rm.scopeMetrics ?? []) {
      for (const m of sm.metrics ?? []) {
        const kind = kindOf(m);
        if (!kind) continue;
        const data = m[kind]!;
        for (const p of data.dataPoints ?? []) {
          const get = label(p.attributes);
          const model = get(MODEL_LABEL);
          const attributes = { ...this.#o.sourceOf(get), ...this.#o.extra, ...(model ? { [MODEL_ATTRIBUTE]: model } : {}) };
          const key = JSON.stringify(attributes);
          let g = groups.get(key);
          if (!g) groups.set(key, (g = { attributes: toKeyValues(attributes), scopes: new Map() }));
          let metrics = g.scopes.get(sm);
          if (!metrics) g.scopes.set(sm, (metrics = new Map()));
          let copy = metrics.get(m);
          if (!copy) metrics.set(m, (copy = { ...m, [kind]: { ...data, dataPoints: [] } }));
          (copy[kind]!.dataPoints as unknown[]).push(p);
        }
      }
    }
    return [...groups.values()].map((g) => ({
      resource: { attributes: g.attributes },
      scopeMetrics: [...g.scopes].map(([sm, metrics]) => ({ ...sm, metrics: [...metrics.values()] })),
      schemaUrl: rm.schemaUrl,
    }));
  }
}

/**
 * Takes the `_created` gauges whose owner is in the same resource out of it, and
 * returns their times (ms) by owner name and point attributes.
 */
function foldCreated(rm: ResourceMetrics, counts: RepairCounts): Map<string, Map<string, number>> {
  const owners = new Map<string, Metric>();
  for (const sm of rm.scopeMetrics ?? []) for (const m of sm.metrics ?? []) if (m.sum || m.histogram || m.summary) owners.set(m.name, m);
  const created = new Map<string, Map<string, number>>();
  for (const sm of rm.scopeMetrics ?? []) {
    if (!sm.metrics) continue;
    sm.metrics = sm.metrics.filter((m) => {
      if (!m.gauge) return true;
      const owner = createdOwnerNames(m.name).find((n) => owners.has(n));
      if (!owner) return true;
      let times = created.get(owner);
      if (!times) created.set(owner, (times = new Map()));
      for (const p of m.gauge.dataPoints ?? []) {
        const seconds = p.asDouble ?? Number(p.asInt ?? NaN);
        if (Number.isFinite(seconds)) times.set(attrKey(p.attributes), seconds * 1000);
        counts.created_folded++;
      }
      return false;
    });
  }
  return created;
}

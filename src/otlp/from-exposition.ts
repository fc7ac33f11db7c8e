/**
 * Parsed exposition families to OpenTelemetry SDK ResourceMetrics, for the JS
 * OTLP exporter. The mapping (also in docs/otlp.md):
 *
 * - counter: cumulative monotonic sum named like its sample (`vllm_prompt_tokens_total`,
 *   the name Fluent Bit gives it too). Start time: the `_created` sample when the
 *   exposition has one, else the first time the series was seen; when the value
 *   goes down (a restart) the series starts again at the previous scrape's time.
 * - gauge, unknown, info, stateset: gauge.
 * - histogram: cumulative explicit-bucket histogram, per-bucket counts (the
 *   exposition's are cumulative), same start-time rules as counters.
 * - gaugehistogram: histogram whose points each start at their own time.
 * - summary: no summary in the JS SDK, so each quantile becomes a point of a gauge
 *   `<name>` with a `quantile` attribute, and `<name>_sum` / `<name>_count` are
 *   cumulative monotonic sums.
 * Names are sanitized like the exposition transformer's. Series are grouped into
 * one resource per `model_name`, with `vllm.model_name` as a resource attribute.
 */
import { ValueType, type Attributes, type HrTime } from '@opentelemetry/api';
import { millisToHrTime } from '@opentelemetry/core';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { AggregationTemporality, DataPointType, type MetricData, type ResourceMetrics } from '@opentelemetry/sdk-metrics';
import type { Labels, MetricFamily, Sample } from '../exposition/model.js';
import { labelKey } from '../exposition/parser.js';
import { sanitizeName } from '../exposition/sanitizer.js';
import { CREATED_OWNER_KINDS, createdOwnerNames } from './created.js';
import { MODEL_ATTRIBUTE, MODEL_LABEL } from './resource.js';

export const SCOPE = { name: 'vllm-metrics-proxy', version: '0.1.0' };

interface SeriesStart {
  startMs: number;
  last: number;
  lastMs: number;
  seenRound: number;
  /** Wall clock of the round that last saw it (a sender's clock may be off). */
  seenAtMs: number;
}

/**
 * Start times of cumulative series across scrapes. Series not seen in a scrape
 * are forgotten, so memory follows the live series count.
 */
export class StartTimes {
  readonly #series = new Map<string, SeriesStart>();
  readonly #forgetAfterMs: number | undefined;
  #round = 0;
  #roundAtMs = 0;

  /**
   * By default a round is one whole scrape, and a series missing from it is gone.
   * A receiver of pieces of scrapes (the relay) passes `forgetAfterMs` instead:
   * a series is forgotten when not seen for that long.
   */
  constructor(options: { forgetAfterMs?: number } = {}) {
    this.#forgetAfterMs = options.forgetAfterMs;
  }

  beginRound(nowMs = Date.now()): void {
    this.#round++;
    this.#roundAtMs = nowMs;
  }

  endRound(): void {
    for (const [key, s] of this.#series) {
      if (this.#forgetAfterMs === undefined ? s.seenRound !== this.#round : this.#stale(s)) this.#series.delete(key);
    }
  }

  /** With `forgetAfterMs`: not seen for longer than that (by the wall clock of the rounds). */
  #stale(s: SeriesStart): boolean {
    return this.#forgetAfterMs !== undefined && this.#roundAtMs - s.seenAtMs > this.#forgetAfterMs;
  }

  get size(): number {
    return this.#series.size;
  }

  /** The start time for `value` observed at `timeMs`; `createdMs` wins when known. */
  start(key: string, value: number, timeMs: number, createdMs: number | undefined): number {
    let s = this.#series.get(key);
    if (s && this.#stale(s)) s = undefined;
    let startMs: number;
    if (createdMs !== undefined) startMs = createdMs;
    else if (!s) startMs = timeMs;
    else if (value < s.last) startMs = s.lastMs;
    else startMs = s.startMs;
    this.#series.set(key, { startMs, last: value, lastMs: timeMs, seenRound: this.#round, seenAtMs: this.#roundAtMs });
    return startMs;
  }
}

type Point<T> = { startTime: HrTime; endTime: HrTime; attributes: Attributes; value: T };

interface Builder {
  name: string;
  description: string;
  unit: string;
  kind: 'gauge' | 'sum' | 'histogram';
  points: Map<string, Array<Point<unknown>>>;
}

export interface SourceInfo {
  /** Resource attributes shared by every resource (service.name, server.address, ...). */
  attributes: Attributes;
}

export function toResourceMetrics(families: MetricFamily[], scrapeMs: number, starts: StartTimes, source: SourceInfo): ResourceMetrics[] {
  starts.beginRound();
  const created = createdIndex(families);
  const builders: Builder[] = [];
  for (const family of families) {
    if (created.consumed.has(family)) continue;
    const help = family.help ?? '';
    const unit = family.unit ?? '';
    const make = (name: string, kind: Builder['kind']): Builder => {
      const b: Builder = { name: sanitizeName(name), description: help, unit, kind, points: new Map() };
      builders.push(b);
      return b;
    };
    const when = (s: Sample) => s.timestampMs ?? scrapeMs;
    /** A cumulative series: its start time, keyed once by its label set. */
    const cumulative = (s: Sample) => {
      const key = labelKey(s.labels, '');
      return starts.start(`${s.name}\u0000${key}`, s.value, when(s), created.lookup(family.name, key));
    };
    switch (family.type) {
      case 'counter': {
        const valueName = family.samples.find((s) => !s.name.endsWith('_created'))?.name ?? `${family.name}_total`;
        const b = make(valueName, 'sum');
        for (const s of family.samples) {
          if (s.name !== valueName) continue;
          add(b, s.labels, cumulative(s), when(s), s.value);
        }
        break;
      }
      case 'histogram':
      case 'gaugehistogram':
        histogram(make(family.name, 'histogram'), family, scrapeMs, starts, family.type === 'gaugehistogram' ? undefined : created);
        break;
      case 'summary': {
        const q = make(family.name, 'gauge');
        const sum = make(`${family.name}_sum`, 'sum');
        const count = make(`${family.name}_count`, 'sum');
        for (const s of family.samples) {
          const t = when(s);
          if (s.name === family.name) {
            add(q, s.labels, t, t, s.value);
          } else if (s.name.endsWith('_sum') || s.name.endsWith('_count')) {
            add(s.name.endsWith('_sum') ? sum : count, s.labels, cumulative(s), t, s.value);
          }
        }
        break;
      }
      default: {
        const b = make(family.name, 'gauge');
        for (const s of family.samples) {
          add(b, s.labels, when(s), when(s), s.value);
        }
      }
    }
  }
  starts.endRound();
  return group(builders, source);
}

function histogram(b: Builder, family: MetricFamily, scrapeMs: number, starts: StartTimes, created: CreatedIndex | undefined): void {
  interface Acc {
    labels: Labels;
    buckets: Array<[number, number]>;
    sum?: number;
    count?: number;
    timeMs: number;
  }
  const groups = new Map<string, Acc>();
  for (const s of family.samples) {
    const key = labelKey(s.labels, 'le');
    let acc = groups.get(key);
    if (!acc) {
      const labels = { ...s.labels };
      delete labels.le;
      acc = { labels, buckets: [], timeMs: s.timestampMs ?? scrapeMs };
      groups.set(key, acc);
    }
    if (s.name === `${family.name}_bucket`) {
      const le = s.labels.le === undefined ? NaN : s.labels.le === '+Inf' ? Infinity : Number(s.labels.le);
      if (!Number.isNaN(le)) acc.buckets.push([le, s.value]);
    } else if (s.name === `${family.name}_sum` || s.name === `${family.name}_gsum`) acc.sum = s.value;
    else if (s.name === `${family.name}_count` || s.name === `${family.name}_gcount`) acc.count = s.value;
  }
  for (const [key, acc] of groups) {
    acc.buckets.sort((x, y) => x[0] - y[0]);
    const boundaries: number[] = [];
    const counts: number[] = [];
    let previous = 0;
    for (const [le, cumulative] of acc.buckets) {
      if (le !== Infinity) boundaries.push(le);
      counts.push(Math.max(0, cumulative - previous));
      previous = cumulative;
    }
    // An exposition without a +Inf bucket still needs the overflow bucket OTLP requires.
    if (acc.buckets.length === 0 || acc.buckets[acc.buckets.length - 1]![0] !== Infinity) counts.push(Math.max(0, (acc.count ?? previous) - previous));
    const count = acc.count ?? previous;
    // The group key leaves `le` out, so it is also the label key of the series' `_created`.
    const startMs = created ? starts.start(`${family.name}\u0000${key}`, count, acc.timeMs, created.lookup(family.name, key)) : acc.timeMs;
    add(b, acc.labels, startMs, acc.timeMs, { buckets: { boundaries, counts }, count, ...(acc.sum !== undefined ? { sum: acc.sum } : {}) });
  }
}

interface CreatedIndex {
  /** `_created` gauge families of the classic format, folded into their counter or histogram. */
  consumed: Set<MetricFamily>;
  /** The `_created` time of the series of `baseName` whose label key (see labelKey) is `key`. */
  lookup(baseName: string, key: string): number | undefined;
}

/**
 * `_created` comes two ways: inside the family in OpenMetrics, and as a gauge
 * family `<base>_created` next to `<base>_total` / `<base>` in the classic format.
 */
function createdIndex(families: MetricFamily[]): CreatedIndex {
  const byName = new Map(families.map((f) => [f.name, f]));
  const values = new Map<string, number>();
  const consumed = new Set<MetricFamily>();
  for (const f of families) {
    const owner =
      f.type === 'counter'
        ? undefined
        : createdOwnerNames(f.name)
            .map((n) => byName.get(n))
            .find((o) => o !== undefined);
    if (owner) {
      if (!CREATED_OWNER_KINDS.has(owner.type)) continue;
      const base = f.name.slice(0, -'_created'.length);
      consumed.add(f);
      for (const s of f.samples) values.set(`${base}\u0000${labelKey(s.labels, '')}`, s.value * 1000);
    } else {
      for (const s of f.samples) {
        if (s.name === `${f.name}_created`) values.set(`${f.name}\u0000${labelKey(s.labels, '')}`, s.value * 1000);
      }
    }
  }
  return {
    consumed,
    lookup: (baseName, key) =>
      // A counter family in the classic format is named `<base>_total`; a histogram may end in `_total` itself
      // (vllm:iteration_tokens_total, whose `_created` is vllm:iteration_tokens_total_created).
      values.get(`${baseName}\u0000${key}`) ?? (baseName.endsWith('_total') ? values.get(`${baseName.slice(0, -'_total'.length)}\u0000${key}`) : undefined),
  };
}

function add(b: Builder, labels: Labels, startMs: number, endMs: number, value: unknown): void {
  const model = labels[MODEL_LABEL] ?? '';
  let list = b.points.get(model);
  if (!list) b.points.set(model, (list = []));
  list.push({ startTime: millisToHrTime(startMs), endTime: millisToHrTime(endMs), attributes: { ...labels }, value });
}

function group(builders: Builder[], source: SourceInfo): ResourceMetrics[] {
  const models = new Set<string>();
  for (const b of builders) for (const m of b.points.keys()) models.add(m);
  const out: ResourceMetrics[] = [];
  for (const model of [...models].sort()) {
    const metrics: MetricData[] = [];
    for (const b of builders) {
      const points = b.points.get(model);
      if (!points?.length) continue;
      const descriptor = { name: b.name, description: b.description, unit: b.unit, valueType: ValueType.DOUBLE };
      if (b.kind === 'gauge') {
        metrics.push({
          descriptor,
          aggregationTemporality: AggregationTemporality.CUMULATIVE,
          dataPointType: DataPointType.GAUGE,
          dataPoints: points as Array<Point<number>>,
        });
      } else if (b.kind === 'sum') {
        metrics.push({
          descriptor,
          aggregationTemporality: AggregationTemporality.CUMULATIVE,
          dataPointType: DataPointType.SUM,
          isMonotonic: true,
          dataPoints: points as Array<Point<number>>,
        });
      } else {
        metrics.push({
          descriptor,
          aggregationTemporality: AggregationTemporality.CUMULATIVE,
          dataPointType: DataPointType.HISTOGRAM,
          dataPoints: points as MetricData['dataPoints'] as never,
        });
      }
    }
    const attributes: Attributes = { ...source.attributes, ...(model ? { [MODEL_ATTRIBUTE]: model } : {}) };
    out.push({ resource: resourceFromAttributes(attributes), scopeMetrics: [{ scope: SCOPE, metrics }] });
  }
  return out;
}

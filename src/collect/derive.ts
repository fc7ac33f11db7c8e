import { labelKey, parseNumber } from '../exposition/parser.js';
import { AlreadyDerivedError } from '../errors.js';
import { DERIVED_TYPES, type Row } from '../store/store.js';
import { counterDelta, histogramWindow, type HistogramPoint, type Point } from '../exposition/series.js';

/** A histogram series being put together from the rows of one time. */
interface OpenHistogram {
  point: HistogramPoint;
  /** Each bound as the file spelled it (`1.0`, `+Inf`), so the output keeps the source's `le`. */
  leText: Map<number, string>;
  row: Row;
  /** The histogram's name without `_bucket`, `_sum` or `_count`. */
  base: string;
  labels: Record<string, string>;
  hasSum: boolean;
  hasCount: boolean;
}

export interface DeriveStats {
  rowsIn: number;
  rowsOut: number;
  /** Rows older than their series' previous point: left out, since an interval needs a later end. */
  outOfOrder: number;
  resets: number;
}

/** A file that was post-processed already: its counters are gone, so there is nothing to derive. */
export { AlreadyDerivedError };

/**
 * Collected rows in, post-processed rows out, streaming: one entry per series
 * is all it keeps, whatever the length of the run. Rows must come in time
 * order per series, as collect writes them.
 *
 * - gauges (and every type without a cumulative meaning) pass through;
 * - a counter sample `x` becomes `x_delta` and `x_rate` (per second) per
 *   interval between two points, and `x_resets` = 1 when it went down;
 * - a histogram becomes, per interval, `_bucket_delta{le}`, `_count_delta`,
 *   `_sum_delta`, `_p50`, `_p90`, `_p99` and `_mean` (NaN when nothing was
 *   observed), and `_resets` = 1 when it went down;
 * - a summary's `_sum` and `_count` are counters; its quantiles pass through.
 *
 * A derived row's time is the end of its interval; its family stays the source's.
 */
export class Deriver {
  readonly stats: DeriveStats = { rowsIn: 0, rowsOut: 0, outOfOrder: 0, resets: 0 };
  private readonly counters = new Map<string, Point>();
  private readonly previous = new Map<string, HistogramPoint>();
  private readonly open = new Map<string, OpenHistogram>();
  private openTime = NaN;

  /** The derived rows that `rows` complete; a histogram's come out once a later time shows its point is whole. */
  push(rows: readonly Row[]): Row[] {
    const out: Row[] = [];
    for (const r of rows) {
      this.stats.rowsIn++;
      if (DERIVED_TYPES.has(r.type)) throw new AlreadyDerivedError();
      if (r.timeMs !== this.openTime) this.closeHistograms(out);
      if (r.type === 'counter' || (r.type === 'summary' && (r.name.endsWith('_sum') || r.name.endsWith('_count')))) this.counter(r, out);
      else if (r.type === 'histogram') this.histogramRow(r);
      else out.push(r);
    }
    this.stats.rowsOut += out.length;
    return out;
  }

  /** Whatever is still open at the end of the input. */
  end(): Row[] {
    const out: Row[] = [];
    this.closeHistograms(out);
    this.stats.rowsOut += out.length;
    return out;
  }

  private counter(r: Row, out: Row[]): void {
    const key = `${r.target}\u0000${r.name}\u0000${labelKey(r.labels, '')}`;
    const before = this.counters.get(key);
    const now = { timeMs: r.timeMs, value: r.value };
    if (before && r.timeMs <= before.timeMs) {
      this.stats.outOfOrder++;
      return;
    }
    this.counters.set(key, now);
    const d = before && counterDelta(before, now);
    if (!d) return;
    const row = (name: string, type: Row['type'], value: number): Row => ({
      timeMs: r.timeMs,
      target: r.target,
      family: r.family,
      type,
      name,
      labels: r.labels,
      value,
    });
    out.push(row(`${r.name}_delta`, 'delta', d.delta), row(`${r.name}_rate`, 'rate', d.rate));
    if (d.reset) {
      this.stats.resets++;
      out.push(row(`${r.name}_resets`, 'resets', 1));
    }
  }

  private histogramRow(r: Row): void {
    const part = r.name.endsWith('_bucket') ? '_bucket' : r.name.endsWith('_sum') ? '_sum' : r.name.endsWith('_count') ? '_count' : undefined;
    // `_created` and the like say nothing about observations.
    if (!part) return;
    const key = `${r.target}\u0000${r.family}\u0000${labelKey(r.labels, 'le')}`;
    let h = this.open.get(key);
    if (!h) {
      const { le: _le, ...labels } = r.labels;
      h = {
        point: { timeMs: r.timeMs, buckets: new Map(), sum: NaN, count: NaN },
        leText: new Map(),
        row: r,
        base: r.name.slice(0, -part.length),
        labels,
        hasSum: false,
        hasCount: false,
      };
      this.open.set(key, h);
      this.openTime = r.timeMs;
    }
    if (part === '_bucket') {
      const le = parseNumber(r.labels.le ?? '', true);
      if (le === undefined) return;
      h.point.buckets.set(le, r.value);
      h.leText.set(le, r.labels.le!);
    } else if (part === '_sum') {
      h.point.sum = r.value;
      h.hasSum = true;
    } else {
      h.point.count = r.value;
      h.hasCount = true;
    }
  }

  private closeHistograms(out: Row[]): void {
    for (const [key, h] of this.open) {
      const { base } = h;
      if (!h.hasCount) h.point.count = h.point.buckets.get(Infinity) ?? NaN;
      const before = this.previous.get(key);
      if (before && h.point.timeMs <= before.timeMs) {
        this.stats.outOfOrder++;
        continue;
      }
      this.previous.set(key, h.point);
      if (!before) continue;
      const w = histogramWindow(before, h.point);
      const row = (name: string, type: Row['type'], value: number, labels = h.labels): Row => ({
        timeMs: h.point.timeMs,
        target: h.row.target,
        family: h.row.family,
        type,
        name,
        labels,
        value,
      });
      for (const [le, v] of w.buckets) out.push(row(`${base}_bucket_delta`, 'delta', v, { ...h.labels, le: h.leText.get(le)! }));
      out.push(row(`${base}_count_delta`, 'delta', w.count));
      if (h.hasSum) out.push(row(`${base}_sum_delta`, 'delta', w.sum), row(`${base}_mean`, 'mean', w.mean));
      out.push(row(`${base}_p50`, 'quantile', w.p50), row(`${base}_p90`, 'quantile', w.p90), row(`${base}_p99`, 'quantile', w.p99));
      if (w.reset) {
        this.stats.resets++;
        out.push(row(`${base}_resets`, 'resets', 1));
      }
    }
    this.open.clear();
    this.openTime = NaN;
  }
}

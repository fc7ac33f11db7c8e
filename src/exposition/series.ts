/**
 * What counters and histograms mean across scrapes, pure (used by the
 * collector's post-processing, the fleet aggregates, the saturation window and
 * the report): counters into per-interval
 * deltas and rates with reset detection, histograms into per-interval bucket
 * deltas with quantile estimates and a mean. The quantile follows PromQL's
 * histogram_quantile: linear interpolation inside the bucket that holds the
 * rank, the first bucket starting at 0, and a rank in the +Inf bucket answered
 * with the highest finite bound.
 */

export interface Point {
  timeMs: number;
  value: number;
}

export interface Delta {
  /** End of the interval. */
  timeMs: number;
  /** Length of the interval in seconds. */
  seconds: number;
  delta: number;
  rate: number;
  /** The counter went down: the source restarted, and the delta counts from zero. */
  reset: boolean;
}

/** How much a counter grew from `before` to `after`: a drop is a restart from zero, so `after` is the increase (PromQL's rule). */
export function counterIncrease(before: number, after: number): number {
  return after >= before ? after - before : after;
}

/** Time-ordered pairs of consecutive points, a pair per interval (equal times make none). */
function intervals<T extends { timeMs: number }>(points: readonly T[]): Array<[T, T]> {
  const sorted = [...points].sort((a, b) => a.timeMs - b.timeMs);
  const out: Array<[T, T]> = [];
  for (let i = 1; i < sorted.length; i++) if (sorted[i]!.timeMs !== sorted[i - 1]!.timeMs) out.push([sorted[i - 1]!, sorted[i]!]);
  return out;
}

/** Consecutive points of one counter series into deltas; a drop is a reset (the new value is the increase). */
export function counterDeltas(points: readonly Point[]): Delta[] {
  const out: Delta[] = [];
  for (const [a, b] of intervals(points)) {
    const d = counterDelta(a, b);
    if (d) out.push(d);
  }
  return out;
}

/** The interval from `a` to a later `b`; undefined when either value is NaN (nothing to say about the interval). */
export function counterDelta(a: Point, b: Point): Delta | undefined {
  if (Number.isNaN(a.value) || Number.isNaN(b.value)) return undefined;
  const delta = counterIncrease(a.value, b.value);
  const seconds = (b.timeMs - a.timeMs) / 1000;
  return { timeMs: b.timeMs, seconds, delta, rate: delta / seconds, reset: b.value < a.value };
}

/** One histogram series at one time: cumulative bucket counts by upper bound, with sum and count. */
export interface HistogramPoint {
  timeMs: number;
  /** Upper bound → cumulative count; +Inf included. */
  buckets: Map<number, number>;
  sum: number;
  count: number;
}

export interface HistogramWindow {
  timeMs: number;
  seconds: number;
  /** Upper bound → observations that fell at or below it during the interval (cumulative). */
  buckets: Map<number, number>;
  count: number;
  sum: number;
  /** sum / count of the interval; NaN when nothing was observed. */
  mean: number;
  p50: number;
  p90: number;
  p99: number;
  reset: boolean;
}

/**
 * Consecutive points of one histogram into per-interval histograms. A count
 * that went down (or any bucket that did) is a reset: the interval's values
 * are the new point's own.
 */
export function histogramWindows(points: readonly HistogramPoint[]): HistogramWindow[] {
  return intervals(points).map(([a, b]) => histogramWindow(a, b));
}

/** The interval from `a` to a later `b` of one histogram series. */
export function histogramWindow(a: HistogramPoint, b: HistogramPoint): HistogramWindow {
  // Any cumulative part going down is a restart, as rate() of each series reads it: a server
  // restarted with as many observations since as before has a count that did not drop, but
  // a sum that did (observations of durations and sizes are never negative).
  const reset = b.count < a.count || b.sum < a.sum || [...b.buckets].some(([le, v]) => v < (a.buckets.get(le) ?? 0));
  const buckets = new Map<number, number>();
  for (const [le, v] of b.buckets) buckets.set(le, reset ? v : v - (a.buckets.get(le) ?? 0));
  const count = reset ? b.count : b.count - a.count;
  const sum = reset ? b.sum : b.sum - a.sum;
  return {
    timeMs: b.timeMs,
    seconds: (b.timeMs - a.timeMs) / 1000,
    buckets,
    count,
    sum,
    mean: count > 0 ? sum / count : NaN,
    p50: histogramQuantile(0.5, buckets),
    p90: histogramQuantile(0.9, buckets),
    p99: histogramQuantile(0.99, buckets),
    reset,
  };
}

/**
 * PromQL's histogram_quantile over cumulative buckets (upper bound → count).
 * NaN with no observations or without a +Inf bucket; q outside [0, 1] gives ∓Inf.
 */
export function histogramQuantile(q: number, cumulative: Map<number, number>): number {
  if (q < 0) return -Infinity;
  if (q > 1) return Infinity;
  const bounds = [...cumulative.keys()].sort((a, b) => a - b);
  if (bounds.length < 2 || bounds[bounds.length - 1] !== Infinity) return NaN;
  // Counts made monotonic, as PromQL does against scrapes that are not atomic.
  const counts: number[] = [];
  for (const le of bounds) counts.push(Math.max(cumulative.get(le)!, counts[counts.length - 1] ?? 0));
  const total = counts[counts.length - 1]!;
  if (total === 0) return NaN;
  const rank = q * total;
  let b = counts.findIndex((c) => c >= rank);
  if (b === bounds.length - 1) return bounds[bounds.length - 2]!;
  if (b === 0 && bounds[0]! <= 0) return bounds[0]!;
  let start = 0;
  let below = 0;
  if (b > 0) {
    start = bounds[b - 1]!;
    below = counts[b - 1]!;
  } else b = 0;
  const inBucket = counts[b]! - below;
  if (inBucket === 0) return bounds[b]!;
  return start + (bounds[b]! - start) * ((rank - below) / inBucket);
}

import { histogramQuantile } from '../exposition/series.js';
import { parseNumber } from '../exposition/parser.js';
import { fromVocabulary, vocabulary } from '../names/vocabulary.js';
import type { Row } from '../store/store.js';

/**
 * What a report shows of one run, gathered from post-processed rows (a raw
 * file is derived on the way in). Pure: rows in, numbers out. Everything is
 * summed across targets, engines and models, as a fleet-wide view; the
 * latency percentiles come from the summed bucket deltas, as
 * `histogram_quantile(q, sum by (le) (increase(...)))` would give them,
 * never from averaging per-engine percentiles.
 */

/**
 * A family by its current vLLM name (src/names/known.ts). A run is read under every spelling
 * of it (vLLM's older names, SGLang's, an extra prefix) and the first one the run has is
 * used, so a vLLM that exports both spellings is not counted twice.
 */
type Names = string;

const PROMPT_TOKENS: Names = 'prompt_tokens_total';
const GENERATION_TOKENS: Names = 'generation_tokens_total';
const REQUESTS: Names = 'request_success_total';
const RUNNING: Names = 'num_requests_running';
const WAITING: Names = 'num_requests_waiting';
const KV_CACHE: Names = 'kv_cache_usage_perc';
const TTFT: Names = 'time_to_first_token_seconds';
const E2E: Names = 'e2e_request_latency_seconds';
const ITL: Names = 'inter_token_latency_seconds';

type SeriesSpec =
  | { label: string; kind: 'rate'; names: Names }
  | { label: string; kind: 'gauge-sum' | 'gauge-max' | 'gauge-mean'; names: Names; scale?: number }
  | { label: string; kind: 'quantile'; names: Names; q: number };

export interface ChartSpec {
  id: string;
  title: string;
  unit: string;
  series: SeriesSpec[];
}

const percentiles = (names: Names): SeriesSpec[] => [0.5, 0.9, 0.99].map((q) => ({ label: `p${Math.round(q * 100)}`, kind: 'quantile', names, q }));

export const CHARTS: readonly ChartSpec[] = [
  {
    id: 'tokens',
    title: 'Token throughput',
    unit: 'tokens/s',
    series: [
      { label: 'prompt', kind: 'rate', names: PROMPT_TOKENS },
      { label: 'generation', kind: 'rate', names: GENERATION_TOKENS },
    ],
  },
  { id: 'requests', title: 'Requests finished', unit: 'requests/s', series: [{ label: 'finished', kind: 'rate', names: REQUESTS }] },
  {
    id: 'queue',
    title: 'Running and waiting requests',
    unit: 'requests',
    series: [
      { label: 'running', kind: 'gauge-sum', names: RUNNING },
      { label: 'waiting', kind: 'gauge-sum', names: WAITING },
    ],
  },
  {
    id: 'kv',
    title: 'KV-cache usage',
    unit: '%',
    series: [
      { label: 'busiest engine', kind: 'gauge-max', names: KV_CACHE, scale: 100 },
      { label: 'mean of engines', kind: 'gauge-mean', names: KV_CACHE, scale: 100 },
    ],
  },
  { id: 'ttft', title: 'Time to first token', unit: 'seconds', series: percentiles(TTFT) },
  { id: 'e2e', title: 'End-to-end request latency', unit: 'seconds', series: percentiles(E2E) },
  { id: 'itl', title: 'Inter-token latency', unit: 'seconds', series: percentiles(ITL) },
];

/** The source names a chart reads, for the "not in this file" note. */
export const chartSources = (c: ChartSpec): string[] => [...new Set(c.series.flatMap((s) => vocabulary().spellings(s.names)))];

interface GaugeAt {
  sum: number;
  max: number;
  n: number;
}

/** Everything kept per source name: one small record per round, whatever the number of series. */
class Source {
  readonly rates = new Map<number, number>();
  readonly gauges = new Map<number, GaugeAt>();
  /** Time → upper bound → summed cumulative bucket delta. */
  readonly buckets = new Map<number, Map<number, number>>();
  /** Any row at all: the run has this signal, even if it never had a value to draw. */
  seen = false;
  total = 0;
  totalBuckets = new Map<number, number>();
  totalSum = 0;
  totalCount = 0;
}

export interface SummaryLine {
  label: string;
  unit: string;
  value: number;
}

export interface Run {
  label: string;
  startMs: number;
  endMs: number;
  rounds: number;
  targets: string[];
  /** Time (ms) of every round, ascending. */
  times: number[];
  /** Chart id → series label → value per entry of `times` (NaN where there is none). */
  values: Map<string, Map<string, number[]>>;
  /** Chart id → the name it found, or undefined when the run has none of its sources. */
  found: Map<string, string | undefined>;
  summary: SummaryLine[];
}

const wanted = fromVocabulary(() => new Set(CHARTS.flatMap(chartSources)));

/** Whether a collected row feeds the report: the others need not be derived at all. */
export const feedsReport = (r: Row): boolean => wanted().has(r.family) || wanted().has(r.name);

/** Collects one run's rows (gauges and derived rows) into what the report draws. */
export class RunBuilder {
  private readonly sources = new Map<string, Source>();
  private readonly times = new Set<number>();
  private readonly targets = new Set<string>();

  constructor(readonly label: string) {}

  add(r: Row): void {
    this.times.add(r.timeMs);
    this.targets.add(r.target);
    const source = this.sourceOf(r);
    if (!source) return;
    const s = this.source(source.name);
    s.seen = true;
    if (source.part === 'rate') s.rates.set(r.timeMs, (s.rates.get(r.timeMs) ?? 0) + r.value);
    else if (source.part === 'delta') s.total += r.value;
    else if (source.part === 'gauge') {
      if (Number.isNaN(r.value)) return;
      const g = s.gauges.get(r.timeMs) ?? { sum: 0, max: -Infinity, n: 0 };
      g.sum += r.value;
      g.max = Math.max(g.max, r.value);
      g.n++;
      s.gauges.set(r.timeMs, g);
    } else if (source.part === 'bucket') {
      const le = parseNumber(r.labels.le ?? '', true);
      if (le === undefined || Number.isNaN(r.value)) return;
      let b = s.buckets.get(r.timeMs);
      if (!b) s.buckets.set(r.timeMs, (b = new Map()));
      b.set(le, (b.get(le) ?? 0) + r.value);
      s.totalBuckets.set(le, (s.totalBuckets.get(le) ?? 0) + r.value);
    } else if (source.part === 'sum') s.totalSum += r.value;
    else if (source.part === 'count') s.totalCount += r.value;
  }

  private sourceOf(r: Row): { name: string; part: 'rate' | 'delta' | 'gauge' | 'bucket' | 'sum' | 'count' } | undefined {
    if (r.type === 'gauge') return wanted().has(r.name) ? { name: r.name, part: 'gauge' } : undefined;
    if (!wanted().has(r.family) && !wanted().has(r.name.replace(/_(rate|delta)$/, ''))) return undefined;
    if (r.type === 'rate') return { name: r.name.slice(0, -'_rate'.length), part: 'rate' };
    if (r.type !== 'delta') return undefined;
    for (const part of ['bucket', 'sum', 'count'] as const) {
      if (r.name === `${r.family}_${part}_delta`) return { name: r.family, part };
    }
    return { name: r.name.slice(0, -'_delta'.length), part: 'delta' };
  }

  private source(name: string): Source {
    let s = this.sources.get(name);
    if (!s) this.sources.set(name, (s = new Source()));
    return s;
  }

  private pick(names: Names): [string, Source] | undefined {
    for (const n of vocabulary().spellings(names)) {
      const s = this.sources.get(n);
      if (s?.seen) return [n, s];
    }
    return undefined;
  }

  build(): Run {
    const times = [...this.times].sort((a, b) => a - b);
    const values = new Map<string, Map<string, number[]>>();
    const found = new Map<string, string | undefined>();
    for (const chart of CHARTS) {
      const byLabel = new Map<string, number[]>();
      let name: string | undefined;
      for (const spec of chart.series) {
        const picked = this.pick(spec.names);
        if (!picked) continue;
        name ??= picked[0];
        byLabel.set(
          spec.label,
          times.map((t) => valueAt(spec, picked[1], t)),
        );
      }
      values.set(chart.id, byLabel);
      found.set(chart.id, name);
    }
    return {
      label: this.label,
      startMs: times[0] ?? NaN,
      endMs: times[times.length - 1] ?? NaN,
      rounds: times.length,
      targets: [...this.targets].sort(),
      times,
      values,
      found,
      summary: this.summary(times),
    };
  }

  private summary(times: number[]): SummaryLine[] {
    const seconds = times.length > 1 ? (times[times.length - 1]! - times[0]!) / 1000 : NaN;
    const total = (names: Names) => this.pick(names)?.[1].total ?? NaN;
    const gauges = (names: Names, f: (g: GaugeAt[]) => number) => {
      const s = this.pick(names)?.[1];
      return s ? f([...s.gauges.values()]) : NaN;
    };
    // A loop, not Math.max(...): a day at 1 s is more arguments than a call may take.
    const peak = (g: GaugeAt[]) => (g.length ? g.reduce((m, x) => Math.max(m, x.sum), -Infinity) : NaN);
    const latency = (label: string, names: Names): SummaryLine[] => {
      const s = this.pick(names)?.[1];
      const q = (p: number) => (s ? histogramQuantile(p, s.totalBuckets) : NaN);
      return [
        { label: `${label} p50`, unit: 's', value: q(0.5) },
        { label: `${label} p90`, unit: 's', value: q(0.9) },
        { label: `${label} p99`, unit: 's', value: q(0.99) },
        { label: `${label} mean`, unit: 's', value: s && s.totalCount > 0 ? s.totalSum / s.totalCount : NaN },
      ];
    };
    const generation = total(GENERATION_TOKENS);
    return [
      { label: 'Duration', unit: 's', value: seconds },
      { label: 'Rounds', unit: '', value: times.length },
      { label: 'Requests finished', unit: '', value: total(REQUESTS) },
      { label: 'Prompt tokens', unit: '', value: total(PROMPT_TOKENS) },
      { label: 'Generation tokens', unit: '', value: generation },
      { label: 'Generation throughput', unit: 'tokens/s', value: generation / seconds },
      { label: 'Peak running', unit: '', value: gauges(RUNNING, peak) },
      { label: 'Peak waiting', unit: '', value: gauges(WAITING, peak) },
      { label: 'Peak KV-cache usage', unit: '%', value: gauges(KV_CACHE, (g) => (g.length ? 100 * g.reduce((m, x) => Math.max(m, x.max), -Infinity) : NaN)) },
      ...latency('TTFT', TTFT),
      ...latency('E2E latency', E2E),
      ...latency('Inter-token latency', ITL),
    ];
  }
}

function valueAt(spec: SeriesSpec, s: Source, t: number): number {
  switch (spec.kind) {
    case 'rate':
      return s.rates.get(t) ?? NaN;
    case 'quantile': {
      const b = s.buckets.get(t);
      return b ? histogramQuantile(spec.q, b) : NaN;
    }
    default: {
      const g = s.gauges.get(t);
      if (!g) return NaN;
      const v = spec.kind === 'gauge-sum' ? g.sum : spec.kind === 'gauge-max' ? g.max : g.sum / g.n;
      return v * (spec.scale ?? 1);
    }
  }
}

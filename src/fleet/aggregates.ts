/**
 * Fleet-wide signals derived from the merged families, opt-in with
 * --fleet-aggregates. Each is per `model_name` (a fleet may serve several
 * models) and named `vllm_metrics_proxy_fleet_*`, a prefix vLLM never uses.
 * Pure apart from the memory of earlier scrapes that rates need.
 */
import { counterIncrease } from '../exposition/series.js';
import { labelKey } from '../exposition/parser.js';
import { newLabels, type MetricFamily, type Sample } from '../exposition/model.js';
import { fromVocabulary, vocabulary } from '../names/vocabulary.js';

export const FLEET_PREFIX = 'vllm_metrics_proxy_fleet_';

type Reduce = 'sum' | 'max';

interface Instant {
  name: string;
  help: string;
  /** The family by its current vLLM name; read under every spelling (src/names). */
  from: string;
  reduce: Reduce;
}

const INSTANT: Instant[] = [
  {
    name: 'num_requests_running',
    help: "Requests running on all targets (sum of vllm_num_requests_running, or of another engine's name for it).",
    from: 'num_requests_running',
    reduce: 'sum',
  },
  {
    name: 'num_requests_waiting',
    help: "Requests waiting on all targets (sum of vllm_num_requests_waiting, or of another engine's name for it).",
    from: 'num_requests_waiting',
    reduce: 'sum',
  },
  {
    name: 'kv_cache_usage_perc_max',
    help: "Highest KV-cache usage (0-1) of any engine (max of vllm_kv_cache_usage_perc, of the older vllm_gpu_cache_usage_perc, or of another engine's name for it).",
    from: 'kv_cache_usage_perc',
    reduce: 'max',
  },
];

interface Rate {
  name: string;
  help: string;
  /** The counter family by its current vLLM name. */
  counter: string;
}

const RATES: Rate[] = [
  {
    name: 'requests_per_second',
    help: 'Finished requests per second on all targets, any finished_reason, over the rate window.',
    counter: 'request_success_total',
  },
  { name: 'prompt_tokens_per_second', help: 'Prompt tokens processed per second on all targets, over the rate window.', counter: 'prompt_tokens_total' },
  { name: 'generation_tokens_per_second', help: 'Tokens generated per second on all targets, over the rate window.', counter: 'generation_tokens_total' },
];

const HITS = 'prefix_cache_hits_total';
const QUERIES = 'prefix_cache_queries_total';
const COUNTERS = [...RATES.map((r) => r.counter), HITS, QUERIES];

/** Every family the aggregates read, under every spelling (the merge keeps these as samples). */
export const aggregatedFamilies = fromVocabulary(
  (v): ReadonlySet<string> => new Set([...INSTANT.map((a) => a.from), ...COUNTERS].flatMap((c) => v.spellings(c))),
);

/**
 * The samples of a family under all its spellings, preferred first, each series once: a
 * target in the middle of an upgrade may serve the old and the new name with the same
 * labels (vLLM's hidden metrics shown again), and a fleet in the middle of one serves the
 * old name on some targets and the new on others.
 */
function samplesOf(byName: Map<string, MetricFamily>, canonical: string): Sample[] {
  const seen = new Set<string>();
  const out: Sample[] = [];
  for (const name of vocabulary().spellings(canonical)) {
    const f = byName.get(name);
    if (!f) continue;
    for (const s of f.samples) {
      if (s.name !== name) continue;
      const key = labelKey(s.labels, '');
      if (seen.has(key)) continue;
      seen.add(key);
      out.push(s);
    }
  }
  return out;
}

interface Snapshot {
  t: number;
  /** counter family → series key → [model_name, value] */
  values: Map<string, Map<string, [string, number]>>;
}

const model = (s: Sample) => s.labels.model_name ?? '';

/**
 * Keeps counter snapshots over `windowMs` and turns them into per-second rates,
 * reset-aware per series (a series that went down restarted from zero, as
 * PromQL's rate() assumes). A series with no value at the window's start (a
 * target that just appeared) does not count until it has one.
 */
export class FleetAggregator {
  private readonly snapshots: Snapshot[] = [];
  private readonly spacingMs: number;

  constructor(private readonly windowMs: number) {
    // Enough points for a steady window, few enough that many clients scraping cost nothing.
    this.spacingMs = Math.max(1_000, windowMs / 12);
  }

  aggregate(families: MetricFamily[], nowMs: number, targetsUp: number, targets: number): MetricFamily[] {
    const byName = new Map(families.map((f) => [f.name, f]));
    const out: MetricFamily[] = [
      {
        name: `${FLEET_PREFIX}targets`,
        type: 'gauge',
        help: 'Targets configured or discovered.',
        samples: [{ name: `${FLEET_PREFIX}targets`, labels: newLabels(), value: targets }],
      },
      {
        name: `${FLEET_PREFIX}targets_up`,
        type: 'gauge',
        help: 'Targets whose last scrape succeeded.',
        samples: [{ name: `${FLEET_PREFIX}targets_up`, labels: newLabels(), value: targetsUp }],
      },
    ];
    for (const a of INSTANT) {
      const samples = samplesOf(byName, a.from);
      if (samples.length === 0) continue;
      const per = new Map<string, number>();
      for (const s of samples) {
        if (Number.isNaN(s.value)) continue;
        const m = model(s);
        const have = per.get(m);
        per.set(m, have === undefined ? s.value : a.reduce === 'sum' ? have + s.value : Math.max(have, s.value));
      }
      out.push(gauge(a.name, a.help, per));
    }

    const now = this.snapshot(byName, nowMs);
    const base = this.baseline(nowMs);
    if (base) {
      const seconds = (nowMs - base.t) / 1000;
      for (const r of RATES) {
        const inc = increase(base, now, r.counter);
        if (inc.size) out.push(gauge(r.name, r.help, new Map([...inc].map(([m, v]) => [m, v / seconds]))));
      }
      const hits = increase(base, now, HITS);
      const queries = increase(base, now, QUERIES);
      const ratio = new Map<string, number>();
      for (const [m, q] of queries) if (q > 0) ratio.set(m, (hits.get(m) ?? 0) / q);
      if (ratio.size) out.push(gauge('prefix_cache_hit_ratio', 'Prefix-cache hits per query on all targets over the rate window (0-1).', ratio));
    }
    this.remember(now);
    return out;
  }

  private snapshot(byName: Map<string, MetricFamily>, t: number): Snapshot {
    const values: Snapshot['values'] = new Map();
    for (const name of COUNTERS) {
      const samples = samplesOf(byName, name);
      if (samples.length === 0) continue;
      const series = new Map<string, [string, number]>();
      for (const s of samples) series.set(labelKey(s.labels, ''), [model(s), s.value]);
      values.set(name, series);
    }
    return { t, values };
  }

  /** The oldest snapshot still inside the window, if it is old enough to rate over. */
  private baseline(nowMs: number): Snapshot | undefined {
    while (this.snapshots.length > 1 && nowMs - this.snapshots[1]!.t >= this.windowMs) this.snapshots.shift();
    const first = this.snapshots[0];
    return first && nowMs - first.t >= 1_000 ? first : undefined;
  }

  private remember(s: Snapshot): void {
    const last = this.snapshots[this.snapshots.length - 1];
    if (!last || s.t - last.t >= this.spacingMs) this.snapshots.push(s);
  }
}

/** Per model_name: how much each series grew from `base` to `now`. */
function increase(base: Snapshot, now: Snapshot, counter: string): Map<string, number> {
  const before = base.values.get(counter);
  const after = now.values.get(counter);
  const out = new Map<string, number>();
  if (!before || !after) return out;
  for (const [key, [m, v]] of after) {
    const b = before.get(key)?.[1];
    if (b === undefined) continue;
    out.set(m, (out.get(m) ?? 0) + counterIncrease(b, v));
  }
  return out;
}

function gauge(name: string, help: string, per: Map<string, number>): MetricFamily {
  const full = `${FLEET_PREFIX}${name}`;
  const samples: Sample[] = [...per].map(([m, value]) => {
    const labels = newLabels();
    if (m !== '') labels.model_name = m;
    return { name: full, labels, value };
  });
  return { name: full, type: 'gauge', help, samples };
}

/**
 * The proxy's own saturation source: the last --saturation-window of each
 * target's samples, kept in memory and turned into parts on demand. Pure apart
 * from the clock it is handed.
 *
 * Rates add up the increases between consecutive samples of each series, so a
 * counter that went down (vLLM restarted) counts from zero instead of going
 * negative: PromQL's rule, applied per series.
 */
import { counterIncrease } from '../exposition/series.js';
import { labelKey } from '../exposition/parser.js';
import type { PartSample } from './extract.js';
import { buildReport, type Part, type SaturationReport, type TargetParts } from './report.js';
import { PARTS, type PartName } from './signals.js';

interface Observation {
  timeMs: number;
  /** series key → sample (the series key includes the part and the rank). */
  series: Map<string, PartSample>;
}

interface TargetState {
  observations: Observation[];
  error?: string;
}

export interface SaturationWindowOptions {
  windowMs: number;
  /** Samples closer than this to the previous one are not kept (several feeders, one window). */
  minSpacingMs: number;
  maxStalenessMs: number;
}

export class SaturationWindow {
  private readonly targets = new Map<string, TargetState>();
  /** Changes whenever what a report says (apart from ages) may change. */
  version = 0;

  constructor(readonly options: SaturationWindowOptions) {}

  /** The targets there are now: new ones start with no data, removed ones are forgotten. */
  setTargets(names: Iterable<string>): void {
    const keep = new Set(names);
    for (const name of this.targets.keys()) if (!keep.has(name) && this.targets.delete(name)) this.version++;
    for (const name of keep) {
      if (this.targets.has(name)) continue;
      this.targets.set(name, { observations: [] });
      this.version++;
    }
  }

  /** A successful scrape of `target` at `timeMs`. */
  observe(target: string, samples: PartSample[], timeMs: number): void {
    const state = this.state(target);
    if (state.error !== undefined) this.version++;
    state.error = undefined;
    const obs = state.observations;
    const last = obs[obs.length - 1];
    if (last && timeMs - last.timeMs < this.options.minSpacingMs) return;
    const series = new Map<string, PartSample>();
    for (const s of samples) series.set(`${s.part}\u0000${s.rank}\u0000${labelKey(s.labels, '')}`, s);
    obs.push({ timeMs, series });
    this.version++;
    // Keep the window before the newest sample, and one sample more to rate from.
    while (obs.length > 2 && timeMs - obs[1]!.timeMs >= this.options.windowMs) obs.shift();
  }

  /** A failed scrape: the data stays (aging, then stale), the error is reported. */
  fail(target: string, error: string): void {
    const state = this.state(target);
    if (state.error !== error) this.version++;
    state.error = error;
  }

  private state(target: string): TargetState {
    let s = this.targets.get(target);
    if (!s) this.targets.set(target, (s = { observations: [] }));
    return s;
  }

  report(nowMs: number): SaturationReport {
    const rows: TargetParts[] = [];
    const silent: Array<{ target: string; error?: string }> = [];
    const errors = new Map<string, string>();
    for (const [target, state] of this.targets) {
      if (state.error) errors.set(target, state.error);
      const r = partsOf(target, state.observations, this.options.windowMs);
      if (r.length) rows.push(...r);
      else silent.push({ target, error: state.error });
    }
    return buildReport(rows, { source: 'window', windowMs: this.options.windowMs, maxStalenessMs: this.options.maxStalenessMs, nowMs, silent, errors });
  }
}

/**
 * The parts of one target, per model, over the window that ends at its newest
 * sample (a target that stopped answering keeps its last values, which age).
 */
function partsOf(target: string, all: Observation[], windowMs: number): TargetParts[] {
  const newest = all[all.length - 1];
  if (!newest) return [];
  const from = newest.timeMs - windowMs;
  // The oldest sample inside the window, or the one just before it (rates need a start).
  let first = all.findIndex((o) => o.timeMs >= from);
  if (first > 0 && all[first]!.timeMs > from) first--;
  const obs = all.slice(Math.max(0, first));
  const seconds = (newest.timeMs - obs[0]!.timeMs) / 1000;

  /** model → part → rank → value so far */
  const acc = new Map<string, Map<PartName, Map<number, number>>>();
  const add = (s: PartSample, v: number, reduce: (a: number, b: number) => number) => {
    let parts = acc.get(s.model);
    if (!parts) acc.set(s.model, (parts = new Map()));
    let ranks = parts.get(s.part);
    if (!ranks) parts.set(s.part, (ranks = new Map()));
    const have = ranks.get(s.rank);
    ranks.set(s.rank, have === undefined ? v : reduce(have, v));
  };
  const sum = (a: number, b: number) => a + b;

  // Series seen in the newest sample only: a series that vanished (an engine
  // gone, a model unloaded) no longer describes the target.
  for (const [key, latest] of newest.series) {
    const kind = PARTS[latest.part].kind;
    if (kind === 'rate') {
      if (seconds <= 0) continue;
      let increase = 0;
      let prev: number | undefined;
      for (const o of obs) {
        const s = o.series.get(key);
        if (!s) continue;
        if (prev !== undefined) increase += counterIncrease(prev, s.value);
        prev = s.value;
      }
      add(latest, increase / seconds, sum);
    } else {
      let max = -Infinity;
      for (const o of obs) {
        if (o.timeMs < from) continue;
        const s = o.series.get(key);
        if (s && s.value > max) max = s.value;
      }
      add(latest, max, kind === 'max' ? Math.max : sum);
    }
  }

  const rows: TargetParts[] = [];
  for (const [model, parts] of acc) {
    const out: TargetParts = { target, model, parts: {} };
    for (const [part, ranks] of parts) {
      // The current family name wins over a deprecated alias of it.
      const rank = Math.min(...ranks.keys());
      out.parts[part] = { value: ranks.get(rank)!, timeMs: newest.timeMs } satisfies Part;
    }
    rows.push(out);
  }
  return rows;
}

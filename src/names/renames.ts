/**
 * Renames under a running proxy: a target whose previous answer had a family under one
 * spelling, and whose answer now has it under another and no longer under the first (an
 * upgrade: vLLM 0.6 to a current one gives gpu_cache_usage_perc to kv_cache_usage_perc and
 * time_per_output_token_seconds to inter_token_latency_seconds). Each rename is reported
 * once, when it happens; dashboards and queries written for the old name read nothing from
 * then on, which is what the warning is for. Pure: the caller logs and counts.
 */
import { vocabulary } from './vocabulary.js';

export interface Rename {
  target: string;
  /** The family, by its current vLLM name. */
  family: string;
  from: string;
  to: string;
}

/** Targets remembered; a fleet that comes and goes past this forgets its oldest first. */
const MAX_TARGETS = 4096;

export class RenameWatch {
  /** target → family → the spellings its last answer had, as written. */
  private readonly last = new Map<string, Map<string, Set<string>>>();

  /** One successful answer's family names (from its TYPE lines); the renames since the last. */
  observe(target: string, names: Iterable<string>): Rename[] {
    const v = vocabulary();
    const now = new Map<string, Set<string>>();
    for (const n of names) {
      // OpenMetrics names a counter's family without `_total`; the table has it with.
      const r = v.resolve(n) ?? v.resolve(`${n}_total`);
      if (!r) continue;
      let set = now.get(r.family.canonical);
      if (!set) now.set(r.family.canonical, (set = new Set()));
      set.add(n);
    }
    const prev = this.last.get(target);
    this.last.delete(target);
    this.last.set(target, now);
    if (this.last.size > MAX_TARGETS) this.last.delete(this.last.keys().next().value!);
    if (!prev) return [];
    const out: Rename[] = [];
    for (const [family, before] of prev) {
      const after = now.get(family);
      if (!after) continue; // gone altogether: not a rename
      const added = [...after].filter((n) => !before.has(n));
      for (const from of before) {
        if (after.has(from)) continue;
        out.push({ target, family, from, to: added[0] ?? [...after][0]! });
      }
    }
    return out;
  }
}

/**
 * The signals in PromQL: one query per signal, whose result carries every part
 * of it (and the time of its newest sample) as series told apart by a `part`
 * label. Pure: building queries and reading their answers.
 *
 * Names: each family is asked for under vLLM's colon name and under the
 * proxy's sanitized one, joined with `or`, which keeps the first per target and
 * model. So one Prometheus may scrape vLLM directly for some replicas and
 * through the proxy for others, and nothing is counted twice.
 */
import { vocabulary } from '../names/vocabulary.js';
import { formatDuration } from '../units.js';
import type { Part, TargetParts } from './report.js';
import { PARTS, type PartName, type SignalDef } from './signals.js';

export interface PromqlOptions {
  windowMs: number;
  /** The label naming a target (`instance`; `exported_instance` behind a fleet proxy scraped without honor_labels). */
  targetLabel: string;
  model?: string;
  namespace?: string;
}

/** The result of an instant query (resultType vector). */
export interface VectorSample {
  metric: Record<string, string>;
  value: [number, string];
}

const TIME_SUFFIX = '_time';

const quote = (v: string) => `"${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`;

function matchers(o: PromqlOptions): string {
  const m: string[] = [];
  if (o.model !== undefined) m.push(`model_name=${quote(o.model)}`);
  if (o.namespace !== undefined) m.push(`namespace=${quote(o.namespace)}`);
  return m.length ? `{${m.join(',')}}` : '';
}

/** A part's samples under every spelling, as the engines write them and sanitized, current names first. */
function spellings(part: PartName): string[] {
  const v = vocabulary();
  const suffix = PARTS[part].suffix ?? '';
  const raw = v.rawSpellings(PARTS[part].family);
  const clean = v.spellings(PARTS[part].family);
  return raw.flatMap((r, i) => (r === clean[i] ? [`${r}${suffix}`] : [`${r}${suffix}`, `${clean[i]}${suffix}`]));
}

const tag = (expr: string, part: string) => `label_replace(${expr}, "part", "${part}", "", "")`;

/** The PromQL of one part, for one spelling of its family. */
export function partExpression(part: PartName, family: string, o: PromqlOptions): string {
  const by = `by (${o.targetLabel}, model_name)`;
  const sel = `${family}${matchers(o)}[${formatDuration(o.windowMs)}]`;
  switch (PARTS[part].kind) {
    case 'max':
      return `max ${by} (max_over_time(${sel}))`;
    case 'sum_of_max':
      return `sum ${by} (max_over_time(${sel}))`;
    case 'rate':
      return `sum ${by} (rate(${sel}))`;
  }
}

/**
 * The newest sample's time. `timestamp()` of a plain selector gives the
 * sample's own time (of any other expression, the evaluation time), and the
 * subquery keeps it past a staleness marker.
 */
function timeExpression(family: string, o: PromqlOptions): string {
  return `max by (${o.targetLabel}, model_name) (max_over_time(timestamp(${family}${matchers(o)})[${formatDuration(o.windowMs)}:1s]))`;
}

/** The one query of a signal. */
export function signalQuery(def: SignalDef, o: PromqlOptions): string {
  const terms: string[] = [];
  for (const part of def.parts) for (const family of spellings(part)) terms.push(tag(partExpression(part, family, o), part));
  // Freshness from the signal's first part (the denominator of a ratio moves with it).
  for (const family of spellings(def.parts[0])) terms.push(tag(timeExpression(family, o), `${def.parts[0]}${TIME_SUFFIX}`));
  return terms.join(' or ');
}

/**
 * A signal's answer into parts per target and model, added to `rows`. A part
 * whose value Prometheus could not compute (NaN) is left out; a series without
 * the target label is a configuration mismatch the caller reports.
 */
export function readSignal(def: SignalDef, result: VectorSample[], o: PromqlOptions, rows: Map<string, TargetParts>): { unlabelled: number } {
  const times = new Map<string, number>();
  const values: Array<[string, TargetParts, PartName, number, number]> = [];
  let unlabelled = 0;
  for (const r of result) {
    const target = r.metric[o.targetLabel];
    if (target === undefined) {
      unlabelled++;
      continue;
    }
    const model = r.metric.model_name ?? '';
    const key = `${target}\u0000${model}`;
    const part = r.metric.part ?? '';
    const value = Number(r.value[1]);
    if (part.endsWith(TIME_SUFFIX)) {
      if (Number.isFinite(value)) times.set(key, value * 1000);
      continue;
    }
    if (!(def.parts as string[]).includes(part) || Number.isNaN(value)) continue;
    let row = rows.get(key);
    if (!row) rows.set(key, (row = { target, model, parts: {} }));
    values.push([key, row, part as PartName, value, r.value[0] * 1000]);
  }
  for (const [key, row, part, value, evalMs] of values) row.parts[part] = { value, timeMs: times.get(key) ?? evalMs } satisfies Part;
  return { unlabelled };
}

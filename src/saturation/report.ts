/**
 * From parts to the report both sources answer: each signal per target and
 * model, then per model across the fleet, with its age and a status that
 * never lets "no data" pass for zero. Pure.
 */
import { PARTS, SIGNALS, type PartName, type SignalDef, type SignalName } from './signals.js';

/** One measured part: its value, and when the newest sample behind it was taken. */
export interface Part {
  value: number;
  /** ms since the epoch of the newest sample behind the value. */
  timeMs: number;
}

/** What a source knows of one target serving one model. */
export interface TargetParts {
  target: string;
  /** `model_name`; '' when the target does not label it. */
  model: string;
  parts: Partial<Record<PartName, Part>>;
}

export type SignalStatus = 'ok' | 'stale' | 'no_data' | 'out_of_range';

export interface SignalValue {
  /** null unless the status is ok or stale. */
  value: number | null;
  status: SignalStatus;
  /** Seconds since the newest sample behind the value; null when there is none. */
  ageSeconds: number | null;
  /** The value a source gave that was out of range (it is not passed on as `value`). */
  observed?: number;
  reason?: string;
}

export type Signals = Record<SignalName, SignalValue>;

export interface TargetSaturation {
  target: string;
  /** null: the target has given no data yet, so its models are unknown. */
  model: string | null;
  signals: Signals;
  /** The target's last scrape failed: why. */
  error?: string;
}

export interface ModelSaturation {
  model: string;
  /** Targets serving the model. */
  targets: number;
  signals: Signals;
}

export interface SaturationReport {
  source: 'window' | 'prometheus';
  windowSeconds: number;
  /** When the report was made (ISO 8601). */
  time: string;
  /** no_data: nothing to report (no targets, or none has data): scale from zero, not a zero load. */
  status: 'ok' | 'no_data' | 'error';
  /** The source failed (Prometheus down, ...): the values are the last good ones, aged. */
  error?: string;
  targets: TargetSaturation[];
  models: ModelSaturation[];
}

export interface ReportOptions {
  source: SaturationReport['source'];
  windowMs: number;
  /** A value whose newest sample is older than this is stale. */
  maxStalenessMs: number;
  nowMs: number;
  /** Targets known to the source that have no data (yet); listed as such. */
  silent?: Array<{ target: string; error?: string }>;
  errors?: Map<string, string>;
  error?: string;
}

const noData = (reason: string): SignalValue => ({ value: null, status: 'no_data', ageSeconds: null, reason });

export function emptySignals(reason: string): Signals {
  return Object.fromEntries(SIGNALS.map((s) => [s.name, noData(reason)])) as Signals;
}

/** One signal from the parts of one target, or of a model across targets (already combined). */
function evaluate(def: SignalDef, parts: Partial<Record<PartName, Part>>, options: ReportOptions): SignalValue {
  const got = def.parts.map((p) => parts[p]);
  if (got.some((p) => p === undefined)) {
    const missing = def.parts.filter((p) => parts[p] === undefined);
    return noData(`no ${missing.join(', ')} samples in the window`);
  }
  const timeMs = Math.min(...got.map((p) => p!.timeMs));
  const ageSeconds = Math.max(0, options.nowMs - timeMs) / 1000;
  let value: number;
  if (got.length === 2) {
    const [num, den] = got as [Part, Part];
    if (!(den.value > 0)) return { ...noData(def.idle ?? 'nothing to divide by'), ageSeconds };
    value = num.value / den.value;
  } else {
    value = got[0]!.value;
  }
  if (!Number.isFinite(value) || value < def.min || value > def.max) {
    const range = def.max === Infinity ? `>= ${def.min}` : `${def.min}..${def.max}`;
    return { value: null, status: 'out_of_range', ageSeconds, observed: value, reason: `${value} is outside ${range}` };
  }
  const stale = ageSeconds * 1000 > options.maxStalenessMs;
  return stale
    ? {
        value,
        status: 'stale',
        ageSeconds,
        reason: `newest sample is ${ageSeconds.toFixed(1)}s old, over the ${options.maxStalenessMs / 1000}s staleness limit`,
      }
    : { value, status: 'ok', ageSeconds };
}

function signalsOf(parts: Partial<Record<PartName, Part>>, options: ReportOptions): Signals {
  return Object.fromEntries(SIGNALS.map((s) => [s.name, evaluate(s, parts, options)])) as Signals;
}

/**
 * Parts of several targets into the model's parts: a part whose kind is `max`
 * takes the max, the others add up. The time is the oldest contributor's, so a fleet value is
 * never younger than its stalest input.
 */
function combine(def: SignalDef, rows: TargetParts[]): Partial<Record<PartName, Part>> {
  const out: Partial<Record<PartName, Part>> = {};
  for (const name of def.parts) {
    let acc: Part | undefined;
    for (const row of rows) {
      const p = row.parts[name];
      if (!p) continue;
      if (!acc) acc = { ...p };
      else {
        acc.value = PARTS[name].kind === 'max' ? Math.max(acc.value, p.value) : acc.value + p.value;
        acc.timeMs = Math.min(acc.timeMs, p.timeMs);
      }
    }
    if (acc) out[name] = acc;
  }
  return out;
}

/**
 * The fleet value of one signal for one model: from the targets whose own
 * value is current; only when none is, from the stale ones (and stale). A
 * target whose value is out of range is left out: one broken exporter must
 * not hide or distort the others.
 */
function fleetSignal(def: SignalDef, rows: TargetParts[], perTarget: Signals[], options: ReportOptions): SignalValue {
  const ok = rows.filter((_, i) => perTarget[i]![def.name].status === 'ok');
  const stale = rows.filter((_, i) => perTarget[i]![def.name].status === 'stale');
  if (ok.length) return evaluate(def, combine(def, ok), options);
  if (stale.length) return evaluate(def, combine(def, stale), options);
  // Idle ratios (no request finished anywhere) say so rather than "no samples".
  const idle = perTarget.map((s) => s[def.name]).find((v) => v.status === 'no_data' && v.ageSeconds !== null);
  return idle ?? noData(rows.length ? 'no target has a value' : 'no target serves the model');
}

export function buildReport(rows: TargetParts[], options: ReportOptions): SaturationReport {
  const sorted = [...rows].sort((a, b) => a.target.localeCompare(b.target) || a.model.localeCompare(b.model));
  const targets: TargetSaturation[] = sorted.map((r) => {
    const t: TargetSaturation = { target: r.target, model: r.model, signals: signalsOf(r.parts, options) };
    const err = options.errors?.get(r.target);
    if (err) t.error = err;
    return t;
  });
  const seen = new Set(rows.map((r) => r.target));
  for (const s of options.silent ?? []) {
    if (seen.has(s.target)) continue;
    const t: TargetSaturation = { target: s.target, model: null, signals: emptySignals(s.error ? `no data: ${s.error}` : 'no data yet') };
    if (s.error) t.error = s.error;
    targets.push(t);
  }

  const byModel = new Map<string, number[]>();
  sorted.forEach((r, i) => byModel.set(r.model, [...(byModel.get(r.model) ?? []), i]));
  const models: ModelSaturation[] = [...byModel].map(([model, idx]) => {
    const rs = idx.map((i) => sorted[i]!);
    const sigs = idx.map((i) => targets[i]!.signals);
    return { model, targets: rs.length, signals: Object.fromEntries(SIGNALS.map((d) => [d.name, fleetSignal(d, rs, sigs, options)])) as Signals };
  });

  const anyValue = targets.some((t) => Object.values(t.signals).some((v) => v.value !== null));
  const report: SaturationReport = {
    source: options.source,
    windowSeconds: options.windowMs / 1000,
    time: new Date(options.nowMs).toISOString(),
    status: options.error && !anyValue ? 'error' : anyValue ? 'ok' : 'no_data',
    targets,
    models,
  };
  if (options.error) report.error = options.error;
  return report;
}

/**
 * A saturation report as Prometheus gauges (for /metrics, where KEDA's
 * Prometheus scaler or an HPA adapter reads them) and as a table (the CLI).
 * Only current values become gauges: a stale, missing or out-of-range value
 * is absent, which a scaler sees as "no data" instead of acting on it; its age
 * is still published.
 */
import { newLabels, type Labels, type MetricFamily } from '../exposition/model.js';
import type { SaturationReport, Signals } from './report.js';
import { SIGNALS, type SignalName } from './signals.js';

export const SATURATION_PREFIX = 'vllm_metrics_proxy_saturation_';

function labels(pairs: Array<[string, string | null | undefined]>): Labels {
  const l = newLabels();
  for (const [k, v] of pairs) if (v) l[k] = v;
  return l;
}

export function saturationFamilies(report: SaturationReport, targetLabel: string): MetricFamily[] {
  const rows: Array<{ scope: 'target' | 'fleet'; labels: Labels; signals: Signals }> = [
    ...report.targets.map((t) => ({
      scope: 'target' as const,
      labels: labels([
        [targetLabel, t.target],
        ['model_name', t.model],
      ]),
      signals: t.signals,
    })),
    ...report.models.map((m) => ({ scope: 'fleet' as const, labels: labels([['model_name', m.model]]), signals: m.signals })),
  ];
  const out: MetricFamily[] = [];
  for (const scope of ['target', 'fleet'] as const) {
    const prefix = scope === 'fleet' ? `${SATURATION_PREFIX}fleet_` : SATURATION_PREFIX;
    const mine = rows.filter((r) => r.scope === scope);
    for (const def of SIGNALS) {
      const name = `${prefix}${def.name}`;
      const samples = mine.filter((r) => r.signals[def.name].status === 'ok').map((r) => ({ name, labels: r.labels, value: r.signals[def.name].value! }));
      if (samples.length)
        out.push({
          name,
          type: 'gauge',
          help: `${def.help}${scope === 'fleet' ? ' All targets, per model.' : ''} Absent when stale or without data.`,
          samples,
        });
    }
    const age = `${prefix}age_seconds`;
    const ages = mine.flatMap((r) =>
      SIGNALS.filter((d) => r.signals[d.name].ageSeconds !== null).map((d) => ({
        name: age,
        labels: { ...labels([['signal', d.name]]), ...r.labels },
        value: r.signals[d.name].ageSeconds!,
      })),
    );
    if (ages.length) out.push({ name: age, type: 'gauge', help: 'Seconds since the newest sample behind each saturation signal.', samples: ages });
  }
  return out;
}

const HEAD: Record<SignalName, string> = {
  kv_cache_usage: 'KV',
  requests_waiting: 'WAITING',
  requests_running: 'RUNNING',
  finished_requests_per_second: 'FINISHED/S',
  prompt_tokens_mean: 'PROMPT',
  output_tokens_mean: 'OUTPUT',
  prefix_cache_hit_ratio: 'PREFIX-HIT',
};

function cell(v: Signals[SignalName]): string {
  const n = (x: number) => (Number.isInteger(x) ? String(x) : x.toPrecision(3));
  switch (v.status) {
    case 'ok':
      return n(v.value!);
    case 'stale':
      return `${n(v.value!)} (stale ${Math.round(v.ageSeconds!)}s)`;
    case 'out_of_range':
      return `!${v.observed}`;
    case 'no_data':
      return '-';
  }
}

/** The oldest age among a row's values, the row's freshness at a glance. */
function age(signals: Signals): string {
  const ages = Object.values(signals).flatMap((v) => (v.ageSeconds === null ? [] : [v.ageSeconds]));
  return ages.length ? `${Math.max(...ages).toFixed(1)}s` : '-';
}

/** The report as an aligned table: the fleet row of each model, then its targets. */
export function saturationTable(report: SaturationReport): string {
  const header = ['MODEL', 'TARGET', ...SIGNALS.map((s) => HEAD[s.name]), 'AGE'];
  const body: string[][] = [];
  for (const m of report.models) {
    body.push([m.model || '(unlabelled)', `all ${m.targets}`, ...SIGNALS.map((s) => cell(m.signals[s.name])), age(m.signals)]);
    for (const t of report.targets.filter((x) => x.model === m.model))
      body.push(['', t.target, ...SIGNALS.map((s) => cell(t.signals[s.name])), age(t.signals)]);
  }
  for (const t of report.targets.filter((x) => x.model === null)) body.push(['?', t.target, ...SIGNALS.map(() => '-'), '-']);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((r) => r[i]!.length)));
  const line = (r: string[]) =>
    r
      .map((c, i) => c.padEnd(widths[i]!))
      .join('  ')
      .trimEnd();
  const lines = [`saturation over ${report.windowSeconds}s from ${report.source === 'window' ? "the proxy's window" : 'Prometheus'} at ${report.time}`];
  if (report.error) lines.push(`error: ${report.error} (values below are the last good ones)`);
  if (!body.length) lines.push('no data: no target reports vLLM metrics (scale from zero)');
  else lines.push(line(header), ...body.map(line), "('-' no data, '!' out of range, not used)");
  for (const t of report.targets) if (t.error) lines.push(`${t.target}: ${t.error}`);
  return `${lines.join('\n')}\n`;
}

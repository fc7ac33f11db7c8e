import type { RequestRecord } from '../requests/record.js';
import { summarize } from '../requests/summary.js';
import { CHARTS, chartSources, type Run } from './run.js';

/**
 * The report as one HTML file: the data as JSON, uPlot's script and styles
 * inlined, nothing fetched, so it opens from a mail attachment or an air-gapped
 * laptop. Pure: runs and assets in, text out.
 */

export interface ReportAssets {
  uplotJs: string;
  uplotCss: string;
}

export interface ReportMeta {
  version: string;
  generatedAt: Date;
}

interface ChartSeries {
  label: string;
  run: number;
  color: string;
  values: Array<number | null>;
}

export interface ChartData {
  id: string;
  title: string;
  unit: string;
  /** Seconds: since the epoch for one run, since each run's start when comparing. */
  x: number[];
  series: ChartSeries[];
  /** Set when no run has any of the chart's sources. */
  missing?: string;
}

const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e'];
export const RUN_NAMES = ['A', 'B'];

const finite = (v: number | undefined): number | null => (v !== undefined && Number.isFinite(v) ? v : null);

/** The charts' data: one run on its own clock, or two runs on a shared "seconds since start" axis. */
export function chartData(runs: readonly Run[]): ChartData[] {
  const compare = runs.length > 1;
  const xsOf = (r: Run) => r.times.map((t) => (compare ? (t - r.startMs) / 1000 : t / 1000));
  const x = [...new Set(runs.flatMap(xsOf))].sort((a, b) => a - b);
  return CHARTS.map((chart) => {
    const series: ChartSeries[] = [];
    runs.forEach((run, i) => {
      const at = new Map(xsOf(run).map((v, k) => [v, k]));
      const byLabel = run.values.get(chart.id)!;
      chart.series.forEach((spec, k) => {
        const values = byLabel.get(spec.label);
        // A series with no value at all (no request finished, so no latency) would draw an empty frame.
        if (!values?.some(Number.isFinite)) return;
        series.push({
          label: compare ? `${RUN_NAMES[i]}: ${spec.label}` : spec.label,
          run: i,
          color: COLORS[k % COLORS.length]!,
          values: x.map((v) => finite(values[at.get(v) ?? -1])),
        });
      });
    });
    const inFile = runs.some((r) => r.found.get(chart.id));
    const missing = series.length
      ? undefined
      : inFile
        ? 'No value in any interval: nothing was observed.'
        : `Not in ${compare ? 'either file' : 'this file'}: ${chartSources(chart).join(', ')}.`;
    return { id: chart.id, title: chart.title, unit: chart.unit, x, series, missing };
  });
}

/** The per-request section's data: each request's start, TTFT and e2e, and their distribution. */
export interface RequestsData {
  /** Request start times, seconds since the epoch, ascending. */
  x: number[];
  ttft: Array<number | null>;
  e2e: number[];
  /** Histogram of e2e and TTFT, ms: bucket lower edges (uniform), counts per bucket. */
  histogram: { edges: number[]; e2e: number[]; ttft: number[] };
}

const HISTOGRAM_BUCKETS = 30;

export function requestsData(records: readonly RequestRecord[]): RequestsData {
  const sorted = [...records].sort((a, b) => Date.parse(a.start_time) - Date.parse(b.start_time));
  const e2e = sorted.map((r) => r.e2e_ms);
  const ttft = sorted.map((r) => r.ttft_ms);
  const top = Math.max(1, ...e2e);
  const width = top / HISTOGRAM_BUCKETS;
  const edges = Array.from({ length: HISTOGRAM_BUCKETS }, (_, i) => i * width);
  const count = (values: Array<number | null>) => {
    const c = new Array<number>(HISTOGRAM_BUCKETS).fill(0);
    for (const v of values) if (v !== null) c[Math.min(HISTOGRAM_BUCKETS - 1, Math.floor(v / width))]!++;
    return c;
  };
  return { x: sorted.map((r) => Date.parse(r.start_time) / 1000), ttft, e2e, histogram: { edges, e2e: count(e2e), ttft: count(ttft) } };
}

function requestsSection(records: readonly RequestRecord[]): string {
  const s = summarize(records);
  const ms = (v: number | null) => (v === null ? '–' : `${v.toFixed(1)} ms`);
  const rows: Array<[string, string]> = [
    ['requests', `${s.requests} (${s.ok} ok, ${s.errors} errors, ${s.client_aborts} aborted by the client)`],
    ['output tokens per second', s.completion_tokens_per_second === null ? '–' : s.completion_tokens_per_second.toFixed(1)],
    ['TTFT at the proxy, p50 / p90 / p99', `${ms(s.ttft_ms.p50)} / ${ms(s.ttft_ms.p90)} / ${ms(s.ttft_ms.p99)}`],
    ['end to end at the proxy, p50 / p90 / p99', `${ms(s.e2e_ms.p50)} / ${ms(s.e2e_ms.p90)} / ${ms(s.e2e_ms.p99)}`],
    ['server view', `${s.exact} exact, ${s.shared} shared`],
  ];
  return `<h2 id="requests">Requests</h2>
<p>One point per request through the proxy's API passthrough (<code>serve --api --request-log</code>), as its client saw it.</p>
<table class="summary">${rows.map(([k, v]) => `<tr><th>${escapeHtml(k)}</th><td>${escapeHtml(v)}</td></tr>`).join('')}</table>
<div class="charts">
<section class="chart"><h2>TTFT and end to end, per request <small>(ms)</small></h2><div id="chart-requests-scatter"></div></section>
<section class="chart"><h2>How long requests took <small>(requests per bucket of ms)</small></h2><div id="chart-requests-histogram"></div></section>
</div>`;
}

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** A number as a person reads it: thousands grouped, seconds under one in milliseconds, "–" for none. */
export function formatQuantity(v: number, unit: string): string {
  if (!Number.isFinite(v)) return '–';
  if (unit === 's' && Math.abs(v) < 1 && v !== 0) return `${(v * 1000).toPrecision(3)} ms`;
  const digits = Number.isInteger(v) ? 0 : Math.abs(v) >= 100 ? 0 : Math.abs(v) >= 1 ? 2 : 3;
  const text = v.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: 0 });
  return unit ? `${text} ${unit}` : text;
}

function change(a: number, b: number): string {
  if (!Number.isFinite(a) || !Number.isFinite(b) || a === 0) return '–';
  const pct = ((b - a) / Math.abs(a)) * 100;
  return `${pct > 0 ? '+' : ''}${pct.toFixed(1)}%`;
}

function runLine(run: Run, i: number, compare: boolean): string {
  const when = Number.isFinite(run.startMs)
    ? new Date(run.startMs)
        .toISOString()
        .replace('T', ' ')
        .replace(/\.\d+Z$/, ' UTC')
    : 'no rounds';
  const name = compare ? `<b>${RUN_NAMES[i]}</b> ` : '';
  return `<li>${name}<code>${escapeHtml(run.label)}</code>: from ${when}, ${run.rounds} rounds, targets ${run.targets.map((t) => `<code>${escapeHtml(t)}</code>`).join(', ') || 'none'}</li>`;
}

function summaryTable(runs: readonly Run[]): string {
  const compare = runs.length > 1;
  const head = `<tr><th></th>${runs.map((_, i) => `<th>${compare ? RUN_NAMES[i] : 'value'}</th>`).join('')}${compare ? '<th>B vs A</th>' : ''}</tr>`;
  const rows = runs[0]!.summary.map((line, k) => {
    const values = runs.map((r) => r.summary[k]!.value);
    const cells = values.map((v) => `<td>${formatQuantity(v, line.unit)}</td>`).join('');
    return `<tr><th>${escapeHtml(line.label)}</th>${cells}${compare ? `<td>${change(values[0]!, values[1]!)}</td>` : ''}</tr>`;
  });
  return `<table class="summary">${head}${rows.join('')}</table>`;
}

/** Runs in the page: reads the embedded JSON and draws each chart with uPlot. */
const DRAW = `
(() => {
  const data = JSON.parse(document.getElementById('report-data').textContent);
  const fmt = (v) => v == null ? '–' : String(Math.abs(v) >= 100 ? Math.round(v) : Math.abs(v) >= 1 ? +v.toFixed(2) : +v.toPrecision(3));
  const plots = [];
  for (const c of data.charts) {
    if (!c.series.length) continue;
    const el = document.getElementById('chart-' + c.id);
    const opts = {
      width: el.clientWidth,
      height: 260,
      scales: { x: { time: !data.compare } },
      series: [
        { label: data.compare ? 'seconds since start' : 'time', value: data.compare ? (u, v) => v == null ? '–' : v.toFixed(0) + ' s' : undefined },
        ...c.series.map((s) => ({ label: s.label, stroke: s.color, width: 2, dash: s.run === 1 ? [8, 5] : undefined, spanGaps: data.compare, value: (u, v) => fmt(v) })),
      ],
      axes: [{ label: data.compare ? 'seconds since start' : undefined }, { label: c.unit, size: 70, values: (u, vals) => vals.map(fmt) }],
    };
    plots.push([new uPlot(opts, [c.x, ...c.series.map((s) => s.values)], el), el]);
  }
  const rq = data.requests;
  if (rq) {
    const dots = (label, stroke) => ({ label, stroke, fill: stroke, paths: () => null, points: { show: true, size: 5, fill: stroke }, value: (u, v) => fmt(v) });
    const scatter = document.getElementById("chart-requests-scatter");
    plots.push([new uPlot({ width: scatter.clientWidth, height: 260, scales: { x: { time: true } }, series: [{ label: 'start' }, dots('TTFT', '#1f77b4'), dots('end to end', '#d62728')], axes: [{}, { label: 'ms', size: 70, values: (u, vals) => vals.map(fmt) }] }, [rq.x, rq.ttft, rq.e2e], scatter), scatter]);
    const hist = document.getElementById("chart-requests-histogram");
    const bars = uPlot.paths.bars({ size: [0.9, 100] });
    plots.push([new uPlot({ width: hist.clientWidth, height: 260, scales: { x: { time: false } }, series: [{ label: 'ms from', value: (u, v) => fmt(v) }, { label: 'end to end', stroke: '#d62728', fill: '#d6272866', paths: bars }, { label: 'TTFT', stroke: '#1f77b4', fill: '#1f77b466', paths: bars }], axes: [{ label: 'ms' }, { label: 'requests', size: 60 }] }, [rq.histogram.edges, rq.histogram.e2e, rq.histogram.ttft], hist), hist]);
  }
  addEventListener('resize', () => { for (const [p, el] of plots) p.setSize({ width: el.clientWidth, height: 260 }); });
  document.body.dataset.charts = String(plots.length);
})();
`;

const STYLE = `
body { font: 14px/1.45 system-ui, sans-serif; margin: 24px auto; max-width: 1400px; padding: 0 16px; color: #222; }
h1 { font-size: 22px; margin-bottom: 4px; }
code { font-size: 13px; }
table.summary { border-collapse: collapse; margin: 12px 0 24px; }
table.summary th, table.summary td { padding: 3px 12px; border-bottom: 1px solid #e4e4e4; text-align: right; }
table.summary th:first-child { text-align: left; font-weight: normal; color: #555; }
.charts { display: grid; grid-template-columns: repeat(auto-fit, minmax(560px, 1fr)); gap: 24px; }
.chart h2 { font-size: 16px; margin: 0 0 6px; }
.missing { color: #777; font-style: italic; padding: 24px 0; }
footer { margin-top: 32px; color: #888; font-size: 12px; }
`;

/** The whole page. `</` inside the JSON is escaped, so no value can close the script element. */
export function renderReport(runs: readonly Run[], assets: ReportAssets, meta: ReportMeta, requests?: readonly RequestRecord[]): string {
  const compare = runs.length > 1;
  const charts = chartData(runs);
  const json = JSON.stringify({ compare, charts, requests: requests?.length ? requestsData(requests) : undefined }).replace(/</g, '\\u003c');
  const title = compare ? `vLLM metrics: ${runs[0]!.label} vs ${runs[1]!.label}` : `vLLM metrics: ${runs[0]!.label}`;
  const sections = charts
    .map(
      (c) =>
        `<section class="chart"><h2>${escapeHtml(c.title)} <small>(${escapeHtml(c.unit)})</small></h2>${c.missing ? `<p class="missing">${escapeHtml(c.missing)}</p>` : `<div id="chart-${c.id}"></div>`}</section>`,
    )
    .join('\n');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>${assets.uplotCss}</style>
<style>${STYLE}</style>
</head>
<body>
<h1>${escapeHtml(title)}</h1>
<ul class="runs">${runs.map((r, i) => runLine(r, i, compare)).join('')}</ul>
<p>Totals across every target, engine and model. Latency percentiles are estimated from the summed histogram buckets of each interval, as PromQL's <code>histogram_quantile</code> does.${compare ? ' Run B is drawn dashed, on the same "seconds since start" axis as A.' : ''}</p>
${summaryTable(runs)}
<div class="charts">
${sections}
</div>
${requests?.length ? requestsSection(requests) : ''}
<footer>Generated by vllm-metrics-proxy ${escapeHtml(meta.version)} at ${meta.generatedAt.toISOString()}.</footer>
<script id="report-data" type="application/json">${json}</script>
<script>${assets.uplotJs}</script>
<script>${DRAW}</script>
</body>
</html>
`;
}

import { dialect as dialectOf, type Dialect, type DialectId } from './dialects.js';
import type { EngineState, HistogramState } from './engine.js';
import { FINISH_REASONS, type FamilyDef } from './families.js';

export interface RenderOptions {
  /** `text`: Prometheus text 0.0.4; `openmetrics`: OpenMetrics 1.0 with `# EOF`. */
  format: 'text' | 'openmetrics';
  /** prometheus_client multiprocess rendering: no `_created`, `_sum` before `_bucket`, `le` first. */
  multiprocess: boolean;
  /** Process start (unix seconds), for process_* metrics. */
  startTime: number;
  /** Whose names and labels (default vllm-0.9). */
  dialect?: DialectId;
}

export const CONTENT_TYPES = {
  text: 'text/plain; version=0.0.4; charset=utf-8',
  openmetrics: 'application/openmetrics-text; version=1.0.0; charset=utf-8',
} as const;

/** Python's repr of a float, as prometheus_client's floatToGoString prints it. */
export function pyFloat(x: number): string {
  if (x === Infinity) return '+Inf';
  if (x === -Infinity) return '-Inf';
  if (Number.isNaN(x)) return 'NaN';
  const ax = Math.abs(x);
  if (ax !== 0 && (ax < 1e-4 || ax >= 1e16)) {
    return x.toExponential().replace(/e([+-])(\d)$/, 'e$10$2');
  }
  const s = String(x);
  return s.includes('.') || s.includes('e') ? s : `${s}.0`;
}

const CACHE_CONFIG: Array<[string, string]> = [
  ['block_size', '16'],
  ['cache_dtype', 'auto'],
  ['calculate_kv_scales', 'False'],
  ['cpu_offload_gb', '0'],
  ['enable_prefix_caching', 'True'],
  ['gpu_memory_utilization', '0.9'],
  ['is_attention_free', 'False'],
  ['num_cpu_blocks', 'None'],
  ['num_gpu_blocks', '8192'],
  ['num_gpu_blocks_override', 'None'],
  ['prefix_caching_hash_algo', 'builtin'],
  ['sliding_window', 'None'],
  ['swap_space', '4'],
  ['swap_space_bytes', '4294967296'],
];

/**
 * Render the exposition the way vLLM's API server (python prometheus_client)
 * does: families in registration order, labels in declaration order
 * (model_name, engine), floats in Python's repr.
 */
export function renderExposition(families: FamilyDef[], engines: EngineState[], opts: RenderOptions, now: number): string {
  const out: string[] = [];
  const om = opts.format === 'openmetrics';
  const d = dialectOf(opts.dialect ?? 'vllm-0.9');
  const multiprocess = opts.multiprocess || d.multiprocess === true;
  const created = !multiprocess;
  const perModel = Math.max(1, ...[...new Set(engines.map((e) => e.model))].map((m) => engines.filter((e) => e.model === m).length));
  const labels = (e: EngineState) => `model_name="${e.model}"${d.labels(e.engine, perModel)}`;
  if (!multiprocess) renderPython(out, om, opts.startTime, now);
  if (d.http) renderHttp(out, om, engines, created, multiprocess);

  for (const f of families) {
    const name = d.serve(f.name);
    if (name === undefined) continue;
    const help = d.help?.(name) ?? f.help;
    const total = f.type === 'counter' ? `${name}_total` : name;
    const head = (n: string, type: string) => out.push(`# HELP ${n} ${help}`, `# TYPE ${n} ${type}`);
    if (f.type === 'gauge') {
      head(name, 'gauge');
      for (const e of engines) out.push(`${name}{${labels(e)}} ${pyFloat(gaugeValue(f.name, e))}`);
    } else if (f.type === 'counter') {
      head(om ? name : total, 'counter');
      const series = counterSeries(f, engines, labels, d);
      for (const [lbl, value, e] of series) {
        out.push(`${total}{${lbl}} ${pyFloat(value)}`);
        if (created && om) out.push(`${name}_created{${lbl}} ${pyFloat(e.created)}`);
      }
      if (created && !om) {
        head(`${name}_created`, 'gauge');
        for (const [lbl, , e] of series) out.push(`${name}_created{${lbl}} ${pyFloat(e.created)}`);
      }
    } else {
      head(name, 'histogram');
      for (const e of engines) renderHistogram(out, name, labels(e), e.histograms.get(f.name)!, multiprocess, om ? e.created : undefined);
      if (created && !om) {
        head(`${name}_created`, 'gauge');
        for (const e of engines) out.push(`${name}_created{${labels(e)}} ${pyFloat(e.created)}`);
      }
    }
  }

  for (const g of d.extraGauges) {
    out.push(`# HELP ${g.name} ${g.help}`, `# TYPE ${g.name} gauge`);
    for (const e of engines) {
      const queries = e.counters.get('vllm:prefix_cache_queries') ?? 0;
      const rate = queries > 0 ? (e.counters.get('vllm:prefix_cache_hits') ?? 0) / queries : g.value === 'prefix_hit_rate_or_minus_one' ? -1 : 0;
      out.push(`${g.name}{${labels(e)}} ${pyFloat(g.value === 'zero' ? 0 : rate)}`);
    }
  }

  if (d.cacheConfigInfo) {
    // Info-style gauge: value 1, configuration as labels, one series per engine.
    out.push('# HELP vllm:cache_config_info Information of the LLMEngine CacheConfig', '# TYPE vllm:cache_config_info gauge');
    const seen = new Set<string>();
    for (const e of engines) {
      if (seen.has(e.engine)) continue;
      seen.add(e.engine);
      const lbl = CACHE_CONFIG.map(([k, v]) => `${k}="${v}"`);
      if (d.labels(e.engine, perModel) !== '') lbl.splice(5, 0, `engine="${e.engine}"`);
      out.push(`vllm:cache_config_info{${lbl.join(',')}} 1.0`);
    }
  }
  if (om) out.push('# EOF');
  return out.join('\n') + '\n';
}

function gaugeValue(name: string, e: EngineState): number {
  switch (name) {
    case 'vllm:num_requests_running':
      return e.running;
    case 'vllm:num_requests_waiting':
      return e.waiting;
    default:
      return e.kvUsage; // kv_cache_usage_perc and its deprecated alias
  }
}

function counterSeries(f: FamilyDef, engines: EngineState[], labels: (e: EngineState) => string, d: Dialect): Array<[string, number, EngineState]> {
  const series: Array<[string, number, EngineState]> = [];
  for (const e of engines) {
    if (f.name === 'vllm:request_success') {
      if (d.byFinishedReason) for (const reason of FINISH_REASONS) series.push([`${labels(e)},finished_reason="${reason}"`, e.success[reason], e]);
      else series.push([labels(e), FINISH_REASONS.reduce((n, r) => n + e.success[r], 0), e]);
    } else {
      series.push([labels(e), Math.round(e.counters.get(f.name) ?? 0), e]);
    }
  }
  return series;
}

function renderHistogram(out: string[], name: string, lbl: string, h: HistogramState, multiprocess: boolean, createdOm?: number): void {
  const sum = `${name}_sum{${lbl}} ${pyFloat(h.sum)}`;
  const count = `${name}_count{${lbl}} ${pyFloat(h.count)}`;
  if (multiprocess) out.push(sum);
  let cumulative = 0;
  for (let i = 0; i <= h.bounds.length; i++) {
    cumulative += h.counts[i];
    const le = i < h.bounds.length ? pyFloat(h.bounds[i]) : '+Inf';
    out.push(multiprocess ? `${name}_bucket{le="${le}",${lbl}} ${pyFloat(cumulative)}` : `${name}_bucket{${lbl},le="${le}"} ${pyFloat(cumulative)}`);
  }
  out.push(count);
  if (!multiprocess) out.push(sum);
  if (createdOm !== undefined) out.push(`${name}_created{${lbl}} ${pyFloat(createdOm)}`);
}

/** The python_gc_* and process_* families every prometheus_client process serves. */
function renderPython(out: string[], om: boolean, startTime: number, now: number): void {
  const uptime = now - startTime;
  const counter = (name: string, help: string, series: Array<[string, number]>) => {
    out.push(`# HELP ${om ? name : `${name}_total`} ${help}`, `# TYPE ${om ? name : `${name}_total`} counter`);
    for (const [l, v] of series) out.push(`${name}_total${l} ${pyFloat(v)}`);
  };
  const gens = (f: (g: number) => number): Array<[string, number]> => [0, 1, 2].map((g) => [`{generation="${g}"}`, f(g)]);
  counter(
    'python_gc_objects_collected',
    'Objects collected during gc',
    gens((g) => Math.round(uptime * (300 >> g))),
  );
  counter(
    'python_gc_objects_uncollectable',
    'Uncollectable objects found during GC',
    gens(() => 0),
  );
  counter(
    'python_gc_collections',
    'Number of times this generation was collected',
    gens((g) => Math.round(uptime * (10 >> g))),
  );
  out.push('# HELP python_info Python platform information', '# TYPE python_info gauge');
  out.push('python_info{implementation="CPython",major="3",minor="12",patchlevel="11",version="3.12.11"} 1.0');
  const gauge = (name: string, help: string, v: number) => out.push(`# HELP ${name} ${help}`, `# TYPE ${name} gauge`, `${name} ${pyFloat(v)}`);
  gauge('process_virtual_memory_bytes', 'Virtual memory size in bytes.', 3.4359738368e10);
  gauge('process_resident_memory_bytes', 'Resident memory size in bytes.', 2.147483648e9 + Math.round(uptime) * 4096);
  gauge('process_start_time_seconds', 'Start time of the process since unix epoch in seconds.', Math.round(startTime * 100) / 100);
  counter('process_cpu_seconds', 'Total user and system CPU time spent in seconds.', [['', Math.round(uptime * 0.8 * 100) / 100]]);
  gauge('process_open_fds', 'Number of open file descriptors.', 64);
  gauge('process_max_fds', 'Maximum number of open file descriptors.', 1048576);
}

/** prometheus-fastapi-instrumentator's HTTP families, derived from the engines' request counts. */
function renderHttp(out: string[], om: boolean, engines: EngineState[], created: boolean, multiprocess: boolean): void {
  let requests = 0;
  for (const e of engines) requests += e.success.stop + e.success.length + e.success.abort;
  const handlers: Array<[string, string, number]> = [
    ['/v1/chat/completions', 'POST', Math.round(requests * 0.8)],
    ['/v1/completions', 'POST', requests - Math.round(requests * 0.8)],
    ['/metrics', 'GET', Math.round(requests / 10)],
  ];
  const total = om ? 'http_requests' : 'http_requests_total';
  out.push(`# HELP ${total} Total number of requests by method, status and handler.`, `# TYPE ${total} counter`);
  const since = pyFloat(engines[0]?.created ?? 0);
  for (const [h, m, n] of handlers) {
    out.push(`http_requests_total{handler="${h}",method="${m}",status="2xx"} ${pyFloat(n)}`);
    // OpenMetrics keeps _created inside the counter family, after its sample.
    if (created && om) out.push(`http_requests_created{handler="${h}",method="${m}",status="2xx"} ${since}`);
  }
  out.push(
    '# HELP http_request_size_bytes Content length of incoming requests by handler. Only value of header is respected. Otherwise ignored. No percentile calculated. ',
    '# TYPE http_request_size_bytes summary',
  );
  for (const [h, , n] of handlers) {
    out.push(`http_request_size_bytes_count{handler="${h}"} ${pyFloat(n)}`, `http_request_size_bytes_sum{handler="${h}"} ${pyFloat(n * 2048)}`);
  }
  out.push(
    '# HELP http_request_duration_seconds Latency with only few buckets by handler. Made to be only used if aggregation by handler is important. ',
    '# TYPE http_request_duration_seconds histogram',
  );
  for (const [h, m, n] of handlers) {
    const lbl = `handler="${h}",method="${m}"`;
    const fast = h === '/metrics' ? n : Math.round(n * 0.1);
    const mid = h === '/metrics' ? n : Math.round(n * 0.4);
    const slow = h === '/metrics' ? n : Math.round(n * 0.7);
    if (multiprocess) out.push(`http_request_duration_seconds_sum{${lbl}} ${pyFloat(n * 1.7)}`);
    for (const [le, v] of [
      ['0.1', fast],
      ['0.5', mid],
      ['1.0', slow],
      ['+Inf', n],
    ] as const) {
      out.push(
        multiprocess
          ? `http_request_duration_seconds_bucket{le="${le}",${lbl}} ${pyFloat(v)}`
          : `http_request_duration_seconds_bucket{${lbl},le="${le}"} ${pyFloat(v)}`,
      );
    }
    out.push(`http_request_duration_seconds_count{${lbl}} ${pyFloat(n)}`);
    if (!multiprocess) out.push(`http_request_duration_seconds_sum{${lbl}} ${pyFloat(n * 1.7)}`);
  }
  if (created && !om) {
    out.push('# HELP http_requests_created Total number of requests by method, status and handler.', '# TYPE http_requests_created gauge');
    for (const [h, m] of handlers) out.push(`http_requests_created{handler="${h}",method="${m}",status="2xx"} ${since}`);
  }
}

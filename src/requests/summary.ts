/**
 * What `vllm-metrics-proxy requests FILE` prints: per-request rows, then totals,
 * means and percentiles, and throughput over the span the requests covered. Pure.
 */
import { percentile, type RequestRecord } from './record.js';

export interface Stat {
  n: number;
  mean: number | null;
  p50: number | null;
  p90: number | null;
  p99: number | null;
}

export interface RequestSummary {
  requests: number;
  ok: number;
  errors: number;
  client_aborts: number;
  exact: number;
  shared: number;
  prompt_tokens: number;
  completion_tokens: number;
  /** First start to last end, seconds. */
  span_s: number;
  requests_per_second: number | null;
  completion_tokens_per_second: number | null;
  ttft_ms: Stat;
  e2e_ms: Stat;
  itl_mean_ms: Stat;
  server_queue_ms: Stat;
  server_prefill_ms: Stat;
  server_decode_ms: Stat;
}

export function stat(values: Array<number | null | undefined>): Stat {
  const v = values.filter((x): x is number => typeof x === 'number' && Number.isFinite(x)).sort((a, b) => a - b);
  return {
    n: v.length,
    mean: v.length > 0 ? v.reduce((a, b) => a + b, 0) / v.length : null,
    p50: percentile(v, 0.5),
    p90: percentile(v, 0.9),
    p99: percentile(v, 0.99),
  };
}

const ms = (s: number | null) => (s === null ? null : s * 1000);

export function summarize(records: readonly RequestRecord[]): RequestSummary {
  let first = Infinity;
  let last = -Infinity;
  for (const r of records) {
    const start = Date.parse(r.start_time);
    first = Math.min(first, start);
    last = Math.max(last, start + r.e2e_ms);
  }
  const span = records.length > 0 ? (last - first) / 1000 : 0;
  const completion = records.reduce((a, r) => a + (r.completion_tokens ?? 0), 0);
  return {
    requests: records.length,
    ok: records.filter((r) => r.status >= 200 && r.status < 300 && !r.client_abort).length,
    errors: records.filter((r) => r.status >= 400 || r.error_kind !== null).length,
    client_aborts: records.filter((r) => r.client_abort).length,
    exact: records.filter((r) => r.server_attribution === 'exact').length,
    shared: records.filter((r) => r.server_attribution === 'shared').length,
    prompt_tokens: records.reduce((a, r) => a + (r.prompt_tokens ?? 0), 0),
    completion_tokens: completion,
    span_s: span,
    requests_per_second: span > 0 ? records.length / span : null,
    completion_tokens_per_second: span > 0 ? completion / span : null,
    ttft_ms: stat(records.map((r) => r.ttft_ms)),
    e2e_ms: stat(records.map((r) => r.e2e_ms)),
    itl_mean_ms: stat(records.map((r) => r.itl_mean_ms)),
    server_queue_ms: stat(records.map((r) => ms(r.server_queue_s))),
    server_prefill_ms: stat(records.map((r) => ms(r.server_prefill_s))),
    server_decode_ms: stat(records.map((r) => ms(r.server_decode_s))),
  };
}

const f = (v: number | null | undefined, digits = 1) => (v === null || v === undefined ? '-' : v.toFixed(digits));

function table(head: string[], rows: string[][]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i < 3 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(head), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

/** The human answer: one row per request, then the summary. */
export function renderSummary(records: RequestRecord[], s: RequestSummary): string {
  const rows = records.map((r) => [
    r.start_time.slice(11, 23),
    r.id.length > 16 ? `${r.id.slice(0, 15)}…` : r.id,
    `${r.endpoint.replace('/v1/', '')}${r.stream ? ' (stream)' : ''}`,
    r.client_abort ? 'abort' : String(r.status),
    f(r.prompt_tokens, 0),
    `${f(r.completion_tokens, 0)}${r.tokens_source === 'estimated' ? '~' : ''}`,
    f(r.ttft_ms),
    f(r.e2e_ms),
    f(ms(r.server_prefill_s)),
    f(ms(r.server_decode_s)),
    r.server_attribution === 'shared' ? `shared/${r.server_overlap}` : (r.server_attribution ?? '-'),
  ]);
  const out = [table(['start', 'id', 'endpoint', 'status', 'prompt', 'output', 'ttft ms', 'e2e ms', 'prefill ms', 'decode ms', 'server view'], rows), ''];
  out.push(
    `${s.requests} request${s.requests === 1 ? '' : 's'}: ${s.ok} ok, ${s.errors} errors, ${s.client_aborts} aborted by the client; server view ${s.exact} exact, ${s.shared} shared`,
    `tokens: ${s.prompt_tokens} prompt, ${s.completion_tokens} output (~ counted from chunks where vLLM sent no usage)`,
    `throughput over ${f(s.span_s, 2)} s: ${f(s.requests_per_second, 2)} requests/s, ${f(s.completion_tokens_per_second, 1)} output tokens/s`,
    '',
  );
  const statRows = (
    [
      ['TTFT (proxy)', s.ttft_ms],
      ['end to end (proxy)', s.e2e_ms],
      ['inter-token mean (proxy)', s.itl_mean_ms],
      ['queue (server)', s.server_queue_ms],
      ['prefill (server)', s.server_prefill_ms],
      ['decode (server)', s.server_decode_ms],
    ] as const
  ).map(([name, st]) => [name, String(st.n), '', f(st.mean), f(st.p50), f(st.p90), f(st.p99)]);
  out.push(table(['ms', 'n', '', 'mean', 'p50', 'p90', 'p99'], statRows));
  return `${out.join('\n')}\n`;
}

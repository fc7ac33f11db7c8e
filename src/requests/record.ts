/**
 * One record per API request: what the client saw at the proxy, what vLLM said
 * about itself in the response, and the server's histograms around it. Flat,
 * snake_case fields, so each is a column in Parseable and in the JSONL file.
 */
import { randomUUID } from 'node:crypto';
import type { Observation } from './response-observer.js';
import type { ServerSide } from './server-view.js';

export interface RequestRecord {
  id: string;
  /** Where the id came from: vLLM's response, the X-Request-Id header, or made up here. */
  id_source: 'response' | 'x-request-id' | 'generated';
  start_time: string;
  endpoint: string;
  model: string | null;
  stream: boolean | null;
  status: number;
  finish_reason: string | null;
  client_abort: boolean;
  /** `unreachable`, `timeout`, `reset` when vLLM did not answer in full; null otherwise. */
  error_kind: string | null;
  // Seen at the proxy, ms.
  time_to_headers_ms: number | null;
  ttft_ms: number | null;
  itl_mean_ms: number | null;
  itl_p50_ms: number | null;
  itl_p90_ms: number | null;
  itl_max_ms: number | null;
  e2e_ms: number;
  prompt_tokens: number | null;
  completion_tokens: number | null;
  /** `usage`: vLLM's counts; `estimated`: content chunks counted here; null: unknown. */
  tokens_source: 'usage' | 'estimated' | null;
  // vLLM's own per-request numbers (its `metrics` object), ms; null where it sent none.
  vllm_ttft_ms: number | null;
  vllm_queue_ms: number | null;
  vllm_generation_ms: number | null;
  vllm_mean_itl_ms: number | null;
  vllm_tokens_per_second: number | null;
  // From vLLM's /metrics around the request (server-view.ts), seconds.
  server_attribution: ServerSide['attribution'] | null;
  server_overlap: number | null;
  server_requests: number | null;
  server_queue_s: number | null;
  server_prefill_s: number | null;
  server_decode_s: number | null;
  server_ttft_s: number | null;
  server_e2e_s: number | null;
}

export interface RecordParts {
  startedAt: number;
  startTime: Date;
  endedAt: number;
  endpoint: string;
  model?: string;
  stream?: boolean;
  status: number;
  requestId?: string;
  /** The id when neither vLLM's answer nor X-Request-Id gives one; made here when absent (most answers have one). */
  generatedId?: string;
  headersAt?: number;
  observation?: Observation;
  clientAbort: boolean;
  errorKind?: string;
  server?: ServerSide;
}

/** Nearest-rank percentile of an ascending list. */
export function percentile(sorted: number[], q: number): number | null {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);
const round = (v: number | null | undefined): number | null => (v === null || v === undefined ? null : Math.round(v * 1000) / 1000);

export function buildRecord(p: RecordParts): RequestRecord {
  const o = p.observation;
  const gaps = [...(o?.gapsMs ?? [])].sort((a, b) => a - b);
  const usage = o?.usage;
  const fromUsage = usage && typeof usage.completion_tokens === 'number';
  const m = o?.serverMetrics ?? {};
  const s = p.server;
  return {
    id: o?.id ?? p.requestId ?? p.generatedId ?? randomUUID(),
    id_source: o?.id ? 'response' : p.requestId ? 'x-request-id' : 'generated',
    start_time: p.startTime.toISOString(),
    endpoint: p.endpoint,
    model: p.model ?? o?.model ?? null,
    stream: p.stream ?? null,
    status: p.status,
    finish_reason: o?.finishReason ?? null,
    client_abort: p.clientAbort,
    error_kind: p.errorKind ?? null,
    time_to_headers_ms: p.headersAt !== undefined ? round(p.headersAt - p.startedAt) : null,
    ttft_ms: o?.firstContentAt !== undefined ? round(o.firstContentAt - p.startedAt) : null,
    itl_mean_ms: gaps.length > 0 ? round(gaps.reduce((a, b) => a + b, 0) / gaps.length) : null,
    itl_p50_ms: round(percentile(gaps, 0.5)),
    itl_p90_ms: round(percentile(gaps, 0.9)),
    itl_max_ms: round(gaps.at(-1)),
    e2e_ms: round(p.endedAt - p.startedAt)!,
    prompt_tokens: num(usage?.prompt_tokens),
    completion_tokens: fromUsage ? num(usage!.completion_tokens) : o && o.contentChunks > 0 ? o.contentChunks : null,
    tokens_source: fromUsage ? 'usage' : o && o.contentChunks > 0 ? 'estimated' : null,
    vllm_ttft_ms: num(m.time_to_first_token_ms),
    vllm_queue_ms: num(m.queue_time_ms),
    vllm_generation_ms: num(m.generation_time_ms),
    vllm_mean_itl_ms: num(m.mean_itl_ms),
    vllm_tokens_per_second: num(m.tokens_per_second),
    server_attribution: s?.attribution ?? null,
    server_overlap: s?.overlap ?? null,
    server_requests: s?.requests ?? null,
    server_queue_s: s?.queue ?? null,
    server_prefill_s: s?.prefill ?? null,
    server_decode_s: s?.decode ?? null,
    server_ttft_s: s?.ttft ?? null,
    server_e2e_s: s?.e2e ?? null,
  };
}

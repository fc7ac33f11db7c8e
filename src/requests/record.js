/** Nearest-rank percentile of an ascending list. */
export function percentile(sorted, q) {
    if (sorted.length === 0)
        return null;
    return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
}
const num = (v) => (typeof v === 'number' && Number.isFinite(v) ? v : null);
const round = (v) => (v === null || v === undefined ? null : Math.round(v * 1000) / 1000);
export function buildRecord(p) {
    const o = p.observation;
    const gaps = [...(o?.gapsMs ?? [])].sort((a, b) => a - b);
    const usage = o?.usage;
    const fromUsage = usage && typeof usage.completion_tokens === 'number';
    const m = o?.serverMetrics ?? {};
    const s = p.server;
    return {
        id: o?.id ?? p.requestId ?? p.generatedId,
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
        e2e_ms: round(p.endedAt - p.startedAt),
        prompt_tokens: num(usage?.prompt_tokens),
        completion_tokens: fromUsage ? num(usage.completion_tokens) : o && o.contentChunks > 0 ? o.contentChunks : null,
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

/**
 * Which families a collection keeps: `--metrics` names, exact or glob (`*`, `?`),
 * in vLLM's spelling (`vllm:num_requests_running`) or the sanitized one
 * (`vllm_num_requests_running`). Pure.
 */
export interface Selection {
  /** Whether a family (sanitized name) is kept. */
  matches(family: string): boolean;
  /** Patterns that matched no family in `families`: reported, never silently empty. */
  unmatched(families: Iterable<string>): string[];
  readonly patterns: readonly string[];
}

/**
 * Names older guides list that vLLM (v1) does not serve: a request for one gets
 * this hint instead of a bare "not found" (DESIGN.md, "vLLM's /metrics").
 */
export const NOT_IN_VLLM: Record<string, string> = {
  vllm_gpu_utilization: 'vLLM does not export GPU utilization; use DCGM or nvidia-smi',
  vllm_gpu_memory_used: 'vLLM does not export GPU memory; use DCGM or nvidia-smi',
  vllm_request_latency: 'use vllm:e2e_request_latency_seconds',
  vllm_request_failure_total: 'vLLM counts finished requests by finished_reason in vllm:request_success_total',
};

export function selection(patterns: readonly string[] | undefined): Selection {
  const list = (patterns ?? [])
    .flatMap((p) => p.split(','))
    .map((p) => p.trim())
    .filter(Boolean);
  const compiled = list.map((p) => ({ pattern: p, test: matcher(legacy(p)) }));
  return {
    patterns: list,
    matches: (family) => compiled.length === 0 || compiled.some((c) => c.test(family)),
    unmatched(families) {
      const names = [...families];
      return compiled.filter((c) => !names.some((n) => c.test(n))).map((c) => c.pattern);
    },
  };
}

/** A pattern in the sanitized spelling (as the proxy rewrites names), globs kept. */
function legacy(pattern: string): string {
  return pattern.replace(/[^a-zA-Z0-9_*?]/g, '_');
}

/**
 * Families are matched by their sanitized name; a counter is also matched
 * without its `_total` (people write `vllm:prompt_tokens` as vLLM's code does).
 */
function matcher(pattern: string): (family: string) => boolean {
  const re = new RegExp(
    `^${pattern
      .replace(/[.+^${}()|[\]\\]/g, '\\$&')
      .replace(/\*/g, '.*')
      .replace(/\?/g, '.')}$`,
  );
  return (family) => re.test(family) || (family.endsWith('_total') && re.test(family.slice(0, -'_total'.length)));
}

/**
 * Which server the simulator speaks: the same simulated engines, served under the names and
 * labels of one vLLM version or of SGLang (the names layer's table, src/names/known.ts, says
 * where each came from; this file says what each dialect serves).
 *
 * - `vllm-0.9` (the default, as before): vLLM V1 between the renames, serving the new names
 *   and the deprecated ones beside them (kv_cache_usage_perc and gpu_cache_usage_perc,
 *   prefix_cache_* and gpu_prefix_cache_*), time_per_output_token_seconds, an `engine` label.
 * - `vllm-0.6`: the V0 engine: gpu_cache_usage_perc only, no prefix-cache counters but V0's
 *   hit-rate gauges (-1 while there is no data), num_requests_swapped and
 *   cpu_cache_usage_perc, no `engine` label, one engine per model; rendered as V0's API
 *   server did, in prometheus_client's multiprocess mode (vLLM's docs/design/v1/metrics.md,
 *   "v0 Metrics" and "Multi-process Mode").
 * - `vllm-latest`: vLLM after the removals (late 2025 and early 2026): the new names only,
 *   inter_token_latency_seconds in place of time_per_output_token_seconds.
 * - `sglang`: SGLang's names (collector.py): num_running_reqs, num_queue_reqs, token_usage,
 *   cached_tokens_total, num_requests_total (no finished_reason), cache_hit_rate, the three
 *   latency histograms; labels model_name, engine_type, tp_rank, pp_rank and, with more than
 *   one engine, dp_rank; multiprocess rendering (SGLang's own capture puts `_sum` first), no
 *   HTTP families, no cache_config_info.
 */

export const DIALECTS = ['vllm-0.6', 'vllm-0.9', 'vllm-latest', 'sglang'] as const;
export type DialectId = (typeof DIALECTS)[number];

/** An extra gauge a dialect serves, computed from an engine's state. */
export interface ExtraGauge {
  name: string;
  help: string;
  value: 'zero' | 'prefix_hit_rate' | 'prefix_hit_rate_or_minus_one';
}

export interface Dialect {
  id: DialectId;
  /** The name a simulated family (by its vLLM 0.9 name) is served under here, or undefined: not served. */
  serve(name: string): string | undefined;
  /** HELP text where it differs. */
  help?(name: string): string | undefined;
  /** The labels after model_name, in the order the server writes them. */
  labels(engine: string, engines: number): string;
  /** request_success: one series per finished_reason (vLLM), or one in all (SGLang). */
  byFinishedReason: boolean;
  extraGauges: ExtraGauge[];
  /** prometheus_client's multiprocess rendering, whatever --multiprocess says. */
  multiprocess?: boolean;
  http: boolean;
  cacheConfigInfo: boolean;
  /** Engines per model the server can have (V0: one). */
  maxEngines: number;
}

const vllmLabels = (engine: string) => `,engine="${engine}"`;

const V0_DROPPED = new Set([
  'vllm:kv_cache_usage_perc',
  'vllm:prefix_cache_queries',
  'vllm:prefix_cache_hits',
  'vllm:gpu_prefix_cache_queries',
  'vllm:gpu_prefix_cache_hits',
  'vllm:time_per_prefill_token_request_seconds',
]);
const LATEST_DROPPED = new Set(['vllm:gpu_cache_usage_perc', 'vllm:gpu_prefix_cache_queries', 'vllm:gpu_prefix_cache_hits']);

const SGLANG: Record<string, string> = {
  'vllm:num_requests_running': 'sglang:num_running_reqs',
  'vllm:num_requests_waiting': 'sglang:num_queue_reqs',
  'vllm:kv_cache_usage_perc': 'sglang:token_usage',
  'vllm:prompt_tokens': 'sglang:prompt_tokens',
  'vllm:generation_tokens': 'sglang:generation_tokens',
  'vllm:prefix_cache_hits': 'sglang:cached_tokens',
  'vllm:request_success': 'sglang:num_requests',
  'vllm:time_to_first_token_seconds': 'sglang:time_to_first_token_seconds',
  'vllm:e2e_request_latency_seconds': 'sglang:e2e_request_latency_seconds',
  'vllm:time_per_output_token_seconds': 'sglang:inter_token_latency_seconds',
};
const SGLANG_HELP: Record<string, string> = {
  'sglang:num_running_reqs': 'The number of running requests.',
  'sglang:num_queue_reqs': 'The number of requests in the waiting queue.',
  'sglang:token_usage': 'The token usage.',
  'sglang:prompt_tokens': 'Number of prefill tokens processed.',
  'sglang:generation_tokens': 'Number of generation tokens processed.',
  'sglang:cached_tokens': 'Number of cached prompt tokens.',
  'sglang:num_requests': 'Number of requests processed.',
  'sglang:time_to_first_token_seconds': 'Histogram of time to first token in seconds.',
  'sglang:e2e_request_latency_seconds': 'Histogram of End-to-end request latency in seconds',
  'sglang:inter_token_latency_seconds': 'Histogram of inter-token latency in seconds.',
};

/** What every vLLM V1 dialect shares. */
const VLLM_V1 = { labels: vllmLabels, byFinishedReason: true, extraGauges: [], http: true, cacheConfigInfo: true, maxEngines: Infinity };

const DEFINITIONS: Record<DialectId, Dialect> = {
  'vllm-0.9': { ...VLLM_V1, id: 'vllm-0.9', serve: (n) => n },
  'vllm-0.6': {
    id: 'vllm-0.6',
    serve: (n) => (V0_DROPPED.has(n) ? undefined : n),
    labels: () => '',
    byFinishedReason: true,
    extraGauges: [
      { name: 'vllm:num_requests_swapped', help: 'Number of requests swapped to CPU.', value: 'zero' },
      { name: 'vllm:cpu_cache_usage_perc', help: 'CPU KV-cache usage. 1 means 100 percent usage.', value: 'zero' },
      { name: 'vllm:cpu_prefix_cache_hit_rate', help: 'CPU prefix cache block hit rate.', value: 'prefix_hit_rate_or_minus_one' },
      { name: 'vllm:gpu_prefix_cache_hit_rate', help: 'GPU prefix cache block hit rate.', value: 'prefix_hit_rate_or_minus_one' },
    ],
    help: (n) => (n === 'vllm:gpu_cache_usage_perc' ? 'GPU KV-cache usage. 1 means 100 percent usage.' : undefined),
    multiprocess: true,
    http: true,
    cacheConfigInfo: true,
    maxEngines: 1,
  },
  'vllm-latest': {
    ...VLLM_V1,
    id: 'vllm-latest',
    serve: (n) => (LATEST_DROPPED.has(n) ? undefined : n === 'vllm:time_per_output_token_seconds' ? 'vllm:inter_token_latency_seconds' : n),
    help: (n) => (n === 'vllm:inter_token_latency_seconds' ? 'Histogram of inter-token latency in seconds.' : undefined),
  },
  sglang: {
    id: 'sglang',
    serve: (n) => SGLANG[n],
    help: (n) => SGLANG_HELP[n],
    labels: (engine, engines) => `,engine_type="unified",tp_rank="0",pp_rank="0"${engines > 1 ? `,dp_rank="${engine}"` : ''}`,
    byFinishedReason: false,
    extraGauges: [{ name: 'sglang:cache_hit_rate', help: 'The prefix cache hit rate.', value: 'prefix_hit_rate' }],
    multiprocess: true,
    http: false,
    cacheConfigInfo: false,
    maxEngines: Infinity,
  },
};

export const dialect = (id: DialectId): Dialect => DEFINITIONS[id];

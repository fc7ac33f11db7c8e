/**
 * What is known of the families the readers use, across vLLM's versions and other serving
 * engines: one table, each spelling with the engine and versions it comes from and where
 * that was read. Keyed by the current vLLM name without its prefix (`kv_cache_usage_perc`),
 * the one the project's own outputs use. Pure data.
 *
 * Sources, cited by key in each row:
 * - `vllm-policy`: vLLM's docs, docs/usage/metrics.md, "Deprecation Policy": deprecated in
 *   X.Y, hidden in X.Y+1 (back with --show-hidden-metrics-for-version=X.Y), removed in X.Y+2.
 * - `vllm-test`: vLLM's tests/entrypoints/openai/test_metrics.py at commit 0419b117e532
 *   (2025, the 0.11 line): EXPECTED_METRICS_V1 and HIDDEN_DEPRECATED_METRICS, which list
 *   each deprecated name beside its replacement.
 * - `vllm-usage`: the same page, "Custom Histogram Buckets": the histograms of vLLM today,
 *   request_time_per_output_token_seconds among them.
 * - `vllm-v0-design`: vLLM's docs/design/v1/metrics.md, "v0 Metrics": the names of the V0
 *   engine (0.4 to 0.7), which had no `engine` label.
 * - `sglang-collector`: SGLang's python/sglang/srt/metrics/collector.py (main, 2026):
 *   SchedulerMetricsCollector and TokenizerMetricsCollector.
 * - `sglang-capture`: SGLang's docs/references/production_metrics.md at commit 00b08c497f07,
 *   a real `curl /metrics` of an older SGLang (time_per_output_token_seconds, `_sum` first).
 */

export type Engine = 'vllm' | 'sglang';

export const SOURCES = {
  'vllm-policy': 'https://github.com/vllm-project/vllm/blob/main/docs/usage/metrics.md#deprecation-policy',
  'vllm-test': 'https://github.com/vllm-project/vllm/blob/0419b117e5324b6b9e7a744034cd4a355d613eac/tests/entrypoints/openai/test_metrics.py',
  'vllm-usage': 'https://github.com/vllm-project/vllm/blob/main/docs/usage/metrics.md#custom-histogram-buckets',
  'vllm-v0-design': 'https://github.com/vllm-project/vllm/blob/main/docs/design/metrics.md',
  'sglang-collector': 'https://github.com/sgl-project/sglang/blob/main/python/sglang/srt/metrics/collector.py',
  'sglang-capture': 'https://github.com/sgl-project/sglang/blob/00b08c497f0735678e084ae5e3dd88ca06b46627/docs/references/production_metrics.md',
} as const;
export type SourceKey = keyof typeof SOURCES;

export interface Spelling {
  engine: Engine;
  /** The family name after the engine's prefix, as the text format names it (`_total` on counters). */
  name: string;
  /** vLLM's current name, a name vLLM deprecated, or another engine's. */
  status: 'current' | 'deprecated' | 'other-engine';
  /** Which versions write it, in words. */
  versions: string;
  sources: SourceKey[];
}

export interface KnownFamily {
  /** The current vLLM name, without `vllm:`. */
  canonical: string;
  type: 'gauge' | 'counter' | 'histogram';
  /** Every spelling, the current one first; a reader takes the first a target has. */
  spellings: Spelling[];
  /**
   * Where another engine's family is a different measure of the same thing (SGLang's token
   * usage is of its token pool, vLLM's of its KV blocks), the readers still take it, and
   * the difference is stated here and in docs/names.md.
   */
  note?: string;
}

const current = (name: string, versions: string, sources: SourceKey[] = ['vllm-test']): Spelling => ({
  engine: 'vllm',
  name,
  status: 'current',
  versions,
  sources,
});
const deprecated = (name: string, versions: string): Spelling => ({
  engine: 'vllm',
  name,
  status: 'deprecated',
  versions,
  sources: ['vllm-test', 'vllm-policy'],
});
const sglang = (name: string, versions = 'SGLang', sources: SourceKey[] = ['sglang-collector']): Spelling => ({
  engine: 'sglang',
  name,
  status: 'other-engine',
  versions,
  sources,
});

export const KNOWN: readonly KnownFamily[] = [
  {
    canonical: 'num_requests_running',
    type: 'gauge',
    spellings: [current('num_requests_running', 'every version', ['vllm-test', 'vllm-v0-design']), sglang('num_running_reqs')],
  },
  {
    canonical: 'num_requests_waiting',
    type: 'gauge',
    spellings: [current('num_requests_waiting', 'every version', ['vllm-test', 'vllm-v0-design']), sglang('num_queue_reqs')],
  },
  {
    canonical: 'kv_cache_usage_perc',
    type: 'gauge',
    spellings: [
      current('kv_cache_usage_perc', '0.9 and later'),
      deprecated('gpu_cache_usage_perc', '0.4 to 0.10: deprecated in 0.9, hidden in 0.10, removed late 2025'),
      sglang('token_usage'),
    ],
    note: "SGLang's token_usage is the used fraction of its KV token pool; vLLM's, of its KV blocks: both 0 to 1, both near 1 before requests queue or are preempted.",
  },
  // Before the prefix cache: SGLang's prompt_tokens_total is first of all this family (resolve() takes the first).
  {
    canonical: 'prompt_tokens_total',
    type: 'counter',
    spellings: [
      current('prompt_tokens_total', 'every version', ['vllm-test', 'vllm-v0-design']),
      sglang('prompt_tokens_total', 'SGLang', ['sglang-collector', 'sglang-capture']),
    ],
  },
  {
    canonical: 'prefix_cache_queries_total',
    type: 'counter',
    spellings: [
      current('prefix_cache_queries_total', '0.9 and later'),
      deprecated('gpu_prefix_cache_queries_total', 'V1 to 0.10: deprecated in 0.9'),
      sglang('prompt_tokens_total'),
    ],
    note: "SGLang counts no prefix-cache queries: every prompt token is looked up in its radix cache, so its prompt tokens stand for the queries and its cached tokens for the hits (the ratio is SGLang's cache_hit_rate over the window).",
  },
  {
    canonical: 'prefix_cache_hits_total',
    type: 'counter',
    spellings: [
      current('prefix_cache_hits_total', '0.9 and later'),
      deprecated('gpu_prefix_cache_hits_total', 'V1 to 0.10: deprecated in 0.9'),
      sglang('cached_tokens_total'),
    ],
  },
  {
    canonical: 'num_preemptions_total',
    type: 'counter',
    spellings: [current('num_preemptions_total', 'every version', ['vllm-test', 'vllm-v0-design'])],
  },
  {
    canonical: 'generation_tokens_total',
    type: 'counter',
    spellings: [
      current('generation_tokens_total', 'every version', ['vllm-test', 'vllm-v0-design']),
      sglang('generation_tokens_total', 'SGLang', ['sglang-collector', 'sglang-capture']),
    ],
  },
  {
    canonical: 'request_success_total',
    type: 'counter',
    spellings: [current('request_success_total', 'every version', ['vllm-test', 'vllm-v0-design']), sglang('num_requests_total')],
    note: "SGLang's num_requests_total counts finished requests without a finished_reason label.",
  },
  {
    canonical: 'request_prompt_tokens',
    type: 'histogram',
    spellings: [
      current('request_prompt_tokens', 'every version', ['vllm-test', 'vllm-v0-design']),
      sglang('prompt_tokens_histogram', 'SGLang, with --collect-tokens-histogram'),
    ],
  },
  {
    canonical: 'request_generation_tokens',
    type: 'histogram',
    spellings: [
      current('request_generation_tokens', 'every version', ['vllm-test', 'vllm-v0-design']),
      sglang('generation_tokens_histogram', 'SGLang, with --collect-tokens-histogram'),
    ],
  },
  {
    canonical: 'time_to_first_token_seconds',
    type: 'histogram',
    spellings: [
      current('time_to_first_token_seconds', 'every version', ['vllm-test', 'vllm-v0-design']),
      sglang('time_to_first_token_seconds', 'SGLang', ['sglang-collector', 'sglang-capture']),
    ],
  },
  {
    canonical: 'e2e_request_latency_seconds',
    type: 'histogram',
    spellings: [
      current('e2e_request_latency_seconds', 'every version', ['vllm-test', 'vllm-v0-design']),
      sglang('e2e_request_latency_seconds', 'SGLang', ['sglang-collector', 'sglang-capture']),
    ],
  },
  {
    canonical: 'inter_token_latency_seconds',
    type: 'histogram',
    spellings: [
      current('inter_token_latency_seconds', '0.11 and later'),
      deprecated('time_per_output_token_seconds', '0.4 to 0.12: deprecated in 0.11, removed early 2026'),
      sglang('inter_token_latency_seconds'),
      sglang('time_per_output_token_seconds', 'older SGLang', ['sglang-capture']),
    ],
  },
  {
    canonical: 'request_time_per_output_token_seconds',
    type: 'histogram',
    spellings: [current('request_time_per_output_token_seconds', '0.11 and later: one value per request, unlike inter_token_latency_seconds', ['vllm-usage'])],
  },
  {
    canonical: 'request_queue_time_seconds',
    type: 'histogram',
    spellings: [current('request_queue_time_seconds', '0.6 and later', ['vllm-test'])],
  },
  {
    canonical: 'request_prefill_time_seconds',
    type: 'histogram',
    spellings: [current('request_prefill_time_seconds', '0.6 and later', ['vllm-test'])],
  },
  {
    canonical: 'request_decode_time_seconds',
    type: 'histogram',
    spellings: [current('request_decode_time_seconds', '0.6 and later', ['vllm-test'])],
  },
];

/** The prefix each engine writes before its names. */
export const ENGINE_PREFIX: Readonly<Record<Engine, string>> = { vllm: 'vllm:', sglang: 'sglang:' };

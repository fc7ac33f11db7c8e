/**
 * The vLLM v1 metric families the simulator serves, as in
 * vllm/v1/metrics/loggers.py (see DESIGN.md, "vLLM's /metrics"). Names keep their `vllm:`
 * prefix: reproducing the colon problem is the point.
 */

export type FamilyType = 'gauge' | 'counter' | 'histogram';

export interface FamilyDef {
  /** Name without the `_total` suffix for counters. */
  name: string;
  type: FamilyType;
  help: string;
  buckets?: number[];
}

/** vLLM's build_1_2_5_buckets: 1, 2, 5, 10, 20, 50, ... up to max. */
export function buckets125(max: number): number[] {
  const out: number[] = [];
  for (let exp = 1; ; exp *= 10) {
    for (const m of [1, 2, 5]) {
      const v = m * exp;
      if (v > max) return out;
      out.push(v);
    }
  }
}

const REQUEST_LATENCY = [0.3, 0.5, 0.8, 1.0, 1.5, 2.0, 2.5, 5.0, 10.0, 15.0, 20.0, 30.0, 40.0, 50.0, 60.0, 120.0, 240.0, 480.0, 960.0, 1920.0, 7680.0];

export const FINISH_REASONS = ['stop', 'length', 'abort'] as const;

export function vllmFamilies(maxModelLen: number): FamilyDef[] {
  const tokens = buckets125(maxModelLen);
  return [
    { name: 'vllm:num_requests_running', type: 'gauge', help: 'Number of requests in model execution batches.' },
    { name: 'vllm:num_requests_waiting', type: 'gauge', help: 'Number of requests waiting to be processed.' },
    {
      name: 'vllm:gpu_cache_usage_perc',
      type: 'gauge',
      help: 'GPU KV-cache usage. 1 means 100 percent usage.DEPRECATED: Use vllm:kv_cache_usage_perc instead.',
    },
    {
      name: 'vllm:gpu_prefix_cache_queries',
      type: 'counter',
      help: 'GPU prefix cache queries, in terms of number of queried tokens. DEPRECATED: Use vllm:prefix_cache_queries instead.',
    },
    {
      name: 'vllm:gpu_prefix_cache_hits',
      type: 'counter',
      help: 'GPU prefix cache hits, in terms of number of cached tokens. DEPRECATED: Use vllm:prefix_cache_hits instead.',
    },
    { name: 'vllm:kv_cache_usage_perc', type: 'gauge', help: 'KV-cache usage. 1 means 100 percent usage.' },
    { name: 'vllm:prefix_cache_queries', type: 'counter', help: 'Prefix cache queries, in terms of number of queried tokens.' },
    { name: 'vllm:prefix_cache_hits', type: 'counter', help: 'Prefix cache hits, in terms of number of cached tokens.' },
    { name: 'vllm:num_preemptions', type: 'counter', help: 'Cumulative number of preemption from the engine.' },
    { name: 'vllm:prompt_tokens', type: 'counter', help: 'Number of prefill tokens processed.' },
    { name: 'vllm:generation_tokens', type: 'counter', help: 'Number of generation tokens processed.' },
    { name: 'vllm:request_success', type: 'counter', help: 'Count of successfully processed requests.' },
    { name: 'vllm:request_prompt_tokens', type: 'histogram', help: 'Number of prefill tokens processed.', buckets: tokens },
    { name: 'vllm:request_generation_tokens', type: 'histogram', help: 'Number of generation tokens processed.', buckets: tokens },
    {
      name: 'vllm:iteration_tokens_total',
      type: 'histogram',
      help: 'Histogram of number of tokens per engine_step.',
      buckets: [1, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384],
    },
    { name: 'vllm:request_max_num_generation_tokens', type: 'histogram', help: 'Histogram of maximum number of requested generation tokens.', buckets: tokens },
    { name: 'vllm:request_params_n', type: 'histogram', help: 'Histogram of the n request parameter.', buckets: [1, 2, 5, 10, 20] },
    { name: 'vllm:request_params_max_tokens', type: 'histogram', help: 'Histogram of the max_tokens request parameter.', buckets: tokens },
    {
      name: 'vllm:time_to_first_token_seconds',
      type: 'histogram',
      help: 'Histogram of time to first token in seconds.',
      buckets: [0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 20.0, 40.0, 80.0, 160.0, 640.0, 2560.0],
    },
    {
      name: 'vllm:time_per_output_token_seconds',
      type: 'histogram',
      help: 'Histogram of time per output token in seconds.',
      buckets: [0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 20.0, 40.0, 80.0],
    },
    {
      name: 'vllm:time_per_prefill_token_request_seconds',
      type: 'histogram',
      help: 'Time spent per token during prefill  phase in seconds',
      buckets: [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0],
    },
    { name: 'vllm:e2e_request_latency_seconds', type: 'histogram', help: 'Histogram of e2e request latency in seconds.', buckets: REQUEST_LATENCY },
    { name: 'vllm:request_queue_time_seconds', type: 'histogram', help: 'Histogram of time spent in WAITING phase for request.', buckets: REQUEST_LATENCY },
    { name: 'vllm:request_inference_time_seconds', type: 'histogram', help: 'Histogram of time spent in RUNNING phase for request.', buckets: REQUEST_LATENCY },
    { name: 'vllm:request_prefill_time_seconds', type: 'histogram', help: 'Histogram of time spent in PREFILL phase for request.', buckets: REQUEST_LATENCY },
    { name: 'vllm:request_decode_time_seconds', type: 'histogram', help: 'Histogram of time spent in DECODE phase for request.', buckets: REQUEST_LATENCY },
  ];
}

/** Speculative decoding counters (only with --spec-decode). */
export const SPEC_DECODE_FAMILIES: FamilyDef[] = [
  { name: 'vllm:spec_decode_num_drafts', type: 'counter', help: 'Number of spec decoding drafts.' },
  { name: 'vllm:spec_decode_num_draft_tokens', type: 'counter', help: 'Number of draft tokens.' },
  { name: 'vllm:spec_decode_num_accepted_tokens', type: 'counter', help: 'Number of accepted tokens.' },
];

/**
 * The saturation signals an autoscaler reads, defined once for both sources
 * (the proxy's own window and PromQL) and for docs/saturation.md.
 *
 * Every source produces *parts* per target and model: a window maximum, a rate,
 * or the two rates a ratio is made of. Signals are computed from parts by one
 * rule, so a fleet-wide mean is Σ rate(_sum) / Σ rate(_count) across targets,
 * never a mean of means.
 */
import type { Vocabulary } from '../names/vocabulary.js';

/** What a source measures per target and model. */
export type PartName = 'kv' | 'waiting' | 'running' | 'finished' | 'prompt_sum' | 'prompt_count' | 'output_sum' | 'output_count' | 'hits' | 'queries';

export type SignalName =
  | 'kv_cache_usage'
  | 'requests_waiting'
  | 'requests_running'
  | 'finished_requests_per_second'
  | 'prompt_tokens_mean'
  | 'output_tokens_mean'
  | 'prefix_cache_hit_ratio';

/** How a part is read from one series over the window, and how series and targets add up. */
export type PartKind =
  /** max over the window of each series; max across series and targets. */
  | 'max'
  /** max over the window of each series; summed across series (engines) and targets. */
  | 'sum_of_max'
  /** per-second rate of a counter, reset-aware; summed across series and targets. */
  | 'rate';

export interface PartSource {
  kind: PartKind;
  /**
   * The family by its current vLLM name (src/names/known.ts): a target is read under every
   * spelling of it, vLLM's older ones and SGLang's included, and uses the first it has.
   */
  family: string;
  /** The sample of a histogram the part reads (`_sum`, `_count`). */
  suffix?: '_sum' | '_count';
}

export const PARTS: Record<PartName, PartSource> = {
  kv: { kind: 'max', family: 'kv_cache_usage_perc' },
  waiting: { kind: 'sum_of_max', family: 'num_requests_waiting' },
  running: { kind: 'sum_of_max', family: 'num_requests_running' },
  finished: { kind: 'rate', family: 'request_success_total' },
  prompt_sum: { kind: 'rate', family: 'request_prompt_tokens', suffix: '_sum' },
  prompt_count: { kind: 'rate', family: 'request_prompt_tokens', suffix: '_count' },
  output_sum: { kind: 'rate', family: 'request_generation_tokens', suffix: '_sum' },
  output_count: { kind: 'rate', family: 'request_generation_tokens', suffix: '_count' },
  hits: { kind: 'rate', family: 'prefix_cache_hits_total' },
  queries: { kind: 'rate', family: 'prefix_cache_queries_total' },
};

/** The sanitized sample names of a part, preferred first. */
export const partSamples = (part: PartName, v: Vocabulary): string[] => v.spellings(PARTS[part].family).map((n) => `${n}${PARTS[part].suffix ?? ''}`);

export interface SignalDef {
  name: SignalName;
  help: string;
  unit: string;
  /** A plain part, or a ratio of two (numerator / denominator). */
  parts: [PartName] | [PartName, PartName];
  /** Valid values; anything else is reported as out of range, never passed on. */
  min: number;
  max: number;
  /** Why a ratio has no value when its denominator did not move. */
  idle?: string;
}

export const SIGNALS: SignalDef[] = [
  { name: 'kv_cache_usage', help: 'Highest KV-cache usage over the window (0-1), of any engine.', unit: 'ratio', parts: ['kv'], min: 0, max: 1 },
  {
    name: 'requests_waiting',
    help: 'Requests waiting, the highest over the window (summed over engines).',
    unit: 'requests',
    parts: ['waiting'],
    min: 0,
    max: Infinity,
  },
  {
    name: 'requests_running',
    help: 'Requests running, the highest over the window (summed over engines).',
    unit: 'requests',
    parts: ['running'],
    min: 0,
    max: Infinity,
  },
  {
    name: 'finished_requests_per_second',
    help: 'Requests finished per second over the window, any finished_reason.',
    unit: 'requests/s',
    parts: ['finished'],
    min: 0,
    max: Infinity,
  },
  {
    name: 'prompt_tokens_mean',
    help: 'Mean prompt tokens per finished request over the window.',
    unit: 'tokens',
    parts: ['prompt_sum', 'prompt_count'],
    min: 0,
    max: Infinity,
    idle: 'no request finished in the window',
  },
  {
    name: 'output_tokens_mean',
    help: 'Mean output tokens per finished request over the window.',
    unit: 'tokens',
    parts: ['output_sum', 'output_count'],
    min: 0,
    max: Infinity,
    idle: 'no request finished in the window',
  },
  {
    name: 'prefix_cache_hit_ratio',
    help: 'Prefix-cache hits per queried token over the window (0-1).',
    unit: 'ratio',
    parts: ['hits', 'queries'],
    min: 0,
    max: 1,
    idle: 'no prefix-cache query in the window',
  },
];

export const SIGNAL_NAMES = SIGNALS.map((s) => s.name);

import { FINISH_REASONS, type FamilyDef } from './families.js';
import type { Random } from './random.js';

/** Cumulative-ready histogram state: per-bucket counts (not cumulative), sum and count. */
export class HistogramState {
  readonly counts: Float64Array;
  sum = 0;
  count = 0;

  constructor(readonly bounds: number[]) {
    this.counts = new Float64Array(bounds.length + 1);
  }

  observe(value: number): void {
    const b = this.bounds;
    let i = 0;
    while (i < b.length && value > b[i]) i++;
    this.counts[i]++;
    this.sum += value;
    this.count++;
  }
}

export interface EngineParams {
  /** Mean request arrivals per second at this engine. */
  rate: number;
  maxNumSeqs: number;
  /** KV-cache capacity in tokens (num_gpu_blocks x block_size). */
  kvCapacityTokens: number;
  maxModelLen: number;
  /** Decode speed of one sequence alone, tokens/s. */
  decodeTokensPerSecond: number;
  prefillTokensPerSecond: number;
  specDecode: boolean;
}

/** What one finished request contributes to the engine's metrics. */
export interface Finished {
  prompt: number;
  generated: number;
  maxTokens: number;
  reason: (typeof FINISH_REASONS)[number];
  queue: number;
  prefill: number;
  decode: number;
  /** Inter-token intervals to observe in the time-per-output-token histogram (all of them, or a sample). */
  interTokenSeconds: number[];
}

interface Request {
  arrival: number;
  prompt: number;
  maxTokens: number;
  target: number;
  reason: (typeof FINISH_REASONS)[number];
  startedAt: number;
  prefillLeft: number;
  firstTokenAt: number;
  generated: number;
}

/**
 * One (model, engine) pair of a simulated vLLM server. Requests arrive, queue,
 * prefill, decode and finish; the metrics are derived from those lifecycles, so
 * they are consistent the way vLLM's are (TTFT = queue + prefill, e2e = TTFT +
 * decode, counters only grow, histogram counts match the success counter).
 */
export class EngineState {
  readonly created: number;
  running = 0;
  waiting = 0;
  /** Requests served through the simulator's API (src/simulator/api.ts), beside the simulated load. */
  apiRunning = 0;
  apiWaiting = 0;
  kvUsage = 0;
  readonly counters = new Map<string, number>();
  readonly success: Record<(typeof FINISH_REASONS)[number], number> = { stop: 0, length: 0, abort: 0 };
  readonly histograms = new Map<string, HistogramState>();
  private readonly queue: Request[] = [];
  private readonly active: Request[] = [];
  private readonly phase: number;

  constructor(
    readonly model: string,
    readonly engine: string,
    families: FamilyDef[],
    private readonly params: EngineParams,
    private readonly rng: Random,
    now: number,
  ) {
    this.created = now;
    this.phase = rng.next() * 2 * Math.PI;
    for (const f of families) {
      if (f.type === 'counter' && f.name !== 'vllm:request_success') this.counters.set(f.name, 0);
      if (f.type === 'histogram') this.histograms.set(f.name, new HistogramState(f.buckets!));
    }
  }

  private hist(name: string): HistogramState {
    return this.histograms.get(name)!;
  }

  private add(name: string, by: number): void {
    if (this.counters.has(name)) this.counters.set(name, this.counters.get(name)! + by);
  }

  /** Advance the engine by dt seconds ending at `now` (unix seconds). */
  advance(now: number, dt: number): void {
    const p = this.params;
    const rng = this.rng;
    // Load rises and falls over a few minutes, with noise: gauges move.
    const rate = p.rate * Math.max(0, 1 + 0.6 * Math.sin((2 * Math.PI * now) / 300 + this.phase) + 0.2 * rng.normal());
    const arrivals = rng.poisson(rate * dt);
    for (let a = 0; a < arrivals; a++) {
      const prompt = clamp(Math.round(rng.logNormal(600, 0.9)), 1, p.maxModelLen - 16);
      const maxTokens = clamp(Math.round(rng.logNormal(512, 0.6)), 16, p.maxModelLen - prompt);
      const natural = Math.max(1, Math.round(rng.logNormal(220, 0.8)));
      const roll = rng.next();
      const reason = roll < 0.01 ? 'abort' : natural >= maxTokens ? 'length' : 'stop';
      const target = reason === 'abort' ? Math.max(1, Math.round(natural * rng.next())) : Math.min(natural, maxTokens);
      this.queue.push({ arrival: now - rng.next() * dt, prompt, maxTokens, target, reason, startedAt: 0, prefillLeft: 0, firstTokenAt: 0, generated: 0 });
      this.hist('vllm:request_params_n').observe(rng.next() < 0.95 ? 1 : 2);
      this.hist('vllm:request_params_max_tokens').observe(maxTokens);
      this.hist('vllm:request_max_num_generation_tokens').observe(maxTokens);
    }

    // Admit while there is batch room and KV cache.
    let kvTokens = this.kvTokens();
    while (this.queue.length > 0 && this.active.length < p.maxNumSeqs && kvTokens + this.queue[0].prompt < p.kvCapacityTokens * 0.95) {
      const r = this.queue.shift()!;
      r.startedAt = now - dt * rng.next() * 0.5;
      r.prefillLeft = r.prompt / p.prefillTokensPerSecond;
      kvTokens += r.prompt;
      this.active.push(r);
      const hits = Math.round(r.prompt * clamp(0.4 + 0.15 * rng.normal(), 0, 0.95));
      this.add('vllm:prefix_cache_queries', r.prompt);
      this.add('vllm:gpu_prefix_cache_queries', r.prompt);
      this.add('vllm:prefix_cache_hits', hits);
      this.add('vllm:gpu_prefix_cache_hits', hits);
      this.add('vllm:prompt_tokens', r.prompt);
    }

    // Preempt the newest request when the cache overflows.
    if (kvTokens > p.kvCapacityTokens * 0.98 && this.active.length > 1) {
      const r = this.active.pop()!;
      r.generated = 0;
      r.firstTokenAt = 0;
      this.queue.unshift(r);
      this.add('vllm:num_preemptions', 1);
    }

    // Progress: batch size slows each sequence down.
    const speed = p.decodeTokensPerSecond / (1 + this.active.length / 64);
    let stepTokens = 0;
    const still: Request[] = [];
    for (const r of this.active) {
      let t = dt;
      if (r.prefillLeft > 0) {
        const used = Math.min(t, r.prefillLeft);
        r.prefillLeft -= used;
        t -= used;
        stepTokens += r.prompt * ((used * p.prefillTokensPerSecond) / r.prompt);
        if (r.prefillLeft <= 0) r.firstTokenAt = now - t;
      }
      if (r.firstTokenAt > 0 && t > 0) {
        const made = Math.min(r.target - r.generated, speed * t);
        r.generated += made;
        stepTokens += made;
        this.add('vllm:generation_tokens', Math.round(made));
      }
      if (r.firstTokenAt > 0 && r.generated >= r.target - 1e-9) this.finish(r, now);
      else still.push(r);
    }
    this.active.length = 0;
    this.active.push(...still);

    if (p.specDecode) {
      const drafts = Math.round(stepTokens / 4);
      this.add('vllm:spec_decode_num_drafts', drafts);
      this.add('vllm:spec_decode_num_draft_tokens', drafts * 3);
      this.add('vllm:spec_decode_num_accepted_tokens', Math.round(drafts * 3 * clamp(0.6 + 0.1 * rng.normal(), 0, 1)));
    }

    // Engine steps of roughly 25 ms each.
    const steps = Math.max(1, Math.round(dt * 40));
    const perStep = stepTokens / steps;
    const iter = this.hist('vllm:iteration_tokens_total');
    for (let s = 0; s < steps; s++) iter.observe(Math.max(1, Math.round(perStep * (0.7 + 0.6 * rng.next()))));

    this.running = this.active.length + this.apiRunning;
    this.waiting = this.queue.length + this.apiWaiting;
    this.kvUsage = Math.min(1, this.kvTokens() / p.kvCapacityTokens);
  }

  private kvTokens(): number {
    let t = 0;
    for (const r of this.active) t += r.prompt + r.generated;
    return t;
  }

  private finish(r: Request, now: number): void {
    const generated = Math.max(1, Math.round(r.target));
    const queue = Math.max(0, r.startedAt - r.arrival);
    const prefill = Math.max(1e-4, r.firstTokenAt - r.startedAt);
    const decode = Math.max(0, now - r.firstTokenAt);
    // vLLM observes every inter-token interval; one per 16 tokens keeps it cheap.
    const perToken = generated > 1 ? decode / (generated - 1) : 0;
    const interTokenSeconds = generated > 1 ? Array.from({ length: Math.ceil((generated - 1) / 16) }, () => perToken * (0.9 + 0.2 * this.rng.next())) : [];
    this.record({ prompt: r.prompt, generated, maxTokens: r.maxTokens, reason: r.reason, queue, prefill, decode, interTokenSeconds }, false);
  }

  /**
   * One finished request into the metrics, as vLLM's logger does it (TTFT = queue + prefill,
   * e2e = TTFT + decode). `counted` adds its tokens and request parameters too: the
   * simulated load counts those as it goes, an API request when it ends.
   */
  record(f: Finished, counted = true): void {
    if (counted) {
      this.add('vllm:prompt_tokens', f.prompt);
      this.add('vllm:generation_tokens', f.generated);
      this.hist('vllm:request_params_n').observe(1);
      this.hist('vllm:request_params_max_tokens').observe(f.maxTokens);
      this.hist('vllm:request_max_num_generation_tokens').observe(f.maxTokens);
    }
    const ttft = f.queue + f.prefill;
    this.success[f.reason]++;
    this.hist('vllm:request_prompt_tokens').observe(f.prompt);
    this.hist('vllm:request_generation_tokens').observe(f.generated);
    this.hist('vllm:time_to_first_token_seconds').observe(ttft);
    this.hist('vllm:request_queue_time_seconds').observe(f.queue);
    this.hist('vllm:request_prefill_time_seconds').observe(f.prefill);
    this.hist('vllm:request_decode_time_seconds').observe(f.decode);
    this.hist('vllm:request_inference_time_seconds').observe(f.prefill + f.decode);
    this.hist('vllm:e2e_request_latency_seconds').observe(ttft + f.decode);
    this.hist('vllm:time_per_prefill_token_request_seconds').observe(f.prefill / Math.max(1, f.prompt));
    const tpot = this.hist('vllm:time_per_output_token_seconds');
    for (const s of f.interTokenSeconds) tpot.observe(s);
  }
}

function clamp(v: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, v));
}

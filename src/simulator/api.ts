/**
 * The simulator's OpenAI-compatible API: /v1/chat/completions and /v1/completions,
 * streaming or not, shaped like vLLM's answers. Each request is served in real
 * time by the engine's load model (a queue when every sequence slot is taken,
 * prefill per prompt token, decode per output token), and what it took is both
 * observed into /metrics, exactly as vLLM's logger would, and kept as the
 * request's ground truth (GET /sim/requests), so tests can hold a measurement of
 * any request against what really happened.
 *
 * Like vLLM: `stream_options.include_usage` adds a last chunk with `usage`;
 * started with per-request metrics on, a request with `"include_metrics": true`
 * gets vLLM's own `metrics` object (vLLM PR #46768; DESIGN.md), left out where
 * n > 1; a client that goes away aborts the request (`finished_reason="abort"`).
 */
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { SimulatedApiError } from '../errors.js';
import type { EngineState } from './engine.js';
import type { Simulator } from './simulator.js';

/**
 * Sleep until a moment of performance.now(). Timers run in whole milliseconds and may wake a
 * little early, so a per-token sleep of 2.5 ms drifts short; aiming at absolute deadlines keeps
 * the simulated prefill and decode times what the options say, however many tokens.
 */
async function sleepUntil(deadline: number, signal: AbortSignal): Promise<void> {
  for (let left = deadline - performance.now(); left > 0; left = deadline - performance.now()) {
    await sleep(Math.max(1, Math.ceil(left)), undefined, { signal });
  }
}

export interface ApiOptions {
  /** Decode speed of one sequence, output tokens per second. */
  decodeTokensPerSecond: number;
  /** Prefill speed, prompt tokens per second. */
  prefillTokensPerSecond: number;
  /** Sequences an engine runs at once; more wait in its queue. */
  maxNumSeqs: number;
  /** vLLM's --enable-per-request-metrics. */
  perRequestMetrics: boolean;
  /** vLLM's --enable-force-include-usage. */
  forceIncludeUsage: boolean;
}

export const DEFAULT_API_OPTIONS: ApiOptions = {
  decodeTokensPerSecond: 60,
  prefillTokensPerSecond: 8000,
  maxNumSeqs: 256,
  perRequestMetrics: false,
  forceIncludeUsage: false,
};

/** What the simulator did for one request: the ground truth. Times in seconds. */
export interface ServedRequest {
  id: string;
  endpoint: 'chat' | 'completions';
  model: string;
  engine: string;
  stream: boolean;
  arrival: number;
  promptTokens: number;
  completionTokens: number;
  finishReason: 'stop' | 'length' | 'abort';
  queue: number;
  prefill: number;
  decode: number;
  ttft: number;
  e2e: number;
  cancelled: boolean;
}

interface Body {
  model?: unknown;
  messages?: unknown;
  prompt?: unknown;
  max_tokens?: unknown;
  max_completion_tokens?: unknown;
  n?: unknown;
  stream?: unknown;
  stream_options?: { include_usage?: unknown };
  include_metrics?: unknown;
}

export const newRequestId = (endpoint: ServedRequest['endpoint']) => `${endpoint === 'chat' ? 'chatcmpl' : 'cmpl'}-${randomBytes(12).toString('hex')}`;

/** About four characters a token, as tokenizers average on English text. */
export const countTokens = (text: string): number => Math.max(1, Math.ceil(text.length / 4));

/** A stable pseudo-random natural answer length for a prompt, so runs repeat. */
function naturalLength(prompt: string): number {
  let h = 2166136261;
  for (let i = 0; i < prompt.length; i++) h = Math.imul(h ^ prompt.charCodeAt(i), 16777619);
  return 8 + ((h >>> 0) % 120);
}

function promptText(endpoint: ServedRequest['endpoint'], body: Body): string {
  if (endpoint === 'chat') {
    if (!Array.isArray(body.messages) || body.messages.length === 0)
      throw new SimulatedApiError(400, 'BadRequestError', '`messages` must be a non-empty array');
    return body.messages
      .map((m) => (typeof (m as { content?: unknown })?.content === 'string' ? (m as { content: string }).content : JSON.stringify(m)))
      .join('\n');
  }
  if (typeof body.prompt === 'string') return body.prompt;
  if (Array.isArray(body.prompt) && body.prompt.length === 1 && typeof body.prompt[0] === 'string') return body.prompt[0];
  throw new SimulatedApiError(400, 'BadRequestError', '`prompt` must be a string');
}

export class SimulatorApi {
  readonly options: ApiOptions;
  /** Ground truth of every request served, by id, oldest first (bounded). */
  readonly served = new Map<string, ServedRequest>();
  readonly #sim: Simulator;
  readonly #next = new Map<string, number>();
  readonly #slots = new Map<EngineState, { running: number; queue: Array<() => void> }>();

  constructor(sim: Simulator, options: Partial<ApiOptions> = {}) {
    this.#sim = sim;
    this.options = { ...DEFAULT_API_OPTIONS, ...options };
  }

  get models(): string[] {
    return [...new Set(this.#sim.engines.map((e) => e.model))];
  }

  /** Round robin over the model's data-parallel engines, as vLLM's DP coordinator spreads load. */
  #engineFor(model: string): EngineState {
    const engines = this.#sim.engines.filter((e) => e.model === model);
    if (engines.length === 0) throw new SimulatedApiError(404, 'NotFoundError', `The model \`${model}\` does not exist.`);
    const i = this.#next.get(model) ?? 0;
    this.#next.set(model, i + 1);
    return engines[i % engines.length]!;
  }

  async #acquire(engine: EngineState, signal: AbortSignal): Promise<void> {
    let s = this.#slots.get(engine);
    if (!s) this.#slots.set(engine, (s = { running: 0, queue: [] }));
    if (s.running < this.options.maxNumSeqs) {
      s.running++;
      return;
    }
    engine.apiWaiting++;
    this.#sim.changed();
    try {
      await new Promise<void>((resolve, reject) => {
        const go = () => {
          signal.removeEventListener('abort', drop);
          resolve();
        };
        const drop = () => {
          s.queue.splice(s.queue.indexOf(go), 1);
          reject(signal.reason);
        };
        s.queue.push(go);
        signal.addEventListener('abort', drop, { once: true });
      });
      s.running++;
    } finally {
      engine.apiWaiting--;
    }
  }

  #release(engine: EngineState): void {
    const s = this.#slots.get(engine)!;
    s.running--;
    s.queue.shift()?.();
  }

  /** Serve one request; `emit` gets each output token's text as it is generated. */
  async serve(
    endpoint: ServedRequest['endpoint'],
    body: Body,
    stream: boolean,
    signal: AbortSignal,
    emit: (text: string, index: number) => void,
    id = newRequestId(endpoint),
  ): Promise<ServedRequest> {
    const model = typeof body.model === 'string' ? body.model : this.models[0]!;
    const prompt = promptText(endpoint, body);
    const maxRaw = body.max_completion_tokens ?? body.max_tokens ?? 16;
    if (typeof maxRaw !== 'number' || !Number.isInteger(maxRaw) || maxRaw < 1)
      throw new SimulatedApiError(400, 'BadRequestError', '`max_tokens` must be a positive integer');
    const engine = this.#engineFor(model);
    const promptTokens = countTokens(prompt);
    const natural = naturalLength(prompt);
    const target = Math.min(natural, maxRaw);
    const arrival = Date.now() / 1000;
    const t0 = performance.now();
    const record: ServedRequest = {
      id,
      endpoint,
      model,
      engine: engine.engine,
      stream,
      arrival,
      promptTokens,
      completionTokens: 0,
      finishReason: natural > maxRaw ? 'length' : 'stop',
      queue: 0,
      prefill: 0,
      decode: 0,
      ttft: 0,
      e2e: 0,
      cancelled: false,
    };
    const o = this.options;
    let admitted = false;
    let tQueued = t0;
    let tFirst = t0;
    const itl: number[] = [];
    try {
      await this.#acquire(engine, signal);
      admitted = true;
      engine.apiRunning++;
      this.#sim.changed();
      tQueued = performance.now();
      await sleepUntil(tQueued + (promptTokens / o.prefillTokensPerSecond) * 1000, signal);
      tFirst = performance.now();
      let last = tFirst;
      for (let i = 0; i < target; i++) {
        if (i > 0) {
          await sleepUntil(tFirst + (i * 1000) / o.decodeTokensPerSecond, signal);
          const now = performance.now();
          itl.push((now - last) / 1000);
          last = now;
        }
        emit(`tok${i} `, i);
        record.completionTokens++;
      }
    } catch (err) {
      if (!signal.aborted) throw err;
      record.cancelled = true;
      record.finishReason = 'abort';
    } finally {
      const end = performance.now();
      record.queue = (tQueued - t0) / 1000;
      record.prefill = Math.max(0, ((record.completionTokens > 0 ? tFirst : end) - tQueued) / 1000);
      record.decode = record.completionTokens > 0 ? (end - tFirst) / 1000 : 0;
      record.ttft = record.queue + record.prefill;
      record.e2e = (end - t0) / 1000;
      if (admitted) {
        engine.apiRunning--;
        this.#release(engine);
      }
      engine.record({
        prompt: promptTokens,
        generated: record.completionTokens,
        maxTokens: maxRaw,
        reason: record.finishReason,
        queue: record.queue,
        prefill: record.prefill,
        decode: record.decode,
        interTokenSeconds: itl,
      });
      this.#sim.changed();
      this.served.set(record.id, record);
      if (this.served.size > 10_000) this.served.delete(this.served.keys().next().value!);
    }
    return record;
  }

  /** vLLM's per-request `metrics` object, when it would send one. */
  perRequestMetrics(body: Body, r: ServedRequest): Record<string, number> | undefined {
    if (!this.options.perRequestMetrics || body.include_metrics !== true || (typeof body.n === 'number' && body.n > 1)) return undefined;
    return {
      time_to_first_token_ms: r.ttft * 1000,
      generation_time_ms: r.decode * 1000,
      queue_time_ms: r.queue * 1000,
      mean_itl_ms: r.completionTokens > 1 ? (r.decode * 1000) / (r.completionTokens - 1) : 0,
      tokens_per_second: r.decode > 0 ? (r.completionTokens - 1) / r.decode : 0,
    };
  }
}

const usageOf = (r: ServedRequest) => ({
  prompt_tokens: r.promptTokens,
  completion_tokens: r.completionTokens,
  total_tokens: r.promptTokens + r.completionTokens,
});

function apiError(reply: FastifyReply, err: SimulatedApiError): FastifyReply {
  return reply.code(err.status).send({ object: 'error', message: err.message, type: err.type, param: null, code: err.status });
}

/** The OpenAI routes on the simulator's server. */
export function registerSimulatorApi(app: FastifyInstance, api: SimulatorApi): void {
  const handler = (endpoint: ServedRequest['endpoint']) => async (request: FastifyRequest, reply: FastifyReply) => {
    const body = (request.body ?? {}) as Body;
    const stream = body.stream === true;
    const includeUsage = api.options.forceIncludeUsage || body.stream_options?.include_usage === true;
    const abort = new AbortController();
    // A client that goes away before the answer is complete cancels the request, as in vLLM.
    reply.raw.on('close', () => {
      if (!reply.raw.writableFinished) abort.abort(new Error('client disconnected'));
    });
    const created = Math.floor(Date.now() / 1000);
    const object = endpoint === 'chat' ? 'chat.completion' : 'text_completion';
    const id = newRequestId(endpoint);
    const chunk = (choices: unknown[], extra: Record<string, unknown> = {}) =>
      `data: ${JSON.stringify({ id, object: endpoint === 'chat' ? 'chat.completion.chunk' : 'text_completion', created, model: body.model, choices, ...extra })}\n\n`;
    try {
      if (!stream) {
        const texts: string[] = [];
        const r = await api.serve(endpoint, body, false, abort.signal, (text) => texts.push(text), id);
        if (r.cancelled) return reply;
        const content = texts.join('');
        const choice =
          endpoint === 'chat'
            ? { index: 0, message: { role: 'assistant', content }, logprobs: null, finish_reason: r.finishReason }
            : { index: 0, text: content, logprobs: null, finish_reason: r.finishReason };
        const metrics = api.perRequestMetrics(body, r);
        return reply.send({ id: r.id, object, created, model: r.model, choices: [choice], usage: usageOf(r), ...(metrics ? { metrics } : {}) });
      }
      let started = false;
      const start = () => {
        if (started) return;
        started = true;
        reply.raw.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache' });
        reply.hijack();
      };
      const r = await api.serve(
        endpoint,
        body,
        true,
        abort.signal,
        (text, i) => {
          start();
          if (i === 0 && endpoint === 'chat')
            reply.raw.write(chunk([{ index: 0, delta: { role: 'assistant', content: '' }, logprobs: null, finish_reason: null }]));
          reply.raw.write(
            chunk([
              endpoint === 'chat'
                ? { index: 0, delta: { content: text }, logprobs: null, finish_reason: null }
                : { index: 0, text, logprobs: null, finish_reason: null },
            ]),
          );
        },
        id,
      );
      // The client is gone: let the socket go too (a hijacked answer is not closed for us).
      if (r.cancelled) return void reply.raw.destroy();
      start();
      const metrics = api.perRequestMetrics(body, r);
      const last =
        endpoint === 'chat'
          ? { index: 0, delta: {}, logprobs: null, finish_reason: r.finishReason }
          : { index: 0, text: '', logprobs: null, finish_reason: r.finishReason };
      reply.raw.write(chunk([last], metrics && !includeUsage ? { metrics } : {}));
      if (includeUsage) reply.raw.write(chunk([], { usage: usageOf(r), ...(metrics ? { metrics } : {}) }));
      reply.raw.end('data: [DONE]\n\n');
    } catch (err) {
      if (err instanceof SimulatedApiError) return apiError(reply, err);
      throw err;
    }
  };
  app.post('/v1/chat/completions', handler('chat'));
  app.post('/v1/completions', handler('completions'));
  app.get('/v1/models', async () => ({ object: 'list', data: api.models.map((id) => ({ id, object: 'model', owned_by: 'vllm', max_model_len: 32768 })) }));
  app.get('/version', async () => ({ version: 'simulated' }));
  app.post('/tokenize', async (request) => {
    const body = (request.body ?? {}) as { prompt?: string };
    const n = countTokens(body.prompt ?? '');
    return { count: n, max_model_len: 32768, tokens: Array.from({ length: n }, (_, i) => i) };
  });
  app.post('/detokenize', async (request) => ({ prompt: ((request.body ?? {}) as { tokens?: number[] }).tokens?.map((t) => `tok${t}`).join(' ') ?? '' }));
  // Not vLLM's: the simulator's own record of what it did, for tests.
  app.get('/sim/requests', async () => [...api.served.values()]);
  app.get('/sim/requests/:id', async (request, reply) => {
    const r = api.served.get((request.params as { id: string }).id);
    return r ?? reply.code(404).send({ object: 'error', message: 'no such request', type: 'NotFoundError', code: 404 });
  });
}

/**
 * Watches an OpenAI-style response go by, without holding it up: `see()` gives
 * each chunk back as it is (the same Buffer object), for the caller to write on,
 * and a copy of each SSE event is
 * read for timing (first content, gaps between content chunks), `usage`,
 * `finish_reason`, the response `id` and vLLM's own `metrics` object. A
 * non-streaming answer is read at its end, up to a bound.
 *
 * With `stripUsageChunk` (the proxy asked vLLM for `include_usage` on the
 * client's behalf), the usage-only chunk is read and taken out of the stream, so
 * the client sees what it asked for; that mode re-frames events, the only one
 * that copies bytes.
 */
export interface Usage {
  prompt_tokens?: number;
  completion_tokens?: number;
  total_tokens?: number;
}

export interface Observation {
  id?: string;
  model?: string;
  finishReason?: string;
  usage?: Usage;
  /** vLLM's per-request `metrics` object (--enable-per-request-metrics, "include_metrics": true). */
  serverMetrics?: Record<string, unknown>;
  /** performance.now() of the first chunk with content. */
  firstContentAt?: number;
  /** Gaps between consecutive content chunks, ms. */
  gapsMs: number[];
  /** Content chunks seen (a token count estimate when vLLM sends no usage). */
  contentChunks: number;
  /** Characters of content, for the estimate when chunks carry several tokens. */
  contentChars: number;
}

/** Largest non-streaming answer read for its id, usage and finish reason; past it the answer only passes. */
const MAX_READ_BYTES = 4 * 1024 * 1024;

/**
 * Not a Transform: the answer is written from a `data` handler onto the raw
 * response, as /metrics does, because a Transform in a pipe cost the small-body
 * path about half its throughput there (bench/README.md).
 */
export class ResponseObserver {
  readonly observation: Observation = { gapsMs: [], contentChunks: 0, contentChars: 0 };
  readonly #sse: boolean;
  readonly #strip: boolean;
  #partial = '';
  #event: string[] = [];
  #body: Buffer[] | null = [];
  #bodyBytes = 0;
  #lastContentAt = 0;

  readonly #onBytes: ((n: number) => void) | undefined;

  constructor(options: { sse: boolean; stripUsageChunk?: boolean; onBytes?: (n: number) => void }) {
    this.#onBytes = options.onBytes;
    this.#sse = options.sse;
    this.#strip = options.sse && Boolean(options.stripUsageChunk);
  }

  /** One chunk of the answer: what to pass on (the chunk itself, or, when stripping, the events kept; null for nothing). */
  see(chunk: Buffer): Buffer | null {
    this.#onBytes?.(chunk.length);
    if (!this.#sse) {
      if (this.#body) {
        this.#bodyBytes += chunk.length;
        if (this.#bodyBytes <= MAX_READ_BYTES) this.#body.push(chunk);
        else this.#body = null;
      }
      return chunk;
    }
    const out: string[] | null = this.#strip ? [] : null;
    const text = this.#partial + chunk.toString('utf8');
    let start = 0;
    for (let nl = text.indexOf('\n', start); nl !== -1; nl = text.indexOf('\n', start)) {
      const line = text.slice(start, nl).replace(/\r$/, '');
      start = nl + 1;
      if (line === '') {
        const keep = this.#endEvent();
        if (out && keep !== null) out.push(keep);
      } else this.#event.push(line);
    }
    this.#partial = text.slice(start);
    if (!out) return chunk;
    return out.length > 0 ? Buffer.from(out.join('')) : null;
  }

  /** The answer ended: what is left to pass on (when stripping), and a non-streaming answer read whole. */
  end(): Buffer | null {
    let tail: Buffer | null = null;
    if (this.#sse) {
      if (this.#partial !== '') this.#event.push(this.#partial);
      const keep = this.#event.length > 0 ? this.#endEvent() : null;
      if (this.#strip && keep) tail = Buffer.from(keep);
    } else if (this.#body) {
      try {
        this.#read(JSON.parse(Buffer.concat(this.#body).toString('utf8')) as Record<string, unknown>, performance.now());
      } catch {
        // Not JSON (an error page): nothing to read.
      }
    }
    return tail;
  }

  /** One SSE event ended: read it; returns its text to pass on, or null to leave it out. */
  #endEvent(): string | null {
    const lines = this.#event;
    this.#event = [];
    const framed = `${lines.join('\n')}\n\n`;
    const data = lines.filter((l) => l.startsWith('data:')).map((l) => l.slice(l.startsWith('data: ') ? 6 : 5));
    if (data.length === 0 || data[0] === '[DONE]') return framed;
    let event: Record<string, unknown>;
    try {
      event = JSON.parse(data.join('\n')) as Record<string, unknown>;
    } catch {
      return framed;
    }
    const usageOnly = Array.isArray(event.choices) && event.choices.length === 0 && event.usage !== undefined;
    this.#read(event, performance.now());
    return this.#strip && usageOnly ? null : framed;
  }

  #read(event: Record<string, unknown>, now: number): void {
    const o = this.observation;
    if (typeof event.id === 'string' && o.id === undefined) o.id = event.id;
    if (typeof event.model === 'string' && o.model === undefined) o.model = event.model;
    if (event.usage && typeof event.usage === 'object') o.usage = event.usage as Usage;
    if (event.metrics && typeof event.metrics === 'object') o.serverMetrics = event.metrics as Record<string, unknown>;
    for (const c of Array.isArray(event.choices) ? (event.choices as Array<Record<string, unknown>>) : []) {
      if (typeof c.finish_reason === 'string') o.finishReason = c.finish_reason;
      const content = contentOf(c);
      if (!content || !this.#sse) continue;
      o.contentChunks++;
      o.contentChars += content.length;
      if (o.firstContentAt === undefined) o.firstContentAt = now;
      else o.gapsMs.push(now - this.#lastContentAt);
      this.#lastContentAt = now;
    }
  }
}

/** The generated text of a choice: a chat delta (content, reasoning, tool calls) or a completion's text. */
function contentOf(choice: Record<string, unknown>): string {
  const delta = choice.delta as Record<string, unknown> | undefined;
  if (delta) {
    let s = '';
    for (const key of ['content', 'reasoning_content', 'reasoning']) if (typeof delta[key] === 'string') s += delta[key] as string;
    if (Array.isArray(delta.tool_calls) && delta.tool_calls.length > 0) s += JSON.stringify(delta.tool_calls);
    return s;
  }
  return typeof choice.text === 'string' ? choice.text : '';
}

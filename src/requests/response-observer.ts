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
 * the client sees what it asked for; that mode passes on the bytes of the events
 * it keeps, as they came.
 */
import { sameBytes } from '../exposition/bytes.js';

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
const LF = 0x0a;
const CR = 0x0d;
const DATA = Buffer.from('data:');

/**
 * Not a Transform: the answer is written from a `data` handler onto the raw
 * response, as /metrics does, because a Transform in a pipe cost the small-body
 * path about half its throughput there (bench/README.md).
 *
 * Events are found on the bytes (a blank line ends one) and only their `data:`
 * payload is decoded, for JSON.parse: the answer itself is never turned into text.
 */
export class ResponseObserver {
  readonly observation: Observation = { gapsMs: [], contentChunks: 0, contentChars: 0 };
  readonly #sse: boolean;
  readonly #strip: boolean;
  /**
   * The bytes of an event not ended yet, as they came (views of the chunks): joined once, when
   * it ends, so that an event over many chunks is not copied again with each.
   */
  #parts: Buffer[] = [];
  #partBytes = 0;
  /** Bytes of the line the parts end in, and whether its first is a CR (a blank CRLF line cut after the CR). */
  #lineBytes = 0;
  #lineCR = false;
  /** An event longer than MAX_READ_BYTES: the rest of the answer passes unread. */
  #unread = false;
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
    if (this.#unread) return chunk;
    const out: Buffer[] | null = this.#strip ? [] : null;
    let event = 0;
    let line = 0;
    for (let nl = chunk.indexOf(LF); nl !== -1; nl = chunk.indexOf(LF, line)) {
      // A blank line (LF or CRLF) ends the event; the first line here may have begun in an earlier chunk.
      const carried = line === 0 ? this.#lineBytes : 0;
      const blank = carried === 0 ? nl === line || (nl === line + 1 && chunk[line] === CR) : carried === 1 && nl === 0 && this.#lineCR;
      if (blank) {
        const tail = chunk.subarray(event, nl + 1);
        const whole = this.#parts.length === 0 ? tail : Buffer.concat([...this.#parts, tail], this.#partBytes + tail.length);
        this.#parts = [];
        this.#partBytes = 0;
        const crlf = nl === line + 1 || carried === 1;
        const keep = this.#endEvent(whole, 0, whole.length - (crlf ? 2 : 1));
        if (out && keep) out.push(whole);
        event = nl + 1;
      }
      line = nl + 1;
    }
    if (line === 0) {
      if (this.#lineBytes === 0) this.#lineCR = chunk[0] === CR;
      this.#lineBytes += chunk.length;
    } else {
      this.#lineBytes = chunk.length - line;
      this.#lineCR = chunk[line] === CR;
    }
    if (event < chunk.length) {
      this.#parts.push(chunk.subarray(event));
      this.#partBytes += chunk.length - event;
      if (this.#partBytes > MAX_READ_BYTES) {
        // No event is this long: stop reading, and hold nothing back.
        this.#unread = true;
        if (out) out.push(...this.#parts);
        this.#parts = [];
      }
    }
    if (!out) return chunk;
    return out.length === 0 ? null : out.length === 1 ? out[0]! : Buffer.concat(out);
  }

  /** The answer ended: what is left to pass on (when stripping), and a non-streaming answer read whole. */
  end(): Buffer | null {
    if (this.#sse) {
      if (this.#parts.length === 0) return null;
      const rest = Buffer.concat(this.#parts, this.#partBytes);
      this.#parts = [];
      const keep = this.#endEvent(rest, 0, rest.length);
      return this.#strip && keep ? rest : null;
    }
    if (this.#body) {
      try {
        this.#read(JSON.parse(Buffer.concat(this.#body).toString('utf8')) as Record<string, unknown>, performance.now());
      } catch {
        // Not JSON (an error page): nothing to read.
      }
    }
    return null;
  }

  /** The event in buf[from, to) (its lines, the blank one not included): read it; false to leave it out. */
  #endEvent(buf: Buffer, from: number, to: number): boolean {
    let data: string | undefined;
    for (let line = from; line < to;) {
      let nl = buf.indexOf(LF, line);
      if (nl === -1 || nl > to) nl = to;
      const end = nl > line && buf[nl - 1] === CR ? nl - 1 : nl;
      if (end - line >= DATA.length && sameBytes(buf, line, DATA, 0, DATA.length)) {
        const payload = buf.toString('utf8', line + DATA.length + (buf[line + DATA.length] === 0x20 ? 1 : 0), end);
        data = data === undefined ? payload : `${data}\n${payload}`;
      }
      line = nl + 1;
    }
    if (data === undefined || data === '[DONE]') return true;
    let event: Record<string, unknown>;
    try {
      event = JSON.parse(data) as Record<string, unknown>;
    } catch {
      return true;
    }
    const usageOnly = Array.isArray(event.choices) && event.choices.length === 0 && event.usage !== undefined;
    this.#read(event, performance.now());
    return !(this.#strip && usageOnly);
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

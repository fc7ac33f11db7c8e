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
  readonly observation: Observation = { gapsMs: [], contentChunks: 0 };
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
  /**
   * The bytes around the text of the last plain content chunk read. vLLM's chunks of one
   * answer differ in that text alone (the same id, created, model and shape), so an event
   * that is these bytes around a well-formed JSON string is read without JSON.parse, which
   * was nearly all of the observer's cost (bench/README.md, "API passthrough").
   */
  #template: { head: Buffer; tail: Buffer } | undefined;

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
    /** The payload while the event has one `data:` line (the usual case): a range, not decoded yet. */
    let payloadFrom = -1;
    let payloadTo = -1;
    /** From a second `data:` line on, the payloads joined with newlines (the SSE rule). */
    let data: string | undefined;
    let lines = 0;
    for (let line = from; line < to;) {
      let nl = buf.indexOf(LF, line);
      if (nl === -1 || nl > to) nl = to;
      const end = nl > line && buf[nl - 1] === CR ? nl - 1 : nl;
      if (end - line >= DATA.length && sameBytes(buf, line, DATA, 0, DATA.length)) {
        const start = line + DATA.length + (buf[line + DATA.length] === 0x20 ? 1 : 0);
        if (++lines === 1) {
          payloadFrom = start;
          payloadTo = end;
        } else data = `${data ?? buf.toString('utf8', payloadFrom, payloadTo)}\n${buf.toString('utf8', start, end)}`;
      }
      line = nl + 1;
    }
    if (lines === 0) return true;
    if (lines === 1) {
      const match = this.#template ? this.#matches(buf, payloadFrom, payloadTo) : -1;
      if (match !== -1) {
        if (match === 1) this.#content(performance.now());
        return true;
      }
      data = buf.toString('utf8', payloadFrom, payloadTo);
    }
    if (data === undefined || data === '[DONE]') return true;
    let event: Record<string, unknown>;
    try {
      event = JSON.parse(data) as Record<string, unknown>;
    } catch {
      return true;
    }
    // `null`, a number, a list: valid JSON, but no chunk (and nothing to read).
    if (typeof event !== 'object' || event === null || Array.isArray(event)) return true;
    const usageOnly = Array.isArray(event.choices) && event.choices.length === 0 && event.usage !== undefined;
    this.#read(event, performance.now());
    if (lines === 1) this.#learn(event, buf, payloadFrom, payloadTo);
    return !(this.#strip && usageOnly);
  }

  #read(event: Record<string, unknown>, now: number): void {
    const o = this.observation;
    if (typeof event.id === 'string' && o.id === undefined) o.id = event.id;
    if (typeof event.model === 'string' && o.model === undefined) o.model = event.model;
    if (event.usage && typeof event.usage === 'object') o.usage = event.usage as Usage;
    if (event.metrics && typeof event.metrics === 'object') o.serverMetrics = event.metrics as Record<string, unknown>;
    for (const c of Array.isArray(event.choices) ? (event.choices as Array<Record<string, unknown>>) : []) {
      if (typeof c !== 'object' || c === null) continue;
      if (typeof c.finish_reason === 'string') o.finishReason = c.finish_reason;
      const content = contentOf(c);
      if (!content || !this.#sse) continue;
      this.#content(now);
    }
  }

  /** A chunk with content, at `now`. */
  #content(now: number): void {
    const o = this.observation;
    o.contentChunks++;
    if (o.firstContentAt === undefined) o.firstContentAt = now;
    else o.gapsMs.push(now - this.#lastContentAt);
    this.#lastContentAt = now;
  }

  /**
   * After `event` (the payload at buf[from, to), parsed) was read: if it is a plain content
   * chunk (one choice, its text the only thing in it that is read), the bytes before and
   * after that text become the template later events are matched against.
   */
  #learn(event: Record<string, unknown>, buf: Buffer, from: number, to: number): void {
    this.#template = undefined;
    if (event.usage || event.metrics !== undefined || !Array.isArray(event.choices) || event.choices.length !== 1) return;
    const c = event.choices[0] as Record<string, unknown>;
    if (typeof c !== 'object' || c === null || typeof c.finish_reason === 'string') return;
    // As contentOf reads it: a delta (chat) when there is one, else the choice's text (completions).
    let key: Buffer;
    let text: unknown;
    if (c.delta) {
      const delta = c.delta as Record<string, unknown>;
      if (typeof delta !== 'object') return;
      for (const other of ['reasoning_content', 'reasoning', 'tool_calls']) if (delta[other] !== undefined) return;
      key = CONTENT_KEY;
      text = delta.content;
    } else {
      key = TEXT_KEY;
      text = c.text;
    }
    if (typeof text !== 'string' || text === '') return;
    const open = onlyStringValueOf(buf, from, to, key);
    if (open === -1) return;
    const close = stringEnd(buf, open + 1, to);
    // The one string under that key is the text read (so the bytes between the two are it).
    if (close === -1 || JSON.parse(buf.toString('utf8', open, close + 1)) !== text) return;
    // Copies: the chunk these bytes are in is passed on and should not be kept alive by us.
    this.#template = { head: Buffer.from(buf.subarray(from, open + 1)), tail: Buffer.from(buf.subarray(close, to)) };
  }

  /**
   * Whether the payload at buf[from, to) is the template around a well-formed JSON string:
   * then it is the same document as the one learned but for that text, and a content chunk
   * when the text is not empty. Returns 1 for content, 0 for an empty text, -1 for no match.
   */
  #matches(buf: Buffer, from: number, to: number): number {
    const t = this.#template!;
    const start = from + t.head.length;
    const end = to - t.tail.length;
    // Native compares: the head is most of a chunk (~180 bytes), too long for a loop here.
    if (end < start || t.head.compare(buf, from, start) !== 0 || t.tail.compare(buf, end, to) !== 0) return -1;
    return isStringBody(buf, start, end) ? (end > start ? 1 : 0) : -1;
  }
}

const CONTENT_KEY = Buffer.from('"content"');
const TEXT_KEY = Buffer.from('"text"');

/**
 * Where the string value of `key` opens (its quote) in the JSON at buf[from, to), if it is
 * the only string under that key there; else -1. The quoted key's bytes followed by a colon
 * can only be structure (inside a string every quote is escaped); logprobs' "content" is an
 * array, not a string.
 */
function onlyStringValueOf(buf: Buffer, from: number, to: number, key: Buffer): number {
  let found = -1;
  for (let at = buf.indexOf(key, from); at !== -1 && at < to; at = buf.indexOf(key, at + 1)) {
    let i = at + key.length;
    while (i < to && isJsonWs(buf[i]!)) i++;
    if (buf[i] !== 0x3a) continue;
    i++;
    while (i < to && isJsonWs(buf[i]!)) i++;
    if (i < to && buf[i] === 0x22) {
      if (found !== -1) return -1;
      found = i;
    }
  }
  return found;
}

/** Whether buf[from, to) is the inside of a JSON string JSON.parse takes: no bare quote or control character, only the format's escapes. */
function isStringBody(buf: Buffer, from: number, to: number): boolean {
  for (let i = from; i < to; i++) {
    const c = buf[i]!;
    if (c === 0x22 || c < 0x20) return false;
    if (c !== 0x5c) continue;
    const e = buf[++i];
    if (e === 0x75) {
      if (i + 4 >= to) return false;
      for (let k = 1; k <= 4; k++) if (!isHex(buf[i + k]!)) return false;
      i += 4;
    } else if (i >= to || !ESCAPES.has(e!)) return false;
  }
  return true;
}

const ESCAPES = new Set([0x22, 0x5c, 0x2f, 0x62, 0x66, 0x6e, 0x72, 0x74]);
const isHex = (c: number) => (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66);

/** The closing quote of a JSON string whose text starts at `from` (escapes skipped), before `to`; -1 if none. */
function stringEnd(buf: Buffer, from: number, to: number): number {
  for (let i = from; i < to; i++) {
    const c = buf[i];
    if (c === 0x22) return i;
    if (c === 0x5c) i++;
  }
  return -1;
}

const isJsonWs = (c: number) => c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d;

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

/**
 * Watches an OpenAI-style response go by, without holding it up: the chunks pass
 * through as they are (the same Buffer objects), and a copy of each SSE event is
 * read for timing (first content, gaps between content chunks), `usage`,
 * `finish_reason`, the response `id` and vLLM's own `metrics` object. A
 * non-streaming answer is read at its end, up to a bound.
 *
 * With `stripUsageChunk` (the proxy asked vLLM for `include_usage` on the
 * client's behalf), the usage-only chunk is read and taken out of the stream, so
 * the client sees what it asked for; that mode re-frames events, the only one
 * that copies bytes.
 */
import { Transform } from 'node:stream';
/** Largest non-streaming answer read for its id, usage and finish reason; past it the answer only passes. */
const MAX_READ_BYTES = 4 * 1024 * 1024;
export class ResponseObserver extends Transform {
    observation = { gapsMs: [], contentChunks: 0, contentChars: 0 };
    #sse;
    #strip;
    #partial = '';
    #event = [];
    #body = [];
    #bodyBytes = 0;
    #lastContentAt = 0;
    #onBytes;
    constructor(options) {
        super();
        this.#onBytes = options.onBytes;
        this.#sse = options.sse;
        this.#strip = options.sse && Boolean(options.stripUsageChunk);
    }
    _transform(chunk, _enc, done) {
        this.#onBytes?.(chunk.length);
        if (!this.#sse) {
            if (this.#body) {
                this.#bodyBytes += chunk.length;
                if (this.#bodyBytes <= MAX_READ_BYTES)
                    this.#body.push(chunk);
                else
                    this.#body = null;
            }
            return done(null, chunk);
        }
        const out = this.#strip ? [] : null;
        const text = this.#partial + chunk.toString('utf8');
        let start = 0;
        for (let nl = text.indexOf('\n', start); nl !== -1; nl = text.indexOf('\n', start)) {
            const line = text.slice(start, nl).replace(/\r$/, '');
            start = nl + 1;
            if (line === '') {
                const keep = this.#endEvent();
                if (out && keep !== null)
                    out.push(keep);
            }
            else
                this.#event.push(line);
        }
        this.#partial = text.slice(start);
        if (!out)
            return done(null, chunk);
        return done(null, out.length > 0 ? Buffer.from(out.join('')) : undefined);
    }
    _flush(done) {
        if (this.#sse) {
            if (this.#partial !== '')
                this.#event.push(this.#partial);
            const keep = this.#event.length > 0 ? this.#endEvent() : null;
            if (this.#strip && keep)
                this.push(keep);
        }
        else if (this.#body) {
            try {
                this.#read(JSON.parse(Buffer.concat(this.#body).toString('utf8')), performance.now());
            }
            catch {
                // Not JSON (an error page): nothing to read.
            }
        }
        done();
    }
    /** One SSE event ended: read it; returns its text to pass on, or null to leave it out. */
    #endEvent() {
        const lines = this.#event;
        this.#event = [];
        const framed = `${lines.join('\n')}\n\n`;
        const data = lines.filter((l) => l.startsWith('data:')).map((l) => l.slice(l.startsWith('data: ') ? 6 : 5));
        if (data.length === 0 || data[0] === '[DONE]')
            return framed;
        let event;
        try {
            event = JSON.parse(data.join('\n'));
        }
        catch {
            return framed;
        }
        const usageOnly = Array.isArray(event.choices) && event.choices.length === 0 && event.usage !== undefined;
        this.#read(event, performance.now());
        return this.#strip && usageOnly ? null : framed;
    }
    #read(event, now) {
        const o = this.observation;
        if (typeof event.id === 'string' && o.id === undefined)
            o.id = event.id;
        if (typeof event.model === 'string' && o.model === undefined)
            o.model = event.model;
        if (event.usage && typeof event.usage === 'object')
            o.usage = event.usage;
        if (event.metrics && typeof event.metrics === 'object')
            o.serverMetrics = event.metrics;
        for (const c of Array.isArray(event.choices) ? event.choices : []) {
            if (typeof c.finish_reason === 'string')
                o.finishReason = c.finish_reason;
            const content = contentOf(c);
            if (!content || !this.#sse)
                continue;
            o.contentChunks++;
            o.contentChars += content.length;
            if (o.firstContentAt === undefined)
                o.firstContentAt = now;
            else
                o.gapsMs.push(now - this.#lastContentAt);
            this.#lastContentAt = now;
        }
    }
}
/** The generated text of a choice: a chat delta (content, reasoning, tool calls) or a completion's text. */
function contentOf(choice) {
    const delta = choice.delta;
    if (delta) {
        let s = '';
        for (const key of ['content', 'reasoning_content', 'reasoning'])
            if (typeof delta[key] === 'string')
                s += delta[key];
        if (Array.isArray(delta.tool_calls) && delta.tool_calls.length > 0)
            s += JSON.stringify(delta.tool_calls);
        return s;
    }
    return typeof choice.text === 'string' ? choice.text : '';
}

import { Transform } from 'node:stream';
import { UpstreamGarbage, UpstreamTooLarge } from '../errors.js';
import { NameSanitizer } from './sanitizer.js';
/**
 * The checks and the sanitizer every consumer of an upstream body runs, with no
 * stream attached: the Transform below and the metrics route's direct relay
 * share it. Refuses a body that cannot be an exposition at all (HTML error
 * pages, binary): a text exposition starts, after optional whitespace, with
 * '#', a metric name, or '{'.
 */
export class SanitizingWriter {
    bytes = 0;
    sanitizer;
    /** A first non-whitespace byte that may start an exposition was seen. */
    sawContent = false;
    maxBytes;
    onInput;
    constructor(options) {
        this.maxBytes = options.maxBytes;
        this.onInput = options.onInput;
        this.sanitizer = new NameSanitizer({ onCollision: options.onCollision });
    }
    /** Sanitizes `chunk` (in place) into `out`; returns the error that ends the body instead of throwing. */
    write(chunk, out) {
        this.bytes += chunk.length;
        this.onInput?.(chunk.length);
        if (this.bytes > this.maxBytes)
            return UpstreamTooLarge(this.maxBytes);
        if (!this.sawContent) {
            const bad = firstContentProblem(chunk);
            if (bad)
                return UpstreamGarbage(bad);
            this.sawContent = bad === ''; // null: only whitespace so far
        }
        this.sanitizer.write(chunk, out);
        return undefined;
    }
    end(out) {
        this.sanitizer.end(out);
    }
}
/** The sanitizer as a Transform, for consumers that want a stream. */
export class SanitizeStream extends Transform {
    writer;
    /**
     * Settles when the first output is ready (or the body ended): until then the
     * caller can still answer with an error status instead of a broken 200.
     */
    started;
    settled = false;
    settleWith;
    out = [];
    constructor(options) {
        super();
        this.writer = new SanitizingWriter(options);
        this.started = new Promise((resolve, reject) => {
            this.settleWith = (err) => (err ? reject(err) : resolve());
        });
        this.started.catch(() => { }); // observed by the caller or not at all
    }
    get bytes() {
        return this.writer.bytes;
    }
    get sanitizer() {
        return this.writer.sanitizer;
    }
    _destroy(err, callback) {
        // (An Error costs a stack trace: only made when someone still waits.)
        if (!this.settled)
            this.settle(err ?? new Error('stream closed before any output'));
        callback(err);
    }
    settle(err) {
        if (this.settled)
            return;
        this.settled = true;
        this.settleWith(err);
    }
    _transform(chunk, _encoding, callback) {
        const out = this.out;
        const err = this.writer.write(chunk, out);
        if (err)
            return callback(err);
        for (let i = 0; i < out.length; i++)
            this.push(out[i]);
        out.length = 0;
        if (this.writer.sawContent)
            this.settle();
        callback();
    }
    _flush(callback) {
        const out = this.out;
        this.writer.end(out);
        for (let i = 0; i < out.length; i++)
            this.push(out[i]);
        out.length = 0;
        this.settle();
        callback();
    }
}
/** '' if the first non-whitespace byte may start an exposition, null if there is none yet, else why not. */
export function firstContentProblem(chunk) {
    for (let i = 0; i < chunk.length; i++) {
        const b = chunk[i];
        if (b === 0x20 || b === 0x09 || b === 0x0a || b === 0x0d)
            continue;
        const ok = b === 0x23 || b === 0x7b || b === 0x5f || b === 0x3a || (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a);
        if (ok)
            return '';
        const text = chunk.subarray(i, i + 24).toString('latin1').replace(/[^\x20-\x7e]/g, '.');
        return `starts with "${text}"`;
    }
    return null;
}

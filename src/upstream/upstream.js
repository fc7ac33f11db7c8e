import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { SanitizeStream } from '../exposition/sanitize-stream.js';
import { createDispatcher } from './dispatcher.js';
import { fetchUpstream } from './fetch.js';
import { parseUpstream } from './target.js';
/** One upstream /metrics endpoint: how to reach it and how it has been answering. */
export class Upstream {
    target;
    options;
    dispatcher;
    lastSuccessAt = 0;
    lastError;
    probing;
    constructor(options) {
        this.options = options;
        this.target = parseUpstream(options.url, options.token);
        this.dispatcher = createDispatcher({ caFile: options.caFile, insecure: options.insecure }, options.timeoutMs);
    }
    /** Start a scrape (the deadline is the configured timeout unless a shorter one is given); `cancel` aborts it while the headers are awaited (the client left). */
    open(accept, timeoutMs = this.options.timeoutMs, cancel) {
        this.options.onFetch?.();
        return fetchUpstream({
            cancel,
            target: this.target,
            dispatcher: this.dispatcher,
            timeoutMs: Math.min(timeoutMs, this.options.timeoutMs),
            maxBodyBytes: this.options.maxBodyBytes,
            accept,
            acceptGzip: this.options.gzip,
        });
    }
    recordSuccess() {
        this.lastSuccessAt = Date.now();
        this.lastError = undefined;
    }
    recordFailure(err) {
        this.lastError = err;
        this.options.onFailure?.(err);
    }
    /**
     * Fetch the whole exposition and discard it, to learn whether the upstream
     * answers. Concurrent callers share one fetch.
     */
    probe() {
        this.probing ??= this.runProbe().finally(() => {
            this.probing = undefined;
        });
        return this.probing;
    }
    async runProbe() {
        let res;
        try {
            res = await this.open();
        }
        catch (err) {
            this.recordFailure(err);
            throw err;
        }
        const discard = new Writable({ write: (_chunk, _enc, cb) => cb() });
        try {
            await pipeline(res.body, new SanitizeStream({ maxBytes: this.options.maxBodyBytes }), discard);
        }
        catch (err) {
            const mapped = res.mapError(err);
            this.recordFailure(mapped);
            throw mapped;
        }
        this.recordSuccess();
    }
    close() {
        return this.dispatcher.close();
    }
}

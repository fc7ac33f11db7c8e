import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
const gzipAsync = promisify(gzip);
/** A whole exposition held in memory: a merged fleet scrape, or the latest poll. */
export class ExpositionSnapshot {
    body;
    contentType;
    timeMs;
    gzipped;
    /** The compressed body once made, for callers that cannot wait. */
    gzippedBody;
    constructor(body, contentType, 
    /** When the data was scraped (ms since the epoch). */
    timeMs) {
        this.body = body;
        this.contentType = contentType;
        this.timeMs = timeMs;
    }
    /** Compressed once, however many clients ask (level 1, as the streaming path). */
    gzip() {
        this.gzipped ??= gzipAsync(this.body, { level: 1 }).then((b) => (this.gzippedBody = b));
        return this.gzipped;
    }
}
export const TEXT_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

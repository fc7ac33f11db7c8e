import { promisify } from 'node:util';
import { gzip } from 'node:zlib';

const gzipAsync = promisify(gzip);

/** A whole exposition held in memory: a merged fleet scrape, or the latest poll. */
export class ExpositionSnapshot {
  private gzipped: Promise<Buffer> | undefined;
  /** The compressed body once made, for callers that cannot wait. */
  gzippedBody: Buffer | undefined;

  constructor(
    readonly body: Buffer,
    readonly contentType: string,
    /** When the data was scraped (ms since the epoch). */
    readonly timeMs: number,
  ) {}

  /** Compressed once, however many clients ask (level 1, as the streaming path). */
  gzip(): Promise<Buffer> {
    this.gzipped ??= gzipAsync(this.body, { level: 1 }).then((b) => (this.gzippedBody = b));
    return this.gzipped;
  }
}

export const TEXT_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

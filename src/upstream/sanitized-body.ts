import type { Collision } from '../exposition/sanitizer.js';
import { SanitizingWriter } from '../exposition/sanitize-stream.js';
import { ExpositionSnapshot, TEXT_CONTENT_TYPE } from '../exposition/snapshot.js';
import { readUpstream } from './scrape.js';
import type { Upstream } from './upstream.js';

/**
 * The whole sanitized exposition in memory (poll mode serves it to every
 * client). Bounded by --max-body-bytes; the sanitizer works in place, so the
 * only copy is the final concatenation.
 */
export function fetchSanitized(upstream: Upstream, onCollision?: (c: Collision) => void): Promise<ExpositionSnapshot> {
  let writer: SanitizingWriter | undefined;
  return readUpstream(
    upstream,
    undefined,
    async (res) => {
      writer = new SanitizingWriter({
        maxBytes: upstream.options.maxBodyBytes,
        onCollision,
        families: upstream.options.families,
        names: upstream.options.names,
        typeNames: upstream.wantsFamilies(),
      });
      const out: Buffer[] = [];
      for await (const chunk of res.body as AsyncIterable<Buffer>) {
        const err = writer.write(chunk, out);
        if (err) throw err;
      }
      writer.end(out);
      return new ExpositionSnapshot(Buffer.concat(out), res.contentType ?? TEXT_CONTENT_TYPE, Date.now());
    },
    () => writer?.typeNames?.names,
  );
}

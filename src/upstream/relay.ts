import type { Readable, Transform } from 'node:stream';

/**
 * `src.pipe(dst)` with pipeline's error semantics (either side failing destroys
 * the other, `done` once with the first error), minus its cost: Node's pipeline
 * aborts an internal AbortController on every completion, and the DOMException
 * that makes (with its stack trace) was a visible share of a scrape's CPU.
 */
export function relay(src: Readable, dst: Transform, done: (err?: Error) => void): void {
  let called = false;
  const end = (err?: Error) => {
    if (called) return;
    called = true;
    done(err);
  };
  src.once('error', (err) => {
    dst.destroy(err);
    end(err);
  });
  dst.once('error', (err) => {
    src.destroy();
    end(err);
  });
  dst.once('finish', () => end());
  dst.once('close', () => {
    if (!dst.writableFinished) {
      src.destroy();
      end(Object.assign(new Error('premature close'), { code: 'ERR_STREAM_PREMATURE_CLOSE' }));
    }
  });
  src.once('close', () => {
    // A source closed without ending or erroring (a torn-down socket) must fail the relay too.
    if (!src.readableEnded && !called) {
      const err = Object.assign(new Error('upstream closed before the end of the body'), { code: 'ERR_STREAM_PREMATURE_CLOSE' });
      dst.destroy(err);
      end(err);
    }
  });
  src.pipe(dst);
}

/**
 * The buffer a merged answer is written into, reused from round to round once
 * nobody reads the last answer any more.
 *
 * Why: a merged scrape of 256 one-engine targets is an answer of 11.6 MB. A
 * fresh one each round was a large allocation to fault in, and with the socket
 * reads it was the external memory that set V8 off on a mark-compact every
 * other round; reusing it (and the merge's piece arrays, piece-arena.ts) took
 * a merged scrape from ~64 to ~53 ms of CPU (bench/README.md, "2026-12-04,
 * later").
 *
 * The pool keeps one buffer: a proxy runs one round at a time, and a round
 * whose answer is still being written to a slow client makes the next round
 * take a fresh one. Only a buffer given back may be reused, so a reader that
 * never gives its answer back (the poller, which keeps it as its latest)
 * costs a fresh allocation a round, never a body overwritten under a reader.
 */
export class AnswerPool {
  #idle: ArrayBuffer | undefined;

  /** A Buffer of exactly `bytes`: a view of the kept buffer if it is large enough and not much larger. */
  take(bytes: number): Buffer {
    const idle = this.#idle;
    this.#idle = undefined;
    // A fleet that shrank a lot lets its old buffer go instead of keeping four times what it needs.
    if (idle && idle.byteLength >= bytes && idle.byteLength <= 4 * bytes + 65536) return Buffer.from(idle, 0, bytes);
    // Room to spare: the next rounds' answers differ by their values' digits.
    return Buffer.allocUnsafeSlow(bytes + (bytes >> 4)).subarray(0, bytes);
  }

  /** An answer `take` gave is no longer read by anyone. */
  give(answer: Buffer): void {
    const buffer = answer.buffer as ArrayBuffer;
    if (answer.byteOffset !== 0) return; // not one of ours: it may share its memory
    if (!this.#idle || this.#idle.byteLength < buffer.byteLength) this.#idle = buffer;
  }
}

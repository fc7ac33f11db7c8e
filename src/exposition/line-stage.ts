/**
 * A stage of the streaming path that decides line by line, on bytes: the lines it passes go
 * out as slices of the input chunk (no copy), and only a line cut by a chunk boundary is held
 * and joined. The family filter (`--keep`/`--drop`) and the renamer (`--names`) are such stages.
 */
const NL = 0x0a;

export abstract class LineStage {
  /** The start of an unfinished line, from earlier chunks. */
  #held: Buffer[] = [];

  /**
   * Whether the complete line buf[start, end) goes out where it is; `lineEnd` is past its
   * newline (equal to `end` for a last line without one).
   */
  protected abstract line(buf: Buffer, start: number, end: number, lineEnd: number): boolean;

  /** The passed parts of `chunk` into `out`, as slices of it; an unfinished last line is held. */
  write(chunk: Buffer, out: Buffer[]): void {
    let from = 0;
    if (this.#held.length > 0) {
      const nl = chunk.indexOf(NL);
      if (nl < 0) {
        this.#held.push(chunk);
        return;
      }
      const line = Buffer.concat([...this.#held, chunk.subarray(0, nl + 1)]);
      this.#held = [];
      if (this.line(line, 0, line.length - 1, line.length)) out.push(line);
      from = nl + 1;
    }
    let emit = from;
    let at = from;
    for (;;) {
      const nl = chunk.indexOf(NL, at);
      if (nl < 0) break;
      if (!this.line(chunk, at, nl, nl + 1)) {
        if (at > emit) out.push(chunk.subarray(emit, at));
        emit = nl + 1;
      }
      at = nl + 1;
    }
    if (at > emit) out.push(chunk.subarray(emit, at));
    if (at < chunk.length) this.#held.push(chunk.subarray(at));
  }

  /** The last line, when the body does not end with a newline: it, when it went out. */
  protected endLine(out: Buffer[]): Buffer | undefined {
    if (this.#held.length === 0) return undefined;
    const line = Buffer.concat(this.#held);
    this.#held = [];
    if (!this.line(line, 0, line.length, line.length)) return undefined;
    out.push(line);
    return line;
  }

  end(out: Buffer[]): void {
    this.endLine(out);
  }
}

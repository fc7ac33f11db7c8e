/**
 * Lines the proxy adds at the end of an exposition it relays (its saturation
 * gauges). The end of an OpenMetrics exposition is `# EOF`, after which
 * nothing may follow, and a relayed body is streamed: so the few bytes that
 * could be the start of `# EOF` are held back from each chunk's output until
 * the next chunk (or the end) shows what they are. Classic text has no
 * `# EOF` and gets the lines appended.
 */

const EOF_LINE = '# EOF';
/** Longest tail that may still be held: `# EOF\r\n`. */
const MAX_HELD = EOF_LINE.length + 2;
const NL = 0x0a;

export class ExpositionTrailer {
  private held: Buffer | undefined;
  /** Whether the output so far ends a line (or is empty): the next byte starts one. */
  private atLineStart = true;

  /** `lines()` is asked at the end of each body: the newest values, or '' for nothing. */
  constructor(private readonly lines: () => string) {}

  /** After a chunk's output was appended to `out` from index `start`: hold back a possible `# EOF` line. */
  afterWrite(out: Buffer[], start: number): void {
    if (this.held) {
      out.splice(start, 0, this.held);
      this.held = undefined;
    }
    let total = 0;
    for (let i = start; i < out.length; i++) total += out[i]!.length;
    if (total === 0) return;
    const tail = lastBytes(out, start, Math.min(MAX_HELD, total));
    const hold = eofPrefixLength(tail, tail.length === total ? this.atLineStart : false);
    if (hold > 0) {
      this.held = Buffer.from(tail.subarray(tail.length - hold));
      dropLast(out, start, hold);
    }
    const last = out.length > start ? out[out.length - 1]! : undefined;
    if (last && last.length) this.atLineStart = last[last.length - 1] === NL;
  }

  /** At the end of the body (after the last output was appended from `start`): the lines, before `# EOF` if there is one. */
  end(out: Buffer[], start: number): void {
    const lineStart = this.atLineStart;
    const rest = Buffer.concat([...(this.held ? [this.held] : []), ...out.splice(start)]);
    this.held = undefined;
    const extra = this.lines();
    const text = rest.toString('latin1');
    const m = /(?:^|\n)# EOF\r?\n?$/.exec(text);
    const eofAt = m && (m.index > 0 || text[0] === '\n' || lineStart) ? m.index + (text[m.index] === '\n' ? 1 : 0) : -1;
    if (!extra) {
      if (rest.length) out.push(rest);
      return;
    }
    const before = eofAt >= 0 ? rest.subarray(0, eofAt) : rest;
    const after = eofAt >= 0 ? rest.subarray(eofAt) : undefined;
    if (before.length) out.push(before);
    const endsLine = before.length ? before[before.length - 1] === NL : lineStart;
    out.push(Buffer.from(`${endsLine ? '' : '\n'}${extra}`));
    if (after) out.push(after);
  }
}

/** The last `n` bytes of out[start..], as one buffer. */
function lastBytes(out: Buffer[], start: number, n: number): Buffer {
  const parts: Buffer[] = [];
  let need = n;
  for (let i = out.length - 1; i >= start && need > 0; i--) {
    const b = out[i]!;
    parts.unshift(b.length <= need ? b : b.subarray(b.length - need));
    need -= Math.min(need, b.length);
  }
  return parts.length === 1 ? parts[0]! : Buffer.concat(parts);
}

function dropLast(out: Buffer[], start: number, n: number): void {
  let left = n;
  while (left > 0 && out.length > start) {
    const b = out[out.length - 1]!;
    if (b.length <= left) {
      out.pop();
      left -= b.length;
    } else {
      out[out.length - 1] = b.subarray(0, b.length - left);
      left = 0;
    }
  }
}

/**
 * How many bytes at the end of `tail` may be (the start of) a last line `# EOF`:
 * the bytes after the last line break before them, when they spell a prefix of
 * `# EOF`, optionally completed by `\r\n` or `\n`. `startsLine`: the tail's first
 * byte starts a line (the body began there).
 */
function eofPrefixLength(tail: Buffer, startsLine: boolean): number {
  let end = tail.length;
  if (end && tail[end - 1] === NL) end--;
  if (end && tail[end - 1] === 0x0d) end--;
  let from = end;
  while (from > 0 && tail[from - 1] !== NL) from--;
  if (from === 0 && !startsLine) return 0;
  const line = tail.toString('latin1', from, end);
  if (line.length === 0 && end === tail.length) return 0;
  const complete = end < tail.length;
  if (complete ? line !== EOF_LINE : !EOF_LINE.startsWith(line)) return 0;
  return tail.length - from;
}

/** A whole body held in memory, with the lines added (before its `# EOF`, if any). */
export function withTrailer(body: Buffer, lines: string): Buffer {
  if (!lines) return body;
  const out = [body];
  const t = new ExpositionTrailer(() => lines);
  t.afterWrite(out, 0);
  t.end(out, out.length);
  return Buffer.concat(out);
}

/**
 * The family names of an exposition's `# TYPE` lines, found beside the sanitizer without
 * touching it: one native `indexOf` pass per chunk, and a carry of at most one short line
 * across a chunk boundary. What the rename watch (src/names/renames.ts) compares scrape to
 * scrape. The names are as the upstream writes them (colons included).
 */
const TYPE = Buffer.from('# TYPE ');
const NL = 0x0a;
/** A TYPE line longer than this is not a family name the table knows: dropped, not carried. */
const MAX_LINE = 512;

/** The name at the start of what follows `# TYPE ` (Prometheus 3 quotes one: `"vllm:x"`). */
const typedName = (rest: string) => (rest.startsWith('"') ? rest.slice(1, rest.indexOf('"', 1)) : rest.split(/[ \t]/, 1)[0]!);

export class TypeNameScanner {
  readonly names = new Set<string>();
  /** The start of a line the previous chunk ended in, when it may be a TYPE line. */
  private carry: Buffer | undefined;
  private atLineStart = true;

  write(chunk: Buffer): void {
    let start = 0;
    if (this.carry) {
      const nl = chunk.indexOf(NL);
      if (nl === -1) {
        this.carry = this.carry.length + chunk.length > MAX_LINE ? undefined : Buffer.concat([this.carry, chunk]);
        return;
      }
      this.line(Buffer.concat([this.carry, chunk.subarray(0, nl)]));
      this.carry = undefined;
      start = nl + 1;
      this.atLineStart = true;
    }
    for (let at = chunk.indexOf(TYPE, start); at !== -1; at = chunk.indexOf(TYPE, at + 1)) {
      if (at === 0 ? !this.atLineStart : chunk[at - 1] !== NL) continue;
      const end = chunk.indexOf(NL, at);
      if (end === -1) break; // the line goes on in the next chunk: the carry below takes it
      this.line(chunk.subarray(at, end));
    }
    const lastNl = chunk.lastIndexOf(NL);
    const tail = chunk.subarray(lastNl + 1);
    const tailAtLineStart = lastNl !== -1 || (start === 0 && this.atLineStart);
    if (tail.length > 0 && tailAtLineStart && tail.length <= MAX_LINE) {
      const n = Math.min(tail.length, TYPE.length);
      if (tail.subarray(0, n).equals(TYPE.subarray(0, n))) this.carry = Buffer.from(tail);
    }
    if (chunk.length > 0) this.atLineStart = chunk[chunk.length - 1] === NL;
  }

  /** The body ended: a last line without its newline still counts. */
  end(): void {
    if (this.carry) this.line(this.carry);
    this.carry = undefined;
  }

  private line(line: Buffer): void {
    if (line.length <= TYPE.length || line.length > MAX_LINE || !line.subarray(0, TYPE.length).equals(TYPE)) return;
    const rest = line.toString('utf8', TYPE.length).trimStart();
    // Prometheus 3's quoted names: `# TYPE "vllm:x" gauge`.
    const name = typedName(rest);
    if (name !== '') this.names.add(name);
  }
}

/** The TYPE names of a whole body (fleet mode holds each target's answer whole): the scanner's one pass, no string of the body. */
export function typeNamesOf(body: Buffer): Set<string> {
  const s = new TypeNameScanner();
  s.write(body);
  s.end();
  return s.names;
}

/**
 * `--keep GLOB` / `--drop GLOB`: keep or drop whole metric families of an exposition, matched
 * against the names as the upstream writes them (`vllm:*`, `python_gc_*`), before the
 * sanitizer renames anything. A family is kept when it matches a keep glob (or there is
 * none) and no drop glob, as Prometheus' `metric_relabel_configs` keep and drop do.
 *
 * Line by line, on bytes, for the streaming path: kept lines go out as slices of the input
 * (no copy), a dropped line is left out; only a line cut by a chunk boundary is held and
 * joined. A family's lines are its `# HELP`, `# TYPE` and `# UNIT` and its samples: a sample
 * belongs to the family of the `# TYPE` before it when its name is that name or that name
 * with a suffix of its type (`_bucket`, `_sum`, `_count`, `_created`, `_total`, `_info`,
 * `_gsum`, `_gcount`), else to the family of its own name. Blank lines, other comments and
 * OpenMetrics' `# EOF` are always kept.
 */

import { LineStage } from './line-stage.js';
import { sameBytes } from './bytes.js';

export interface FamilySelection {
  keep: string[];
  drop: string[];
}

const SUFFIXES = new Set(['_bucket', '_sum', '_count', '_created', '_total', '_info', '_gsum', '_gcount']);
const SUFFIX_BYTES = [...SUFFIXES].map((s) => Buffer.from(s, 'latin1'));
/** Ends a metric name: `{`, space, tab. */
const nameEnd = (c: number | undefined) => c === 0x7b || c === 0x20 || c === 0x09;
const HASH = 0x23;

/** A glob (`*` any run, `?` one character, anything else literal) as an anchored RegExp. */
export function globToRegExp(glob: string): RegExp {
  const body = glob
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.');
  return new RegExp(`^${body}$`);
}

/** Does the selection keep a family of this name? */
export function selects(selection: FamilySelection): (family: string) => boolean {
  const keep = selection.keep.map(globToRegExp);
  const drop = selection.drop.map(globToRegExp);
  return (name) => (keep.length === 0 || keep.some((r) => r.test(name))) && !drop.some((r) => r.test(name));
}

/** The family a sample name belongs to, given the family of the last `# TYPE`. */
export function familyOf(sample: string, typed: string | undefined): string {
  if (typed !== undefined && sample.startsWith(typed) && (sample.length === typed.length || SUFFIXES.has(sample.slice(typed.length)))) return typed;
  return sample;
}

/** A whole exposition, filtered (fleet mode and the Pushgateway push, which read each target's text). */
export function filterBytes(body: Buffer, selection: FamilySelection): Buffer {
  const f = new FamilyFilter(selection);
  const out: Buffer[] = [];
  f.write(body, out);
  f.end(out);
  return Buffer.concat(out);
}

export class FamilyFilter extends LineStage {
  /** Lines left out so far. */
  droppedLines = 0;
  readonly #keeps: (family: string) => boolean;
  readonly #decided = new Map<string, boolean>();
  /** The family of the last `# HELP`/`# TYPE`/`# UNIT`, its bytes, and whether it is kept. */
  #typed: string | undefined;
  #typedBytes: Buffer | undefined;
  #typedKeep = true;
  constructor(selection: FamilySelection) {
    super();
    this.#keeps = selects(selection);
  }

  #keep(family: string): boolean {
    let k = this.#decided.get(family);
    if (k === undefined) {
      k = this.#keeps(family);
      this.#decided.set(family, k);
    }
    return k;
  }

  /** Whether the complete line buf[start, end) (its newline excluded) is kept; counts what is not. */
  protected line(buf: Buffer, start: number, end: number): boolean {
    const keep = this.#keepLine(buf, start, end);
    if (!keep) this.droppedLines++;
    return keep;
  }

  #keepLine(buf: Buffer, start: number, end: number): boolean {
    if (start === end) return true;
    if (buf[start] === HASH) {
      const text = buf.toString('latin1', start, Math.min(end, start + 512));
      const m = /^#\s+(HELP|TYPE|UNIT)\s+(\S+)/.exec(text);
      if (!m) return true; // # EOF and free comments
      if (m[2] !== this.#typed) {
        this.#typed = m[2]!;
        this.#typedBytes = Buffer.from(m[2]!, 'latin1');
        this.#typedKeep = this.#keep(m[2]!);
      }
      return this.#typedKeep;
    }
    // The fast way, for nearly every sample: its name is the typed family's, or that and a
    // suffix of its type, compared as bytes with nothing decoded.
    const tb = this.#typedBytes;
    if (tb && end - start > tb.length && sameBytes(buf, start, tb, 0, tb.length)) {
      const at = start + tb.length;
      if (nameEnd(buf[at])) return this.#typedKeep;
      for (const sfx of SUFFIX_BYTES)
        if (end - at > sfx.length && nameEnd(buf[at + sfx.length]) && sameBytes(buf, at, sfx, 0, sfx.length)) return this.#typedKeep;
    }
    let i = start;
    while (i < end && buf[i] !== 0x7b && buf[i] !== 0x20 && buf[i] !== 0x09) i++;
    return this.#keep(familyOf(buf.toString('latin1', start, i), this.#typed));
  }
}

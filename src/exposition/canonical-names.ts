/**
 * `serve --names canonical`: the current vLLM names whatever version is upstream. A family
 * vLLM deprecated (src/names/known.ts: `vllm:gpu_cache_usage_perc`,
 * `vllm:gpu_prefix_cache_queries_total`, `vllm:time_per_output_token_seconds`) is served
 * under its replacement, which means the same; when the body has the replacement too (vLLM
 * 0.9 serves both), the deprecated family is left out, so that no series is served twice.
 * `--names both` keeps the deprecated family where it was and adds it under the new name
 * when the new name is missing, for a migration.
 *
 * On bytes, line by line, before the sanitizer (the names as the upstream writes them), as
 * the family filter is: lines of other families go out as slices of the input. Whether the
 * replacement is in the body is known only at its end, so a deprecated family's renamed
 * lines are held (the few lines of a gauge or one histogram per engine) and go out at the
 * end, before an OpenMetrics `# EOF`; everything else stays byte for byte where it was.
 */
import { fromVocabulary } from '../names/vocabulary.js';
import { KNOWN } from '../names/known.js';
import { familyOf } from './family-filter.js';
import { LineStage } from './line-stage.js';
import type { MetricFamily } from './model.js';

export const NAMES_MODES = ['upstream', 'canonical', 'both'] as const;
export type NamesMode = (typeof NAMES_MODES)[number];

const NL = 0x0a;
const HASH = 0x23;
/** What a family's name may end in beyond its base (a counter's `_total`, a histogram's parts, `_created`). */
const SUFFIXES = ['', '_total', '_created', '_bucket', '_sum', '_count'];

const SUFFIX_BYTES = ['_bucket', '_sum', '_count', '_created', '_total', '_info', '_gsum', '_gcount'].map((x) => Buffer.from(x, 'latin1'));
const nameEnd = (c: number | undefined) => c === 0x7b || c === 0x20 || c === 0x09;

const base = (name: string) => name.replace(/_total$/, '');

/**
 * Deprecated base → its replacement's base, as the upstream writes them (`vllm:gpu_cache_usage_perc`
 * → `vllm:kv_cache_usage_perc`), under every vLLM prefix the vocabulary has. Only vLLM's own
 * deprecations: another engine's name is not vLLM's, even where the readers take it.
 */
export const deprecatedRenames = fromVocabulary((v): ReadonlyMap<string, string> => {
  const out = new Map<string, string>();
  for (const prefix of v.vllmPrefixes) {
    for (const f of KNOWN) {
      for (const s of f.spellings) if (s.engine === 'vllm' && s.status === 'deprecated') out.set(`${prefix}${base(s.name)}`, `${prefix}${base(f.canonical)}`);
    }
  }
  return out;
});

/** A name's base if it is a deprecated family's (with one of its suffixes), else undefined. */
function deprecatedBase(name: string, renames: ReadonlyMap<string, string>): string | undefined {
  for (const sfx of SUFFIXES) {
    if (!name.endsWith(sfx)) continue;
    const b = name.slice(0, name.length - sfx.length);
    if (renames.has(b)) return b;
  }
  return undefined;
}

interface Held {
  to: string;
  lines: Buffer[];
}

export class CanonicalNames extends LineStage {
  readonly #mode: Exclude<NamesMode, 'upstream'>;
  readonly #renames: ReadonlyMap<string, string>;
  /** Bases of the families the body has (as typed), to know whether a replacement is there. */
  readonly #seen = new Set<string>();
  /** Deprecated base → its renamed lines, in the order met. */
  readonly #held = new Map<string, Held>();
  #eof: Buffer | undefined;
  /** The family of the last `# HELP`/`# TYPE`/`# UNIT`, and its deprecated base, if it has one. */
  #typed: string | undefined;
  #typedFrom: string | undefined;
  #typedBytes: Buffer | undefined;

  constructor(mode: Exclude<NamesMode, 'upstream'>, renames = deprecatedRenames()) {
    super();
    this.#mode = mode;
    this.#renames = renames;
  }

  /** The deprecated base the complete line buf[start, end) belongs to, or undefined; records what the body has. */
  #familyOfLine(buf: Buffer, start: number, end: number): string | undefined | 'eof' {
    if (start === end) return undefined;
    if (buf[start] === HASH) {
      const text = buf.toString('latin1', start, Math.min(end, start + 512));
      if (/^#\s*EOF\s*$/.test(text)) return 'eof';
      const m = /^#\s+(HELP|TYPE|UNIT)\s+(\S+)/.exec(text);
      if (!m) return undefined;
      if (m[2] !== this.#typed) {
        this.#typed = m[2]!;
        this.#typedBytes = Buffer.from(m[2]!, 'latin1');
        this.#typedFrom = deprecatedBase(m[2]!, this.#renames);
        if (this.#typedFrom === undefined) this.#seen.add(base(m[2]!));
      }
      return this.#typedFrom;
    }
    // Nearly every sample: the typed family's name, or that and a suffix, compared as bytes.
    const tb = this.#typedBytes;
    if (tb && end - start > tb.length && buf.compare(tb, 0, tb.length, start, start + tb.length) === 0) {
      const at = start + tb.length;
      if (nameEnd(buf[at])) return this.#typedFrom;
      for (const sfx of SUFFIX_BYTES)
        if (end - at > sfx.length && nameEnd(buf[at + sfx.length]) && buf.compare(sfx, 0, sfx.length, at, at + sfx.length) === 0) return this.#typedFrom;
    }
    let i = start;
    while (i < end && buf[i] !== 0x7b && buf[i] !== 0x20 && buf[i] !== 0x09) i++;
    const fam = familyOf(buf.toString('latin1', start, i), this.#typed);
    if (fam === this.#typed) return this.#typedFrom;
    const from = deprecatedBase(fam, this.#renames);
    if (from === undefined) this.#seen.add(base(fam));
    return from;
  }

  /** The line with its name (the first occurrence of `from`, at the line start or after the keyword) renamed. */
  #renamed(line: Buffer, from: string): Buffer {
    const at = line.indexOf(from, 0, 'latin1');
    const to = this.#renames.get(from)!;
    return Buffer.concat([line.subarray(0, at), Buffer.from(to, 'latin1'), line.subarray(at + from.length)]);
  }

  /** A complete line; true when it goes out where it is. */
  protected line(buf: Buffer, start: number, end: number, lineEnd: number): boolean {
    const from = this.#familyOfLine(buf, start, end);
    if (from === undefined) return true;
    if (from === 'eof') {
      this.#eof = Buffer.from(buf.subarray(start, lineEnd));
      return false;
    }
    let h = this.#held.get(from);
    if (!h) this.#held.set(from, (h = { to: base(this.#renames.get(from)!), lines: [] }));
    h.lines.push(this.#renamed(buf.subarray(start, lineEnd), from));
    return this.#mode === 'both';
  }

  /** The last line, then the deprecated families whose replacement the body did not have, then `# EOF`. */
  override end(out: Buffer[]): void {
    const last = this.endLine(out);
    const tail: Buffer[] = [];
    for (const h of this.#held.values()) {
      if (this.#seen.has(h.to)) continue;
      for (const l of h.lines) tail.push(l[l.length - 1] === NL ? l : Buffer.concat([l, Buffer.from('\n')]));
    }
    if (this.#eof) tail.push(this.#eof);
    // A last line without its newline, and lines after it: the newline it lacked.
    if (last && last.length > 0 && last[last.length - 1] !== NL && tail.length > 0) out.push(Buffer.from('\n'));
    out.push(...tail);
  }
}

/** A whole exposition under canonical names (fleet mode and the Pushgateway push read each target's text). */
export function canonicalText(text: string, mode: NamesMode): string {
  return mode === 'upstream' ? text : canonicalBytes(Buffer.from(text, 'utf8'), mode).toString('utf8');
}

/** A whole exposition's bytes under `mode`'s names (left as they are for `upstream`); the input is not modified. */
export function canonicalBytes(body: Buffer, mode: NamesMode): Buffer {
  if (mode === 'upstream') return body;
  const c = new CanonicalNames(mode);
  const out: Buffer[] = [];
  c.write(body, out);
  c.end(out);
  return Buffer.concat(out);
}

/** Parsed families under canonical names (the direct OTLP push). Names here are sanitized (`vllm_`). */
export function canonicalFamilies(families: MetricFamily[], mode: NamesMode): MetricFamily[] {
  if (mode === 'upstream') return families;
  const renames = new Map([...deprecatedRenames()].map(([a, b]) => [a.replaceAll(':', '_'), b.replaceAll(':', '_')]));
  const present = new Set(families.filter((f) => deprecatedBase(f.name, renames) === undefined).map((f) => base(f.name)));
  const out: MetricFamily[] = [];
  const added: MetricFamily[] = [];
  for (const f of families) {
    const from = deprecatedBase(f.name, renames);
    if (from === undefined) {
      out.push(f);
      continue;
    }
    if (mode === 'both') out.push(f);
    const to = renames.get(from)!;
    if (present.has(base(to))) continue;
    const swap = (n: string) => (n.startsWith(from) ? to + n.slice(from.length) : n);
    added.push({ ...f, name: swap(f.name), samples: f.samples.map((s) => ({ ...s, name: swap(s.name) })) });
  }
  return [...out, ...added];
}

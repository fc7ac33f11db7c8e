/**
 * Many targets' classic-text expositions merged into one, on bytes: each
 * family once (HELP and TYPE once, samples grouped under it), every sample
 * given its target label, names sanitized, and values, timestamps and label
 * values passed through as written.
 *
 * Why bytes: parsing into the model and rendering back took ~450 ms for 16
 * targets of 8 engines; a merge on lines of strings took 281 ms for 256
 * targets of one engine (11.6 MB, 41 MB/s), most of it making, keeping and
 * joining a string per sample line and collecting that garbage
 * (bench/README.md, "Fleet merge"). Here a sample line is never a string: it is
 * kept as three slices (its sanitized name, the target's label opener, and the
 * rest of the line as the target sent it) of a WebAssembly memory that holds
 * every body (piece-arena.ts), and copied once into the answer, natively.
 *
 * Every sample line is still checked against the grammar of the classic
 * format, as leniently as Prometheus reads it, so one target's garbage makes
 * that target fail instead of breaking the merged exposition for all.
 */
import { sameBytes, sameWords } from '../exposition/bytes.js';
import { newLabels, type Labels, type MetricFamily, type Sample } from '../exposition/model.js';
import { ExpositionParseError, isLabelChar, isNameChar, parseNumber } from '../exposition/parser.js';
import { escapeLabelValue, legacyLabelName } from '../exposition/render.js';
import { sanitizeName } from '../exposition/sanitizer.js';
import { takeArena, type PieceArena } from './piece-arena.js';

/** Something the merge had to decide, reported so it can be logged once and counted. */
export type MergeIssue =
  | { kind: 'label_renamed'; target: string; family: string; from: string; to: string }
  | { kind: 'type_conflict'; target: string; family: string; type: string; kept: string }
  | { kind: 'name_collision'; target: string; family: string; original: string; kept: string };

export interface TextMergeOptions {
  /** Set on every sample: the target label's name (the value is the target's name). */
  label?: string;
  /**
   * Labels a sample must not carry as they are, because the label above or a
   * receiver (a Pushgateway's grouping key) sets them: moved to
   * `exported_<name>`, as Prometheus does with honor_labels: false.
   */
  reserved?: readonly string[];
  /** Families (sanitized names) also returned as parsed samples, for the fleet aggregates. */
  collect?: ReadonlySet<string>;
}

/** The classic format's types; OpenMetrics-only ones map as prometheus_client maps them. */
const TYPES: Record<string, string> = {
  counter: 'counter',
  gauge: 'gauge',
  histogram: 'histogram',
  summary: 'summary',
  untyped: 'untyped',
  unknown: 'untyped',
  info: 'gauge',
  stateset: 'gauge',
  gaugehistogram: 'untyped',
};

/** A family of the merged exposition. */
interface Family {
  name: string;
  type: string;
  /** As written (escaped). */
  help?: string;
  /** Each target's runs of pieces (see Local.runs), in the order the targets were added. */
  parts: number[][];
  /** The target that first showed it. */
  from: string;
  model?: MetricFamily;
}

/** A family as one target showed it. */
interface Local {
  name: string;
  /** The spelling the target used. */
  spelled: string;
  type: string;
  typed: boolean;
  /** Where its HELP text is in the body (as written, escaped). */
  help?: [number, number];
  /**
   * Its sample lines, as runs (from, to, bytes) of the merge's `ops`: pieces
   * [from, to) there, each a pair (address, length), a byte range of the
   * merge's arena, copied in order into the answer; `bytes` is their length.
   * A family's lines are usually one run.
   */
  runs: number[];
  lines: number;
  samples?: Sample[];
  dropped: boolean;
}

/** A sample name as targets spell it, with its sanitized form as a source of its own. */
interface Name {
  spelled: string;
  /** Interned: names and stems compare by identity first. */
  name: string;
  /** Where its sanitized bytes are in the arena, and how many. */
  at: number;
  length: number;
  /** The spelling's bytes, to recognise it in a body without making a string. */
  bytes: Buffer;
  view: DataView;
  /** `name` without a `_bucket`, `_sum` or `_count` suffix (or `name`), interned. */
  stem: string;
  /** 0: no such suffix, 1: `_bucket`, 2: `_sum` or `_count`. */
  suffix: number;
  /**
   * The name that followed this one on the last line that had another name:
   * targets of one fleet list their families in the same order, so this is
   * usually the next line's name, recognised with one comparison.
   */
  next: Name | undefined;
}

const isDigit = (c: number) => c >= 0x30 && c <= 0x39;
/** Per byte: 1 a name character, 2 also a label-name character, +4 either may start with it (one load instead of range tests). */
const CHAR = new Uint8Array(256);
for (let c = 0; c < 256; c++) CHAR[c] = (isNameChar(c) ? 1 : 0) | (isLabelChar(c) ? 2 : 0) | (isNameChar(c) && !isDigit(c) ? 4 : 0);
const isNameByte = (c: number) => (CHAR[c] & 1) !== 0;
const isLabelByte = (c: number) => (CHAR[c] & 2) !== 0;
const isNameStart = (c: number) => (CHAR[c] & 5) === 5;
const isLabelStart = (c: number) => (CHAR[c] & 6) === 6;
const isWs = (c: number) => c === 0x20 || c === 0x09;
/** Bound on remembered name spellings (hostile input cannot grow it further). */
const MAX_NAMES = 100_000;
const NEWLINE = Buffer.from('\n');
const NOTHING = Buffer.alloc(0);

/** A quoted string's text as written (between the quotes) to the text it means. */
const unescape = (raw: string) => raw.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));

/**
 * The labelled sample lines of one target's body, by their place among its
 * sample lines: where each began, how long it was through its label set's
 * closing brace, and what that prefix was found to be. Targets of one fleet
 * write the same series in the same order, values aside, so the next target's
 * line at the same place usually begins with the very same bytes: then it is
 * that line again (the same name, the same checked label set, at the same
 * offsets), recognised with one comparison instead of a parse of its labels.
 * Lines whose labels had to be rebuilt are not recorded (length 0); lines
 * whose family's samples are collected are never taken by likeness.
 */
class Likeness {
  dv: DataView = new DataView(new ArrayBuffer(0));
  count = 0;
  starts = new Int32Array(512);
  /** Through the closing brace; 0: not recorded. */
  lengths = new Int32Array(512);
  /** The brace's offset from the line's start. */
  braces = new Int32Array(512);
  /** 1 when the label set has labels (not `{}`). */
  keys = new Uint8Array(512);
  names: Array<Name | undefined> = [];

  /** Room for line `k`. */
  room(k: number): void {
    if (k < this.starts.length) return;
    const grow = <T extends Int32Array | Uint8Array>(a: T): T => {
      const more = new (a.constructor as new (n: number) => T)(a.length * 2);
      more.set(a);
      return more;
    };
    this.starts = grow(this.starts);
    this.lengths = grow(this.lengths);
    this.braces = grow(this.braces);
    this.keys = grow(this.keys);
  }
}

/**
 * What every target's scan shares: the arena pieces point into (the targets'
 * bodies, sanitized names, label openers, rebuilt lines), the pieces, and the
 * interned names.
 */
class Shared {
  /** Sample names by spelling: a fleet repeats the same few hundred names on every target. */
  private readonly names = new Map<string, Name>();
  private readonly strings = new Map<string, string>();
  private readonly movedBytes: readonly Buffer[];
  private arena: PieceArena | undefined = takeArena();
  /** Where a newline is in the arena. */
  readonly newline: number;

  constructor(readonly moved: readonly string[]) {
    this.movedBytes = moved.map((m) => Buffer.from(m));
    this.ops = this.live().pieces;
    this.newline = this.place(NEWLINE);
  }

  /** The pieces of every line kept, as pairs (address, length); `used` words of them are written. The arena's, kept with it. */
  ops: Int32Array;
  used = 0;
  /** The last target's sample lines (see Likeness), and the spare the next scan records into. */
  like: Likeness | undefined;
  spare = new Likeness();

  /** `ops`, with room for `k` more. Off the JavaScript heap, so the pieces of a large merge are no garbage to collect. */
  reserve(k: number): Int32Array {
    if (this.used + k > this.ops.length) {
      const more = new Int32Array(Math.max(this.ops.length * 2, this.used + k));
      more.set(this.ops.subarray(0, this.used));
      this.ops = this.live().pieces = more;
    }
    return this.ops;
  }

  /** Bytes for pieces to point into, copied into the arena; their address. */
  place(bytes: Buffer): number {
    return this.live().place(bytes);
  }

  live(): PieceArena {
    if (this.arena === undefined) throw new Error('this TextMerge was released: make a new one');
    return this.arena;
  }

  release(): void {
    this.arena?.release();
    this.arena = undefined;
  }

  /** The name spelled so, sanitized, interned. */
  nameOf(spelled: string): Name {
    let n = this.names.get(spelled);
    if (n === undefined) {
      const name = this.intern(sanitizeName(spelled));
      const sanitized = Buffer.from(name);
      const suffix = /_bucket$/.test(name) ? 1 : /_(?:sum|count)$/.test(name) ? 2 : 0;
      const stem = suffix === 0 ? name : this.intern(name.slice(0, name.lastIndexOf('_')));
      const bytes = Buffer.from(spelled);
      const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      n = { spelled, name, at: this.place(sanitized), length: sanitized.length, bytes, view, stem, suffix, next: undefined };
      if (this.names.size < MAX_NAMES) this.names.set(spelled, n);
    }
    return n;
  }

  private intern(s: string): string {
    const known = this.strings.get(s);
    if (known !== undefined) return known;
    if (this.strings.size < MAX_NAMES) this.strings.set(s, s);
    return s;
  }

  /** Whether the label name at `b[s..e)` must move aside (`reserved`, or the target label). */
  movesAt(b: Buffer, s: number, e: number): boolean {
    for (const m of this.movedBytes) if (m.length === e - s && sameBytes(b, s, m, 0, m.length)) return true;
    return false;
  }

  moves(key: string): boolean {
    return this.moved.includes(key);
  }
}

export class TextMerge {
  readonly issues: MergeIssue[] = [];
  /** Samples kept per target. */
  readonly samples = new Map<string, number>();
  private readonly families = new Map<string, Family>();
  private readonly o: TextMergeOptions;
  private readonly shared: Shared;

  constructor(options: TextMergeOptions = {}) {
    this.o = options;
    this.shared = new Shared([...(options.label ? [options.label] : []), ...(options.reserved ?? [])]);
  }

  /**
   * Add one target's exposition (bytes as it arrived, or text). Throws
   * ExpositionParseError on a line that is not classic text; nothing of that
   * target is kept then. The merge keeps a copy of `exposition`, not it.
   */
  add(target: string, exposition: string | Buffer): void {
    const body = typeof exposition === 'string' ? Buffer.from(exposition) : exposition;
    const at = this.shared.place(body);
    const used = this.shared.used;
    let local: Scan;
    try {
      local = new Scan(target, body, at, this.o, this.shared).run();
      // Its lines are what the next target's are recognised by.
      const sh = this.shared;
      const done = sh.spare;
      sh.spare = sh.like ?? new Likeness();
      sh.like = done;
    } catch (err) {
      // Nothing points at the pieces written since (the body's copy stays in the arena, unused, until the merge is released).
      this.shared.used = used;
      throw err;
    }
    for (const issue of local.issues) this.issues.push(issue);
    let count = 0;
    for (const f of local.families) {
      if (f.dropped) continue;
      let g = this.families.get(f.name);
      if (!g) {
        g = { name: f.name, type: f.type, parts: [], from: target };
        if (this.o.collect?.has(f.name)) g.model = { name: f.name, type: 'unknown', samples: [] };
        this.families.set(f.name, g);
      } else if (g.type !== f.type) {
        this.issues.push({ kind: 'type_conflict', target, family: f.name, type: f.type, kept: `${g.type} (from ${g.from})` });
        continue;
      }
      if (g.help === undefined && f.help) g.help = body.toString('utf8', f.help[0], f.help[1]);
      if (f.runs.length) g.parts.push(f.runs);
      if (g.model && f.samples) for (const s of f.samples) g.model.samples.push(s);
      count += f.lines;
    }
    this.samples.set(target, count);
  }

  /** The families asked for with `collect`, as parsed samples. */
  collected(): MetricFamily[] {
    return [...this.families.values()].flatMap((f) => (f.model ? [f.model] : []));
  }

  /** The merged exposition as text. */
  render(): string {
    return this.renderBytes().toString();
  }

  /**
   * The merged exposition as one Buffer, with `head` and `tail` (text, such as
   * the per-target gauges) written around it in the same allocation, which
   * `alloc` makes (a buffer of exactly the bytes asked for: the fleet's are
   * reused, fleet/answer-pool.ts).
   */
  renderBytes(head = '', tail = '', alloc?: (bytes: number) => Buffer): Buffer {
    const sh = this.shared;
    const arena = sh.live();
    // Each family's HELP and TYPE become one piece, written after the lines' (and forgotten after).
    let words = sh.used;
    let count = 0;
    for (const f of this.families.values()) {
      count++;
      for (const runs of f.parts) count += runs.length / 3;
    }
    const runs = arena.runs(count * 3);
    let r = 0;
    for (const f of this.families.values()) {
      const h = Buffer.from(`${f.help !== undefined ? `# HELP ${f.name} ${f.help}\n` : ''}# TYPE ${f.name} ${f.type}\n`);
      const ops = sh.reserve(words - sh.used + 2);
      ops[words] = arena.place(h);
      ops[words + 1] = h.length;
      runs[r++] = words;
      runs[r++] = words += 2;
      runs[r++] = h.length;
      for (const parts of f.parts) for (let k = 0; k < parts.length; k++) runs[r++] = parts[k];
    }
    return arena.gather(sh.ops, words, runs, count, head ? Buffer.from(head) : NOTHING, tail ? Buffer.from(tail) : NOTHING, alloc);
  }

  /**
   * Gives the merge's working memory to the next merge (a proxy merges every
   * scrape: a new arena would fault in its pages again). The merge cannot be
   * used after this; one that is never released is simply collected.
   */
  release(): void {
    this.shared.release();
  }
}

/** One target's body, read line by line. */
class Scan {
  readonly families: Local[] = [];
  readonly issues: MergeIssue[] = [];
  private readonly byName = new Map<string, Local>();
  private readonly dropped = new Map<string, Local>();
  private current: Local | undefined;
  private lineNo = 0;
  private readonly labelText: string;
  /** Where `{<label>="<target>",` and `{<label>="<target>"}` are in the arena. */
  private readonly open: number = -1;
  private readonly openLength: number = 0;
  private readonly closed: number = -1;
  private readonly closedLength: number = 0;
  private renamedOnce = false;
  private readonly dv: DataView;
  /** The last sample line's name: lines of a family repeat it. */
  private last: Name | undefined;
  /** The label set of the line at hand, as byte ranges into the body (reused: this runs per sample line). */
  private readonly keys: number[] = [];
  /** A key's text when it was quoted (unescaped), else undefined. */
  private readonly quotedKeys: Array<string | undefined> = [];
  private readonly values: number[] = [];
  /** How many of `keys` (pairs), `quotedKeys` and `values` (pairs) are this line's. */
  private keyCount = 0;
  private quotedName = '';
  private rebuild = false;
  /**
   * The last label set parsed without a quoted key or a key that moves: where it opened,
   * where its last key began, and how many keys it had. The next line's set very often
   * starts with the same bytes (a histogram's buckets differ in `le` alone), and then its
   * labels before the last are the same, already checked, at the same distance.
   */
  private prevAt = -1;
  private prevLastKey = 0;
  private prevCount = 0;
  /** Sample lines read so far; the previous target's lines, and this one's record of its own (see Likeness). */
  private sampleNo = 0;
  private readonly like: Likeness | undefined;
  private readonly own: Likeness;

  constructor(
    private readonly target: string,
    private readonly b: Buffer,
    /** Where the body's copy is in the arena. */
    private readonly body: number,
    private readonly o: TextMergeOptions,
    private readonly merge: Shared,
  ) {
    this.dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
    this.like = merge.like;
    this.own = merge.spare;
    this.own.dv = this.dv;
    this.own.count = 0;
    this.labelText = o.label ? `${o.label}="${escapeLabelValue(target)}"` : '';
    if (this.labelText) {
      const open = Buffer.from(`{${this.labelText},`);
      const closed = Buffer.from(`{${this.labelText}}`);
      this.open = merge.place(open);
      this.openLength = open.length;
      this.closed = merge.place(closed);
      this.closedLength = closed.length;
    }
  }

  run(): this {
    const b = this.b;
    const n = b.length;
    let p = 0;
    while (p < n) {
      this.lineNo++;
      let i = p;
      while (i < n && isWs(b[i])) i++;
      const c = i < n ? b[i] : 0x0a;
      if (c === 0x0a) {
        p = i + 1;
      } else if (c === 0x0d && (i + 1 === n || b[i + 1] === 0x0a)) {
        p = i + 2;
      } else if (c === 0x23) {
        let end = b.indexOf(0x0a, i);
        if (end < 0) end = n;
        this.comment(i, end > i && b[end - 1] === 0x0d ? end - 1 : end);
        p = end + 1;
      } else {
        p = this.sample(i);
      }
    }
    return this;
  }

  private error(reason: string): ExpositionParseError {
    return new ExpositionParseError(this.lineNo, reason);
  }

  /** Whether `i` is where the line ends: its newline, the carriage return before it, or the end of the body. */
  private atEnd(i: number): boolean {
    const b = this.b;
    if (i >= b.length) return true;
    const c = b[i];
    return c === 0x0a || (c === 0x0d && (i + 1 === b.length || b[i + 1] === 0x0a));
  }

  private family(spelled: string, name: string): Local {
    let f = this.byName.get(name);
    if (f) {
      if (f.spelled === spelled) return f;
      // `a:b` and `a_b` in one exposition: the first spelling keeps the name;
      // the other's lines are still checked, and dropped.
      let other = this.dropped.get(spelled);
      if (!other) {
        other = { name, spelled, type: 'untyped', typed: false, runs: [], lines: 0, dropped: true };
        this.dropped.set(spelled, other);
        this.issues.push({ kind: 'name_collision', target: this.target, family: name, original: spelled, kept: f.spelled });
      }
      return other;
    }
    f = { name, spelled, type: 'untyped', typed: false, runs: [], lines: 0, dropped: false };
    if (this.o.collect?.has(name)) f.samples = [];
    this.byName.set(name, f);
    this.families.push(f);
    return f;
  }

  /** A `#` line from `at` to `stop` (its end, carriage return left out). */
  private comment(at: number, stop: number): void {
    const b = this.b;
    let i = at + 1;
    while (i < stop && isWs(b[i])) i++;
    const help = wordAt(b, i, HELP);
    if ((!help && !wordAt(b, i, TYPE)) || !(i + 4 < stop && isWs(b[i + 4]))) return; // a plain comment
    const kind = help ? 'HELP' : 'TYPE';
    i += 5;
    while (i < stop && isWs(b[i])) i++;
    let spelled: string;
    let name: Name;
    let known: Name | undefined;
    if (i < stop && b[i] === 0x22) {
      const end = this.skipQuoted(i);
      spelled = unescape(b.toString('utf8', i + 1, end - 1));
      if (spelled === '') throw this.error('empty metric name');
      i = end;
      name = this.merge.nameOf(spelled);
    } else if ((known = this.predicted(i)) !== undefined && (i + known.bytes.length === stop || isWs(b[i + known.bytes.length]))) {
      name = known;
      spelled = name.spelled;
      i += name.bytes.length;
    } else {
      const start = i;
      let valid = i < stop && isNameStart(b[i]);
      while (i < stop && !isWs(b[i])) {
        if (!isNameByte(b[i])) valid = false;
        i++;
      }
      if (!valid) throw this.error(`invalid metric name ${JSON.stringify(b.toString('utf8', start, i))}`);
      name = this.nameAt(start, i);
      spelled = name.spelled;
    }
    if (i < stop && !isWs(b[i])) throw this.error(`invalid metric name in ${kind}`);
    const f = this.family(spelled, name.name);
    this.current = f;
    if (help) {
      if (f.help !== undefined) throw this.error(`second HELP for ${spelled}`);
      // One separator is dropped, the text kept as written (its escapes are already the format's);
      // decoded only if the merge takes it (the first target with a HELP for the family).
      f.help = i < stop ? [i + 1, stop] : [i, i];
    } else {
      if (f.typed) throw this.error(`second TYPE for ${spelled}`);
      const raw = typeAt(b, i, stop) ?? b.toString('utf8', i, stop).trim();
      const type = TYPES[raw.toLowerCase()];
      if (!type) throw this.error(`invalid metric type ${JSON.stringify(raw)}`);
      f.type = type;
      f.typed = true;
    }
  }

  /** The sample line at `start`; returns where the next line starts. */
  private sample(start: number): number {
    const b = this.b;
    let i = start;
    let name: Name;
    /** Where the label set opens and closes, -1 without one. */
    let brace = -1;
    this.keyCount = 0;
    this.rebuild = false;
    /** This line's place among the body's sample lines. */
    const ordinal = this.sampleNo++;
    const like = this.like;
    let liked = false;
    let length = 0;
    if (like !== undefined && ordinal < like.count && (length = like.lengths[ordinal]!) > 0 && !this.collects(like.names[ordinal]!)) {
      // The same bytes as the previous target's line here, through its label set: that line again.
      liked = start + length < b.length && sameWords(this.dv, start, like.dv, like.starts[ordinal]!, length);
    }
    if (liked) {
      name = like!.names[ordinal]!;
      brace = start + like!.braces[ordinal]!;
      this.keyCount = like!.keys[ordinal]!;
      i = start + length;
      this.last = name;
      this.prevAt = -1; // its labels were not read into the scratch arrays
    } else if (b[i] === 0x7b) {
      brace = i;
      i = this.labels(i, true) + 1;
      name = this.merge.nameOf(this.quotedName);
    } else {
      const known = this.predicted(i);
      if (known !== undefined) {
        name = known;
        i += known.bytes.length;
      } else {
        if (!isNameStart(b[i])) throw this.error(`invalid metric name ${JSON.stringify(firstChar(b, i))}`);
        while (i < b.length && isNameByte(b[i])) i++;
        name = this.nameAt(start, i);
      }
      if (b[i] === 0x7b) {
        brace = i;
        i = this.labels(i, false) + 1;
      }
    }
    if (!isWs(b[i]))
      throw this.error(this.atEnd(i) ? `missing value for ${name.spelled}` : `invalid character after metric name ${JSON.stringify(name.spelled)}`);
    const after = i;
    // Value, then an optional integer timestamp, nothing else.
    let j = i;
    while (isWs(b[j])) j++;
    let k = j;
    while (!this.atEnd(k) && !isWs(b[k])) k++;
    let value: number | undefined;
    if (!isDecimal(b, j, k)) {
      value = parseNumber(b.toString('utf8', j, k), true);
      if (value === undefined) throw this.error(`invalid value ${JSON.stringify(b.toString('utf8', j, k))}`);
    }
    while (isWs(b[k])) k++;
    let end = k;
    if (!this.atEnd(k)) {
      let m = k;
      while (!this.atEnd(m) && !isWs(b[m])) m++;
      if (!isInteger(b, k, m)) throw this.error(`invalid timestamp ${JSON.stringify(b.toString('utf8', k, m))}`);
      while (isWs(b[m])) m++;
      if (!this.atEnd(m)) throw this.error('unexpected text after the timestamp');
      end = m;
    }
    const next = end < b.length && b[end] === 0x0d ? end + 2 : end + 1;

    const cur = this.current;
    const f = cur && belongs(cur, name) ? cur : this.family(name.spelled, name.name);
    this.current = f;
    const record = this.own;
    record.room(ordinal);
    record.count = ordinal + 1;
    record.starts[ordinal] = start;
    record.lengths[ordinal] = brace >= 0 && !this.rebuild ? after - start : 0;
    record.braces[ordinal] = brace - start;
    record.keys[ordinal] = this.keyCount > 0 ? 1 : 0;
    record.names[ordinal] = name;
    if (f.dropped) return next;
    f.lines++;
    if (f.samples) f.samples.push({ name: name.name, labels: this.labelsOf(f.name), value: value ?? Number(b.toString('latin1', j, k)) });

    const sh = this.merge;
    const ops = sh.reserve(8);
    let n = sh.used;
    /** The line's bytes in the answer. */
    let size: number;
    const runs = f.runs;
    // The line extends the family's last run when nothing was written after it.
    const extend = runs.length > 0 && runs[runs.length - 2] === n;
    if (this.rebuild) {
      // A label must move or be respelled, or the name was quoted: the line is written anew.
      const own = this.rebuilt(f.name);
      const set = this.labelText ? `{${this.labelText}${own ? `,${own}` : ''}}` : own ? `{${own}}` : '';
      const line = Buffer.from(`${name.name}${set}${b.toString('utf8', after, end)}\n`);
      ops[n++] = sh.place(line);
      ops[n++] = size = line.length;
    } else {
      // The name sanitized, then the rest of the line as written, the target label opening the set.
      ops[n++] = name.at;
      ops[n++] = name.length;
      const hasKeys = this.keyCount > 0;
      const upTo = end < b.length && b[end] === 0x0a ? end + 1 : end;
      size = name.length;
      if (this.labelText) {
        ops[n++] = hasKeys ? this.open : this.closed;
        ops[n++] = hasKeys ? this.openLength : this.closedLength;
        size += hasKeys ? this.openLength : this.closedLength;
      }
      const from = hasKeys ? (this.labelText ? brace + 1 : brace) : after;
      ops[n++] = this.body + from;
      ops[n++] = upTo - from;
      size += upTo - from;
      if (upTo === end) {
        ops[n++] = sh.newline;
        ops[n++] = 1;
        size++;
      }
    }
    if (extend) {
      runs[runs.length - 2] = n;
      runs[runs.length - 1] += size;
    } else runs.push(sh.used, n, size);
    sh.used = n;
    return next;
  }

  /**
   * The name at `i` if it is the previous line's or the one that followed it
   * last time, recognised on the bytes four at a time, and not followed by
   * another name character; else undefined.
   */
  private predicted(i: number): Name | undefined {
    const last = this.last;
    if (last === undefined) return undefined;
    if (this.matches(last, i)) return last;
    const next = last.next;
    if (next !== undefined && this.matches(next, i)) return (this.last = next);
    return undefined;
  }

  /**
   * Whether a line of this name may belong to a family whose samples are collected (the
   * family is the name or its stem): its labels must then be parsed, not taken by likeness.
   */
  private collects(n: Name): boolean {
    const c = this.o.collect;
    return c !== undefined && (c.has(n.name) || c.has(n.stem));
  }

  private matches(n: Name, i: number): boolean {
    const len = n.bytes.length;
    if (i + len > this.b.length) return false;
    return sameWords(this.dv, i, n.view, 0, len) && !isNameByte(this.b[i + len]);
  }

  /** The name `b[s..e)`, already checked, looked up; it becomes the prediction after the previous one. */
  private nameAt(s: number, e: number): Name {
    const name = this.merge.nameOf(this.b.toString('latin1', s, e));
    if (this.last !== undefined) this.last.next = name;
    return (this.last = name);
  }

  /** The label set's text, each key respelled or moved as outputKeys says. */
  private rebuilt(family: string): string {
    const b = this.b;
    const keys = this.outputKeys(family);
    return keys.map((key, n) => `${key}="${b.toString('utf8', this.values[2 * n], this.values[2 * n + 1])}"`).join(',');
  }

  private labelsOf(family: string): Labels {
    const out = newLabels();
    if (this.o.label) out[this.o.label] = this.target;
    const b = this.b;
    const keys = this.outputKeys(family);
    keys.forEach((key, n) => (out[key] = unescape(b.toString('utf8', this.values[2 * n], this.values[2 * n + 1]))));
    return out;
  }

  /** The n-th key as written, unescaped when quoted. */
  private key(n: number): string {
    return this.quotedKeys[n] ?? this.b.toString('latin1', this.keys[2 * n], this.keys[2 * n + 1]);
  }

  /**
   * Each label's name in the output: respelled to the legacy charset, and
   * moved to `exported_<name>` (more `exported_` while taken) if reserved.
   */
  private outputKeys(family: string): string[] {
    const written = Array.from({ length: this.keyCount }, (_, n) => this.key(n));
    const taken = new Set(written.map(legacyLabelName));
    return written.map((k) => {
      let key = legacyLabelName(k);
      if (!this.merge.moves(key)) return key;
      const from = key;
      key = `exported_${key}`;
      while (taken.has(key)) key = `exported_${key}`;
      taken.add(key);
      if (!this.renamedOnce) {
        this.renamedOnce = true;
        this.issues.push({ kind: 'label_renamed', target: this.target, family, from, to: key });
      }
      return key;
    });
  }

  /**
   * `{...}` at `at`; with `nameFirst`, a quoted metric name may open it
   * (Prometheus 3). Fills the reused key and value ranges; returns the index
   * of the closing brace.
   */
  private labels(at: number, nameFirst: boolean): number {
    const b = this.b;
    const keys = this.keys;
    const quoted = this.quotedKeys;
    const values = this.values;
    let count = 0;
    this.quotedName = '';
    this.rebuild = nameFirst;
    let i = at + 1;
    let first = true;
    const prev = this.prevAt;
    if (!nameFirst && prev >= 0 && this.prevCount > 1) {
      const length = this.prevLastKey - prev;
      if (at + length < b.length && sameWords(this.dv, prev, this.dv, at, length)) {
        // The keys and values before the last are the previous line's (still in the scratch arrays), moved.
        const shift = at - prev;
        count = this.prevCount - 1;
        for (let n = 0; n < 2 * count; n++) {
          keys[n] += shift;
          values[n] += shift;
        }
        this.keyCount = count;
        i = at + length;
        first = false;
      }
    }
    for (;;) {
      while (isWs(b[i])) i++;
      const c = b[i];
      if (c === 0x7d) break;
      let ks: number;
      let ke: number;
      let text: string | undefined;
      if (c === 0x22) {
        const end = this.skipQuoted(i);
        ks = i + 1;
        ke = end - 1;
        text = unescape(b.toString('utf8', ks, ke));
        i = end;
        while (isWs(b[i])) i++;
        if (first && nameFirst && b[i] !== 0x3d) {
          if (text === '') throw this.error('empty metric name');
          this.quotedName = text;
          first = false;
          if (b[i] === 0x7d) break;
          if (b[i] !== 0x2c) throw this.error('expected , or } after the quoted metric name');
          i++;
          continue;
        }
        this.rebuild = true;
      } else {
        ks = i;
        if (!isLabelStart(c)) throw this.error(`invalid label name ${JSON.stringify(firstChar(b, i))}`);
        while (i < b.length && isLabelByte(b[i])) i++;
        ke = i;
        while (isWs(b[i])) i++;
      }
      first = false;
      if (b[i] !== 0x3d) throw this.error(`expected = after label ${text ?? b.toString('latin1', ks, ke)}`);
      i++;
      while (isWs(b[i])) i++;
      if (b[i] !== 0x22) throw this.error(`label value of ${text ?? b.toString('latin1', ks, ke)} must be quoted`);
      const vStart = i + 1;
      i = this.skipQuoted(i);
      for (let n = 0; n < count; n++) {
        const same =
          text === undefined && quoted[n] === undefined
            ? keys[2 * n + 1] - keys[2 * n] === ke - ks && sameBytes(b, keys[2 * n], b, ks, ke - ks)
            : this.key(n) === (text ?? b.toString('latin1', ks, ke));
        if (same) throw this.error(`duplicate label ${text ?? b.toString('latin1', ks, ke)}`);
      }
      keys[2 * count] = ks;
      keys[2 * count + 1] = ke;
      quoted[count] = text;
      values[2 * count] = vStart;
      values[2 * count + 1] = i - 1;
      this.keyCount = ++count;
      if (text === undefined ? this.merge.movesAt(b, ks, ke) : this.merge.moves(text)) this.rebuild = true;
      while (isWs(b[i])) i++;
      const d = b[i];
      if (d === 0x7d) break;
      if (d !== 0x2c) throw this.error('expected , or } in label set');
      i++;
    }
    if (nameFirst && this.quotedName === '') throw this.error('label set without a metric name');
    this.prevAt = -1;
    if (!this.rebuild && count > 1) {
      this.prevAt = at;
      this.prevLastKey = keys[2 * (count - 1)];
      this.prevCount = count;
    }
    return i;
  }

  /** Past a quoted string at `at` (index after the closing quote), escapes skipped; it cannot span lines. */
  private skipQuoted(at: number): number {
    const b = this.b;
    const n = b.length;
    let i = at + 1;
    for (;;) {
      if (i >= n) throw this.error('unterminated quoted string');
      const c = b[i];
      if (c === 0x22) return i + 1;
      if (c === 0x0a) throw this.error('unterminated quoted string');
      if (c === 0x5c) {
        if (b[i + 1] === 0x0a) throw this.error('unterminated quoted string');
        i += 2;
      } else i++;
    }
  }
}

const TYPE_WORDS = Object.keys(TYPES).map((t) => [t, Buffer.from(t)] as const);

/** The type word of `# TYPE name <word>` as written in lower case, found without a string; else undefined. */
function typeAt(b: Buffer, i: number, stop: number): string | undefined {
  while (i < stop && isWs(b[i])) i++;
  while (stop > i && isWs(b[stop - 1])) stop--;
  for (const [t, word] of TYPE_WORDS) if (word.length === stop - i && sameBytes(b, i, word, 0, word.length)) return t;
  return undefined;
}

const HELP = Buffer.from('HELP');
const TYPE = Buffer.from('TYPE');

const wordAt = (b: Buffer, i: number, word: Buffer) => i + word.length <= b.length && sameBytes(b, i, word, 0, word.length);

/** The character at `i` for an error message (a whole UTF-8 sequence). */
function firstChar(b: Buffer, i: number): string {
  return [...b.toString('utf8', i, Math.min(b.length, i + 4))][0] ?? '';
}

/** `[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?` on `b[s..e)`, the number grammar's usual case, without a string. */
function isDecimal(b: Buffer, s: number, e: number): boolean {
  let i = s;
  if (i < e && (b[i] === 0x2b || b[i] === 0x2d)) i++;
  const whole = i;
  while (i < e && isDigit(b[i])) i++;
  let digits = i - whole;
  if (i < e && b[i] === 0x2e) {
    const fraction = ++i;
    while (i < e && isDigit(b[i])) i++;
    digits += i - fraction;
  }
  if (digits === 0) return false;
  if (i < e && (b[i] === 0x65 || b[i] === 0x45)) {
    i++;
    if (i < e && (b[i] === 0x2b || b[i] === 0x2d)) i++;
    const x = i;
    while (i < e && isDigit(b[i])) i++;
    if (i === x) return false;
  }
  return i === e;
}

/** `-?\d+` on `b[s..e)`: a timestamp. */
function isInteger(b: Buffer, s: number, e: number): boolean {
  let i = s;
  if (i < e && b[i] === 0x2d) i++;
  if (i === e) return false;
  for (; i < e; i++) if (!isDigit(b[i])) return false;
  return true;
}

/** Whether a sample of `name` is one of family `f`'s (classic suffix rules). */
function belongs(f: Local, name: Name): boolean {
  if (name.name === f.name) return true;
  if (name.suffix === 0 || name.stem !== f.name) return false;
  return f.type === 'histogram' || (f.type === 'summary' && name.suffix === 2);
}

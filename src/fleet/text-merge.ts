/**
 * Many targets' classic-text expositions merged into one, line by line on
 * strings: each family once (HELP and TYPE once, samples grouped under it),
 * every sample given its target label, names sanitized, and values,
 * timestamps and label values passed through as written.
 *
 * Why not parse into the model and render back: measured on 16 targets of the
 * 8-engine exposition (4.7 MB, 40k samples), parse + merge + render took about
 * 450 ms per merged scrape (bench/README.md); this takes a small fraction of it.
 * Every sample line is still checked against the grammar of the classic
 * format, as leniently as Prometheus reads it, so one target's garbage makes
 * that target fail instead of breaking the merged exposition for all.
 */
import { newLabels, type Labels, type MetricFamily, type Sample } from '../exposition/model.js';
import { ExpositionParseError, isLabelChar, isNameChar, parseNumber } from '../exposition/parser.js';
import { escapeLabelValue, legacyLabelName } from '../exposition/render.js';
import { sanitizeName } from '../exposition/sanitizer.js';

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

interface Family {
  name: string;
  type: string;
  /** As written (escaped). */
  help?: string;
  lines: string[];
  /** The target that first showed it. */
  from: string;
  model?: MetricFamily;
}

interface Local {
  name: string;
  /** The spelling the target used. */
  spelled: string;
  type: string;
  typed: boolean;
  help?: string;
  lines: string[];
  samples?: Sample[];
  dropped: boolean;
}

const isDigit = (c: number) => c >= 0x30 && c <= 0x39;
const isNameStart = (c: number) => isNameChar(c) && !isDigit(c);
const isLabelStart = (c: number) => isLabelChar(c) && !isDigit(c);
const isWs = (c: number) => c === 0x20 || c === 0x09;
const TIMESTAMP = /^-?\d+$/;
/** Bound on remembered name spellings (hostile input cannot grow it further). */
const MAX_NAMES = 100_000;

/** A quoted string's text as written (between the quotes) to the text it means. */
const unescape = (raw: string) => raw.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));

export class TextMerge {
  readonly issues: MergeIssue[] = [];
  /** Samples kept per target. */
  readonly samples = new Map<string, number>();
  private readonly families = new Map<string, Family>();
  private readonly o: TextMergeOptions;
  private readonly moved: readonly string[];
  /** Sanitized spellings: a fleet repeats the same few hundred names on every target. */
  private readonly names = new Map<string, string>();

  constructor(options: TextMergeOptions = {}) {
    this.o = options;
    this.moved = [...(options.label ? [options.label] : []), ...(options.reserved ?? [])];
  }

  /**
   * Add one target's exposition. Throws ExpositionParseError on a line that is
   * not classic text; nothing of that target is kept then.
   */
  add(target: string, text: string): void {
    const local = new Scan(target, text, this.o, this.moved, this.names).run();
    for (const issue of local.issues) this.issues.push(issue);
    let count = 0;
    for (const f of local.families) {
      if (f.dropped) continue;
      let g = this.families.get(f.name);
      if (!g) {
        g = { name: f.name, type: f.type, help: f.help, lines: [], from: target };
        if (this.o.collect?.has(f.name)) g.model = { name: f.name, type: 'unknown', samples: [] };
        this.families.set(f.name, g);
      } else if (g.type !== f.type) {
        this.issues.push({ kind: 'type_conflict', target, family: f.name, type: f.type, kept: `${g.type} (from ${g.from})` });
        continue;
      }
      if (g.help === undefined) g.help = f.help;
      for (const l of f.lines) g.lines.push(l);
      if (g.model && f.samples) for (const s of f.samples) g.model.samples.push(s);
      count += f.lines.length;
    }
    this.samples.set(target, count);
  }

  /** The families asked for with `collect`, as parsed samples. */
  collected(): MetricFamily[] {
    return [...this.families.values()].flatMap((f) => (f.model ? [f.model] : []));
  }

  render(): string {
    const out: string[] = [];
    for (const f of this.families.values()) {
      if (f.help !== undefined) out.push(`# HELP ${f.name} ${f.help}\n`);
      out.push(`# TYPE ${f.name} ${f.type}\n`);
      if (f.lines.length) out.push(f.lines.join('\n'), '\n');
    }
    return out.join('');
  }
}

/** One target's text, read line by line. */
class Scan {
  readonly families: Local[] = [];
  readonly issues: MergeIssue[] = [];
  private readonly byName = new Map<string, Local>();
  private readonly dropped = new Map<string, Local>();
  private current: Local | undefined;
  private lineNo = 0;
  private readonly labelText: string;
  private renamedOnce = false;
  private readonly scan: LabelScan = { name: '', keys: [], values: [], innerStart: 0, innerEnd: 0, end: 0, rebuild: false };

  constructor(
    private readonly target: string,
    private readonly text: string,
    private readonly o: TextMergeOptions,
    private readonly moved: readonly string[],
    private readonly names: Map<string, string>,
  ) {
    this.labelText = o.label ? `${o.label}="${escapeLabelValue(target)}"` : '';
  }

  run(): this {
    const text = this.text;
    let start = 0;
    while (start < text.length) {
      let end = text.indexOf('\n', start);
      if (end < 0) end = text.length;
      this.lineNo++;
      let stop = end;
      if (stop > start && text.charCodeAt(stop - 1) === 0x0d) stop--;
      let i = start;
      while (i < stop && isWs(text.charCodeAt(i))) i++;
      if (i < stop) {
        const line = text.slice(i, stop);
        if (line.charCodeAt(0) === 0x23) this.comment(line);
        else this.sample(line);
      }
      start = end + 1;
    }
    return this;
  }

  private sanitize(spelled: string): string {
    let name = this.names.get(spelled);
    if (name === undefined) {
      name = sanitizeName(spelled);
      if (this.names.size < MAX_NAMES) this.names.set(spelled, name);
    }
    return name;
  }

  private error(reason: string): ExpositionParseError {
    return new ExpositionParseError(this.lineNo, reason);
  }

  private family(spelled: string, name: string): Local {
    let f = this.byName.get(name);
    if (f) {
      if (f.spelled === spelled) return f;
      // `a:b` and `a_b` in one exposition: the first spelling keeps the name;
      // the other's lines are still checked, and dropped.
      let other = this.dropped.get(spelled);
      if (!other) {
        other = { name, spelled, type: 'untyped', typed: false, lines: [], dropped: true };
        this.dropped.set(spelled, other);
        this.issues.push({ kind: 'name_collision', target: this.target, family: name, original: spelled, kept: f.spelled });
      }
      return other;
    }
    f = { name, spelled, type: 'untyped', typed: false, lines: [], dropped: false };
    if (this.o.collect?.has(name)) f.samples = [];
    this.byName.set(name, f);
    this.families.push(f);
    return f;
  }

  private comment(line: string): void {
    let i = 1;
    while (isWs(line.charCodeAt(i))) i++;
    const kind = line.slice(i, i + 4);
    if ((kind !== 'HELP' && kind !== 'TYPE') || !isWs(line.charCodeAt(i + 4))) return; // a plain comment
    i += 5;
    while (isWs(line.charCodeAt(i))) i++;
    let spelled: string;
    if (line.charCodeAt(i) === 0x22) {
      [spelled, i] = this.quoted(line, i);
      if (spelled === '') throw this.error('empty metric name');
    } else {
      const start = i;
      while (i < line.length && !isWs(line.charCodeAt(i))) i++;
      spelled = line.slice(start, i);
      if (!validName(spelled)) throw this.error(`invalid metric name ${JSON.stringify(spelled)}`);
    }
    if (i < line.length && !isWs(line.charCodeAt(i))) throw this.error(`invalid metric name in ${kind}`);
    const f = this.family(spelled, this.sanitize(spelled));
    this.current = f;
    if (kind === 'HELP') {
      if (f.help !== undefined) throw this.error(`second HELP for ${spelled}`);
      // One separator is dropped, the text kept as written (its escapes are already the format's).
      f.help = isWs(line.charCodeAt(i)) ? line.slice(i + 1) : '';
    } else {
      if (f.typed) throw this.error(`second TYPE for ${spelled}`);
      const raw = line.slice(i).trim();
      const type = TYPES[raw.toLowerCase()];
      if (!type) throw this.error(`invalid metric type ${JSON.stringify(raw)}`);
      f.type = type;
      f.typed = true;
    }
  }

  private sample(line: string): void {
    let i = 0;
    let spelled = '';
    let labels: LabelScan | undefined;
    if (line.charCodeAt(0) === 0x7b) {
      labels = this.labels(line, 0, true);
      spelled = labels.name;
      i = labels.end;
    } else {
      if (!isNameStart(line.charCodeAt(0))) throw this.error(`invalid metric name ${JSON.stringify(line.slice(0, 1))}`);
      while (i < line.length && isNameChar(line.charCodeAt(i))) i++;
      spelled = line.slice(0, i);
      if (line.charCodeAt(i) === 0x7b) {
        labels = this.labels(line, i, false);
        i = labels.end;
      }
    }
    if (!isWs(line.charCodeAt(i)))
      throw this.error(i < line.length ? `invalid character after metric name ${JSON.stringify(spelled)}` : `missing value for ${spelled}`);
    const after = line.slice(i);
    // Value, then an optional integer timestamp, nothing else.
    let j = i;
    while (isWs(line.charCodeAt(j))) j++;
    let k = j;
    while (k < line.length && !isWs(line.charCodeAt(k))) k++;
    const value = parseNumber(line.slice(j, k), true);
    if (value === undefined) throw this.error(`invalid value ${JSON.stringify(line.slice(j, k))}`);
    while (isWs(line.charCodeAt(k))) k++;
    if (k < line.length) {
      let m = k;
      while (m < line.length && !isWs(line.charCodeAt(m))) m++;
      if (!TIMESTAMP.test(line.slice(k, m))) throw this.error(`invalid timestamp ${JSON.stringify(line.slice(k, m))}`);
      while (isWs(line.charCodeAt(m))) m++;
      if (m < line.length) throw this.error('unexpected text after the timestamp');
    }

    const name = this.sanitize(spelled);
    const cur = this.current;
    const f = cur && belongs(cur, name) ? cur : this.family(spelled, name);
    this.current = f;
    if (f.dropped) return;

    // The label set as written, unless a label must move or be respelled.
    let inner = labels ? line.slice(labels.innerStart, labels.innerEnd) : '';
    if (labels?.rebuild) inner = this.rebuild(line, labels, f.name);
    const own = inner.trim() === '' ? '' : inner;
    const set = this.labelText ? `{${this.labelText}${own ? `,${own}` : ''}}` : own ? `{${own}}` : '';
    f.lines.push(`${name}${set}${after}`);
    if (f.samples) f.samples.push({ name, labels: this.labelsOf(line, labels, f.name), value });
  }

  private rebuild(line: string, l: LabelScan, family: string): string {
    const keys = this.outputKeys(l, family);
    return keys.map((key, n) => `${key}="${line.slice(l.values[2 * n], l.values[2 * n + 1])}"`).join(',');
  }

  private labelsOf(line: string, l: LabelScan | undefined, family: string): Labels {
    const out = newLabels();
    if (this.o.label) out[this.o.label] = this.target;
    if (!l) return out;
    const keys = this.outputKeys(l, family);
    keys.forEach((key, n) => (out[key] = unescape(line.slice(l.values[2 * n], l.values[2 * n + 1]))));
    return out;
  }

  /**
   * Each label's name in the output: respelled to the legacy charset, and
   * moved to `exported_<name>` (more `exported_` while taken) if reserved.
   */
  private outputKeys(l: LabelScan, family: string): string[] {
    const taken = new Set(l.keys.map(legacyLabelName));
    return l.keys.map((k) => {
      let key = legacyLabelName(k);
      if (!this.moved.includes(key)) return key;
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
   * (Prometheus 3). Fills and returns one reused LabelScan: this runs once per
   * sample line, and fresh objects per line showed as garbage collection.
   */
  private labels(line: string, at: number, nameFirst: boolean): LabelScan {
    const scan = this.scan;
    const keys = scan.keys;
    const values = scan.values;
    keys.length = 0;
    values.length = 0;
    scan.name = '';
    scan.rebuild = nameFirst;
    let i = at + 1;
    let first = true;
    for (;;) {
      while (isWs(line.charCodeAt(i))) i++;
      const c = line.charCodeAt(i);
      if (c === 0x7d) break;
      let key: string;
      if (c === 0x22) {
        [key, i] = this.quoted(line, i);
        while (isWs(line.charCodeAt(i))) i++;
        if (first && nameFirst && line.charCodeAt(i) !== 0x3d) {
          if (key === '') throw this.error('empty metric name');
          scan.name = key;
          first = false;
          if (line.charCodeAt(i) === 0x7d) break;
          if (line.charCodeAt(i) !== 0x2c) throw this.error('expected , or } after the quoted metric name');
          i++;
          continue;
        }
        scan.rebuild = true;
      } else {
        const start = i;
        if (!isLabelStart(c)) throw this.error(`invalid label name ${JSON.stringify(line.slice(start, start + 1))}`);
        while (i < line.length && isLabelChar(line.charCodeAt(i))) i++;
        key = line.slice(start, i);
        while (isWs(line.charCodeAt(i))) i++;
      }
      first = false;
      if (line.charCodeAt(i) !== 0x3d) throw this.error(`expected = after label ${key}`);
      i++;
      while (isWs(line.charCodeAt(i))) i++;
      if (line.charCodeAt(i) !== 0x22) throw this.error(`label value of ${key} must be quoted`);
      const vStart = i + 1;
      i = this.skipQuoted(line, i);
      for (let k = 0; k < keys.length; k++) if (keys[k] === key) throw this.error(`duplicate label ${key}`);
      keys.push(key);
      values.push(vStart, i - 1);
      if (this.moved.includes(key)) scan.rebuild = true;
      while (isWs(line.charCodeAt(i))) i++;
      const d = line.charCodeAt(i);
      if (d === 0x7d) break;
      if (d !== 0x2c) throw this.error('expected , or } in label set');
      i++;
    }
    if (nameFirst && scan.name === '') throw this.error('label set without a metric name');
    scan.innerStart = at + 1;
    scan.innerEnd = i;
    scan.end = i + 1;
    return scan;
  }

  /** Past a quoted string at `at` (index after the closing quote), escapes skipped. */
  private skipQuoted(line: string, at: number): number {
    let i = at + 1;
    for (;;) {
      const q = line.indexOf('"', i);
      if (q < 0) throw this.error('unterminated quoted string');
      // Count the backslashes before the quote: an odd number escapes it.
      let b = q - 1;
      while (b >= i && line.charCodeAt(b) === 0x5c) b--;
      if ((q - 1 - b) % 2 === 0) return q + 1;
      i = q + 1;
    }
  }

  /** A quoted name: unescaped text and the index after it. */
  private quoted(line: string, at: number): [string, number] {
    const end = this.skipQuoted(line, at);
    return [unescape(line.slice(at + 1, end - 1)), end];
  }
}

interface LabelScan {
  /** A quoted metric name inside the braces, or ''. */
  name: string;
  /** Label names, unquoted. */
  keys: string[];
  /** Start and end index in the line of each value as written (still escaped). */
  values: number[];
  /** The text between the braces. */
  innerStart: number;
  innerEnd: number;
  /** Index after the closing brace. */
  end: number;
  /** A label must move or be respelled: the set is written anew. */
  rebuild: boolean;
}

function validName(name: string): boolean {
  if (name === '' || !isNameStart(name.charCodeAt(0))) return false;
  for (let i = 1; i < name.length; i++) if (!isNameChar(name.charCodeAt(i))) return false;
  return true;
}

/** Whether a sample of `name` is one of family `f`'s (classic suffix rules). */
function belongs(f: Local, name: string): boolean {
  if (name === f.name) return true;
  if (!name.startsWith(f.name)) return false;
  const suffix = name.slice(f.name.length);
  if (f.type === 'histogram') return suffix === '_bucket' || suffix === '_sum' || suffix === '_count';
  if (f.type === 'summary') return suffix === '_sum' || suffix === '_count';
  return false;
}

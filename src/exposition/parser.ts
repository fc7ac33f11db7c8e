/**
 * Incremental parser of Prometheus text (0.0.4) and OpenMetrics 1.0 expositions
 * into families of samples.
 *
 * Two modes, because the two formats are consumed differently:
 * - `openmetrics` validates the whole OpenMetrics 1.0 grammar and semantics
 *   (it answers every verdict of the OpenMetrics conformance suite), because a
 *   consumer asking for OpenMetrics relies on its guarantees: `# EOF`, grouped
 *   families, consistent histograms.
 * - `prometheus` is as lenient as Prometheus itself with the classic format
 *   (free whitespace, comments, blank lines, no `# EOF`), so every exposition
 *   that Prometheus scrapes parses here too.
 * Both accept Prometheus 3 quoted metric names (`{"vllm:x",a="b"}`).
 *
 * Families are handed to `onFamily` as soon as they end, so a consumer that
 * does not keep them holds one family at a time; lines over `maxLineBytes`
 * are an error instead of unbounded buffering.
 */

import { type Exemplar, type ExpositionFormat, type Labels, type MetricFamily, type MetricType, type Sample, newLabels } from './model.js';
import { ExpositionParseError } from '../errors.js';

export { ExpositionParseError };

export interface ParserOptions {
  format: ExpositionFormat;
  onFamily: (family: MetricFamily) => void;
  /** A longer line is an error (default 1 MiB). */
  maxLineBytes?: number;
}

const LEGACY_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const UNIT = /^[a-zA-Z0-9_:]*$/;
const DECIMAL = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;
const SPECIAL = /^(?:([+-]?)inf(?:inity)?|nan)$/i;
const PROM_TIMESTAMP = /^-?\d+$/;
const EXEMPLAR_MAX_RUNES = 128;

const OM_TYPES = new Set<MetricType>(['counter', 'gauge', 'histogram', 'gaugehistogram', 'summary', 'info', 'stateset', 'unknown']);

/** The sample-name suffixes each type may emit in OpenMetrics. */
const OM_SUFFIXES: Record<MetricType, readonly string[]> = {
  counter: ['_total', '_created'],
  gauge: [''],
  histogram: ['_bucket', '_count', '_sum', '_created'],
  gaugehistogram: ['_bucket', '_gcount', '_gsum'],
  summary: ['', '_count', '_sum', '_created'],
  info: ['_info'],
  stateset: [''],
  unknown: [''],
};

/**
 * The classic format: a counter's family name is its sample name (`x_total`),
 * and `_created` series are gauge families of their own.
 */
const PROM_SUFFIXES: Record<MetricType, readonly string[]> = {
  ...OM_SUFFIXES,
  counter: [''],
  histogram: ['_bucket', '_count', '_sum'],
  summary: ['', '_count', '_sum'],
  info: [''],
};

interface FamilyState {
  family: MetricFamily;
  sawHelp: boolean;
  sawType: boolean;
  sawUnit: boolean;
  registered: boolean;
  groupKey: string | null;
  closedGroups: Set<string>;
  /** Per series: last timestamp, or null when the series has none. */
  series: Map<string, number | null>;
  group: GroupCheck;
}

/** What one label set of a histogram-like family has shown so far. */
interface GroupCheck {
  lastLe: number;
  lastBucket: number;
  infBucket: number | undefined;
  negativeBucket: boolean;
  count: number | undefined;
  sum: number | undefined;
}

const freshGroup = (): GroupCheck => ({
  lastLe: -Infinity,
  lastBucket: 0,
  infBucket: undefined,
  negativeBucket: false,
  count: undefined,
  sum: undefined,
});

export class ExpositionParser {
  readonly #om: boolean;
  readonly #onFamily: (family: MetricFamily) => void;
  readonly #maxLine: number;
  readonly #decoder = new TextDecoder('utf-8', { fatal: true });
  #pending = '';
  #lineNo = 0;
  #eof = false;
  #ended = false;
  #current: FamilyState | null = null;
  /** Family names already closed, and (OpenMetrics) every sample name they may emit. */
  readonly #closed = new Set<string>();
  readonly #reserved = new Set<string>();

  constructor(options: ParserOptions) {
    this.#om = options.format === 'openmetrics';
    this.#onFamily = options.onFamily;
    this.#maxLine = options.maxLineBytes ?? 1 << 20;
  }

  write(chunk: Buffer | Uint8Array | string): void {
    if (this.#ended) throw new Error('write after end');
    let text: string;
    try {
      text = typeof chunk === 'string' ? chunk : this.#decoder.decode(chunk, { stream: true });
    } catch {
      throw new ExpositionParseError(this.#lineNo + 1, 'invalid UTF-8');
    }
    let start = 0;
    let nl = text.indexOf('\n');
    if (nl >= 0 && this.#pending.length > 0) {
      this.#line(this.#pending + text.slice(0, nl));
      this.#pending = '';
      start = nl + 1;
      nl = text.indexOf('\n', start);
    }
    while (nl >= 0) {
      this.#line(text.slice(start, nl));
      start = nl + 1;
      nl = text.indexOf('\n', start);
    }
    if (start < text.length) this.#pending += text.slice(start);
    if (this.#pending.length > this.#maxLine) {
      throw new ExpositionParseError(this.#lineNo + 1, `line longer than ${this.#maxLine} bytes`);
    }
  }

  end(): void {
    if (this.#ended) return;
    try {
      this.#pending += this.#decoder.decode();
    } catch {
      throw new ExpositionParseError(this.#lineNo + 1, 'invalid UTF-8');
    }
    this.#ended = true;
    if (this.#pending.length > 0) {
      // OpenMetrics: only `# EOF` may lack its newline.
      if (this.#om && this.#pending !== '# EOF') {
        this.#lineNo++;
        throw this.#error(this.#eof ? 'text after # EOF' : 'last line has no newline');
      }
      this.#line(this.#pending);
      this.#pending = '';
    }
    if (this.#om && !this.#eof) throw new ExpositionParseError(0, 'missing # EOF');
    this.#finishFamily();
  }

  #error(reason: string): ExpositionParseError {
    return new ExpositionParseError(this.#lineNo, reason);
  }

  #line(raw: string): void {
    this.#lineNo++;
    if (this.#eof) throw this.#error('text after # EOF');
    if (this.#om) {
      if (raw === '# EOF') {
        this.#eof = true;
        return;
      }
      if (raw === '') throw this.#error('blank line');
      if (raw.charCodeAt(0) === 0x23) this.#omMetadata(raw);
      else this.#sample(raw);
      return;
    }
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    const body = line.trimStart();
    if (body === '') return;
    if (body.charCodeAt(0) === 0x23) this.#promComment(body);
    else this.#sample(body);
  }

  // --- metadata -----------------------------------------------------------

  #omMetadata(line: string): void {
    const m = /^# (HELP|TYPE|UNIT) /.exec(line);
    if (!m) throw this.#error('comment lines other than HELP, TYPE, UNIT and EOF are not allowed in OpenMetrics');
    const [name, next] = this.#metadataName(line, m[0].length);
    if (line.charCodeAt(next) !== 0x20) throw this.#error(`${m[1]} needs a name, a space and a value`);
    this.#metadata(m[1] as 'HELP' | 'TYPE' | 'UNIT', name, line.slice(next + 1));
  }

  #promComment(line: string): void {
    const m = /^#[ \t]+(HELP|TYPE)[ \t]+/.exec(line);
    if (!m) return; // plain comment
    const [name, next] = this.#metadataName(line, m[0].length);
    const rest = line.slice(next);
    if (rest !== '' && rest.charCodeAt(0) !== 0x20 && rest.charCodeAt(0) !== 0x09) throw this.#error(`invalid metric name in ${m[1]}`);
    const value = m[1] === 'TYPE' ? rest.trim() : rest.replace(/^[ \t]/, '');
    this.#metadata(m[1] as 'HELP' | 'TYPE', name, value);
  }

  /** Reads a legacy or quoted name at `at`; returns it and the index after it. */
  #metadataName(line: string, at: number): [string, number] {
    if (line.charCodeAt(at) === 0x22) {
      const [name, next] = this.#quoted(line, at);
      if (name === '') throw this.#error('empty metric name');
      return [name, next];
    }
    let end = at;
    while (end < line.length && line.charCodeAt(end) !== 0x20 && (this.#om || line.charCodeAt(end) !== 0x09)) end++;
    const name = line.slice(at, end);
    if (!LEGACY_NAME.test(name)) throw this.#error(`invalid metric name ${JSON.stringify(name)}`);
    return [name, end];
  }

  #metadata(kind: 'HELP' | 'TYPE' | 'UNIT', name: string, value: string): void {
    let state = this.#current;
    if (!state || state.family.name !== name || state.family.samples.length > 0) {
      state = this.#startFamily(name, 'unknown');
    }
    const family = state.family;
    if (kind === 'HELP') {
      if (state.sawHelp) throw this.#error(`second HELP for ${name}`);
      state.sawHelp = true;
      family.help = unescapeHelp(value, this.#om);
    } else if (kind === 'TYPE') {
      if (state.sawType) throw this.#error(`second TYPE for ${name}`);
      state.sawType = true;
      const type = this.#om ? value : value.toLowerCase() === 'untyped' ? 'unknown' : value.toLowerCase();
      if (!OM_TYPES.has(type as MetricType)) throw this.#error(`invalid metric type ${JSON.stringify(value)}`);
      family.type = type as MetricType;
    } else {
      if (state.sawUnit) throw this.#error(`second UNIT for ${name}`);
      state.sawUnit = true;
      if (!UNIT.test(value)) throw this.#error(`invalid unit ${JSON.stringify(value)}`);
      if (value !== '' && !name.endsWith(`_${value}`)) throw this.#error(`metric name ${name} must end with its unit _${value}`);
      family.unit = value;
    }
    if (this.#om && family.unit && (family.type === 'info' || family.type === 'stateset')) {
      throw this.#error(`${family.type} metrics cannot have a unit`);
    }
  }

  // --- families -------------------------------------------------------------

  #startFamily(name: string, type: MetricType): FamilyState {
    this.#finishFamily();
    if (this.#om && this.#closed.has(name)) throw this.#error(`metric family ${name} appears twice or clashes with another`);
    const state: FamilyState = {
      family: { name, type, samples: [] },
      sawHelp: false,
      sawType: false,
      sawUnit: false,
      registered: false,
      groupKey: null,
      closedGroups: new Set(),
      series: new Map(),
      group: freshGroup(),
    };
    this.#current = state;
    return state;
  }

  /** OpenMetrics forbids two families that could emit the same sample name. */
  #register(state: FamilyState): void {
    if (state.registered || !this.#om) return;
    state.registered = true;
    const { name, type } = state.family;
    const names = new Set([name, ...OM_SUFFIXES[type].map((s) => name + s)]);
    for (const n of names) {
      if (this.#reserved.has(n)) throw this.#error(`metric family ${name} clashes with an earlier family on ${n}`);
    }
    for (const n of names) this.#reserved.add(n);
  }

  #finishFamily(): void {
    const state = this.#current;
    if (!state) return;
    this.#register(state);
    this.#finishGroup(state);
    this.#current = null;
    this.#closed.add(state.family.name);
    this.#onFamily(state.family);
  }

  /** Which suffix of the current family `sample` carries, or null if it is not one of its samples. */
  #suffixIn(state: FamilyState, sample: string): string | null {
    const { name, type } = state.family;
    if (!sample.startsWith(name)) return null;
    const suffix = sample.slice(name.length);
    const allowed = (this.#om ? OM_SUFFIXES : PROM_SUFFIXES)[type];
    return allowed.includes(suffix) ? suffix : null;
  }

  // --- samples --------------------------------------------------------------

  #sample(line: string): void {
    let at = 0;
    let name: string;
    let labels = newLabels();
    if (line.charCodeAt(0) === 0x7b) {
      [name, labels, at] = this.#labelSet(line, 0, true);
    } else {
      while (at < line.length && isNameChar(line.charCodeAt(at))) at++;
      name = line.slice(0, at);
      if (!LEGACY_NAME.test(name)) throw this.#error(`invalid metric name ${JSON.stringify(line.slice(0, Math.max(at, 1)))}`);
      if (line.charCodeAt(at) === 0x7b) [, labels, at] = this.#labelSet(line, at, false);
    }

    // value, timestamp, exemplar
    let valueText: string;
    let tsText: string | undefined;
    let exemplarText: string | undefined;
    if (this.#om) {
      if (line.charCodeAt(at) !== 0x20) throw this.#error('expected a space before the value');
      const rest = line.slice(at + 1);
      const hash = rest.indexOf(' # ');
      const main = hash >= 0 ? rest.slice(0, hash) : rest;
      if (hash >= 0) exemplarText = rest.slice(hash + 3);
      const parts = main.split(' ');
      if (parts.length > 2) throw this.#error('unexpected text after the timestamp');
      [valueText, tsText] = parts as [string, string | undefined];
    } else {
      const parts = line
        .slice(at)
        .trim()
        .split(/[ \t]+/);
      if (at < line.length && line.charCodeAt(at) !== 0x20 && line.charCodeAt(at) !== 0x09) {
        throw this.#error(`invalid character after metric name ${JSON.stringify(name)}`);
      }
      if (parts.length > 2) throw this.#error('unexpected text after the timestamp');
      [valueText, tsText] = parts as [string, string | undefined];
    }
    if (valueText === undefined || valueText === '') throw this.#error(`missing value for ${name}`);
    const value = parseNumber(valueText, true);
    if (value === undefined) throw this.#error(`invalid value ${JSON.stringify(valueText)}`);
    const sample: Sample = { name, labels, value };
    if (tsText !== undefined) sample.timestampMs = this.#timestamp(tsText);
    if (exemplarText !== undefined) sample.exemplar = this.#exemplar(exemplarText);
    this.#addSample(sample);
  }

  #timestamp(text: string): number {
    if (this.#om) {
      const seconds = parseNumber(text, false);
      if (seconds === undefined) throw this.#error(`invalid timestamp ${JSON.stringify(text)}`);
      return seconds * 1000;
    }
    if (!PROM_TIMESTAMP.test(text)) throw this.#error(`invalid timestamp ${JSON.stringify(text)}`);
    return Number(text);
  }

  #exemplar(text: string): Exemplar {
    if (text.charCodeAt(0) !== 0x7b) throw this.#error('exemplar must start with a label set');
    const [, labels, at] = this.#labelSet(text, 0, false);
    let runes = 0;
    for (const [k, v] of Object.entries(labels)) runes += [...k].length + [...v].length;
    if (runes > EXEMPLAR_MAX_RUNES) throw this.#error(`exemplar labels longer than ${EXEMPLAR_MAX_RUNES} characters`);
    if (text.charCodeAt(at) !== 0x20) throw this.#error('exemplar needs a value');
    const parts = text.slice(at + 1).split(' ');
    if (parts.length > 2) throw this.#error('unexpected text after the exemplar');
    const value = parseNumber(parts[0]!, true);
    if (value === undefined) throw this.#error(`invalid exemplar value ${JSON.stringify(parts[0])}`);
    const exemplar: Exemplar = { labels, value };
    if (parts.length === 2) {
      const ts = parseNumber(parts[1]!, false);
      if (ts === undefined) throw this.#error(`invalid exemplar timestamp ${JSON.stringify(parts[1])}`);
      exemplar.timestampMs = ts * 1000;
    }
    return exemplar;
  }

  /**
   * Parses `{...}` at `at`. With `nameFirst`, the first item may be a quoted
   * metric name. Returns the name ('' if none), the labels, and the index after `}`.
   */
  #labelSet(line: string, at: number, nameFirst: boolean): [string, Labels, number] {
    const labels = newLabels();
    let name = '';
    let i = at + 1;
    const ws = () => {
      if (!this.#om) while (line.charCodeAt(i) === 0x20 || line.charCodeAt(i) === 0x09) i++;
    };
    ws();
    if (line.charCodeAt(i) === 0x7d) return [name, labels, i + 1];
    let first = true;
    for (;;) {
      ws();
      let key: string;
      if (line.charCodeAt(i) === 0x22) {
        [key, i] = this.#quoted(line, i);
        ws();
        if (first && nameFirst && line.charCodeAt(i) !== 0x3d) {
          if (key === '') throw this.#error('empty metric name');
          name = key;
          first = false;
          if (line.charCodeAt(i) === 0x7d) return [name, labels, i + 1];
          if (line.charCodeAt(i) !== 0x2c) throw this.#error('expected , or } after the quoted metric name');
          i++;
          continue;
        }
      } else {
        const start = i;
        while (i < line.length && isLabelChar(line.charCodeAt(i))) i++;
        key = line.slice(start, i);
        if (!LABEL_NAME.test(key)) throw this.#error(`invalid label name ${JSON.stringify(line.slice(start, i + 1))}`);
        ws();
      }
      first = false;
      if (line.charCodeAt(i) !== 0x3d) throw this.#error(`expected = after label ${key}`);
      i++;
      ws();
      if (line.charCodeAt(i) !== 0x22) throw this.#error(`label value of ${key} must be quoted`);
      let value: string;
      [value, i] = this.#quoted(line, i);
      if (key in labels) throw this.#error(`duplicate label ${key}`);
      labels[key] = value;
      ws();
      const c = line.charCodeAt(i);
      if (c === 0x7d) {
        i++;
        break;
      }
      if (c !== 0x2c) throw this.#error('expected , or } in label set');
      i++;
      ws();
      if (line.charCodeAt(i) === 0x7d) {
        if (this.#om) throw this.#error('trailing comma in label set');
        i++;
        break;
      }
    }
    if (nameFirst && name === '') throw this.#error('label set without a metric name');
    return [name, labels, i];
  }

  /** Reads a double-quoted string at `at`; returns the unescaped text and the index after the closing quote. */
  #quoted(line: string, at: number): [string, number] {
    let out = '';
    let i = at + 1;
    let runStart = i;
    for (;;) {
      if (i >= line.length) throw this.#error('unterminated quoted string');
      const c = line.charCodeAt(i);
      if (c === 0x22) {
        out += line.slice(runStart, i);
        return [out, i + 1];
      }
      if (c === 0x5c) {
        out += line.slice(runStart, i);
        const e = line.charCodeAt(i + 1);
        if (e === 0x6e) out += '\n';
        else if (e === 0x5c || e === 0x22) out += line[i + 1];
        else if (Number.isNaN(e)) throw this.#error('unterminated quoted string');
        else out += line.slice(i, i + 2); // unknown escapes stay as written
        i += 2;
        runStart = i;
        continue;
      }
      i++;
    }
  }

  #addSample(sample: Sample): void {
    let state = this.#current;
    let suffix = state ? this.#suffixIn(state, sample.name) : null;
    if (!state || suffix === null) {
      state = this.#startFamily(sample.name, 'unknown');
      suffix = '';
    }
    this.#register(state);
    this.#checkOrder(state, sample, suffix);
    if (this.#om) this.#checkSample(state, sample, suffix);
    state.family.samples.push(sample);
  }

  /** Grouping and timestamp order; the histogram consistency checks hang off the group change. */
  #checkOrder(state: FamilyState, sample: Sample, suffix: string): void {
    // Grouping and order are OpenMetrics rules; the classic format leaves them open.
    if (!this.#om) return;
    const type = state.family.type;
    const groupLabels = type === 'histogram' || type === 'gaugehistogram' ? 'le' : type === 'summary' ? 'quantile' : '';
    const key = labelKey(sample.labels, groupLabels);
    if (key !== state.groupKey) {
      if (state.groupKey !== null) {
        this.#finishGroup(state);
        state.closedGroups.add(state.groupKey);
      }
      if (state.closedGroups.has(key)) throw this.#error(`samples of ${state.family.name}{${key}} are not grouped together`);
      state.groupKey = key;
    }
    const seriesKey = `${suffix}\u0000${labelKey(sample.labels, '')}`;
    const ts = sample.timestampMs ?? null;
    if (state.series.has(seriesKey)) {
      const last = state.series.get(seriesKey)!;
      if ((last === null) !== (ts === null)) throw this.#error('a series mixes samples with and without timestamps');
      if (last !== null && ts !== null && ts < last) throw this.#error('timestamps of a series go backwards');
    }
    state.series.set(seriesKey, ts);
  }

  /** The OpenMetrics rules on values and labels, per type. */
  #checkSample(state: FamilyState, sample: Sample, suffix: string): void {
    const { type, name } = state.family;
    const v = sample.value;
    const g = state.group;
    const nonNegative = (what: string) => {
      if (Number.isNaN(v) || v < 0) throw this.#error(`${what} of ${name} must be a non-negative number`);
    };
    if (sample.exemplar && !((type === 'counter' && suffix === '_total') || ((type === 'histogram' || type === 'gaugehistogram') && suffix === '_bucket'))) {
      throw this.#error(`exemplars are not allowed on ${sample.name}`);
    }
    switch (type) {
      case 'counter':
        if (suffix === '_total') nonNegative('counter value');
        break;
      case 'histogram':
      case 'gaugehistogram':
        if (suffix === '_bucket') {
          const leText = sample.labels.le;
          if (leText === undefined) throw this.#error(`bucket of ${name} has no le label`);
          const le = leText === '+Inf' ? Infinity : DECIMAL.test(leText) ? Number(leText) : NaN;
          if (Number.isNaN(le)) throw this.#error(`invalid le ${JSON.stringify(leText)}`);
          nonNegative('bucket count');
          if (le <= g.lastLe) throw this.#error(`buckets of ${name} are not in increasing le order`);
          if (v < g.lastBucket) throw this.#error(`buckets of ${name} are not cumulative`);
          if (le < 0) g.negativeBucket = true;
          g.lastLe = le;
          g.lastBucket = v;
          if (le === Infinity) g.infBucket = v;
        } else if (suffix === '_count' || suffix === '_gcount') {
          nonNegative('count');
          g.count = v;
        } else if (suffix === '_sum' || suffix === '_gsum') {
          if (Number.isNaN(v)) throw this.#error(`sum of ${name} is NaN`);
          g.sum = v;
        }
        break;
      case 'summary':
        if (suffix === '') {
          const q = sample.labels.quantile;
          const qv = q !== undefined && DECIMAL.test(q) ? Number(q) : NaN;
          if (!(qv >= 0 && qv <= 1)) throw this.#error(`summary ${name} needs a quantile label between 0 and 1`);
          if (v < 0) throw this.#error(`quantile value of ${name} is negative`);
        } else if (suffix === '_count' || suffix === '_sum') {
          nonNegative(suffix.slice(1));
        }
        break;
      case 'info':
        if (v !== 1) throw this.#error(`info metric ${name} must have value 1`);
        break;
      case 'stateset':
        if (!(name in sample.labels)) throw this.#error(`stateset ${name} needs a label named ${name}`);
        if (v !== 0 && v !== 1) throw this.#error(`stateset ${name} values must be 0 or 1`);
        break;
      default:
        break;
    }
  }

  /** End of one label set of a histogram: +Inf present, count matches, sum/count together. */
  #finishGroup(state: FamilyState): void {
    const g = state.group;
    state.group = freshGroup();
    const { type, name } = state.family;
    if (!this.#om || (type !== 'histogram' && type !== 'gaugehistogram') || state.groupKey === null) return;
    if (g.infBucket === undefined) throw this.#error(`histogram ${name} has no +Inf bucket`);
    if ((g.count === undefined) !== (g.sum === undefined)) throw this.#error(`histogram ${name} needs both or neither of count and sum`);
    if (g.count !== undefined && g.count !== g.infBucket) throw this.#error(`count of ${name} differs from its +Inf bucket`);
    if (g.sum !== undefined && g.negativeBucket && type === 'histogram') throw this.#error(`histogram ${name} with negative buckets cannot have a sum`);
    if (g.sum !== undefined && g.sum < 0 && !g.negativeBucket) throw this.#error(`sum of ${name} is negative without negative buckets`);
  }
}

/** Parses a whole exposition at once. */
export function parseExposition(input: string | Buffer, format: ExpositionFormat): MetricFamily[] {
  const families: MetricFamily[] = [];
  const parser = new ExpositionParser({ format, onFamily: (f) => families.push(f) });
  parser.write(input);
  parser.end();
  return families;
}

/**
 * A number as the text formats write it: decimal with optional exponent, and
 * with `special` also ±Inf and NaN. No hex, underscores or other radixes.
 */
export function parseNumber(text: string, special: boolean): number | undefined {
  if (DECIMAL.test(text)) return Number(text);
  if (!special) return undefined;
  const m = SPECIAL.exec(text);
  if (!m) return undefined;
  if (/nan/i.test(text)) return NaN;
  return m[1] === '-' ? -Infinity : Infinity;
}

function unescapeHelp(text: string, om: boolean): string {
  return text.replace(/\\([\\n"])/g, (all, c: string) => (c === 'n' ? '\n' : c === '"' && !om ? all : c));
}

/** A stable key for a label set, leaving out one label (`le` or `quantile`). */
export function labelKey(labels: Labels, without: string): string {
  let key = '';
  for (const k of Object.keys(labels).sort()) {
    if (k !== without) key += `${k}\u0001${labels[k]}\u0002`;
  }
  return key;
}

/** `[a-zA-Z0-9_:]`, the legacy metric-name characters. */
export function isNameChar(c: number): boolean {
  return (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || (c >= 0x30 && c <= 0x39) || c === 0x5f || c === 0x3a;
}

/** `[a-zA-Z0-9_]`, the legacy label-name characters. */
export function isLabelChar(c: number): boolean {
  return (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || (c >= 0x30 && c <= 0x39) || c === 0x5f;
}

/**
 * The server's own view of a request: vLLM's histograms of queue, prefill,
 * decode, TTFT and end-to-end time (SGLang's two of them), read from /metrics before and after it and
 * subtracted. This is the before/after-snapshot idea the project grew from, done
 * so that it holds under load: snapshots are coalesced (at most one /metrics
 * fetch in flight, shared by every request that may use it), each request knows
 * which others overlapped it, and a delta is called `exact` only when the
 * request ran alone and the server counted exactly one request in between.
 */

import { fromVocabulary } from '../names/vocabulary.js';

export const SERVER_HISTOGRAMS = {
  queue: 'request_queue_time_seconds',
  prefill: 'request_prefill_time_seconds',
  decode: 'request_decode_time_seconds',
  ttft: 'time_to_first_token_seconds',
  e2e: 'e2e_request_latency_seconds',
} as const;

export type Phase = keyof typeof SERVER_HISTOGRAMS;
export type Totals = Record<Phase, { sum: number; count: number }>;

const PHASES = Object.keys(SERVER_HISTOGRAMS) as Phase[];

const zero = (): Totals => Object.fromEntries(PHASES.map((p) => [p, { sum: 0, count: 0 }])) as Totals;

/**
 * The ten sample names (every spelling, as written and sanitized, src/names) → the phase and
 * the part each is; and what a line scan needs to find them without reading every name.
 */
const series = fromVocabulary((v) => {
  const m = new Map<string, [Phase, 'sum' | 'count']>();
  for (const p of PHASES) {
    for (const name of [...v.rawSpellings(SERVER_HISTOGRAMS[p]), ...v.spellings(SERVER_HISTOGRAMS[p])]) {
      m.set(`${name}_sum`, [p, 'sum']);
      m.set(`${name}_count`, [p, 'count']);
    }
  }
  // What a wanted line may start with, and the lengths its name may have.
  const first = new Uint8Array(256);
  for (const name of m.keys()) first[name.charCodeAt(0)] = 1;
  const lengths = Int32Array.from(new Set([...m.keys()].map((n) => n.length))).sort();
  return { m, first, lengths };
});
const MODEL = /(?:^|[{,])\s*model_name="((?:[^"\\]|\\.)*)"/;
const LBRACE = 0x7b;
const SPACE = 0x20;
const TAB = 0x09;
const RBRACE = 0x7d;
const CR = 0x0d;
const [M, U, T, N] = [0x6d, 0x75, 0x74, 0x6e]; // m, u (of `sum`); t, n (of `count`)

/**
 * The five histograms' `_sum` and `_count` per served model, added up over
 * engines (colon or sanitized names). A scan of the body's bytes for those ten
 * sample names, not a parse of the whole exposition: it runs once per API
 * request, and a full parse of every family cost the passthrough milliseconds a
 * request (bench/). A line is looked at only where a wanted name of its length
 * would end, so the ~95% of lines that are other names cost a few byte loads.
 */
export function totalsByModel(exposition: Uint8Array | string): Map<string, Totals> {
  const b = typeof exposition === 'string' ? Buffer.from(exposition) : Buffer.from(exposition.buffer, exposition.byteOffset, exposition.byteLength);
  const out = new Map<string, Totals>();
  const { m: SERIES, first, lengths } = series();
  const size = b.length;
  let start = 0;
  while (start < size) {
    let end = b.indexOf(0x0a, start);
    if (end === -1) end = size;
    // Only lines that may start with a wanted name (not comments, not python_*, process_*).
    if (first[b[start]!] === 1) {
      for (let k = 0; k < lengths.length; k++) {
        const nameEnd = start + lengths[k]!;
        if (nameEnd >= end) break;
        const c = b[nameEnd];
        if (c !== LBRACE && c !== SPACE && c !== TAB) continue;
        // The name ends here: only a `_sum` or `_count` is worth a lookup (not the many `_bucket`s).
        const last = b[nameEnd - 1];
        if (last === M ? b[nameEnd - 2] !== U : last !== T || b[nameEnd - 2] !== N) break;
        const found = SERIES.get(b.toString('latin1', start, nameEnd));
        if (found) add(out, found, b, nameEnd, end);
        break;
      }
    }
    start = end + 1;
  }
  return out;
}

/** One wanted line's label set and value (`b[at, end)` is the line after the name) into `out`. */
function add(out: Map<string, Totals>, found: [Phase, 'sum' | 'count'], b: Buffer, at: number, end: number): void {
  let close = b[at] === LBRACE ? b.lastIndexOf(RBRACE, end - 1) : -1;
  if (close < at) close = -1; // not on this line: no value is read then
  let v = close === -1 ? at : close + 1;
  while (v < end && (b[v] === SPACE || b[v] === TAB)) v++;
  let e = v;
  while (e < end && b[e] !== SPACE && b[e] !== TAB && b[e] !== CR) e++;
  const value = Number(b.toString('latin1', v, e));
  const m = close === -1 ? null : MODEL.exec(b.toString('utf8', at, close + 1));
  const model = m ? (m[1]!.includes('\\') ? m[1]!.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c)) : m[1]!) : '';
  let t = out.get(model);
  if (!t) out.set(model, (t = zero()));
  if (e > v && Number.isFinite(value)) t[found[0]][found[1]] += value;
}

/** One read of /metrics: when its fetch started (performance.now()), and what it counted. */
export interface Snapshot {
  startedAt: number;
  totals: Map<string, Totals>;
}

/** Coalesced /metrics snapshots: at most one fetch in flight, shared by whoever may use it. */
export class Snapshots {
  readonly #fetch: () => Promise<Map<string, Totals>>;
  #inFlight: { startedAt: number; result: Promise<Snapshot> } | undefined;
  /** The latest fetch started, in flight or done. */
  #last: { startedAt: number; result: Promise<Snapshot> } | undefined;
  /** The wait shared by callers that may not start a fetch before a given time. */
  #pause: { until: number; over: Promise<void> } | undefined;
  /** Fetches made (for tests and self-metrics). */
  fetches = 0;

  constructor(fetch: () => Promise<Map<string, Totals>>) {
    this.#fetch = fetch;
  }

  /**
   * A snapshot whose fetch started at or after `notBefore` (performance.now()); with
   * `gapMs`, one that starts a new fetch waits until `gapMs` after the last one started,
   * and whoever asks in the meantime shares that fetch.
   */
  async after(notBefore: number, gapMs = 0): Promise<Snapshot> {
    for (;;) {
      const current = this.#inFlight;
      if (current && current.startedAt >= notBefore) return current.result;
      if (current) {
        // Started too early to count for this caller: let it finish, then start (or join) a newer one.
        await current.result.catch(() => {});
        continue;
      }
      const until = (this.#last?.startedAt ?? -Infinity) + gapMs;
      if (performance.now() < until) {
        await this.#waitUntil(until);
        continue;
      }
      const startedAt = performance.now();
      this.fetches++;
      const result = this.#fetch().then((totals) => ({ startedAt, totals }));
      const entry = { startedAt, result };
      this.#inFlight = this.#last = entry;
      result
        .finally(() => {
          if (this.#inFlight === entry) this.#inFlight = undefined;
        })
        .catch(() => {});
      return result;
    }
  }

  /**
   * The latest snapshot if its fetch started at most `withinMs` before `now` (and not
   * after it); otherwise, or if that fetch fails, a new one as `after(now)` gives.
   */
  recent(now: number, withinMs: number): Promise<Snapshot> {
    const last = this.#last;
    if (!last || last.startedAt > now || now - last.startedAt > withinMs) return this.after(now);
    return last.result.catch(() => this.after(now));
  }

  #waitUntil(until: number): Promise<void> {
    if (this.#pause && this.#pause.until >= until) return this.#pause.over;
    const over = new Promise<void>((resolve) => setTimeout(resolve, Math.max(0, until - performance.now())));
    this.#pause = { until, over };
    return over;
  }
}

export interface ServerSide {
  /** `exact`: ran alone and the server counted one request; `shared`: others overlapped or were counted; `unavailable`: no /metrics. */
  attribution: 'exact' | 'shared' | 'unavailable';
  /** Other requests through the proxy whose time overlapped this one's. */
  overlap: number;
  /** Requests the server finished between the snapshots (the e2e count delta). */
  requests?: number;
  /** Seconds: the delta of each phase's `_sum`, divided by the requests counted (exact: this request's own). */
  queue?: number;
  prefill?: number;
  decode?: number;
  ttft?: number;
  e2e?: number;
  error?: string;
}

interface Active {
  /** Requests running when it began, and begin() calls before its own: with those at its end, how many it overlapped. */
  runningAtBegin: number;
  begunBefore: number;
  before: Promise<Snapshot>;
}

/** vLLM logs a request's histograms a little after its last byte: how long the end snapshot waits for it. */
const SETTLE_TRIES = 20;
const SETTLE_STEP_MS = 50;

/**
 * How soon after a request that ended alone the next may start from that request's "after"
 * snapshot instead of a fetch of its own. One client sending request after request then
 * costs one /metrics fetch a request, not two (bench/README.md, "API passthrough").
 */
const REUSE_MS = 200;

/**
 * A request that others overlap is `shared` whatever its snapshots are, so its window may
 * be wider: its "before" is the latest snapshot if that started at most this long before
 * it, and its "after" starts at least this long after the last fetch began. Under load the
 * view then reads /metrics ten times a second, not once a request or two (bench/README.md,
 * "API passthrough"); vLLM renders that answer on the event loop that serves the API.
 */
export const SHARED_GAP_MS = 100;

export class ServerView {
  readonly #snapshots: Snapshots;
  readonly #active = new Set<Active>();
  /** begin() calls so far. */
  #begun = 0;
  /** Requests whose end() is still reading the "after" snapshot. */
  #settling = 0;
  /**
   * The last request to end, if it ended alone (none running, none settling): the snapshot
   * that settles it counts every request through the proxy, so it can be the next one's
   * "before". A request the server finished in the gap (sent to vLLM past the proxy) is
   * then in the next delta and makes it `shared`, never a wrong `exact`.
   */
  #alone: { endedAt: number; settled: Promise<Snapshot | undefined> } | undefined;

  constructor(snapshots: Snapshots) {
    this.#snapshots = snapshots;
  }

  get snapshots(): Snapshots {
    return this.#snapshots;
  }

  /**
   * A request starts: its "before" snapshot is taken now, alongside it (nothing waits for
   * it), or is the one that settled the request just before it, if that one ended alone,
   * moments ago, and its snapshot was under way before this request began.
   */
  begin(): Active {
    const now = performance.now();
    const alone = this.#alone;
    this.#alone = undefined;
    const before =
      this.#active.size > 0
        ? this.#snapshots.recent(now, SHARED_GAP_MS)
        : alone && now - alone.endedAt <= REUSE_MS
          ? alone.settled.then((s) => (s && s.startedAt <= now ? s : this.#snapshots.after(now)))
          : this.#snapshots.after(now);
    // Counts, not a set of the others: under load a set was a pass over every running request per request.
    const a: Active = { runningAtBegin: this.#active.size, begunBefore: this.#begun++, before };
    a.before.catch(() => {});
    this.#active.add(a);
    return a;
  }

  /** The request ended (its last byte went out): the "after" snapshot, and the delta for `model`. */
  async end(a: Active, model: string | undefined): Promise<ServerSide> {
    this.#active.delete(a);
    // Those running when it began, and those that began since (itself not counted).
    const overlap = a.runningAtBegin + (this.#begun - a.begunBefore - 1);
    let settled: ((s: Snapshot | undefined) => void) | undefined;
    if (this.#active.size === 0 && this.#settling === 0) this.#alone = { endedAt: performance.now(), settled: new Promise((r) => (settled = r)) };
    else this.#alone = undefined; // its count may land after the other's snapshot
    this.#settling++;
    let after: Snapshot | undefined;
    try {
      const side = await this.#settle(a, overlap, model, (s) => (after = s));
      return side;
    } finally {
      this.#settling--;
      settled?.(after);
    }
  }

  /** The delta for `a`; `settledBy` gets the snapshot in which the server had counted it. */
  async #settle(a: Active, overlap: number, model: string | undefined, settledBy: (s: Snapshot) => void): Promise<ServerSide> {
    let before: Map<string, Totals>;
    try {
      before = (await a.before).totals;
    } catch (err) {
      return { attribution: 'unavailable', overlap, error: (err as Error).message };
    }
    let delta: Totals | undefined;
    for (let i = 0; i < SETTLE_TRIES; i++) {
      let after: Snapshot;
      try {
        after = await this.#snapshots.after(performance.now(), overlap > 0 ? SHARED_GAP_MS : 0);
      } catch (err) {
        return { attribution: 'unavailable', overlap, error: (err as Error).message };
      }
      delta = subtract(after.totals, before, model);
      if (delta.e2e.count >= 1) {
        settledBy(after);
        break;
      }
      await new Promise((r) => setTimeout(r, SETTLE_STEP_MS));
    }
    const requests = delta!.e2e.count;
    if (requests < 1) return { attribution: 'unavailable', overlap, requests, error: 'the server counted no finished request' };
    const per = (p: Phase) => (delta![p].count > 0 ? delta![p].sum / delta![p].count : undefined);
    return {
      attribution: overlap === 0 && requests === 1 ? 'exact' : 'shared',
      overlap,
      requests,
      queue: per('queue'),
      prefill: per('prefill'),
      decode: per('decode'),
      ttft: per('ttft'),
      e2e: per('e2e'),
    };
  }
}

/** after - before for one model (every model when the request named none), a reset counting from zero. */
function subtract(after: Map<string, Totals>, before: Map<string, Totals>, model: string | undefined): Totals {
  const out = zero();
  for (const [m, a] of after) {
    if (model !== undefined && m !== model) continue;
    const b = before.get(m) ?? zero();
    for (const p of PHASES) {
      const reset = a[p].count < b[p].count;
      out[p].count += reset ? a[p].count : a[p].count - b[p].count;
      out[p].sum += reset ? a[p].sum : a[p].sum - b[p].sum;
    }
  }
  return out;
}

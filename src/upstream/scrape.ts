import { isUtf8 } from 'node:buffer';
import { UpstreamGarbage, type UpstreamError } from '../errors.js';
import { typeNamesOf } from '../exposition/type-names.js';
import { formatOfContentType, type ExpositionFormat, type MetricFamily } from '../exposition/model.js';
import { ExpositionParseError, parseExposition } from '../exposition/parser.js';
import { firstContentProblem } from '../exposition/sanitize-stream.js';
import type { UpstreamResponse } from './fetch.js';
import type { WholeResponse } from './fetch-whole.js';
import type { Upstream } from './upstream.js';

/** What a parsing consumer asks for: the classic format, whose family names match what Fluent Bit sees. */
export const CLASSIC_ACCEPT = 'text/plain;version=0.0.4;q=1,*/*;q=0.1';

/**
 * A whole exposition as it arrived (checked to be UTF-8), with its text made
 * on first use: the fleet merge reads the bytes, and a fleet of hundreds of
 * targets should not pay for a string of each unless a reader wants one.
 */
export class ExpositionText {
  #text: string | undefined;

  constructor(
    readonly body: Buffer,
    readonly format: ExpositionFormat,
    /** When the upstream answered. */
    readonly timeMs: number,
  ) {}

  get text(): string {
    return (this.#text ??= this.body.toString('utf8'));
  }
}

export interface Scrape {
  families: MetricFamily[];
  format: ExpositionFormat;
  timeMs: number;
}

/**
 * The whole exposition as text, for consumers that need all of it at once (the
 * fleet merge, the pushes, the API's server view). Bounded by --max-body-bytes
 * while it is read; a body that is not UTF-8 or cannot start an exposition is an
 * UpstreamGarbage. Failures are recorded on the upstream like the proxy's own scrapes.
 * `into`: a buffer of the caller's the body may be read into (WholeOptions).
 */
export async function fetchText(upstream: Upstream, timeoutMs?: number, into?: Buffer): Promise<ExpositionText> {
  const wantsFamilies = upstream.wantsFamilies();
  let res: WholeResponse;
  try {
    res = await upstream.readWhole(CLASSIC_ACCEPT, timeoutMs, undefined, into);
  } catch (err) {
    upstream.recordFailure(err as UpstreamError);
    throw err;
  }
  const bad = firstContentProblem(res.body) || (isUtf8(res.body) ? undefined : 'the body is not UTF-8');
  if (bad) {
    const err = UpstreamGarbage(bad);
    upstream.recordFailure(err);
    throw err;
  }
  const text = new ExpositionText(res.body, formatOfContentType(res.contentType), res.timeMs);
  upstream.recordSuccess(wantsFamilies ? typeNamesOf(res.body) : undefined);
  return text;
}

/**
 * One fetch in the classic format, its response handed to `read`. Every
 * failure, opening or reading, is mapped to an UpstreamError, recorded on the
 * upstream and thrown; a success is recorded once `read` is done.
 */
export async function readUpstream<T>(
  upstream: Upstream,
  timeoutMs: number | undefined,
  read: (res: UpstreamResponse) => Promise<T>,
  familiesOf?: (out: T) => ReadonlySet<string> | undefined,
): Promise<T> {
  const wantsFamilies = upstream.wantsFamilies();
  let res: UpstreamResponse;
  try {
    res = await upstream.open(CLASSIC_ACCEPT, timeoutMs);
  } catch (err) {
    upstream.recordFailure(err as UpstreamError);
    throw err;
  }
  let out: T;
  try {
    out = await read(res);
  } catch (err) {
    res.abort();
    const mapped = res.mapError(err);
    upstream.recordFailure(mapped);
    throw mapped;
  }
  upstream.recordSuccess(wantsFamilies ? familiesOf?.(out) : undefined);
  return out;
}

const inFlight = new WeakMap<Upstream, Promise<ExpositionText>>();

/**
 * fetchText, shared: callers that ask while a fetch of the same upstream is in
 * flight get its result instead of a request of their own (the merged
 * /metrics, the pushes and /ready all land on one fetch).
 */
export function sharedText(upstream: Upstream, timeoutMs?: number): Promise<ExpositionText> {
  let p = inFlight.get(upstream);
  if (!p) {
    p = fetchText(upstream, timeoutMs).finally(() => inFlight.delete(upstream));
    inFlight.set(upstream, p);
  }
  return p;
}

/** The exposition as families (shared fetch). A body that does not parse is an UpstreamGarbage. */
export async function sharedScrape(upstream: Upstream, timeoutMs?: number): Promise<Scrape> {
  const { text, format, timeMs } = await sharedText(upstream, timeoutMs);
  try {
    return { families: parseExposition(text, format), format, timeMs };
  } catch (err) {
    if (!(err instanceof ExpositionParseError)) throw err;
    const mapped = UpstreamGarbage(err.message);
    upstream.recordFailure(mapped);
    throw mapped;
  }
}

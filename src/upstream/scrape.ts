import { UpstreamGarbage, UpstreamTooLarge, type UpstreamError } from '../errors.js';
import { typeNamesOfText } from '../exposition/type-names.js';
import { formatOfContentType, type ExpositionFormat, type MetricFamily } from '../exposition/model.js';
import { ExpositionParseError, parseExposition } from '../exposition/parser.js';
import { firstContentProblem } from '../exposition/sanitize-stream.js';
import type { UpstreamResponse } from './fetch.js';
import type { Upstream } from './upstream.js';

/** What a parsing consumer asks for: the classic format, whose family names match what Fluent Bit sees. */
export const CLASSIC_ACCEPT = 'text/plain;version=0.0.4;q=1,*/*;q=0.1';

export interface ExpositionText {
  text: string;
  format: ExpositionFormat;
  /** When the upstream answered. */
  timeMs: number;
}

export interface Scrape {
  families: MetricFamily[];
  format: ExpositionFormat;
  timeMs: number;
}

/**
 * The whole exposition as text, for consumers that need all of it at once (the
 * fleet merge, the pushes). Bounded by --max-body-bytes while it is read; a
 * body that is not UTF-8 or cannot start an exposition is an UpstreamGarbage.
 * Failures are recorded on the upstream like the proxy's own scrapes.
 */
export async function fetchText(upstream: Upstream, timeoutMs?: number): Promise<ExpositionText> {
  return readUpstream(
    upstream,
    timeoutMs,
    async (res) => {
      const timeMs = Date.now();
      const max = upstream.options.maxBodyBytes;
      const chunks: Buffer[] = [];
      let bytes = 0;
      for await (const chunk of res.body as AsyncIterable<Buffer>) {
        bytes += chunk.length;
        if (bytes > max) throw UpstreamTooLarge(max);
        chunks.push(chunk);
      }
      const body = Buffer.concat(chunks, bytes);
      const bad = firstContentProblem(body);
      if (bad) throw UpstreamGarbage(bad);
      let text: string;
      try {
        text = new TextDecoder('utf-8', { fatal: true }).decode(body);
      } catch {
        throw UpstreamGarbage('the body is not UTF-8');
      }
      return { text, format: formatOfContentType(res.contentType), timeMs };
    },
    (o) => typeNamesOfText(o.text),
  );
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

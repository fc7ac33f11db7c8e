import { UpstreamGarbage, UpstreamTooLarge, type UpstreamError } from '../errors.js';
import { formatOfContentType, type ExpositionFormat, type MetricFamily } from '../exposition/model.js';
import { ExpositionParseError, ExpositionParser } from '../exposition/parser.js';
import type { Upstream } from './upstream.js';

/** What a parsing consumer asks for: the classic format, whose family names match what Fluent Bit sees. */
export const CLASSIC_ACCEPT = 'text/plain;version=0.0.4;q=1,*/*;q=0.1';

export interface Scrape {
  families: MetricFamily[];
  format: ExpositionFormat;
  /** When the upstream answered. */
  timeMs: number;
}

/**
 * Fetch and parse the whole upstream exposition, streaming: the body is parsed
 * chunk by chunk and never held as text. Failures are UpstreamErrors, recorded
 * on the upstream like the proxy's own scrapes.
 */
export async function scrapeFamilies(upstream: Upstream, accept = CLASSIC_ACCEPT, timeoutMs?: number): Promise<Scrape> {
  let res;
  try {
    res = await upstream.open(accept, timeoutMs);
  } catch (err) {
    upstream.recordFailure(err as UpstreamError);
    throw err;
  }
  const timeMs = Date.now();
  const format = formatOfContentType(res.contentType);
  const families: MetricFamily[] = [];
  const parser = new ExpositionParser({ format, onFamily: (f) => families.push(f) });
  const max = upstream.options.maxBodyBytes;
  let bytes = 0;
  try {
    for await (const chunk of res.body as AsyncIterable<Buffer>) {
      bytes += chunk.length;
      if (bytes > max) throw UpstreamTooLarge(max);
      parser.write(chunk);
    }
    parser.end();
  } catch (err) {
    res.abort();
    const mapped = err instanceof ExpositionParseError ? UpstreamGarbage(err.message) : res.mapError(err);
    upstream.recordFailure(mapped);
    throw mapped;
  }
  upstream.recordSuccess();
  return { families, format, timeMs };
}

const inFlight = new WeakMap<Upstream, Promise<Scrape>>();

/**
 * scrapeFamilies in the classic format, shared: callers that ask while a scrape
 * of the same upstream is in flight get its result instead of a fetch of their
 * own (the merged /metrics, the pushes and /ready all land on one fetch).
 */
export function sharedScrape(upstream: Upstream, timeoutMs?: number): Promise<Scrape> {
  let p = inFlight.get(upstream);
  if (!p) {
    p = scrapeFamilies(upstream, CLASSIC_ACCEPT, timeoutMs).finally(() => inFlight.delete(upstream));
    inFlight.set(upstream, p);
  }
  return p;
}

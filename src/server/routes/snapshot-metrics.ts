import type { OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { finished } from 'node:stream';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { ExpositionSnapshot } from '../../exposition/snapshot.js';
import type { Fleet, FleetScrape } from '../../fleet/fleet.js';
import type { FastPath } from '../../http/fastify.js';
import { acceptsGzip, scrapeTimeout } from '../negotiate.js';
import type { Poller } from '../poller.js';
import type { SelfMetrics } from '../self-metrics.js';

/** The answer for a whole exposition held in memory, on the raw response. */
function writeSnapshot(res: ServerResponse, snap: ExpositionSnapshot, body: Buffer, gzip: boolean, extra: Record<string, string> = {}): void {
  const headers: OutgoingHttpHeaders = {
    'content-type': snap.contentType,
    'content-length': body.length,
    'cache-control': 'no-store',
    vary: 'accept-encoding',
    ...extra,
  };
  if (gzip) headers['content-encoding'] = 'gzip';
  res.writeHead(200, headers);
  res.end(body);
}

/**
 * Answer a whole exposition held in memory, gzip'd once for every client that
 * asks. Written on the raw response: Fastify's send path cost a quarter of a
 * scrape served from memory (bench/README.md).
 */
async function sendSnapshot(request: FastifyRequest, reply: FastifyReply, snap: ExpositionSnapshot, extra?: Record<string, string>) {
  const gzip = acceptsGzip(request.headers['accept-encoding']);
  const body = gzip ? await snap.gzip() : snap.body;
  reply.hijack();
  writeSnapshot(reply.raw, snap, body, gzip, extra);
  return reply;
}

const ageHeaders = (ageMs: number) => ({ age: String(Math.floor(ageMs / 1000)), 'x-metrics-age-seconds': (ageMs / 1000).toFixed(3) });

function count(metrics: SelfMetrics, outcome: 'ok' | 'error', started: bigint) {
  metrics.scrapeDone(outcome, Number(process.hrtime.bigint() - started) / 1e9);
}

/**
 * The merged fleet exposition, scraped for this request. Concurrent requests
 * share one round of target scrapes; a failing target only drops out of it,
 * so this answers 200 even when every target is down (the target gauges say so).
 */
export function fleetHandler(metrics: SelfMetrics, fleet: Fleet, timeoutMs: number) {
  return async (request: FastifyRequest, reply: FastifyReply) => {
    const started = process.hrtime.bigint();
    metrics.inFlight.inc();
    let scrape: FleetScrape;
    try {
      scrape = await fleet.scrape(scrapeTimeout(timeoutMs, request.headers['x-prometheus-scrape-timeout-seconds']));
    } finally {
      metrics.inFlight.dec();
    }
    count(metrics, 'ok', started);
    // The answer's buffer is reused by a later round: given back once the response is over
    // (written to the socket, or the client gone) and the gzip, if any, has read it.
    const over = new Promise<void>((resolve) => finished(reply.raw, () => resolve()));
    try {
      return await sendSnapshot(request, reply, scrape.snapshot);
    } finally {
      void over.then(scrape.done);
    }
  };
}

/**
 * Poll mode: the latest polled exposition, with its age in `Age` (whole
 * seconds, as HTTP caches say it) and `X-Metrics-Age-Seconds` (milliseconds
 * precision). Older than --max-staleness, or none yet: 503 with the reason,
 * never data a client would take for current.
 */
export function polledHandler(metrics: SelfMetrics, poller: Poller, maxStalenessMs: number) {
  return async (request: FastifyRequest, reply: FastifyReply) => {
    const started = process.hrtime.bigint();
    const snap = poller.latest;
    const age = poller.age();
    const why = poller.lastError ? `: last poll failed: ${poller.lastError.message}` : '';
    if (!snap || age === undefined) {
      count(metrics, 'error', started);
      return reply.code(503).type('text/plain; charset=utf-8').send(`no data yet: no poll has succeeded${why}\n`);
    }
    if (age > maxStalenessMs) {
      count(metrics, 'error', started);
      return reply
        .code(503)
        .header('x-metrics-age-seconds', (age / 1000).toFixed(3))
        .type('text/plain; charset=utf-8')
        .send(`stale: the latest data is ${(age / 1000).toFixed(1)}s old, over --max-staleness ${maxStalenessMs / 1000}s${why}\n`);
    }
    count(metrics, 'ok', started);
    return sendSnapshot(request, reply, snap, ageHeaders(age));
  };
}

/**
 * Poll mode's common case, answered before Fastify routes the request: a GET
 * of /metrics with fresh data in memory (and its gzip made, if asked for).
 * Everything else (stale data, first gzip) takes the route above.
 */
export function polledFastPath(metrics: SelfMetrics, poller: Poller, maxStalenessMs: number): FastPath {
  return (req, res) => {
    if (req.method !== 'GET' || (req.url !== '/metrics' && !req.url?.startsWith('/metrics?'))) return false;
    const started = process.hrtime.bigint();
    const snap = poller.latest;
    const age = poller.age();
    if (!snap || age === undefined || age > maxStalenessMs) return false;
    const gzip = acceptsGzip(req.headers['accept-encoding']);
    const body = gzip ? snap.gzippedBody : snap.body;
    if (!body) return false;
    writeSnapshot(res, snap, body, gzip, ageHeaders(age));
    count(metrics, 'ok', started);
    return true;
  };
}

import type { FastifyReply, FastifyRequest } from 'fastify';
import type { ProxyContext } from '../context.js';
import type { Poller } from '../poller.js';
import type { ExpositionSnapshot } from '../snapshot.js';
import { acceptsGzip, scrapeTimeout } from './metrics.js';

type Outcome = 'ok' | 'error';

/** Answer a whole exposition held in memory, gzip'd once for every client that asks. */
async function sendSnapshot(request: FastifyRequest, reply: FastifyReply, snap: ExpositionSnapshot, extra: Record<string, string> = {}) {
  reply.header('content-type', snap.contentType).header('cache-control', 'no-store').header('vary', 'accept-encoding').headers(extra);
  if (acceptsGzip(request.headers['accept-encoding'])) {
    return reply.header('content-encoding', 'gzip').send(await snap.gzip());
  }
  return reply.send(snap.body);
}

function count(ctx: ProxyContext, outcome: Outcome, started: bigint) {
  ctx.metrics.scrapes.inc({ outcome });
  ctx.metrics.scrapeDuration.observe({ outcome }, Number(process.hrtime.bigint() - started) / 1e9);
}

/**
 * The merged fleet exposition, scraped for this request. Concurrent requests
 * share one round of target scrapes; a failing target only drops out of it,
 * so this answers 200 even when every target is down (the target gauges say so).
 */
export function fleetHandler(ctx: ProxyContext) {
  const fleet = ctx.fleet!;
  const timeoutMs = ctx.upstreamTimeoutMs;
  return async (request: FastifyRequest, reply: FastifyReply) => {
    const started = process.hrtime.bigint();
    ctx.metrics.inFlight.inc();
    let snapshot: ExpositionSnapshot;
    try {
      ({ snapshot } = await fleet.scrape(scrapeTimeout(timeoutMs, request.headers['x-prometheus-scrape-timeout-seconds'])));
    } finally {
      ctx.metrics.inFlight.dec();
    }
    count(ctx, 'ok', started);
    return sendSnapshot(request, reply, snapshot);
  };
}

/**
 * Poll mode: the latest polled exposition, with its age in `Age` (whole
 * seconds, as HTTP caches say it) and `X-Metrics-Age-Seconds` (milliseconds
 * precision). Older than --max-staleness, or none yet: 503 with the reason,
 * never data a client would take for current.
 */
export function polledHandler(ctx: ProxyContext, poller: Poller, maxStalenessMs: number) {
  return async (request: FastifyRequest, reply: FastifyReply) => {
    const started = process.hrtime.bigint();
    const snap = poller.latest;
    const age = poller.age();
    const why = poller.lastError ? `: last poll failed: ${poller.lastError.message}` : '';
    if (!snap || age === undefined) {
      count(ctx, 'error', started);
      return reply.code(503).type('text/plain; charset=utf-8').send(`no data yet: no poll has succeeded${why}\n`);
    }
    if (age > maxStalenessMs) {
      count(ctx, 'error', started);
      return reply
        .code(503)
        .header('x-metrics-age-seconds', (age / 1000).toFixed(3))
        .type('text/plain; charset=utf-8')
        .send(`stale: the latest data is ${(age / 1000).toFixed(1)}s old, over --max-staleness ${maxStalenessMs / 1000}s${why}\n`);
    }
    count(ctx, 'ok', started);
    return sendSnapshot(request, reply, snap, { age: String(Math.floor(age / 1000)), 'x-metrics-age-seconds': (age / 1000).toFixed(3) });
  };
}

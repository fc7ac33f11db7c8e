import type { OutgoingHttpHeaders } from 'node:http';
import type { Writable } from 'node:stream';
import { pipeline } from 'node:stream';
import { createGzip } from 'node:zlib';
import type { FastifyInstance } from 'fastify';
import type { UpstreamError } from '../../errors.js';
import { SanitizingWriter } from '../../exposition/sanitize-stream.js';
import { DirectRelay } from '../../upstream/relay.js';
import type { Collision } from '../../exposition/sanitizer.js';
import { Cancellation, type UpstreamResponse } from '../../upstream/fetch.js';
import type { ProxyContext } from '../context.js';
import { isClosing } from '../fastify.js';
import { GcPacer } from '../gc-pacer.js';
import type { Upstream } from '../../upstream/upstream.js';
import { fleetHandler, polledHandler } from './snapshot-metrics.js';

type Outcome = 'ok' | 'error' | 'client_abort';

const DEFAULT_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';
/** Remember at most this many reported collision names (logged once each). */
const MAX_REPORTED = 10_000;
/** Relayed bytes between young-generation collections (measured in bench/README.md). */
const GC_EVERY_BYTES = 8 * 1024 * 1024;

/** Prometheus tells how long it will wait; stop upstream work before it gives up. */
export function scrapeTimeout(configured: number, header: string | string[] | undefined): number {
  const seconds = Number(Array.isArray(header) ? header[0] : header);
  if (!Number.isFinite(seconds) || seconds <= 0) return configured;
  return Math.max(100, Math.min(configured, Math.floor(seconds * 1000)));
}

/** Whether the client takes gzip (`gzip` listed with a q-value above zero). */
export function acceptsGzip(header: string | string[] | undefined): boolean {
  const value = Array.isArray(header) ? header.join(',') : (header ?? '');
  for (const part of value.split(',')) {
    const [first, ...params] = part.toLowerCase().split(';');
    const coding = first!.trim();
    if (coding !== 'gzip' && coding !== 'x-gzip' && coding !== '*') continue;
    const q = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
    if (!q || Number(q.slice(2)) > 0) return true;
  }
  return false;
}

/** Counts every collision, logs each name once. */
export function collisionReporter(ctx: Pick<ProxyContext, 'metrics' | 'log'>): (c: Collision) => void {
  const reported = new Set<string>();
  return (c) => {
    ctx.metrics.collisions.inc();
    if (reported.has(c.original) || reported.size >= MAX_REPORTED) return;
    reported.add(c.original);
    ctx.log.warn({ event: 'name_collision', name: c.original, sanitized: c.sanitized, kept: c.kept }, `dropping "${c.original}": its sanitized name "${c.sanitized}" is already used by "${c.kept}"`);
  };
}

export function metricsRoute(app: FastifyInstance, ctx: ProxyContext): void {
  if (ctx.poll) app.get('/metrics', polledHandler(ctx, ctx.poll.poller, ctx.poll.maxStalenessMs));
  else if (ctx.fleet) app.get('/metrics', fleetHandler(ctx));
  else streamRoute(app, ctx, ctx.upstream!);
}

/** One upstream, relayed through the sanitizer as it arrives. */
function streamRoute(app: FastifyInstance, ctx: ProxyContext, upstream: Upstream): void {
  const { metrics, log } = ctx;
  const pacer = new GcPacer(GC_EVERY_BYTES);
  const onInput = (bytes: number) => pacer.add(bytes);
  // Label children bound once: prom-client hashes a label object on every call otherwise.
  const outcome = (o: Outcome) => ({ scrapes: metrics.scrapes.labels(o), duration: metrics.scrapeDuration.labels(o) });
  const byOutcome = { ok: outcome('ok'), error: outcome('error'), client_abort: outcome('client_abort') };

  const onCollision = collisionReporter(ctx);

  app.get('/metrics', async (request, reply) => {
    const started = process.hrtime.bigint();
    const seconds = () => Number(process.hrtime.bigint() - started) / 1e9;
    metrics.inFlight.inc();
    let finished = false;
    const clientLeft = () => {
      finish('client_abort');
      reply.hijack(); // nothing to answer, and nobody to answer it to
      return reply;
    };
    const finish = (outcome: Outcome, err?: UpstreamError) => {
      if (finished) return;
      finished = true;
      metrics.inFlight.dec();
      byOutcome[outcome].scrapes.inc();
      byOutcome[outcome].duration.observe(seconds());
      if (outcome === 'ok') {
        upstream.recordSuccess();
        metrics.upstreamUp.set(1);
        metrics.lastSuccess.set(Date.now() / 1000);
      } else if (err) {
        upstream.recordFailure(err);
        metrics.upstreamUp.set(0);
        log.warn({ event: 'scrape_failed', kind: err.kind, code: err.code, upstream: upstream.target.display, ms: Math.round(seconds() * 1000) }, err.message);
      } else {
        log.info({ event: 'client_abort', upstream: upstream.target.display, ms: Math.round(seconds() * 1000) }, 'client went away; upstream request aborted');
      }
    };

    // Listen from the start: a client can leave while the upstream is still
    // answering, and then nothing is sent and nothing counts as an upstream error.
    let clientGone = false;
    const leaving = new Cancellation();
    let onClientGone = () => leaving.cancel();
    reply.raw.once('close', () => {
      if (reply.raw.writableFinished) return;
      clientGone = true;
      onClientGone();
    });

    const timeout = scrapeTimeout(upstream.options.timeoutMs, request.headers['x-prometheus-scrape-timeout-seconds']);
    let res: UpstreamResponse;
    try {
      res = await upstream.open(request.headers.accept, timeout, leaving);
    } catch (err) {
      if (clientGone) return clientLeft();
      finish('error', err as UpstreamError);
      return reply.code((err as UpstreamError).statusCode).type('text/plain; charset=utf-8').send(`${(err as Error).message}\n`);
    }

    if (clientGone) {
      res.abort();
      return clientLeft();
    }
    const writer = new SanitizingWriter({ maxBytes: upstream.options.maxBodyBytes, onCollision, onInput });
    const relay = new DirectRelay(res.body, writer, (err) => {
      metrics.upstreamBytes.inc(writer.bytes);
      if (!err) {
        metrics.droppedLines.inc(writer.sanitizer.droppedLines);
        metrics.renamedNames.set(writer.sanitizer.renamedNames);
        finish('ok');
        if (isClosing(app)) setImmediate(() => app.server.closeIdleConnections());
      } else if (clientGone) {
        finish('client_abort');
      } else {
        finish('error', res.mapError(err));
      }
    });
    onClientGone = () => {
      res.abort();
      relay.destroy();
    };

    try {
      await relay.started;
    } catch (err) {
      if (clientGone) return reply;
      const mapped = res.mapError(err);
      finish('error', mapped);
      return reply.code(mapped.statusCode).type('text/plain; charset=utf-8').send(`${mapped.message}\n`);
    }
    // Past this point the status is committed: a later failure cuts the
    // response short (the client sees an incomplete body, never a fake 200).
    // The answer is written on the raw response, past Fastify's send path
    // and its stream plumbing: see DirectRelay for the measured reason.
    reply.hijack();
    const raw = reply.raw;
    const headers: OutgoingHttpHeaders = { 'content-type': res.contentType ?? DEFAULT_CONTENT_TYPE, 'cache-control': 'no-store', vary: 'accept-encoding' };
    if (isClosing(app)) headers.connection = 'close';
    let sink: Writable = raw;
    if (acceptsGzip(request.headers['accept-encoding'])) {
      headers['content-encoding'] = 'gzip';
      // Level 1: expositions compress ~10x even so, and CPU stays with the work.
      const gzip = createGzip({ level: 1 });
      pipeline(gzip, raw, () => {});
      sink = gzip;
    }
    raw.writeHead(200, headers);
    relay.attach(sink);
    return reply;
  });
}

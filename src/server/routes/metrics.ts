import type { OutgoingHttpHeaders } from 'node:http';
import type { Writable } from 'node:stream';
import { pipeline } from 'node:stream';
import { createGzip } from 'node:zlib';
import type { FastifyInstance, FastifyPluginAsync } from 'fastify';
import type { UpstreamError } from '../../errors.js';
import { SanitizingWriter } from '../../exposition/sanitize-stream.js';
import { TEXT_CONTENT_TYPE } from '../../exposition/snapshot.js';
import { isClosing } from '../../http/fastify.js';
import { GcPacer } from '../../http/gc-pacer.js';
import type { Logger } from '../../logger.js';
import { SharedRelay } from '../../upstream/shared-relay.js';
import type { Upstream } from '../../upstream/upstream.js';
import { collisionReporter } from '../collision-reporter.js';
import type { MetricsSource } from '../metrics-source.js';
import { acceptsGzip, scrapeTimeout } from '../negotiate.js';
import type { ScrapeOutcome, SelfMetrics } from '../self-metrics.js';
import { fleetHandler, polledHandler } from './snapshot-metrics.js';

export interface MetricsRoutesOptions {
  source: MetricsSource;
  /** Stream mode: concurrent client scrapes share one upstream fetch. */
  coalesce: boolean;
  /** Fleet mode: the deadline of a round of target scrapes (a scraper's own timeout shortens it). */
  timeoutMs: number;
  /** Stream mode: text for the end of every answer (the saturation gauges). */
  trailer?: () => string;
  metrics: SelfMetrics;
  log: Logger;
}

/** Relayed bytes between young-generation collections (measured in bench/README.md). */
const GC_EVERY_BYTES = 8 * 1024 * 1024;
/**
 * A scrape arriving while a fetch is in flight joins it if the output so far is
 * under this size (it is replayed to the newcomer). Kept small: chunks held
 * across young-generation collections get promoted and then stay until a full
 * one, and 8 MiB here doubled the RSS growth of a 200 MB stream (bench/README.md).
 */
export const JOIN_WINDOW_BYTES = 2 * 1024 * 1024;

/** GET /metrics in the source's mode. */
export const metricsRoutes: FastifyPluginAsync<MetricsRoutesOptions> = async (app, opts) => {
  const { source } = opts;
  if (source.mode === 'poll') app.get('/metrics', polledHandler(opts.metrics, source.poller, source.maxStalenessMs));
  else if (source.mode === 'fleet') app.get('/metrics', fleetHandler(opts.metrics, source.fleet, opts.timeoutMs));
  else streamRoute(app, opts, source.upstream);
};

/** One upstream, relayed through the sanitizer as it arrives; concurrent scrapes share a fetch. */
function streamRoute(app: FastifyInstance, opts: MetricsRoutesOptions, upstream: Upstream): void {
  const { metrics, log, coalesce } = opts;
  const pacer = new GcPacer(GC_EVERY_BYTES);
  const onInput = (bytes: number) => pacer.add(bytes);
  const onCollision = collisionReporter(opts);
  /** The fetch in flight per Accept header, while it still takes clients. */
  const inFlight = new Map<string, SharedRelay>();

  const newFetch = (key: string, accept: string | undefined, timeoutMs: number): SharedRelay => {
    const started = performance.now();
    const writer = new SanitizingWriter({
      maxBytes: upstream.options.maxBodyBytes,
      onCollision,
      onInput,
      trailer: opts.trailer,
      families: upstream.options.families,
      names: upstream.options.names,
      typeNames: upstream.wantsFamilies(),
    });
    const relay: SharedRelay = new SharedRelay({
      open: (cancel) => upstream.open(accept, timeoutMs, cancel),
      writer,
      // Nobody joins when coalescing is off: keep nothing past the first client's attach.
      joinWindowBytes: coalesce ? JOIN_WINDOW_BYTES : 0,
      // Once per fetch, however many clients shared it.
      onSettled: (o) => {
        if (inFlight.get(key) === relay) inFlight.delete(key);
        metrics.upstreamBytes.inc(writer.bytes);
        if (o.kind === 'ok') {
          metrics.droppedLines.inc(writer.sanitizer.droppedLines);
          metrics.renamedNames.set(writer.sanitizer.renamedNames);
          upstream.recordSuccess(writer.typeNames?.names);
          metrics.upstreamUp.set(1);
          metrics.lastSuccess.set(Date.now() / 1000);
        } else if (o.kind === 'error') {
          const err = o.error;
          upstream.recordFailure(err);
          metrics.upstreamUp.set(0);
          log.warn(
            { event: 'scrape_failed', kind: err.kind, code: err.code, upstream: upstream.target.display, ms: Math.round(performance.now() - started) },
            err.message,
          );
        }
      },
    });
    if (coalesce) inFlight.set(key, relay);
    return relay;
  };

  app.get('/metrics', async (request, reply) => {
    const started = process.hrtime.bigint();
    const seconds = () => Number(process.hrtime.bigint() - started) / 1e9;
    metrics.inFlight.inc();
    let clientGone = false;
    let finished = false;
    const finish = (err?: Error) => {
      if (finished) return;
      finished = true;
      const o: ScrapeOutcome = !err ? 'ok' : clientGone ? 'client_abort' : 'error';
      metrics.inFlight.dec();
      metrics.scrapeDone(o, seconds());
      if (o === 'client_abort')
        log.info(
          { event: 'client_abort', upstream: upstream.target.display, ms: Math.round(seconds() * 1000) },
          'client went away before the end of the answer',
        );
      if (o === 'ok' && isClosing(app)) setImmediate(() => app.server.closeIdleConnections());
    };

    const accept = request.headers.accept;
    const key = accept ?? '';
    let relay = coalesce ? inFlight.get(key) : undefined;
    if (relay?.joinable) metrics.coalescedScrapes.inc();
    else relay = newFetch(key, accept, scrapeTimeout(upstream.options.timeoutMs, request.headers['x-prometheus-scrape-timeout-seconds']));
    const sub = relay.join(finish);

    // Listen from the start: a client can leave while the upstream is still
    // answering; the fetch is aborted when nobody else shares it.
    reply.raw.once('close', () => {
      if (reply.raw.writableFinished) return;
      clientGone = true;
      sub.leave();
    });

    try {
      await sub.ready;
    } catch (err) {
      if (clientGone) return reply.hijack();
      const e = err as UpstreamError;
      return reply.code(e.statusCode).type('text/plain; charset=utf-8').send(`${e.message}\n`);
    }
    if (clientGone) return reply.hijack(); // nothing to answer, and nobody to answer it to
    // Past this point the status is committed: a later failure cuts the
    // response short (the client sees an incomplete body, never a fake 200).
    // The answer is written on the raw response, past Fastify's send path
    // and its stream plumbing: see SharedRelay for the measured reason.
    reply.hijack();
    const raw = reply.raw;
    const headers: OutgoingHttpHeaders = { 'content-type': relay.contentType ?? TEXT_CONTENT_TYPE, 'cache-control': 'no-store', vary: 'accept-encoding' };
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
    sub.attach(sink);
    return reply;
  });
}

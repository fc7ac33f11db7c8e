import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { Writable } from 'node:stream';
import { pipeline } from 'node:stream';
import { createGzip } from 'node:zlib';
import type { FastifyInstance, FastifyPluginAsync } from 'fastify';
import type { UpstreamError } from '../../errors.js';
import { SanitizingWriter } from '../../exposition/sanitize-stream.js';
import { TEXT_CONTENT_TYPE } from '../../exposition/snapshot.js';
import { isClosing, type FastPath } from '../../http/fastify.js';
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
  /** Stream mode: the handler the fast path shares (made once per app, its fetches and state shared). */
  stream?: StreamHandler;
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
/**
 * A fetch keeps its output for late joiners only when scrapes overlapped within this long.
 * A lone scraper (Fluent Bit, Prometheus) never overlaps itself, and keeping the output it
 * alone reads cost it a third of its scrapes per second (held chunks outlive young
 * collections: bench/README.md, "One scraper"). Scrapes that arrive before the first byte
 * still share the fetch; the first that finds a fetch past that starts its own and turns
 * the keeping on for the next ones.
 */
export const OVERLAP_MEMORY_MS = 10_000;

/** GET /metrics in the source's mode. */
export const metricsRoutes: FastifyPluginAsync<MetricsRoutesOptions> = async (app, opts) => {
  const { source } = opts;
  if (source.mode === 'poll') app.get('/metrics', polledHandler(opts.metrics, source.poller, source.maxStalenessMs));
  else if (source.mode === 'fleet') app.get('/metrics', fleetHandler(opts.metrics, source.fleet, opts.timeoutMs));
  else {
    // The same handler as the fast path in front of Fastify (app.ts), for what it leaves to
    // Fastify (HEAD, and every request while the server closes).
    const serve = opts.stream ?? streamHandler(opts, source.upstream, () => app);
    app.get('/metrics', async (request, reply) => {
      reply.hijack();
      await serve(request.raw, reply.raw);
    });
  }
};

/** Stream mode's GET /metrics on the raw request and response. */
export type StreamHandler = (req: IncomingMessage, res: ServerResponse) => Promise<void>;

/** The fast path for stream mode: a GET of /metrics answered before Fastify routes it. */
export function streamFastPath(serve: StreamHandler): FastPath {
  return (req, res) => {
    if (req.method !== 'GET' || (req.url !== '/metrics' && !req.url?.startsWith('/metrics?'))) return false;
    void serve(req, res);
    return true;
  };
}

/** A fault of the handler itself (a bug): a 500 if nothing was sent yet, else the answer cut short; never an unhandled rejection. */
function guarded(serve: StreamHandler, log: Logger): StreamHandler {
  return async (req, res) => {
    try {
      await serve(req, res);
    } catch (err) {
      log.error({ event: 'metrics_handler_failed', err }, `GET /metrics failed: ${(err as Error).message}`);
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' }).end('internal error\n');
      else res.destroy();
    }
  };
}

/**
 * One upstream, relayed through the sanitizer as it arrives; concurrent scrapes share a
 * fetch. On the raw request and response, before Fastify routes anything: with one
 * scraper, Fastify's routing and reply machinery were a large part of each scrape's own
 * cost (bench/README.md, "One scraper").
 */
export function streamHandler(opts: Omit<MetricsRoutesOptions, 'source' | 'stream'>, upstream: Upstream, app: () => FastifyInstance): StreamHandler {
  const { metrics, log, coalesce } = opts;
  const pacer = new GcPacer(GC_EVERY_BYTES);
  const onInput = (bytes: number) => pacer.add(bytes);
  const onCollision = collisionReporter(opts);
  /** The fetch in flight per Accept header, while it still takes clients. */
  const inFlight = new Map<string, SharedRelay>();
  /** When a scrape last arrived while another was in flight (joined or not). */
  let lastOverlapAt = -Infinity;

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
      // Nobody joins when coalescing is off, and a lone scraper has nobody to share with:
      // keep nothing past the first client's attach.
      joinWindowBytes: coalesce && performance.now() - lastOverlapAt < OVERLAP_MEMORY_MS ? JOIN_WINDOW_BYTES : 0,
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

  return guarded(async (req, res) => {
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
      if (o === 'ok' && isClosing(app())) setImmediate(() => app().server.closeIdleConnections());
    };

    const accept = req.headers.accept;
    const key = accept ?? '';
    let relay = coalesce ? inFlight.get(key) : undefined;
    if (relay) lastOverlapAt = performance.now();
    if (relay?.joinable) metrics.coalescedScrapes.inc();
    else relay = newFetch(key, accept, scrapeTimeout(upstream.options.timeoutMs, req.headers['x-prometheus-scrape-timeout-seconds']));
    const sub = relay.join(finish);

    // Listen from the start: a client can leave while the upstream is still
    // answering; the fetch is aborted when nobody else shares it.
    res.once('close', () => {
      if (res.writableFinished) return;
      clientGone = true;
      sub.leave();
    });

    try {
      await sub.ready;
    } catch (err) {
      if (clientGone) return;
      const e = err as UpstreamError;
      res.writeHead(e.statusCode, { 'content-type': 'text/plain; charset=utf-8', ...(isClosing(app()) ? { connection: 'close' } : {}) }).end(`${e.message}\n`);
      return;
    }
    if (clientGone) return; // nothing to answer, and nobody to answer it to
    // Past this point the status is committed: a later failure cuts the
    // response short (the client sees an incomplete body, never a fake 200).
    // The answer is written on the raw response, past any stream plumbing: see
    // SharedRelay for the measured reason.
    const headers: OutgoingHttpHeaders = { 'content-type': relay.contentType ?? TEXT_CONTENT_TYPE, 'cache-control': 'no-store', vary: 'accept-encoding' };
    if (isClosing(app())) headers.connection = 'close';
    let sink: Writable = res;
    if (acceptsGzip(req.headers['accept-encoding'])) {
      headers['content-encoding'] = 'gzip';
      // Level 1: expositions compress ~10x even so, and CPU stays with the work.
      const gzip = createGzip({ level: 1 });
      pipeline(gzip, res, () => {});
      sink = gzip;
    }
    res.writeHead(200, headers);
    sub.attach(sink);
  }, log);
}

import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Bindings, ChildLoggerOptions } from 'fastify/types/logger.js';
import type { Logger } from '../logger.js';

/** Answers a request before Fastify sees it, or returns false to leave it to Fastify. */
export type FastPath = (req: IncomingMessage, res: ServerResponse) => boolean;

/**
 * What a client may take of a port before it is cut off: the bounds on slow and
 * idle clients (docs/reliability.md). Node's own defaults are looser: headers may
 * take 60 s and are only checked every 30 s, a request may take 5 min, a client
 * that stops reading holds its connection and the answer queued for it forever,
 * and connections are unbounded.
 */
export interface ClientLimits {
  /** Request headers complete within this, or the connection is closed (a scraper's arrive in milliseconds). */
  headerTimeoutMs: number;
  /** The whole request, body included, within this. */
  requestTimeoutMs: number;
  /** Nothing sent or received for this long: the connection is closed (a client that stopped reading its answer). */
  idleTimeoutMs: number;
  /** Open connections per port; more are closed as they arrive. */
  maxConnections: number;
}

export const DEFAULT_CLIENT_LIMITS: ClientLimits = {
  headerTimeoutMs: 30_000,
  requestTimeoutMs: 120_000,
  idleTimeoutMs: 120_000,
  maxConnections: 10_000,
};

/**
 * A Fastify instance that logs through our pino logger but not per request:
 * the routes log one line per event that matters, not two lines per scrape.
 * `fast` may answer requests first (poll mode's /metrics from memory, where
 * Fastify's request handling was most of the cost). The server is ours in
 * either case, so that `limits` apply (Fastify sets none on a server it is given).
 */
export function createFastify(log?: Logger, fast?: { path: FastPath }, limits: ClientLimits = DEFAULT_CLIENT_LIMITS): FastifyInstance {
  const app = Fastify({
    loggerInstance: log as FastifyBaseLogger | undefined,
    logController: new LogController({ disableRequestLogging: true }),
    childLoggerFactory: (parent, bindings, opts) => new LazyChild(parent, bindings, opts) as unknown as FastifyBaseLogger,
    return503OnClosing: true,
    keepAliveTimeout: KEEP_ALIVE_MS,
    serverFactory: (handler) => {
      const server = createServer(
        {
          headersTimeout: limits.headerTimeoutMs,
          requestTimeout: limits.requestTimeoutMs,
          // How often Node looks for requests past those two: its default, 30 s, would let a slow client stay that much longer.
          connectionsCheckingInterval: Math.min(1_000, limits.headerTimeoutMs),
        },
        fast
          ? (req, res) => {
              if (!CLOSING.has(app) && fast.path(req, res)) return;
              handler(req, res);
            }
          : handler,
      );
      server.keepAliveTimeout = KEEP_ALIVE_MS;
      server.setTimeout(limits.idleTimeoutMs);
      server.maxConnections = limits.maxConnections;
      return server;
    },
  });
  drainKeepAliveOnClose(app);
  return app;
}

type LogCall = (...args: unknown[]) => void;

/**
 * The logger Fastify gives each request (its id bound), made the first time something logs
 * through it. pino's child() per request (bindings serialised, redaction set up) was ~2% of
 * an API request's CPU (bench/README.md, "API passthrough"), and with request logging off
 * nearly every request logs nothing.
 */
class LazyChild {
  #made: FastifyBaseLogger | undefined;

  constructor(
    private readonly parent: FastifyBaseLogger,
    private readonly bindings: Bindings,
    private readonly opts: ChildLoggerOptions,
  ) {}

  get #log(): FastifyBaseLogger {
    return (this.#made ??= this.parent.child(this.bindings, this.opts));
  }

  get level(): string {
    return this.#log.level;
  }

  set level(level: string) {
    this.#log.level = level;
  }

  fatal(...args: unknown[]): void {
    (this.#log.fatal as LogCall)(...args);
  }

  error(...args: unknown[]): void {
    (this.#log.error as LogCall)(...args);
  }

  warn(...args: unknown[]): void {
    (this.#log.warn as LogCall)(...args);
  }

  info(...args: unknown[]): void {
    (this.#log.info as LogCall)(...args);
  }

  debug(...args: unknown[]): void {
    (this.#log.debug as LogCall)(...args);
  }

  trace(...args: unknown[]): void {
    (this.#log.trace as LogCall)(...args);
  }

  silent(...args: unknown[]): void {
    (this.#log.silent as LogCall)(...args);
  }

  child(bindings: Bindings, opts?: ChildLoggerOptions): FastifyBaseLogger {
    return this.#log.child(bindings, opts);
  }
}

/** Fastify's own default, kept when the server is ours. */
const KEEP_ALIVE_MS = 72_000;

const CLOSING = new WeakSet<FastifyInstance>();

/**
 * For routes that answer on the raw response (hijacked), which Fastify's hooks
 * do not see: whether to say `connection: close`, and to close idle
 * connections once their answer is out.
 */
export function isClosing(app: FastifyInstance): boolean {
  return CLOSING.has(app);
}

/**
 * close() waits for every connection, and closes only those idle at that
 * moment. A scraper's keep-alive connection that is busy when SIGTERM comes
 * would then hold shutdown until its keep-alive timeout: so while closing,
 * answers say `connection: close`, and each finished answer closes the
 * connections that have become idle.
 */
function drainKeepAliveOnClose(app: FastifyInstance): void {
  let closing = false;
  app.addHook('preClose', (done) => {
    closing = true;
    CLOSING.add(app);
    done();
  });
  app.addHook('onSend', (_req, reply, payload, done) => {
    if (closing) reply.header('connection', 'close');
    done(null, payload);
  });
  app.addHook('onResponse', (_req, _reply, done) => {
    if (closing) setImmediate(() => app.server.closeIdleConnections());
    done();
  });
}

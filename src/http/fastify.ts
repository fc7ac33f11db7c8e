import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Logger } from '../logger.js';

/** Answers a request before Fastify sees it, or returns false to leave it to Fastify. */
export type FastPath = (req: IncomingMessage, res: ServerResponse) => boolean;

/**
 * A Fastify instance that logs through our pino logger but not per request:
 * the routes log one line per event that matters, not two lines per scrape.
 * `fast` may answer requests first (poll mode's /metrics from memory, where
 * Fastify's request handling was most of the cost).
 */
export function createFastify(log?: Logger, fast?: { path: FastPath }): FastifyInstance {
  const app = Fastify({
    loggerInstance: log as FastifyBaseLogger | undefined,
    logController: new LogController({ disableRequestLogging: true }),
    return503OnClosing: true,
    keepAliveTimeout: KEEP_ALIVE_MS,
    serverFactory: fast
      ? (handler) => {
          const server = createServer((req, res) => {
            if (!CLOSING.has(app) && fast.path(req, res)) return;
            handler(req, res);
          });
          server.keepAliveTimeout = KEEP_ALIVE_MS;
          return server;
        }
      : undefined,
  });
  drainKeepAliveOnClose(app);
  return app;
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

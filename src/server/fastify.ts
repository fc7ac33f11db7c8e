import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Logger } from '../logger.js';

/**
 * A Fastify instance that logs through our pino logger but not per request:
 * the routes log one line per event that matters, not two lines per scrape.
 */
export function createFastify(log?: Logger): FastifyInstance {
  return Fastify({
    loggerInstance: log as FastifyBaseLogger | undefined,
    logController: new LogController({ disableRequestLogging: true }),
    return503OnClosing: true,
  });
}

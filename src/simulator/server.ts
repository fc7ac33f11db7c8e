import type { FastifyInstance } from 'fastify';
import type { Logger } from '../logger.js';
import { createFastify } from '../http/fastify.js';
import { registerSimulatorApi, SimulatorApi } from './api.js';
import { Simulator, type Format } from './simulator.js';

/** prometheus_client answers OpenMetrics when the scraper lists it in Accept. */
export function negotiateFormat(accept: string | undefined): Format {
  return accept?.includes('application/openmetrics-text') ? 'openmetrics' : 'text';
}

export function acceptsGzip(acceptEncoding: string | undefined): boolean {
  return /\bgzip\b/.test(acceptEncoding ?? '') && !/\bgzip\s*;\s*q=0(\.0*)?\b/.test(acceptEncoding ?? '');
}

/**
 * The simulator's HTTP server, shaped like vLLM's OpenAI-compatible API server:
 * /metrics, /health, and the OpenAI routes (api.ts).
 */
export async function buildSimulatorApp(sim: Simulator, log?: Logger, api: SimulatorApi = new SimulatorApi(sim)): Promise<FastifyInstance> {
  const app = createFastify(log);
  registerSimulatorApi(app, api);
  app.get('/metrics', async (request, reply) => {
    const format = negotiateFormat(request.headers.accept);
    const gzip = acceptsGzip(request.headers['accept-encoding']);
    reply.header('content-type', Simulator.contentType(format));
    if (gzip) reply.header('content-encoding', 'gzip');
    return reply.send(sim.exposition(format, gzip));
  });
  app.get('/health', async (_request, reply) => reply.send(''));
  app.addHook('onClose', async () => sim.stop());
  return app;
}

import type { FastifyPluginAsync } from 'fastify';
import type { Registry } from 'prom-client';

export interface SelfMetricsRoutesOptions {
  registry: Registry;
}

/** GET /proxy/metrics: the proxy's own metrics, apart from the upstream's exposition. */
export const selfMetricsRoutes: FastifyPluginAsync<SelfMetricsRoutesOptions> = async (app, { registry }) => {
  app.get('/proxy/metrics', async (_request, reply) => {
    const body = await registry.metrics();
    return reply.type(registry.contentType).send(body);
  });
};

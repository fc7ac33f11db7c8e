import type { FastifyInstance } from 'fastify';
import { registerApiPassthrough } from '../api/passthrough.js';
import type { ProxyContext } from './context.js';
import { createFastify } from './fastify.js';
import { healthRoutes } from './routes/health.js';
import { metricsRoute } from './routes/metrics.js';
import { otlpRelayRoute } from './routes/otlp.js';
import { saturationRoute } from './routes/saturation.js';
import { polledFastPath } from './routes/snapshot-metrics.js';

/** The proxy's HTTP face. */
export async function buildApp(ctx: ProxyContext): Promise<FastifyInstance> {
  const app = createFastify(ctx.log, ctx.poll ? { path: polledFastPath(ctx, ctx.poll.poller, ctx.poll.maxStalenessMs) } : undefined);
  // No compression plugin: /metrics gzips its own stream (routes/metrics.ts), the
  // other answers are a few KB, and the relay decompresses its requests itself.
  metricsRoute(app, ctx);
  healthRoutes(app, ctx);
  if (ctx.relay) otlpRelayRoute(app, ctx, ctx.relay);
  if (ctx.saturation) saturationRoute(app, ctx.saturation);
  if (ctx.api) registerApiPassthrough(app, ctx.api.config, ctx.api.context);
  return app;
}

import compress from '@fastify/compress';
import type { FastifyInstance } from 'fastify';
import type { ProxyContext } from './context.js';
import { createFastify } from './fastify.js';
import { healthRoutes } from './routes/health.js';
import { metricsRoute } from './routes/metrics.js';
import { otlpRelayRoute } from './routes/otlp.js';

/** The proxy's HTTP face. */
export async function buildApp(ctx: ProxyContext): Promise<FastifyInstance> {
  const app = createFastify(ctx.log);
  // Level 1: expositions compress ~10x even so, and CPU stays with the work.
  // Request bodies (the OTLP relay) are decompressed by their route, which bounds the output size.
  await app.register(compress, { encodings: ['gzip', 'deflate'], zlibOptions: { level: 1 }, threshold: 1024, globalDecompression: false });
  metricsRoute(app, ctx);
  healthRoutes(app, ctx);
  if (ctx.relay) otlpRelayRoute(app, ctx, ctx.relay);
  return app;
}

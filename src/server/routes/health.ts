import type { FastifyInstance } from 'fastify';
import type { ProxyContext } from '../context.js';

export function healthRoutes(app: FastifyInstance, ctx: ProxyContext): void {
  // Liveness: the process serves HTTP. Never touches the upstream, so a slow
  // vLLM cannot get the proxy restarted.
  app.get('/health', async (_request, reply) => reply.type('text/plain; charset=utf-8').send('ok\n'));

  // Readiness: the upstream answered within the timeout recently. A recent
  // client scrape counts; otherwise one probe is made (shared by concurrent
  // callers).
  app.get('/ready', async (_request, reply) => {
    const { upstream, readyMaxAgeMs } = ctx;
    const age = Date.now() - upstream.lastSuccessAt;
    if (upstream.lastSuccessAt > 0 && age <= readyMaxAgeMs) {
      return reply.type('text/plain; charset=utf-8').send(`ready: upstream answered ${(age / 1000).toFixed(1)}s ago\n`);
    }
    try {
      await upstream.probe();
      ctx.metrics.upstreamUp.set(1);
      ctx.metrics.lastSuccess.set(Date.now() / 1000);
      return reply.type('text/plain; charset=utf-8').send('ready: upstream answered\n');
    } catch (err) {
      ctx.metrics.upstreamUp.set(0);
      return reply.code(503).type('text/plain; charset=utf-8').send(`not ready: ${(err as Error).message}\n`);
    }
  });

  app.get('/proxy/metrics', async (_request, reply) => {
    const body = await ctx.metrics.registry.metrics();
    return reply.type(ctx.metrics.registry.contentType).send(body);
  });
}

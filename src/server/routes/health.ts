import type { FastifyPluginAsync, FastifyReply } from 'fastify';
import type { MetricsSource } from '../metrics-source.js';
import type { SelfMetrics } from '../self-metrics.js';

export interface HealthRoutesOptions {
  source: MetricsSource;
  /** /ready answers from memory when the upstream answered this recently. */
  readyMaxAgeMs: number;
  /** Deadline of the probe /ready makes when nothing answered recently. */
  timeoutMs: number;
  /** With vLLM's API passed through, /health is vLLM's (routes/api.ts): /proxy/health is always the proxy's. */
  apiOwnsHealth: boolean;
  metrics: SelfMetrics;
}

const text = (reply: FastifyReply, code: number, body: string) => reply.code(code).type('text/plain; charset=utf-8').send(`${body}\n`);

/** Liveness (/proxy/health, /health) and readiness (/ready). */
export const healthRoutes: FastifyPluginAsync<HealthRoutesOptions> = async (app, opts) => {
  const { source, metrics } = opts;
  // Liveness: the process serves HTTP. Never touches the upstream, so a slow
  // vLLM cannot get the proxy restarted.
  app.get('/proxy/health', async (_request, reply) => text(reply, 200, 'ok'));
  if (!opts.apiOwnsHealth) app.get('/health', async (_request, reply) => text(reply, 200, 'ok'));

  // Readiness: /metrics would serve upstream data now. A recent success counts;
  // otherwise one probe is made (shared by concurrent callers).
  app.get('/ready', async (_request, reply) => {
    if (source.mode === 'poll') {
      const age = source.poller.age();
      if (age !== undefined && age <= source.maxStalenessMs) return text(reply, 200, `ready: data polled ${(age / 1000).toFixed(1)}s ago`);
      const why = source.poller.lastError?.message ?? 'no poll has succeeded yet';
      return text(reply, 503, `not ready: ${age === undefined ? why : `data is ${(age / 1000).toFixed(1)}s old: ${why}`}`);
    }
    if (source.mode === 'fleet') {
      const targets = source.targets.list();
      if (targets.length === 0) return text(reply, 503, 'not ready: no targets');
      const now = Date.now();
      const fresh = targets.filter((t) => t.upstream.lastSuccessAt > 0 && now - t.upstream.lastSuccessAt <= opts.readyMaxAgeMs).length;
      if (fresh > 0) return text(reply, 200, `ready: ${fresh} of ${targets.length} targets answered recently`);
      const { outcomes, done } = await source.fleet.scrape(opts.timeoutMs);
      done(); // the answer is not read here
      const up = outcomes.filter((o) => !o.error).length;
      if (up > 0) return text(reply, 200, `ready: ${up} of ${outcomes.length} targets answered`);
      return text(reply, 503, `not ready: no target answered (${outcomes[0]?.error?.message ?? 'no targets'})`);
    }
    const upstream = source.upstream;
    const age = Date.now() - upstream.lastSuccessAt;
    if (upstream.lastSuccessAt > 0 && age <= opts.readyMaxAgeMs) return text(reply, 200, `ready: upstream answered ${(age / 1000).toFixed(1)}s ago`);
    try {
      await upstream.probe();
      metrics.upstreamUp.set(1);
      metrics.lastSuccess.set(Date.now() / 1000);
      return text(reply, 200, 'ready: upstream answered');
    } catch (err) {
      metrics.upstreamUp.set(0);
      return text(reply, 503, `not ready: ${(err as Error).message}`);
    }
  });
};

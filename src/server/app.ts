import type { FastifyInstance } from 'fastify';
import { createFastify, type ClientLimits } from '../http/fastify.js';
import type { Logger } from '../logger.js';
import type { SaturationService } from '../saturation/wiring.js';
import type { MetricsSource } from './metrics-source.js';
import { apiRoutes, type ApiRoutesOptions } from './routes/api.js';
import { healthRoutes } from './routes/health.js';
import { metricsRoutes, streamFastPath, streamHandler } from './routes/metrics.js';
import { otlpRelayRoutes, type OtlpRelayRoutesOptions } from './routes/otlp.js';
import { saturationRoutes } from './routes/saturation.js';
import { selfMetricsRoutes } from './routes/self-metrics.js';
import { polledFastPath } from './routes/snapshot-metrics.js';
import type { SelfMetrics } from './self-metrics.js';

/** What the proxy's routes are built from; each route plugin takes only its part. */
export interface AppParts {
  source: MetricsSource;
  /** Stream mode: concurrent client scrapes share one upstream fetch. */
  coalesce: boolean;
  /** Deadline of a fleet round and of /ready's probe. */
  timeoutMs: number;
  readyMaxAgeMs: number;
  metrics: SelfMetrics;
  log: Logger;
  /** The OTLP relay (--otlp-forward-url). */
  relay?: Omit<OtlpRelayRoutesOptions, 'metrics' | 'log'>;
  /** vLLM's API passed through (--api-upstream). */
  api?: ApiRoutesOptions;
  /** Saturation (--saturation, --saturation-from-prometheus). */
  saturation?: SaturationService;
  /** Bounds on slow and idle clients (--client-*-timeout, --max-connections). */
  limits?: ClientLimits;
}

/**
 * The relay alone, for `--otlp-relay-listen`: on its own address (loopback in a pod), only what
 * can reach that address writes into Parseable, whoever reaches the proxy's main port.
 */
export async function buildRelayApp(relay: NonNullable<AppParts['relay']>, metrics: SelfMetrics, log: Logger, limits?: ClientLimits): Promise<FastifyInstance> {
  const app = createFastify(log, undefined, limits);
  await app.register(otlpRelayRoutes, { ...relay, metrics, log });
  return app;
}

/** The proxy's HTTP face: one plugin per group of routes. */
export async function buildApp(parts: AppParts): Promise<FastifyInstance> {
  const { source, metrics, log } = parts;
  const routeOptions = { coalesce: parts.coalesce, timeoutMs: parts.timeoutMs, trailer: parts.saturation?.trailer, metrics, log };
  // Stream and poll mode answer GET /metrics before Fastify routes it (routes/metrics.ts says why).
  const made: { app?: FastifyInstance } = {};
  const stream = source.mode === 'stream' ? streamHandler(routeOptions, source.upstream, () => made.app!) : undefined;
  const app = createFastify(
    log,
    source.mode === 'poll' ? { path: polledFastPath(metrics, source.poller, source.maxStalenessMs) } : stream ? { path: streamFastPath(stream) } : undefined,
    parts.limits,
  );
  made.app = app;
  // No compression plugin: /metrics gzips its own stream (routes/metrics.ts), the
  // other answers are a few KB, and the relay decompresses its requests itself.
  await app.register(metricsRoutes, { ...routeOptions, source, stream });
  await app.register(healthRoutes, { source, readyMaxAgeMs: parts.readyMaxAgeMs, timeoutMs: parts.timeoutMs, apiOwnsHealth: Boolean(parts.api), metrics });
  await app.register(selfMetricsRoutes, { registry: metrics.registry });
  if (parts.relay) await app.register(otlpRelayRoutes, { ...parts.relay, metrics, log });
  if (parts.saturation) await app.register(saturationRoutes, { saturation: parts.saturation });
  if (parts.api) await app.register(apiRoutes, parts.api);
  return app;
}

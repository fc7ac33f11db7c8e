import type { FastifyInstance } from 'fastify';
import { createLogger, type Logger } from '../logger.js';
import { Upstream, type UpstreamOptions } from '../upstream/upstream.js';
import { buildApp } from './app.js';
import { SelfMetrics } from './self-metrics.js';

export interface ProxyConfig {
  host: string;
  port: number;
  upstream: UpstreamOptions;
  readyMaxAgeMs: number;
  logLevel?: string;
  /** Register process_* self-metrics (off in tests that start many proxies). */
  processMetrics?: boolean;
}

export interface RunningProxy {
  app: FastifyInstance;
  upstream: Upstream;
  metrics: SelfMetrics;
  /** http://host:port of the listening server. */
  url: string;
  /** Stop accepting, let in-flight scrapes finish, release upstream connections. */
  close(): Promise<void>;
}

/** Build and start the sanitizing proxy. */
export async function startProxy(config: ProxyConfig, log: Logger = createLogger(config.logLevel)): Promise<RunningProxy> {
  const upstream = new Upstream(config.upstream);
  const metrics = new SelfMetrics({ processMetrics: config.processMetrics });
  const app = await buildApp({ upstream, metrics, log, readyMaxAgeMs: config.readyMaxAgeMs });
  if (config.upstream.insecure) {
    log.warn({ event: 'tls_verification_off', upstream: upstream.target.display }, 'upstream TLS certificates are NOT verified (--insecure)');
  }
  await app.listen({ host: config.host, port: config.port });
  const addr = app.server.address();
  const port = typeof addr === 'object' && addr ? addr.port : config.port;
  const host = config.host === '0.0.0.0' || config.host === '::' ? '127.0.0.1' : config.host;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  log.info({ event: 'listening', url, upstream: upstream.target.display, timeoutMs: config.upstream.timeoutMs }, `sanitizing ${upstream.target.display} on ${url}/metrics`);
  let closing: Promise<void> | undefined;
  return {
    app,
    upstream,
    metrics,
    url,
    close() {
      closing ??= (async () => {
        await app.close();
        await upstream.close();
      })();
      return closing;
    },
  };
}

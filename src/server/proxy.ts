import type { FastifyInstance } from 'fastify';
import { createLogger, type Logger } from '../logger.js';
import { resolveDestination, type DestinationOptions } from '../otlp/destination.js';
import { OtlpForwarder } from '../otlp/forwarder.js';
import { OtlpPusher } from '../otlp/push.js';
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
  otlp?: OtlpConfig;
}

/** The OTLP side: a relay on POST /v1/metrics, a direct push, or both, to the same kind of destination. */
export interface OtlpConfig {
  /** Stream, log source, extra headers and credentials, shared by both paths. */
  destination: Omit<DestinationOptions, 'url'>;
  /** Turns the relay on. */
  forwardUrl?: string;
  /** Turns the direct push on. */
  pushUrl?: string;
  pushIntervalMs: number;
  timeoutMs: number;
  maxQueueBytes: number;
  maxRequestBytes: number;
  retryBaseMs?: number;
  retryMaxMs?: number;
}

export interface RunningProxy {
  app: FastifyInstance;
  upstream: Upstream;
  metrics: SelfMetrics;
  /** The direct OTLP push, when on. */
  pusher?: OtlpPusher;
  /** http://host:port of the listening server. */
  url: string;
  /** Stop accepting, let in-flight scrapes finish, release upstream connections. */
  close(): Promise<void>;
}

/** Build and start the sanitizing proxy. */
export async function startProxy(config: ProxyConfig, log: Logger = createLogger(config.logLevel)): Promise<RunningProxy> {
  const otlp = config.otlp;
  // Resolve both destinations first, so a bad flag stops the start before anything listens.
  const forwardTo = otlp?.forwardUrl ? resolveDestination({ ...otlp.destination, url: otlp.forwardUrl }, '--otlp-forward-url') : undefined;
  const pushTo = otlp?.pushUrl ? resolveDestination({ ...otlp.destination, url: otlp.pushUrl }, '--otlp-push-url') : undefined;
  const upstream = new Upstream(config.upstream);
  const metrics = new SelfMetrics({ processMetrics: config.processMetrics });
  const forwarder =
    otlp && forwardTo
      ? new OtlpForwarder({
          destination: forwardTo,
          maxQueueBytes: otlp.maxQueueBytes,
          timeoutMs: otlp.timeoutMs,
          retryBaseMs: otlp.retryBaseMs,
          retryMaxMs: otlp.retryMaxMs,
          log,
          metrics,
        })
      : undefined;
  const relay = otlp && forwarder ? { forwarder, maxRequestBytes: otlp.maxRequestBytes } : undefined;
  const app = await buildApp({ upstream, metrics, log, readyMaxAgeMs: config.readyMaxAgeMs, relay });
  if (config.upstream.insecure) {
    log.warn({ event: 'tls_verification_off', upstream: upstream.target.display }, 'upstream TLS certificates are NOT verified (--insecure)');
  }
  await app.listen({ host: config.host, port: config.port });
  const addr = app.server.address();
  const port = typeof addr === 'object' && addr ? addr.port : config.port;
  const host = config.host === '0.0.0.0' || config.host === '::' ? '127.0.0.1' : config.host;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  log.info({ event: 'listening', url, upstream: upstream.target.display, timeoutMs: config.upstream.timeoutMs }, `sanitizing ${upstream.target.display} on ${url}/metrics`);
  if (forwardTo) log.info({ event: 'otlp_relay', url: `${url}/v1/metrics`, destination: forwardTo.display }, `relaying OTLP from ${url}/v1/metrics to ${forwardTo.display}`);
  const pusher = otlp && pushTo ? new OtlpPusher({ upstream, destination: pushTo, intervalMs: otlp.pushIntervalMs, timeoutMs: otlp.timeoutMs, log, metrics }) : undefined;
  if (pusher && pushTo) {
    log.info({ event: 'otlp_push', destination: pushTo.display, intervalMs: otlp!.pushIntervalMs }, `pushing OTLP to ${pushTo.display} every ${otlp!.pushIntervalMs} ms`);
    pusher.start();
  }
  let closing: Promise<void> | undefined;
  return {
    app,
    upstream,
    metrics,
    pusher,
    url,
    close() {
      closing ??= (async () => {
        await pusher?.close();
        await app.close();
        await forwarder?.close(otlp!.timeoutMs);
        await upstream.close();
      })();
      return closing;
    },
  };
}

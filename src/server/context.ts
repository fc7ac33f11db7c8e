import type { Logger } from '../logger.js';
import type { RelayContext } from './routes/otlp.js';
import type { Upstream } from '../upstream/upstream.js';
import type { SelfMetrics } from './self-metrics.js';

/** What the routes share. */
export interface ProxyContext {
  upstream: Upstream;
  metrics: SelfMetrics;
  log: Logger;
  /** /ready answers from memory when the upstream answered this recently. */
  readyMaxAgeMs: number;
  /** Present when the OTLP relay is on (--otlp-forward-url). */
  relay?: RelayContext;
}

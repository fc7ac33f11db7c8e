import type { ApiConfig, ApiContext } from '../api/passthrough.js';
import type { Fleet } from '../fleet/fleet.js';
import type { Logger } from '../logger.js';
import type { SaturationService } from '../saturation/wiring.js';
import type { TargetSet } from '../targets/target-set.js';
import type { Upstream } from '../upstream/upstream.js';
import type { Poller } from './poller.js';
import type { RelayContext } from './routes/otlp.js';
import type { SelfMetrics } from './self-metrics.js';

/** What the routes share. */
export interface ProxyContext {
  /** Single-upstream mode: /metrics streams this upstream through the sanitizer. */
  upstream?: Upstream;
  /** Fleet mode: /metrics merges every target. */
  fleet?: Fleet;
  targets?: TargetSet;
  /** Poll mode (either of the above): /metrics serves the latest poll. */
  poll?: { poller: Poller; maxStalenessMs: number };
  /** Concurrent client scrapes of one upstream share one fetch (stream mode). */
  coalesce: boolean;
  upstreamTimeoutMs: number;
  metrics: SelfMetrics;
  log: Logger;
  /** /ready answers from memory when the upstream answered this recently. */
  readyMaxAgeMs: number;
  /** Present when the OTLP relay is on (--otlp-forward-url). */
  relay?: RelayContext;
  /** Present when vLLM's API is passed through (--api-upstream). */
  api?: { config: ApiConfig; context: ApiContext };
  /** Present when saturation is on (--saturation, --saturation-from-prometheus). */
  saturation?: SaturationService;
}

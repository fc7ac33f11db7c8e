import type { ClientLimits } from '../http/fastify.js';
/**
 * What startProxy takes, and the checks it makes before anything starts: every
 * value in range, and the rules between options (those the CLI's flags would
 * refuse too). An error names the option by its path (`saturation.intervalMs`);
 * `serve` maps the path to its flag (commands/serve.ts).
 */
import type { OtlpNames } from '../otlp/genai-names.js';
import type { ApiPassthroughConfig } from '../api/wiring.js';
import { ConfigError } from '../errors.js';
import type { DestinationOptions } from '../otlp/destination.js';
import type { ResourceAttributes } from '../otlp/resource.js';
import type { SaturationConfig } from '../saturation/wiring.js';
import type { TargetSpec } from '../targets/spec.js';
import type { UpstreamOptions } from '../upstream/upstream.js';

export type { ApiPassthroughConfig, SaturationConfig };

export interface ProxyConfig {
  host: string;
  port: number;
  /** Options every upstream shares; `url` is the upstream of single-upstream mode. */
  upstream: UpstreamOptions;
  /** Fleet mode: many targets merged into one /metrics. */
  fleet?: FleetConfig;
  /** Poll mode: scrape on this schedule and serve the latest result from memory. */
  poll?: { intervalMs: number; maxStalenessMs: number };
  /** Concurrent client scrapes share one upstream fetch (default on). */
  coalesce?: boolean;
  pushgateway?: PushgatewayConfig;
  readyMaxAgeMs: number;
  /** Bounds on slow and idle clients of every port (default DEFAULT_CLIENT_LIMITS). */
  clientLimits?: ClientLimits;
  logLevel?: string;
  /** Register process_* self-metrics (off in tests that start many proxies). */
  processMetrics?: boolean;
  otlp?: OtlpConfig;
  /** vLLM's API through the proxy, with a record per request. */
  api?: ApiPassthroughConfig;
  /** Saturation signals on /saturation (and, from the window, on /metrics). */
  saturation?: SaturationConfig;
  /**
   * Keep what the proxy's senders (the relay, the request records) accepted on
   * disk until the destination took it, across restarts: one subdirectory per
   * sender, each bounded by `maxBytes` (the oldest batch dropped beyond it).
   */
  spool?: SpoolConfig;
}

export interface SpoolConfig {
  dir: string;
  maxBytes: number;
  /** After an outage, backlog batches sent per second at most, per sender (default 20). */
  drainPerSecond?: number;
}

export interface FleetConfig {
  /** From repeated --upstream. */
  static: TargetSpec[];
  targetsFile?: string;
  discover?: string;
  discoverIntervalMs?: number;
  dnsServer?: string;
  /** The label naming each sample's target. */
  label: string;
  /** Fleet aggregates on, rated over this window. */
  aggregateWindowMs?: number;
}

export interface PushgatewayConfig {
  url: string;
  job: string;
  intervalMs: number;
  timeoutMs: number;
  deleteOnShutdown: boolean;
  attempts?: number;
  retryBaseMs?: number;
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
  /** `--otlp-resource`: attributes on every resource of both paths. */
  resource?: ResourceAttributes;
  /** `--otlp-relay-token`: the relay takes only `Authorization: Bearer <token>`. */
  relayToken?: string;
  /** `--otlp-relay-listen`: the relay on its own address instead of the proxy's port. */
  relayListen?: { host: string; port: number };
  /** `--otlp-names genai`: OpenTelemetry's GenAI names where they match, on both paths. */
  names?: OtlpNames;
}

/** The log levels pino takes. */
const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
/** The window's sampling interval when neither saturation.intervalMs nor a poll sets it. */
export const DEFAULT_SATURATION_INTERVAL_MS = 5_000;

const positive = (path: string, value: number | undefined) => {
  if (value !== undefined && !(Number.isFinite(value) && value > 0)) throw new ConfigError(path, `must be a number greater than zero (got ${value})`);
};

/** Throws a ConfigError naming the first option that cannot be used. */
export function checkProxyConfig(config: ProxyConfig): void {
  if (typeof config.host !== 'string' || config.host === '') throw new ConfigError('host', 'must be an address to listen on');
  if (!Number.isInteger(config.port) || config.port < 0 || config.port > 65535) throw new ConfigError('port', `${config.port} is not a TCP port (0-65535)`);
  positive('readyMaxAgeMs', config.readyMaxAgeMs);
  if (config.logLevel !== undefined && !LOG_LEVELS.includes(config.logLevel))
    throw new ConfigError('logLevel', `"${config.logLevel}" is not one of ${LOG_LEVELS.join(', ')}`);
  positive('upstream.timeoutMs', config.upstream.timeoutMs);
  positive('upstream.maxBodyBytes', config.upstream.maxBodyBytes);
  if (config.fleet) {
    const label = config.fleet.label;
    if (!LABEL_NAME.test(label) || label.startsWith('__'))
      throw new ConfigError('fleet.label', `"${label}" is not a label name (letters, digits, _; not starting with __)`);
    positive('fleet.discoverIntervalMs', config.fleet.discoverIntervalMs);
    positive('fleet.aggregateWindowMs', config.fleet.aggregateWindowMs);
  }
  if (config.poll) {
    positive('poll.intervalMs', config.poll.intervalMs);
    positive('poll.maxStalenessMs', config.poll.maxStalenessMs);
  }
  if (config.pushgateway) {
    positive('pushgateway.intervalMs', config.pushgateway.intervalMs);
    positive('pushgateway.timeoutMs', config.pushgateway.timeoutMs);
  }
  if (config.otlp) {
    const o = config.otlp;
    if (!o.forwardUrl && !o.pushUrl) throw new ConfigError('otlp', 'needs otlp.forwardUrl (the relay) or otlp.pushUrl (the direct push)');
    positive('otlp.pushIntervalMs', o.pushIntervalMs);
    positive('otlp.timeoutMs', o.timeoutMs);
    positive('otlp.maxQueueBytes', o.maxQueueBytes);
    positive('otlp.maxRequestBytes', o.maxRequestBytes);
    if (o.relayListen) {
      if (!o.forwardUrl) throw new ConfigError('otlp.relayListen', 'only applies with otlp.forwardUrl (the relay it gives its own address)');
      const { host, port } = o.relayListen;
      if (typeof host !== 'string' || host === '') throw new ConfigError('otlp.relayListen', 'needs an address to listen on');
      if (!Number.isInteger(port) || port < 0 || port > 65535) throw new ConfigError('otlp.relayListen', `${port} is not a TCP port (0-65535)`);
      if (port !== 0 && port === config.port) throw new ConfigError('otlp.relayListen', `port ${port} is --port already: give the relay another one`);
    }
  }
  if (config.api) {
    positive('api.timeoutMs', config.api.timeoutMs);
    positive('api.requestLog.maxBytes', config.api.requestLog?.maxBytes);
  }
  if (config.saturation) checkSaturation(config.saturation, config.poll?.intervalMs);
  if (config.spool) {
    if (typeof config.spool.dir !== 'string' || config.spool.dir === '') throw new ConfigError('spool.dir', 'must be a directory');
    positive('spool.maxBytes', config.spool.maxBytes);
    positive('spool.drainPerSecond', config.spool.drainPerSecond);
    if (!config.otlp?.forwardUrl && !config.otlp?.pushUrl && !config.api?.ship)
      throw new ConfigError('spool.dir', 'only applies with otlp.forwardUrl, otlp.pushUrl or api.ship.destination.url (the senders it keeps batches for)');
  }
}

function checkSaturation(s: SaturationConfig, pollIntervalMs: number | undefined): void {
  positive('saturation.windowMs', s.windowMs);
  positive('saturation.intervalMs', s.intervalMs);
  positive('saturation.maxStalenessMs', s.maxStalenessMs);
  if (s.prometheus) {
    if (s.intervalMs !== undefined)
      throw new ConfigError('saturation.intervalMs', 'does not apply with saturation.prometheus (Prometheus samples; see saturation.prometheus.cacheTtlMs)');
    positive('saturation.prometheus.cacheTtlMs', s.prometheus.cacheTtlMs);
    positive('saturation.prometheus.timeoutMs', s.prometheus.timeoutMs);
    return;
  }
  if (s.intervalMs !== undefined && pollIntervalMs !== undefined)
    throw new ConfigError('saturation.intervalMs', 'in poll mode every poll is a saturation sample (set poll.intervalMs instead)');
  const interval = s.intervalMs ?? pollIntervalMs ?? DEFAULT_SATURATION_INTERVAL_MS;
  if (s.windowMs < 2 * interval)
    throw new ConfigError('saturation.windowMs', `must be at least two sampling intervals (${(2 * interval) / 1000}s): a rate needs two samples`);
}

import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { UpstreamErrorKind } from '../errors.js';

/**
 * The proxy's own metrics, served on their own path (/proxy/metrics) so they can
 * never collide with, or change the content type of, the upstream exposition.
 * Every name starts with vllm_metrics_proxy_.
 */
export const SELF_PREFIX = 'vllm_metrics_proxy_';

const ERROR_KINDS: UpstreamErrorKind[] = ['unreachable', 'tls', 'timeout', 'status', 'too_large', 'garbage', 'encoding', 'reset'];

export class SelfMetrics {
  readonly registry = new Registry();
  readonly scrapeDuration: Histogram<'outcome'>;
  readonly upstreamErrors: Counter<'kind'>;
  readonly upstreamBytes: Counter;
  readonly scrapes: Counter<'outcome'>;
  readonly collisions: Counter;
  readonly droppedLines: Counter;
  readonly renamedNames: Gauge;
  readonly upstreamUp: Gauge;
  readonly lastSuccess: Gauge;
  readonly inFlight: Gauge;

  constructor(options: { processMetrics?: boolean } = {}) {
    const registers = [this.registry];
    const p = SELF_PREFIX;
    this.scrapeDuration = new Histogram({
      name: `${p}scrape_duration_seconds`,
      help: 'Time from a client request on /metrics to the end of the sanitized response.',
      labelNames: ['outcome'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    });
    this.scrapes = new Counter({
      name: `${p}scrapes_total`,
      help: 'Client scrapes of /metrics by outcome (ok, error, client_abort).',
      labelNames: ['outcome'],
      registers,
    });
    this.upstreamErrors = new Counter({
      name: `${p}upstream_errors_total`,
      help: 'Failed upstream fetches by kind.',
      labelNames: ['kind'],
      registers,
    });
    for (const kind of ERROR_KINDS) this.upstreamErrors.inc({ kind }, 0);
    for (const outcome of ['ok', 'error', 'client_abort']) this.scrapes.inc({ outcome }, 0);
    this.upstreamBytes = new Counter({
      name: `${p}upstream_bytes_total`,
      help: 'Decoded bytes read from the upstream exposition.',
      registers,
    });
    this.collisions = new Counter({
      name: `${p}name_collisions_total`,
      help: 'Names whose lines were dropped because their sanitized spelling was already taken (counted per scrape).',
      registers,
    });
    this.droppedLines = new Counter({
      name: `${p}dropped_lines_total`,
      help: 'Exposition lines dropped because of a name collision.',
      registers,
    });
    this.renamedNames = new Gauge({
      name: `${p}renamed_names`,
      help: 'Distinct metric names rewritten in the last successful scrape.',
      registers,
    });
    this.upstreamUp = new Gauge({
      name: `${p}upstream_up`,
      help: '1 if the last upstream fetch succeeded, else 0.',
      registers,
    });
    this.lastSuccess = new Gauge({
      name: `${p}upstream_last_success_timestamp_seconds`,
      help: 'Unix time of the last successful upstream fetch.',
      registers,
    });
    this.inFlight = new Gauge({
      name: `${p}scrapes_in_flight`,
      help: 'Client scrapes currently streaming.',
      registers,
    });
    if (options.processMetrics !== false) collectDefaultMetrics({ register: this.registry, prefix: p });
  }
}

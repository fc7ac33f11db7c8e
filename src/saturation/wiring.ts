/**
 * Saturation in `serve`: the source /saturation answers from (the proxy's own
 * window, or Prometheus), and for the window, its sampler and the gauges it
 * adds to /metrics.
 */
import { formatOfContentType } from '../exposition/model.js';
import { renderText } from '../exposition/render.js';
import { withTrailer } from '../exposition/trailer.js';
import type { TargetOutcome } from '../fleet/targets-scrape.js';
import type { Logger } from '../logger.js';
import type { Counter } from 'prom-client';
import { ExpositionSnapshot } from '../exposition/snapshot.js';
import type { Target } from '../targets/target-set.js';
import { PrometheusClient, type PrometheusClientOptions } from './prometheus-client.js';
import { PrometheusSaturation } from './prometheus-source.js';
import type { SaturationReport } from './report.js';
import { saturationFamilies } from './render.js';
import { SaturationSampler } from './sampler.js';
import { SaturationWindow } from './window.js';

/** What saturation counts (server/self-metrics.ts implements it). */
export interface SaturationMetrics {
  /** vllm_metrics_proxy_prometheus_queries_total{outcome}. */
  readonly saturationQueries: Counter<'outcome'>;
}

export interface SaturationConfig {
  windowMs: number;
  /** The sampling loop's interval; undefined in poll mode, whose polls are the samples. */
  intervalMs?: number;
  /** Older values are stale (default: three sampling intervals for the window, 2m for Prometheus). */
  maxStalenessMs?: number;
  /** Serve /saturation from Prometheus instead of the window. */
  prometheus?: Omit<PrometheusClientOptions, 'onRequest'> & { cacheTtlMs: number; targetLabel: string; model?: string; namespace?: string };
}

export interface SaturationService {
  report(): Promise<SaturationReport>;
  /** The gauges for the end of /metrics ('' when there are none): the window's only. */
  trailer?: () => string;
  /** Poll mode's single upstream: the poll is a sample, and its snapshot gets the gauges. */
  polled?: (target: string, snapshot: ExpositionSnapshot) => ExpositionSnapshot;
  /** Feed a round of target scrapes made for another reason (poll, fleet /metrics). */
  observeOutcomes?: (outcomes: TargetOutcome[], timeMs: number) => void;
  start(): Promise<void>;
  close(): Promise<void>;
}

export interface SaturationDeps {
  log: Logger;
  metrics: SaturationMetrics;
  targets: () => Target[];
  /** The label naming targets on /metrics (fleet mode's; `instance` otherwise). */
  targetLabel: string;
  /** Deadline of the sampler's scrapes. */
  timeoutMs: number;
  /** The poll interval, when polls feed the window. */
  pollIntervalMs?: number;
}

export const DEFAULT_SATURATION_INTERVAL_MS = 5_000;
export const DEFAULT_PROMETHEUS_MAX_STALENESS_MS = 120_000;

export function saturationService(config: SaturationConfig, deps: SaturationDeps): SaturationService {
  const { log, metrics } = deps;
  if (config.prometheus) {
    const p = config.prometheus;
    const client = new PrometheusClient({ ...p, onRequest: (outcome) => metrics.saturationQueries.inc({ outcome }) });
    const source = new PrometheusSaturation({
      client,
      windowMs: config.windowMs,
      targetLabel: p.targetLabel,
      model: p.model,
      namespace: p.namespace,
      cacheTtlMs: p.cacheTtlMs,
      maxStalenessMs: config.maxStalenessMs ?? DEFAULT_PROMETHEUS_MAX_STALENESS_MS,
      log,
    });
    log.info(
      { event: 'saturation', source: client.target.display, windowMs: config.windowMs, cacheTtlMs: p.cacheTtlMs },
      `saturation from Prometheus ${client.target.display} on /saturation`,
    );
    return { report: () => source.report(), start: () => source.start(), close: () => source.close() };
  }

  const sampleEveryMs = deps.pollIntervalMs ?? config.intervalMs ?? DEFAULT_SATURATION_INTERVAL_MS;
  const window = new SaturationWindow({
    windowMs: config.windowMs,
    // Fleet rounds and the sampler may both feed the window: keep about one sample per interval.
    minSpacingMs: sampleEveryMs / 2,
    maxStalenessMs: config.maxStalenessMs ?? 3 * sampleEveryMs,
  });
  window.setTargets(deps.targets().map((t) => t.name));
  const sampler = new SaturationSampler({
    window,
    targets: deps.targets,
    intervalMs: deps.pollIntervalMs ? undefined : sampleEveryMs,
    timeoutMs: Math.min(deps.timeoutMs, sampleEveryMs),
    log,
  });
  // Every /metrics answer ends with the gauges: made once per change of the window, or per
  // second for the ages (which are whole-second accurate then), not once per scrape.
  let made: { version: number; second: number; text: string } | undefined;
  const gauges = () => {
    const now = Date.now();
    const second = Math.floor(now / 1000);
    if (made?.version !== window.version || made.second !== second) {
      made = { version: window.version, second, text: renderText(saturationFamilies(window.report(now), deps.targetLabel)) };
    }
    return made.text;
  };
  log.info(
    { event: 'saturation', source: 'window', windowMs: config.windowMs, sampleMs: sampleEveryMs },
    `saturation over ${config.windowMs / 1000}s, sampled every ${sampleEveryMs / 1000}s, on /saturation`,
  );
  return {
    report: async () => window.report(Date.now()),
    trailer: gauges,
    observeOutcomes: (outcomes, timeMs) => sampler.observeOutcomes(outcomes, timeMs),
    polled: (target, snap) => {
      sampler.observeText(target, snap.body.toString('utf8'), formatOfContentType(snap.contentType), snap.timeMs);
      const lines = gauges();
      return lines ? new ExpositionSnapshot(withTrailer(snap.body, lines), snap.contentType, snap.timeMs) : snap;
    },
    start: async () => sampler.start(),
    close: () => sampler.close(),
  };
}

/**
 * Direct push: scrape the upstream every interval, map the exposition to OTLP and
 * export it with the OpenTelemetry JS exporter. No Fluent Bit needed.
 *
 * Without a spool, a failed push is not queued: the next scrape carries the same
 * cumulative counters, so nothing a retry would deliver is lost, only
 * resolution (and the gauges of the scrapes in between). With a spool
 * (--spool-dir), every push is serialized as the exporter would send it and
 * handed to a forwarder that keeps it on disk until the destination took it,
 * across restarts: nothing is lost, resolution included.
 */
import { applyGenaiNamesSdk, type OtlpNames } from './genai-names.js';
import type { Attributes } from '@opentelemetry/api';
import { ExportResultCode, type ExportResult } from '@opentelemetry/core';
import { OTLPMetricExporter } from '@opentelemetry/exporter-metrics-otlp-http';
import { JsonMetricsSerializer } from '@opentelemetry/otlp-transformer';
import type { ResourceMetrics } from '@opentelemetry/sdk-metrics';
import type { Logger } from '../logger.js';
import type { Counter } from 'prom-client';
import type { Target } from '../targets/target-set.js';
import { selects, type FamilySelection } from '../exposition/family-filter.js';
import { canonicalFamilies, type NamesMode } from '../exposition/canonical-names.js';
import { sharedScrape } from '../upstream/scrape.js';
import type { Destination } from './destination.js';
import { StartTimes, toResourceMetrics } from './from-exposition.js';
import { targetAttributes, type ResourceAttributes } from './resource.js';

/** What the direct push counts (server/self-metrics.ts implements it). */
export interface PushMetrics {
  readonly otlpPushes: Counter<'outcome'>;
  readonly otlpDroppedPoints: Counter<'reason'>;
  readonly otlpForwardedPoints: Counter<'path'>;
}

/** What the push needs of a forwarder (export/json-forwarder.ts's JsonForwarder is one). */
export interface PushForwarder {
  enqueue(body: Uint8Array, points: number): Promise<'held' | 'dropped' | 'refused'>;
  close(deadlineMs: number): Promise<void>;
}

export interface PushOptions {
  /** Every target is pushed as resources of its own. */
  targets: () => Target[];
  /** `--keep`/`--drop`: the families pushed, by the names the upstream gives them. */
  families?: FamilySelection;
  /** `--names`: deprecated vLLM names under their replacements (the parsed names are sanitized). */
  names?: NamesMode;
  /** `--otlp-names genai`: the GenAI conventions' names where they match. */
  otlpNames?: OtlpNames;
  destination: Destination;
  intervalMs: number;
  timeoutMs: number;
  /** `--otlp-resource` attributes, on every resource. */
  resource?: ResourceAttributes;
  log: Logger;
  metrics: PushMetrics;
  /** With a spool: pushes go through this forwarder instead of the exporter (it counts their delivery). */
  forwarder?: PushForwarder;
}

export class OtlpPusher {
  readonly #o: PushOptions;
  readonly #exporter: OTLPMetricExporter;
  /** Per target: counter start times, and the resource attributes naming it. */
  readonly #state = new Map<Target, { starts: StartTimes; source: Attributes }>();
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  #closed = false;
  #failing = false;

  constructor(options: PushOptions) {
    this.#o = options;
    this.#exporter = new OTLPMetricExporter({ url: options.destination.url.href, headers: options.destination.headers, timeoutMillis: options.timeoutMs });
  }

  #stateOf(t: Target): { starts: StartTimes; source: Attributes } {
    let s = this.#state.get(t);
    if (!s) {
      s = { starts: new StartTimes(), source: { ...targetAttributes(t), ...this.#o.resource } };
      this.#state.set(t, s);
    }
    return s;
  }

  start(): void {
    const tick = () => {
      this.#running = this.pushOnce().finally(() => {
        this.#running = undefined;
        if (!this.#closed) this.#timer = setTimeout(tick, this.#o.intervalMs);
      });
    };
    tick();
  }

  /** One scrape and export; resolves when the destination answered. */
  async pushOnce(): Promise<void> {
    const { log, metrics } = this.#o;
    const targets = this.#o.targets();
    for (const t of this.#state.keys()) if (!targets.includes(t)) this.#state.delete(t);
    const resources: ResourceMetrics[] = [];
    const scrapes = await Promise.allSettled(targets.map((t) => sharedScrape(t.upstream)));
    const keeps = this.#o.families && selects(this.#o.families);
    let failure: string | undefined;
    scrapes.forEach((r, i) => {
      if (r.status === 'fulfilled') {
        const { starts, source } = this.#stateOf(targets[i]!);
        const families = canonicalFamilies(keeps ? r.value.families.filter((f) => keeps(f.name)) : r.value.families, this.#o.names ?? 'upstream');
        const made = toResourceMetrics(families, r.value.timeMs, starts, { attributes: source });
        resources.push(...(this.#o.otlpNames === 'genai' ? applyGenaiNamesSdk(made) : made));
        return;
      }
      // Counted per target; a push run is in trouble only when nothing could be scraped.
      metrics.otlpPushes.inc({ outcome: 'scrape_error' });
      failure ??= `upstream scrape of ${targets[i]!.name} failed: ${(r.reason as Error).message}`;
    });
    if (resources.length === 0) {
      if (failure) this.#trouble(failure);
      return;
    }
    let points = 0;
    for (const r of resources) for (const s of r.scopeMetrics) for (const m of s.metrics) points += m.dataPoints.length;
    if (this.#o.forwarder) {
      // Spooled: held on disk until delivered; the forwarder counts deliveries, drops and retries.
      const pointsOf = (r: ResourceMetrics) => r.scopeMetrics.reduce((n, s) => n + s.metrics.reduce((m, x) => m + x.dataPoints.length, 0), 0);
      const held = await Promise.all(resources.map((r) => this.#o.forwarder!.enqueue(JsonMetricsSerializer.serializeRequest(r)!, pointsOf(r))));
      metrics.otlpPushes.inc({ outcome: held.every((h) => h === 'held') ? 'ok' : 'export_error' });
      return;
    }
    const results = await Promise.all(resources.map((r) => new Promise<ExportResult>((resolve) => this.#exporter.export(r, resolve))));
    const failed = results.find((r) => r.code !== ExportResultCode.SUCCESS);
    if (failed) {
      metrics.otlpPushes.inc({ outcome: 'export_error' });
      metrics.otlpDroppedPoints.inc({ reason: 'push_failed' }, points);
      this.#trouble(`OTLP export failed: ${failed.error?.message ?? 'unknown error'}`);
      return;
    }
    metrics.otlpPushes.inc({ outcome: 'ok' });
    metrics.otlpForwardedPoints.inc({ path: 'push' }, points);
    if (this.#failing) {
      this.#failing = false;
      log.info({ event: 'otlp_push_recovered', destination: this.#o.destination.display }, 'direct OTLP push works again');
    }
  }

  /** Log the first failure of a run of failures, not every interval. */
  #trouble(reason: string): void {
    if (this.#failing) {
      this.#o.log.debug({ event: 'otlp_push_failed', reason }, reason);
      return;
    }
    this.#failing = true;
    this.#o.log.warn({ event: 'otlp_push_failed', destination: this.#o.destination.display, reason }, reason);
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#timer);
    await this.#running;
    await Promise.all([this.#exporter.shutdown(), this.#o.forwarder?.close(this.#o.timeoutMs)]);
  }
}

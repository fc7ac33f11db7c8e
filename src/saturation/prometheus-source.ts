/**
 * Saturation from Prometheus, cached. A refresh runs the signals' queries (one
 * each) and replaces the cache only when all of them answered, so a report
 * never mixes two moments. Callers never wait for a refresh once there is
 * data: they get the cache, aged; concurrent callers share one refresh.
 *
 * Two ways to keep it fresh: `start()` refreshes every TTL in the background
 * (serve), or, without it, a report older than the TTL starts a refresh and
 * answers from the cache meanwhile (the first report waits for data).
 */
import { Every } from '../every.js';
import type { Logger } from '../logger.js';
import { readSignal, signalQuery, type PromqlOptions } from './promql.js';
import type { PrometheusClient } from './prometheus-client.js';
import { buildReport, type SaturationReport, type TargetParts } from './report.js';
import { SIGNALS } from './signals.js';

export interface PrometheusSaturationOptions extends PromqlOptions {
  client: PrometheusClient;
  cacheTtlMs: number;
  maxStalenessMs: number;
  log: Logger;
}

export class PrometheusSaturation {
  private rows: TargetParts[] | undefined;
  private lastError: string | undefined;
  private attemptedMs = -Infinity;
  private refreshing: Promise<void> | undefined;
  private loop: Every | undefined;
  private warnedUnlabelled = false;

  constructor(private readonly options: PrometheusSaturationOptions) {}

  /** Refresh every TTL from now on; resolves after the first refresh, whatever its outcome. */
  start(): Promise<void> {
    this.loop = new Every(this.options.cacheTtlMs, () => this.refresh());
    return this.loop.start();
  }

  async report(nowMs = Date.now()): Promise<SaturationReport> {
    if (!this.loop && nowMs - this.attemptedMs >= this.options.cacheTtlMs) {
      const p = this.refresh();
      if (!this.rows) await p;
    } else if (!this.rows && this.refreshing) {
      await this.refreshing;
    }
    return buildReport(this.rows ?? [], {
      source: 'prometheus',
      windowMs: this.options.windowMs,
      maxStalenessMs: this.options.maxStalenessMs,
      nowMs: Date.now(),
      error: this.lastError,
    });
  }

  /** One round of queries, shared by everyone who asks while it runs. */
  refresh(): Promise<void> {
    this.refreshing ??= this.run().finally(() => (this.refreshing = undefined));
    return this.refreshing;
  }

  private async run(): Promise<void> {
    this.attemptedMs = Date.now();
    const { client, log } = this.options;
    try {
      // Every query settles before the round ends: none is left retrying behind a failed round.
      const settled = await Promise.allSettled(SIGNALS.map((def) => client.query(signalQuery(def, this.options)).then((result) => ({ def, result }))));
      const failed = settled.find((s) => s.status === 'rejected');
      if (failed) throw failed.reason;
      const answers = settled.map(
        (s) => (s as PromiseFulfilledResult<{ def: (typeof SIGNALS)[number]; result: Awaited<ReturnType<PrometheusClient['query']>> }>).value,
      );
      const rows = new Map<string, TargetParts>();
      let unlabelled = 0;
      for (const { def, result } of answers) unlabelled += readSignal(def, result, this.options, rows).unlabelled;
      if (unlabelled && !this.warnedUnlabelled) {
        this.warnedUnlabelled = true;
        log.warn(
          { event: 'saturation_unlabelled', label: this.options.targetLabel },
          `Prometheus returned vLLM series without the "${this.options.targetLabel}" label; they are left out (set the target label to the one that names your replicas, e.g. exported_instance behind a fleet proxy)`,
        );
      }
      if (this.lastError) log.info({ event: 'saturation_prometheus_recovered' }, 'Prometheus answers the saturation queries again');
      this.rows = [...rows.values()];
      this.lastError = undefined;
    } catch (err) {
      const message = (err as Error).message;
      if (message !== this.lastError)
        log.warn({ event: 'saturation_prometheus_failed', err: message }, `saturation from Prometheus failed, serving the last good values: ${message}`);
      this.lastError = message;
    }
  }

  async close(): Promise<void> {
    await this.loop?.stop();
    await this.refreshing;
    await this.options.client.close();
  }
}

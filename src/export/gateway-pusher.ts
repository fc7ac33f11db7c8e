/**
 * Push mode: every interval, each target's sanitized exposition replaces its
 * Pushgateway group `job/<job>/instance/<target>`. A target that fails is
 * pushed as `vllm_metrics_proxy_target_up 0` with the reason, so the group
 * does not keep showing old numbers as if current.
 */
import { setTimeout as delay } from 'node:timers/promises';
import { backoffDelay } from '../backoff.js';
import { Every } from '../every.js';
import type { FamilySelection } from '../exposition/family-filter.js';
import type { NamesMode } from '../exposition/canonical-names.js';
import { renderText } from '../exposition/render.js';
import type { MergeIssueLog } from '../fleet/issue-log.js';
import { mergeOutcomes, scrapeTarget, statusOf, targetMeta, type TargetHealth } from '../fleet/targets-scrape.js';
import { TextMerge } from '../fleet/text-merge.js';
import type { Logger } from '../logger.js';
import type { Counter } from 'prom-client';
import type { Target } from '../targets/target-set.js';
import { GatewayError, GROUPING_LABELS, targetGroup, type GroupingKey, type PushgatewayClient } from './pushgateway.js';

/** What the pusher counts (server/self-metrics.ts implements it). */
export interface GatewayPushMetrics {
  readonly gatewayPushes: Counter<'outcome'>;
}

export interface GatewayPushOptions {
  /** `--keep`/`--drop`: the families of each target that are pushed. */
  families?: FamilySelection;
  /** `--names`: deprecated vLLM names under their replacements. */
  names?: NamesMode;
  client: PushgatewayClient;
  job: string;
  targets: () => Target[];
  intervalMs: number;
  /** Deadline of each target scrape. */
  scrapeTimeoutMs: number;
  /** DELETE every group this process pushed when it stops. */
  deleteOnShutdown: boolean;
  /** Tries per push (a retriable failure is tried again within the interval). */
  attempts?: number;
  retryBaseMs?: number;
  log: Logger;
  metrics: GatewayPushMetrics;
  health: TargetHealth;
  issues: MergeIssueLog;
}

export class GatewayPusher {
  private readonly o: GatewayPushOptions;
  /** Groups pushed and not deleted, by target name. */
  private readonly pushed = new Map<string, GroupingKey>();
  private readonly loop: Every;
  private closed = false;
  private failing: string | undefined;
  private readonly stop = new AbortController();

  constructor(options: GatewayPushOptions) {
    this.o = options;
    this.loop = new Every(options.intervalMs, () => this.pushOnce());
  }

  start(): void {
    void this.loop.start();
  }

  /** One push of every target; resolves when the gateway has answered each. */
  async pushOnce(): Promise<void> {
    await Promise.all(this.o.targets().map((t) => this.pushTarget(t)));
  }

  private async pushTarget(t: Target): Promise<void> {
    const { metrics, health, issues } = this.o;
    const outcome = await scrapeTarget(t, this.o.scrapeTimeoutMs);
    const merge = new TextMerge({ reserved: GROUPING_LABELS });
    let merged: string;
    try {
      mergeOutcomes(merge, [outcome], this.o.families, this.o.names);
      merged = merge.render();
    } finally {
      merge.release();
    }
    health.observe(outcome);
    for (const issue of merge.issues) issues.report(issue);
    const body = renderText(targetMeta([statusOf(outcome)], undefined)) + merged;
    const key = targetGroup(this.o.job, t.name);
    try {
      await this.deliver(key, body);
    } catch (err) {
      metrics.gatewayPushes.inc({ outcome: 'error' });
      this.trouble(err as GatewayError);
      return;
    }
    this.pushed.set(t.name, key);
    // Removed while this push was in flight: its group must not outlive it.
    if (!this.o.targets().includes(t)) await this.forget(t.name);
    metrics.gatewayPushes.inc({ outcome: outcome.error ? 'scrape_error' : 'ok' });
    if (this.failing) {
      this.failing = undefined;
      this.o.log.info({ event: 'pushgateway_recovered', pushgateway: this.o.client.target.display }, 'Pushgateway accepts pushes again');
    }
  }

  private async deliver(key: GroupingKey, body: string): Promise<void> {
    const attempts = this.o.attempts ?? 3;
    const base = this.o.retryBaseMs ?? 500;
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.o.client.put(key, body);
      } catch (err) {
        const e = err as GatewayError;
        if (!e.retriable || attempt + 1 >= attempts || this.closed) throw e;
        await delay(backoffDelay(attempt, base, this.o.intervalMs / 2), undefined, { signal: this.stop.signal }).catch(() => {});
      }
    }
  }

  /** The first failure of a run is logged, and any failure with a new reason; repeats only at debug. */
  private trouble(err: GatewayError): void {
    const { log, client } = this.o;
    if (this.failing === err.message) {
      log.debug({ event: 'pushgateway_push_failed', status: err.status }, err.message);
      return;
    }
    this.failing = err.message;
    if (err.retriable)
      log.warn(
        { event: 'pushgateway_down', pushgateway: client.target.display, status: err.status },
        `${err.message} (retrying every ${this.o.intervalMs / 1000}s)`,
      );
    else log.error({ event: 'pushgateway_rejected', pushgateway: client.target.display, status: err.status }, err.message);
  }

  /** A target left: its group goes too, or the gateway would serve its last numbers forever. */
  async forget(name: string): Promise<void> {
    const key = this.pushed.get(name);
    if (!key) return;
    this.pushed.delete(name);
    await this.remove(key, name);
  }

  private async remove(key: GroupingKey, name: string): Promise<void> {
    try {
      await this.o.client.delete(key);
      this.o.log.info({ event: 'pushgateway_group_deleted', target: name }, `deleted Pushgateway group of ${name}`);
    } catch (err) {
      this.o.log.warn({ event: 'pushgateway_delete_failed', target: name, status: (err as GatewayError).status }, (err as Error).message);
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    this.stop.abort();
    await this.loop.stop();
    if (!this.o.deleteOnShutdown) return;
    await Promise.all([...this.pushed].map(([name, key]) => this.remove(key, name)));
    this.pushed.clear();
  }
}

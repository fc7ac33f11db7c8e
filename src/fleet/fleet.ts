import { renderText } from '../exposition/render.js';
import type { Logger } from '../logger.js';
import type { SelfMetrics } from '../server/self-metrics.js';
import { ExpositionSnapshot, TEXT_CONTENT_TYPE } from '../server/snapshot.js';
import type { TargetSet } from '../targets/target-set.js';
import { FleetAggregator } from './aggregates.js';
import type { MergeIssueLog } from './issue-log.js';
import { mergeTargets } from './merge.js';
import { scrapeTarget, targetMeta, type TargetHealth, type TargetOutcome } from './targets-scrape.js';

export interface FleetOptions {
  targets: TargetSet;
  /** The label naming each sample's target (`instance`). */
  label: string;
  /** Turn on the fleet aggregates, rated over this window. */
  aggregateWindowMs?: number;
  log: Logger;
  metrics: SelfMetrics;
  health: TargetHealth;
  issues: MergeIssueLog;
}

export interface FleetScrape {
  snapshot: ExpositionSnapshot;
  outcomes: TargetOutcome[];
}

/**
 * Scrapes every target at once and merges the answers into one exposition.
 * A target that fails or times out is left out; its `up` gauge says so and its
 * error kind says why. Concurrent callers share one round.
 */
export class Fleet {
  private round: Promise<FleetScrape> | undefined;
  private readonly aggregator: FleetAggregator | undefined;

  constructor(private readonly options: FleetOptions) {
    this.aggregator = options.aggregateWindowMs ? new FleetAggregator(options.aggregateWindowMs) : undefined;
  }

  /** One merged scrape, each target given at most `timeoutMs`. */
  scrape(timeoutMs: number): Promise<FleetScrape> {
    this.round ??= this.run(timeoutMs).finally(() => {
      this.round = undefined;
    });
    return this.round;
  }

  private async run(timeoutMs: number): Promise<FleetScrape> {
    const targets = this.options.targets.list();
    const outcomes = await Promise.all(targets.map((t) => scrapeTarget(t, timeoutMs)));
    for (const o of outcomes) this.options.health.observe(o);
    const timeMs = Date.now();
    const merged = mergeTargets(
      outcomes.filter((o) => o.families).map((o) => ({ target: o.target.name, families: o.families! })),
      this.options.label,
    );
    for (const issue of merged.issues) this.options.issues.report(issue);
    const upCount = outcomes.filter((o) => !o.error).length;
    const families = [...targetMeta(outcomes, this.options.label), ...merged.families];
    if (this.aggregator) families.push(...this.aggregator.aggregate(merged.families, timeMs, upCount, outcomes.length));
    this.options.metrics.targets.set({ state: 'up' }, upCount);
    this.options.metrics.targets.set({ state: 'down' }, outcomes.length - upCount);
    return { snapshot: new ExpositionSnapshot(Buffer.from(renderText(families)), TEXT_CONTENT_TYPE, timeMs), outcomes };
  }
}

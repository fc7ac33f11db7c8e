import type { FamilySelection } from '../exposition/family-filter.js';
import type { NamesMode } from '../exposition/canonical-names.js';
import { renderText } from '../exposition/render.js';
import { GcPacer } from '../http/gc-pacer.js';
import type { Logger } from '../logger.js';
import type { Gauge } from 'prom-client';
import { ExpositionSnapshot, TEXT_CONTENT_TYPE } from '../exposition/snapshot.js';
import type { TargetSet } from '../targets/target-set.js';
import { aggregatedFamilies, FleetAggregator } from './aggregates.js';
import type { MergeIssueLog } from './issue-log.js';
import { mergeOutcomes, scrapeTarget, statusOf, targetMeta, type TargetHealth, type TargetOutcome } from './targets-scrape.js';
import { TextMerge } from './text-merge.js';

/** What the fleet reports (server/self-metrics.ts implements it). */
export interface FleetMetrics {
  /** vllm_metrics_proxy_targets{state}: targets up and down after each round. */
  readonly targets: Gauge<'state'>;
}

export interface FleetOptions {
  targets: TargetSet;
  /** The label naming each sample's target (`instance`). */
  label: string;
  /** `--keep`/`--drop`: the families of each target that are merged. */
  families?: FamilySelection;
  /** `--names`: deprecated vLLM names under their replacements. */
  names?: NamesMode;
  /** Turn on the fleet aggregates, rated over this window. */
  aggregateWindowMs?: number;
  log: Logger;
  metrics: FleetMetrics;
  health: TargetHealth;
  issues: MergeIssueLog;
  /** Told every round's outcomes before the body is made (saturation samples them). */
  onRound?: (outcomes: TargetOutcome[], timeMs: number) => void;
  /** Lines added at the end of the body (saturation gauges). */
  trailer?: () => string;
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
  /** A young-generation collection every 8 MB fetched (http/gc-pacer.ts): a round of a thousand targets reads ~50 MB. */
  private readonly pacer = new GcPacer(8 * 1024 * 1024);

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
    const outcomes = await Promise.all(
      targets.map(async (t) => {
        const o = await scrapeTarget(t, timeoutMs);
        // The socket reads it was made of are garbage now, off the JS heap: let them go early.
        if (o.exposition) this.pacer.add(o.exposition.body.length);
        return o;
      }),
    );
    const timeMs = Date.now();
    const label = this.options.label;
    const merge = new TextMerge({ label, collect: this.aggregator ? aggregatedFamilies() : undefined });
    try {
      // Before the merge, which lets go of each target's text.
      this.options.onRound?.(outcomes, timeMs);
      mergeOutcomes(merge, outcomes, this.options.families, this.options.names);
      for (const o of outcomes) this.options.health.observe(o);
      for (const issue of merge.issues) this.options.issues.report(issue);
      const upCount = outcomes.filter((o) => !o.error).length;
      const aggregates = this.aggregator ? this.aggregator.aggregate(merge.collected(), timeMs, upCount, outcomes.length) : [];
      this.options.metrics.targets.set({ state: 'up' }, upCount);
      this.options.metrics.targets.set({ state: 'down' }, outcomes.length - upCount);
      const body = merge.renderBytes(renderText(targetMeta(outcomes.map(statusOf), label)), renderText(aggregates) + (this.options.trailer?.() ?? ''));
      return { snapshot: new ExpositionSnapshot(body, TEXT_CONTENT_TYPE, timeMs), outcomes };
    } finally {
      merge.release();
    }
  }
}

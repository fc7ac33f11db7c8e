import type { FamilySelection } from '../exposition/family-filter.js';
import type { NamesMode } from '../exposition/canonical-names.js';
import { renderText } from '../exposition/render.js';
import { GcPacer } from '../http/gc-pacer.js';
import type { Logger } from '../logger.js';
import type { Gauge } from 'prom-client';
import { ExpositionSnapshot, TEXT_CONTENT_TYPE } from '../exposition/snapshot.js';
import type { TargetSet } from '../targets/target-set.js';
import { aggregatedFamilies, FleetAggregator } from './aggregates.js';
import { AnswerPool } from './answer-pool.js';
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
  /**
   * This caller no longer reads `snapshot.body` (its answer is written, or it
   * never wanted it): once every caller of the round has said so, the buffer is
   * reused for a later round's answer. A caller that keeps the snapshot never
   * calls it; calling it more than once is harmless.
   */
  done(): void;
}

/** A round of target scrapes, shared by every caller that came while it ran. */
interface Round {
  result: Promise<Omit<FleetScrape, 'done'>>;
  /** Callers that have not said done, plus one held by the fleet while callers may still join. */
  holds: number;
  answer?: Buffer;
}

/**
 * Scrapes every target at once and merges the answers into one exposition.
 * A target that fails or times out is left out; its `up` gauge says so and its
 * error kind says why. Concurrent callers share one round; its answer's
 * buffer is reused once each of them has said it is done with it.
 */
export class Fleet {
  private round: Round | undefined;
  private readonly aggregator: FleetAggregator | undefined;
  private readonly answers = new AnswerPool();
  /** A young-generation collection every 8 MB fetched (http/gc-pacer.ts): a round of a thousand targets reads ~50 MB. */
  private readonly pacer = new GcPacer(8 * 1024 * 1024);

  constructor(private readonly options: FleetOptions) {
    this.aggregator = options.aggregateWindowMs ? new FleetAggregator(options.aggregateWindowMs) : undefined;
  }

  /** One merged scrape, each target given at most `timeoutMs`: the round under way, or a new one. */
  async scrape(timeoutMs: number): Promise<FleetScrape> {
    let round = this.round;
    if (!round) {
      const r: Round = { holds: 1, result: undefined! };
      r.result = this.run(timeoutMs, r).finally(() => {
        // Nobody can join it from here: the fleet's own hold goes.
        this.round = undefined;
        this.let(r);
      });
      round = this.round = r;
    }
    round.holds++;
    const joined = round;
    const result = await round.result.catch((err: unknown) => {
      this.let(joined);
      throw err;
    });
    let held = true;
    const done = () => {
      if (held) this.let(joined);
      held = false;
    };
    return { ...result, done };
  }

  /** One hold on `round` given up; the last gives its answer back to the pool. */
  private let(round: Round): void {
    if (--round.holds === 0 && round.answer) this.answers.give(round.answer);
  }

  private async run(timeoutMs: number, round: Round): Promise<Omit<FleetScrape, 'done'>> {
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
      const body = merge.renderBytes(renderText(targetMeta(outcomes.map(statusOf), label)), renderText(aggregates) + (this.options.trailer?.() ?? ''), (n) =>
        this.answers.take(n),
      );
      round.answer = body;
      return { snapshot: new ExpositionSnapshot(body, TEXT_CONTENT_TYPE, timeMs), outcomes };
    } finally {
      merge.release();
    }
  }
}

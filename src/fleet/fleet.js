import { renderText } from '../exposition/render.js';
import { ExpositionSnapshot, TEXT_CONTENT_TYPE } from '../server/snapshot.js';
import { AGGREGATED_FAMILIES, FleetAggregator } from './aggregates.js';
import { mergeOutcomes, scrapeTarget, statusOf, targetMeta } from './targets-scrape.js';
import { TextMerge } from './text-merge.js';
/**
 * Scrapes every target at once and merges the answers into one exposition.
 * A target that fails or times out is left out; its `up` gauge says so and its
 * error kind says why. Concurrent callers share one round.
 */
export class Fleet {
    options;
    round;
    aggregator;
    constructor(options) {
        this.options = options;
        this.aggregator = options.aggregateWindowMs ? new FleetAggregator(options.aggregateWindowMs) : undefined;
    }
    /** One merged scrape, each target given at most `timeoutMs`. */
    scrape(timeoutMs) {
        this.round ??= this.run(timeoutMs).finally(() => {
            this.round = undefined;
        });
        return this.round;
    }
    async run(timeoutMs) {
        const targets = this.options.targets.list();
        const outcomes = await Promise.all(targets.map((t) => scrapeTarget(t, timeoutMs)));
        const timeMs = Date.now();
        const label = this.options.label;
        const merge = new TextMerge({ label, collect: this.aggregator ? AGGREGATED_FAMILIES : undefined });
        mergeOutcomes(merge, outcomes);
        for (const o of outcomes)
            this.options.health.observe(o);
        for (const issue of merge.issues)
            this.options.issues.report(issue);
        const upCount = outcomes.filter((o) => !o.error).length;
        const aggregates = this.aggregator ? this.aggregator.aggregate(merge.collected(), timeMs, upCount, outcomes.length) : [];
        this.options.metrics.targets.set({ state: 'up' }, upCount);
        this.options.metrics.targets.set({ state: 'down' }, outcomes.length - upCount);
        const body = renderText(targetMeta(outcomes.map(statusOf), label)) + merge.render() + renderText(aggregates);
        return { snapshot: new ExpositionSnapshot(Buffer.from(body), TEXT_CONTENT_TYPE, timeMs), outcomes };
    }
}

/**
 * Push mode: every interval, each target's sanitized exposition replaces its
 * Pushgateway group `job/<job>/instance/<target>`. A target that fails is
 * pushed as `vllm_metrics_proxy_target_up 0` with the reason, so the group
 * does not keep showing old numbers as if current.
 */
import { setTimeout as delay } from 'node:timers/promises';
import { backoffDelay } from '../backoff.js';
import { Every } from '../every.js';
import { renderText } from '../exposition/render.js';
import { mergeOutcomes, scrapeTarget, statusOf, targetMeta } from '../fleet/targets-scrape.js';
import { TextMerge } from '../fleet/text-merge.js';
import { GROUPING_LABELS, targetGroup } from './pushgateway.js';
export class GatewayPusher {
    o;
    /** Groups pushed and not deleted, by target name. */
    pushed = new Map();
    loop;
    closed = false;
    failing;
    stop = new AbortController();
    constructor(options) {
        this.o = options;
        this.loop = new Every(options.intervalMs, () => this.pushOnce());
    }
    start() {
        void this.loop.start();
    }
    /** One push of every target; resolves when the gateway has answered each. */
    async pushOnce() {
        await Promise.all(this.o.targets().map((t) => this.pushTarget(t)));
    }
    async pushTarget(t) {
        const { metrics, health, issues } = this.o;
        const outcome = await scrapeTarget(t, this.o.scrapeTimeoutMs);
        const merge = new TextMerge({ reserved: GROUPING_LABELS });
        mergeOutcomes(merge, [outcome]);
        health.observe(outcome);
        for (const issue of merge.issues)
            issues.report(issue);
        const body = renderText(targetMeta([statusOf(outcome)], undefined)) + merge.render();
        const key = targetGroup(this.o.job, t.name);
        try {
            await this.deliver(key, body);
        }
        catch (err) {
            metrics.gatewayPushes.inc({ outcome: 'error' });
            this.trouble(err);
            return;
        }
        this.pushed.set(t.name, key);
        // Removed while this push was in flight: its group must not outlive it.
        if (!this.o.targets().includes(t))
            await this.forget(t.name);
        metrics.gatewayPushes.inc({ outcome: outcome.error ? 'scrape_error' : 'ok' });
        if (this.failing) {
            this.failing = undefined;
            this.o.log.info({ event: 'pushgateway_recovered', pushgateway: this.o.client.target.display }, 'Pushgateway accepts pushes again');
        }
    }
    async deliver(key, body) {
        const attempts = this.o.attempts ?? 3;
        const base = this.o.retryBaseMs ?? 500;
        for (let attempt = 0;; attempt++) {
            try {
                return await this.o.client.put(key, body);
            }
            catch (err) {
                const e = err;
                if (!e.retriable || attempt + 1 >= attempts || this.closed)
                    throw e;
                await delay(backoffDelay(attempt, base, this.o.intervalMs / 2), undefined, { signal: this.stop.signal }).catch(() => { });
            }
        }
    }
    /** The first failure of a run is logged, and any failure with a new reason; repeats only at debug. */
    trouble(err) {
        const { log, client } = this.o;
        if (this.failing === err.message) {
            log.debug({ event: 'pushgateway_push_failed', status: err.status }, err.message);
            return;
        }
        this.failing = err.message;
        if (err.retriable)
            log.warn({ event: 'pushgateway_down', pushgateway: client.target.display, status: err.status }, `${err.message} (retrying every ${this.o.intervalMs / 1000}s)`);
        else
            log.error({ event: 'pushgateway_rejected', pushgateway: client.target.display, status: err.status }, err.message);
    }
    /** A target left: its group goes too, or the gateway would serve its last numbers forever. */
    async forget(name) {
        const key = this.pushed.get(name);
        if (!key)
            return;
        this.pushed.delete(name);
        await this.remove(key, name);
    }
    async remove(key, name) {
        try {
            await this.o.client.delete(key);
            this.o.log.info({ event: 'pushgateway_group_deleted', target: name }, `deleted Pushgateway group of ${name}`);
        }
        catch (err) {
            this.o.log.warn({ event: 'pushgateway_delete_failed', target: name, status: err.status }, err.message);
        }
    }
    async close() {
        this.closed = true;
        this.stop.abort();
        await this.loop.stop();
        if (!this.o.deleteOnShutdown)
            return;
        await Promise.all([...this.pushed].map(([name, key]) => this.remove(key, name)));
        this.pushed.clear();
    }
}

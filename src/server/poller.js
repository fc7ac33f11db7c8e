import { Every } from '../every.js';
/**
 * Poll mode: the proxy scrapes on its own schedule and keeps the latest
 * exposition in memory, so any number of clients cost the upstream nothing.
 * Polls never overlap; the interval runs from the start of one to the start of
 * the next (a slow poll delays the next, it does not stack them).
 */
export class Poller {
    produce;
    intervalMs;
    log;
    metrics;
    latest;
    lastError;
    loop;
    failing = false;
    constructor(produce, intervalMs, log, metrics) {
        this.produce = produce;
        this.intervalMs = intervalMs;
        this.log = log;
        this.metrics = metrics;
        this.loop = new Every(intervalMs, () => this.poll());
    }
    /** Resolves after the first poll, whatever its outcome, so a client arriving at once finds data. */
    start() {
        return this.loop.start();
    }
    async poll() {
        try {
            this.latest = await this.produce();
            this.lastError = undefined;
            this.metrics.pollTimeMs = this.latest.timeMs;
            this.metrics.polls.inc({ outcome: 'ok' });
            if (this.failing)
                this.log.info({ event: 'poll_recovered' }, 'poll succeeded again');
            this.failing = false;
        }
        catch (err) {
            this.lastError = err;
            this.metrics.polls.inc({ outcome: 'error' });
            if (!this.failing)
                this.log.warn({ event: 'poll_failed', err: err.message }, `poll failed, serving the previous data until --max-staleness: ${err.message}`);
            this.failing = true;
        }
    }
    /** Age of the latest data in ms, or undefined when there is none. */
    age(now = Date.now()) {
        return this.latest ? now - this.latest.timeMs : undefined;
    }
    close() {
        return this.loop.stop();
    }
}

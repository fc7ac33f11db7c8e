/**
 * Runs a task now and then every interval, measured start to start, never two
 * at once (a slow run delays the next, it does not stack them). The loop of
 * the poller, the Pushgateway push and the collector.
 */
export class Every {
    intervalMs;
    task;
    timer;
    running;
    started = false;
    stopped = false;
    /** `task` handles its own errors: a rejection here would be a bug, and is left to surface. */
    constructor(intervalMs, task) {
        this.intervalMs = intervalMs;
        this.task = task;
    }
    /** Starts the loop (once; later calls change nothing); resolves when the first run has ended. */
    start() {
        if (this.started || this.stopped)
            return this.running ?? Promise.resolve();
        this.started = true;
        return this.tick();
    }
    tick() {
        const started = Date.now();
        const run = this.task().finally(() => {
            this.running = undefined;
            if (!this.stopped)
                this.timer = setTimeout(() => void this.tick(), Math.max(0, started + this.intervalMs - Date.now()));
        });
        this.running = run;
        return run;
    }
    /** No more runs; resolves once a run in progress has ended. */
    async stop() {
        this.stopped = true;
        clearTimeout(this.timer);
        await this.running;
    }
}

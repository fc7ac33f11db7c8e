import { ExportResultCode } from '@opentelemetry/core';
import { OTLPMetricExporter } from '@opentelemetry/exporter-metrics-otlp-http';
import { sharedScrape } from '../upstream/scrape.js';
import { StartTimes, toResourceMetrics } from './from-exposition.js';
import { targetAttributes } from './resource.js';
export class OtlpPusher {
    #o;
    #exporter;
    /** Per target: counter start times, and the resource attributes naming it. */
    #state = new Map();
    #timer;
    #running;
    #closed = false;
    #failing = false;
    constructor(options) {
        this.#o = options;
        this.#exporter = new OTLPMetricExporter({ url: options.destination.url.href, headers: options.destination.headers, timeoutMillis: options.timeoutMs });
    }
    #stateOf(t) {
        let s = this.#state.get(t);
        if (!s) {
            s = { starts: new StartTimes(), source: { ...targetAttributes(t), ...this.#o.resource } };
            this.#state.set(t, s);
        }
        return s;
    }
    start() {
        const tick = () => {
            this.#running = this.pushOnce().finally(() => {
                this.#running = undefined;
                if (!this.#closed)
                    this.#timer = setTimeout(tick, this.#o.intervalMs);
            });
        };
        tick();
    }
    /** One scrape and export; resolves when the destination answered. */
    async pushOnce() {
        const { log, metrics } = this.#o;
        const targets = this.#o.targets();
        for (const t of this.#state.keys())
            if (!targets.includes(t))
                this.#state.delete(t);
        const resources = [];
        const scrapes = await Promise.allSettled(targets.map((t) => sharedScrape(t.upstream)));
        let failure;
        scrapes.forEach((r, i) => {
            if (r.status === 'fulfilled') {
                const { starts, source } = this.#stateOf(targets[i]);
                resources.push(...toResourceMetrics(r.value.families, r.value.timeMs, starts, { attributes: source }));
                return;
            }
            // Counted per target; a push run is in trouble only when nothing could be scraped.
            metrics.otlpPushes.inc({ outcome: 'scrape_error' });
            failure ??= `upstream scrape of ${targets[i].name} failed: ${r.reason.message}`;
        });
        if (resources.length === 0) {
            if (failure)
                this.#trouble(failure);
            return;
        }
        let points = 0;
        for (const r of resources)
            for (const s of r.scopeMetrics)
                for (const m of s.metrics)
                    points += m.dataPoints.length;
        const results = await Promise.all(resources.map((r) => new Promise((resolve) => this.#exporter.export(r, resolve))));
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
    #trouble(reason) {
        if (this.#failing) {
            this.#o.log.debug({ event: 'otlp_push_failed', reason }, reason);
            return;
        }
        this.#failing = true;
        this.#o.log.warn({ event: 'otlp_push_failed', destination: this.#o.destination.display, reason }, reason);
    }
    async close() {
        this.#closed = true;
        clearTimeout(this.#timer);
        await this.#running;
        await this.#exporter.shutdown();
    }
}

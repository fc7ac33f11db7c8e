/**
 * The server's own view of a request: vLLM's histograms of queue, prefill,
 * decode, TTFT and end-to-end time, read from /metrics before and after it and
 * subtracted. This is the before/after-snapshot idea the project grew from, done
 * so that it holds under load: snapshots are coalesced (at most one /metrics
 * fetch in flight, shared by every request that may use it), each request knows
 * which others overlapped it, and a delta is called `exact` only when the
 * request ran alone and the server counted exactly one request in between.
 */
import { parseExposition } from '../exposition/parser.js';
export const SERVER_HISTOGRAMS = {
    queue: 'request_queue_time_seconds',
    prefill: 'request_prefill_time_seconds',
    decode: 'request_decode_time_seconds',
    ttft: 'time_to_first_token_seconds',
    e2e: 'e2e_request_latency_seconds',
};
const PHASES = Object.keys(SERVER_HISTOGRAMS);
const BY_FAMILY = new Map(PHASES.flatMap((p) => [[`vllm:${SERVER_HISTOGRAMS[p]}`, p], [`vllm_${SERVER_HISTOGRAMS[p]}`, p]]));
const zero = () => Object.fromEntries(PHASES.map((p) => [p, { sum: 0, count: 0 }]));
/** The five histograms' `_sum` and `_count` per served model, added up over engines (colon or sanitized names). */
export function totalsByModel(text, openMetrics = false) {
    const out = new Map();
    for (const f of parseExposition(text, openMetrics ? 'openmetrics' : 'prometheus')) {
        const phase = BY_FAMILY.get(f.name);
        if (!phase)
            continue;
        for (const s of f.samples) {
            const field = s.name.endsWith('_sum') ? 'sum' : s.name.endsWith('_count') ? 'count' : undefined;
            if (!field)
                continue;
            const model = s.labels.model_name ?? '';
            let t = out.get(model);
            if (!t)
                out.set(model, (t = zero()));
            t[phase][field] += s.value;
        }
    }
    return out;
}
/** Coalesced /metrics snapshots: at most one fetch in flight, shared by whoever may use it. */
export class Snapshots {
    #fetch;
    #inFlight;
    /** Fetches made (for tests and self-metrics). */
    fetches = 0;
    constructor(fetch) {
        this.#fetch = fetch;
    }
    /** Totals from a fetch that started at or after `notBefore` (performance.now()). */
    async after(notBefore) {
        for (;;) {
            const current = this.#inFlight;
            if (current && current.startedAt >= notBefore)
                return current.result;
            if (current) {
                // Started too early to count for this caller: let it finish, then start (or join) a newer one.
                await current.result.catch(() => { });
                continue;
            }
            const startedAt = performance.now();
            this.fetches++;
            const result = this.#fetch();
            const entry = { startedAt, result };
            this.#inFlight = entry;
            result.finally(() => {
                if (this.#inFlight === entry)
                    this.#inFlight = undefined;
            }).catch(() => { });
            return result;
        }
    }
}
/** vLLM logs a request's histograms a little after its last byte: how long the end snapshot waits for it. */
const SETTLE_TRIES = 20;
const SETTLE_STEP_MS = 50;
export class ServerView {
    #snapshots;
    #active = new Set();
    constructor(snapshots) {
        this.#snapshots = snapshots;
    }
    get snapshots() {
        return this.#snapshots;
    }
    /** A request starts: its "before" snapshot is taken now, alongside it (nothing waits for it). */
    begin() {
        const a = { overlaps: new Set(), before: this.#snapshots.after(performance.now()) };
        a.before.catch(() => { });
        for (const other of this.#active) {
            other.overlaps.add(a);
            a.overlaps.add(other);
        }
        this.#active.add(a);
        return a;
    }
    /** The request ended (its last byte went out): the "after" snapshot, and the delta for `model`. */
    async end(a, model) {
        this.#active.delete(a);
        const overlap = a.overlaps.size;
        let before;
        try {
            before = await a.before;
        }
        catch (err) {
            return { attribution: 'unavailable', overlap, error: err.message };
        }
        let delta;
        for (let i = 0; i < SETTLE_TRIES; i++) {
            let after;
            try {
                after = await this.#snapshots.after(performance.now());
            }
            catch (err) {
                return { attribution: 'unavailable', overlap, error: err.message };
            }
            delta = subtract(after, before, model);
            if (delta.e2e.count >= 1)
                break;
            await new Promise((r) => setTimeout(r, SETTLE_STEP_MS));
        }
        const requests = delta.e2e.count;
        if (requests < 1)
            return { attribution: 'unavailable', overlap, requests, error: 'the server counted no finished request' };
        const per = (p) => (delta[p].count > 0 ? delta[p].sum / delta[p].count : undefined);
        return {
            attribution: overlap === 0 && requests === 1 ? 'exact' : 'shared',
            overlap,
            requests,
            queue: per('queue'),
            prefill: per('prefill'),
            decode: per('decode'),
            ttft: per('ttft'),
            e2e: per('e2e'),
        };
    }
}
/** after - before for one model (every model when the request named none), a reset counting from zero. */
function subtract(after, before, model) {
    const out = zero();
    for (const [m, a] of after) {
        if (model !== undefined && m !== model)
            continue;
        const b = before.get(m) ?? zero();
        for (const p of PHASES) {
            const reset = a[p].count < b[p].count;
            out[p].count += reset ? a[p].count : a[p].count - b[p].count;
            out[p].sum += reset ? a[p].sum : a[p].sum - b[p].sum;
        }
    }
    return out;
}

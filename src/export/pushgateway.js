/**
 * A Prometheus Pushgateway client: PUT and DELETE of one group, named by its
 * grouping key. PUT replaces the whole group, so a series that vanished
 * upstream vanishes from the gateway on the next push.
 */
import { request } from 'undici';
import { parseUpstream } from '../upstream/target.js';
import { formatDuration } from '../units.js';
export class GatewayError extends Error {
    status;
    code = 'VMP_PUSHGATEWAY';
    constructor(message, 
    /** The HTTP status, or 0 when the gateway was not reached. */
    status) {
        super(message);
        this.status = status;
    }
    /** Worth another try: the gateway was not reached, was busy, or failed itself. */
    get retriable() {
        return this.status === 0 || this.status === 408 || this.status === 429 || this.status >= 500;
    }
}
/** The labels of a target's group; the gateway overwrites them in the pushed samples without a word, so those move aside. */
export const GROUPING_LABELS = ['job', 'instance'];
/** A target's group: `job/<job>/instance/<target>`. */
export function targetGroup(job, target) {
    return [
        ['job', job],
        ['instance', target],
    ];
}
/**
 * `/metrics/job/<job>/<label>/<value>...`. A value with a `/` (or an empty one)
 * is sent base64url-encoded (`label@base64/...`), as the Pushgateway documents.
 */
export function groupPath(key) {
    return key
        .map(([name, value]) => {
        if (value === '')
            return `/${name}@base64/=`;
        if (value.includes('/'))
            return `/${name}@base64/${Buffer.from(value).toString('base64url')}`;
        return `/${name}/${encodeURIComponent(value)}`;
    })
        .join('');
}
export class PushgatewayClient {
    options;
    target;
    base;
    constructor(options) {
        this.options = options;
        this.target = parseUpstream(options.url, undefined, '--push-url');
        this.base = this.target.url.href.replace(/\/+$/, '');
    }
    /** Replace the group with `body` (Prometheus text). */
    put(key, body) {
        return this.send('PUT', key, body);
    }
    delete(key) {
        return this.send('DELETE', key);
    }
    async send(method, key, body) {
        const headers = { 'user-agent': 'vllm-metrics-proxy' };
        if (body !== undefined)
            headers['content-type'] = 'text/plain; version=0.0.4; charset=utf-8';
        if (this.target.authorization)
            headers.authorization = this.target.authorization;
        let res;
        try {
            res = await request(`${this.base}/metrics${groupPath(key)}`, {
                method,
                headers,
                body,
                dispatcher: this.options.dispatcher,
                headersTimeout: this.options.timeoutMs,
                bodyTimeout: this.options.timeoutMs,
                signal: AbortSignal.timeout(this.options.timeoutMs),
            });
        }
        catch (err) {
            const e = err;
            const timedOut = e.name === 'TimeoutError' || e.code === 'UND_ERR_HEADERS_TIMEOUT';
            const why = timedOut ? `no answer within ${formatDuration(this.options.timeoutMs)}` : `${e.code ?? e.cause?.code ?? ''} ${e.message}`.trim();
            throw new GatewayError(`Pushgateway ${this.target.display} unreachable: ${why}`, 0);
        }
        // The gateway explains a refusal in its body ("pushed metrics are invalid or inconsistent ..."): surface it.
        const text = (await res.body.text()).trim().slice(0, 1_000);
        if (res.statusCode >= 200 && res.statusCode < 300)
            return;
        throw new GatewayError(`Pushgateway answered HTTP ${res.statusCode} to ${method} ${groupPath(key)}${text ? `: ${text}` : ''}`, res.statusCode);
    }
}

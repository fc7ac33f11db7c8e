/**
 * A Prometheus Pushgateway client: PUT and DELETE of one group, named by its
 * grouping key. PUT replaces the whole group, so a series that vanished
 * upstream vanishes from the gateway on the next push.
 */
import { request, type Dispatcher } from 'undici';
import { GatewayError } from '../errors.js';
import { requestFailure } from '../request-failure.js';
import { parseUpstream, type UpstreamTarget } from '../upstream/target.js';

export { GatewayError };

export type GroupingKey = Array<[string, string]>;

/** The labels of a target's group; the gateway overwrites them in the pushed samples without a word, so those move aside. */
export const GROUPING_LABELS = ['job', 'instance'] as const;

/** A target's group: `job/<job>/instance/<target>`. */
export function targetGroup(job: string, target: string): GroupingKey {
  return [
    ['job', job],
    ['instance', target],
  ];
}

/**
 * `/metrics/job/<job>/<label>/<value>...`. A value with a `/` (or an empty one)
 * is sent base64url-encoded (`label@base64/...`), as the Pushgateway documents.
 */
export function groupPath(key: GroupingKey): string {
  return key
    .map(([name, value]) => {
      if (value === '') return `/${name}@base64/=`;
      if (value.includes('/')) return `/${name}@base64/${Buffer.from(value).toString('base64url')}`;
      return `/${name}/${encodeURIComponent(value)}`;
    })
    .join('');
}

export interface PushgatewayClientOptions {
  /** The gateway's base URL (http://pushgateway:9091), credentials allowed in it. */
  url: string;
  timeoutMs: number;
  dispatcher?: Dispatcher;
}

export class PushgatewayClient {
  readonly target: UpstreamTarget;
  private readonly base: string;

  constructor(private readonly options: PushgatewayClientOptions) {
    this.target = parseUpstream(options.url, undefined, '--push-url');
    this.base = this.target.url.href.replace(/\/+$/, '');
  }

  /** Replace the group with `body` (Prometheus text). */
  put(key: GroupingKey, body: string | Buffer): Promise<void> {
    return this.send('PUT', key, body);
  }

  delete(key: GroupingKey): Promise<void> {
    return this.send('DELETE', key);
  }

  private async send(method: 'PUT' | 'DELETE', key: GroupingKey, body?: string | Buffer): Promise<void> {
    const headers: Record<string, string> = { 'user-agent': 'vllm-metrics-proxy' };
    if (body !== undefined) headers['content-type'] = 'text/plain; version=0.0.4; charset=utf-8';
    if (this.target.authorization) headers.authorization = this.target.authorization;
    let res: Dispatcher.ResponseData;
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
    } catch (err) {
      throw new GatewayError(`Pushgateway ${this.target.display} unreachable: ${requestFailure(err, this.options.timeoutMs)}`, 0);
    }
    // The gateway explains a refusal in its body ("pushed metrics are invalid or inconsistent ..."): surface it.
    const text = (await res.body.text()).trim().slice(0, 1_000);
    if (res.statusCode >= 200 && res.statusCode < 300) return;
    throw new GatewayError(`Pushgateway answered HTTP ${res.statusCode} to ${method} ${groupPath(key)}${text ? `: ${text}` : ''}`, res.statusCode);
  }
}

/**
 * Instant queries against Prometheus' HTTP API (`POST /api/v1/query`). Network
 * errors and 5xx are retried after 1 s, 2 s and 4 s; a 4xx is a mistake in the
 * query or the credentials and fails at once, with Prometheus' own error text.
 */
import { request, type Agent } from 'undici';
import { readSecret } from '../secret.js';
import { ConfigError, PrometheusError } from '../errors.js';
import { requestFailure } from '../request-failure.js';
import { formatDuration } from '../units.js';
import { createDispatcher } from '../upstream/dispatcher.js';
import { parseUpstream, type UpstreamTarget } from '../upstream/target.js';
import type { VectorSample } from './promql.js';

export const RETRY_DELAYS_MS = [1_000, 2_000, 4_000];

export { PrometheusError };

export interface PrometheusClientOptions {
  /** Prometheus' base URL (http://prometheus:9090, or with a path prefix); basic auth may be in it. */
  url: string;
  timeoutMs: number;
  caFile?: string;
  insecure?: boolean;
  /** Re-read before every query, so a rotated (Kubernetes service account) token is picked up. */
  bearerTokenFile?: string;
  retryDelaysMs?: number[];
  /** Flag names for errors: the `saturation` command's own, or `serve`'s prefixed ones. */
  flags?: { url: string; caFile: string; bearerTokenFile: string };
  /** Told about every HTTP request made (the cache's tests and self-metrics count them). */
  onRequest?: (outcome: 'ok' | 'error') => void;
}

const DEFAULT_FLAGS = { url: '--prometheus-url', caFile: '--ca-file', bearerTokenFile: '--bearer-token-file' };

export class PrometheusClient {
  readonly target: UpstreamTarget;
  private readonly endpoint: string;
  private readonly dispatcher: Agent;
  private readonly flags: NonNullable<PrometheusClientOptions['flags']>;

  constructor(private readonly options: PrometheusClientOptions) {
    this.flags = options.flags ?? DEFAULT_FLAGS;
    this.target = parseUpstream(options.url, undefined, this.flags.url);
    this.endpoint = `${this.target.url.href.replace(/\/+$/, '')}/api/v1/query`;
    this.dispatcher = createDispatcher({ caFile: options.caFile, insecure: options.insecure }, options.timeoutMs, this.flags.caFile);
    if (options.bearerTokenFile && this.target.authorization)
      throw new ConfigError(this.flags.bearerTokenFile, 'credentials in the URL and a bearer token are exclusive; use one');
    this.authorization(); // a missing or empty token file stops the start
  }

  private authorization(): string | undefined {
    const file = this.options.bearerTokenFile;
    if (!file) return this.target.authorization;
    // readSecret names the file flag `${flag}-file`.
    return `Bearer ${readSecret(undefined, file, this.flags.bearerTokenFile.replace(/-file$/, ''))}`;
  }

  /** An instant query whose result is a vector, retried as the header says. */
  async query(expr: string): Promise<VectorSample[]> {
    const delays = this.options.retryDelaysMs ?? RETRY_DELAYS_MS;
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.once(expr);
      } catch (err) {
        if (!(err instanceof PrometheusError) || !err.retriable || attempt >= delays.length) throw err;
        await new Promise((resolve) => setTimeout(resolve, delays[attempt]));
      }
    }
  }

  private async once(expr: string): Promise<VectorSample[]> {
    const timeoutMs = this.options.timeoutMs;
    const headers: Record<string, string> = {
      'content-type': 'application/x-www-form-urlencoded',
      accept: 'application/json',
      'user-agent': 'vllm-metrics-proxy',
    };
    let auth: string | undefined;
    try {
      auth = this.authorization();
    } catch (err) {
      // A token file that vanished after the start: not worth a retry, and not a crash.
      throw new PrometheusError((err as Error).message, 0, false);
    }
    if (auth) headers.authorization = auth;
    let status: number;
    let text: string;
    try {
      const res = await request(this.endpoint, {
        method: 'POST',
        headers,
        // Prometheus stops evaluating when its own deadline passes, before ours.
        body: new URLSearchParams({ query: expr, timeout: formatDuration(timeoutMs) }).toString(),
        dispatcher: this.dispatcher,
        signal: AbortSignal.timeout(timeoutMs),
      });
      status = res.statusCode;
      text = await res.body.text();
    } catch (err) {
      this.options.onRequest?.('error');
      throw new PrometheusError(`Prometheus ${this.target.display} unreachable: ${requestFailure(err, timeoutMs)}`, 0, true);
    }
    this.options.onRequest?.(status >= 200 && status < 300 ? 'ok' : 'error');
    let body: { status?: string; errorType?: string; error?: string; data?: { resultType?: string; result?: unknown } } | undefined;
    try {
      body = JSON.parse(text) as typeof body;
    } catch {
      body = undefined;
    }
    if (status < 200 || status >= 300 || body?.status !== 'success') {
      const why = body?.error ? `${body.errorType ? `${body.errorType}: ` : ''}${body.error}` : text.trim().slice(0, 500) || '(empty body)';
      throw new PrometheusError(`Prometheus answered HTTP ${status}: ${why}`, status, status >= 500 || status === 0);
    }
    if (body.data?.resultType !== 'vector' || !Array.isArray(body.data.result)) {
      throw new PrometheusError(`Prometheus answered a ${body.data?.resultType ?? 'malformed'} result where a vector was expected`, 0, false);
    }
    return body.data.result as VectorSample[];
  }

  close(): Promise<void> {
    return this.dispatcher.close();
  }
}

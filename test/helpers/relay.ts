import type { OtlpConfig } from '../../src/server/proxy.js';
import type { ParseableStandIn } from './parseable.js';

/** OTLP settings of a proxy whose relay forwards to `parseable`, with short timeouts and retries for tests. */
export function relayConfig(parseable: ParseableStandIn, extra: Partial<OtlpConfig> = {}): OtlpConfig {
  return {
    forwardUrl: `${parseable.url}/v1/metrics`,
    pushIntervalMs: 60_000,
    timeoutMs: 2_000,
    maxQueueBytes: 8 * 1024 * 1024,
    maxRequestBytes: 4 * 1024 * 1024,
    retryBaseMs: 20,
    retryMaxMs: 200,
    destination: { stream: 'vLLMmetrics', logSource: 'otel-metrics', username: parseable.username, password: parseable.password },
    ...extra,
  };
}

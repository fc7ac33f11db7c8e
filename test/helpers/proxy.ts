import { startProxy, type ProxyConfig, type RunningProxy } from '../../src/server/proxy.js';
import type { UpstreamOptions } from '../../src/upstream/upstream.js';
import { captureLog, type CapturedLog } from './net.js';

export interface TestProxy extends RunningProxy {
  logs: CapturedLog;
}

/** A proxy on a free loopback port with logs captured. */
export async function testProxy(upstream: Partial<UpstreamOptions> & { url: string }, extra: Partial<ProxyConfig> = {}): Promise<TestProxy> {
  const logs = captureLog('debug');
  const proxy = await startProxy(
    {
      host: '127.0.0.1',
      port: 0,
      readyMaxAgeMs: 30_000,
      processMetrics: false,
      ...extra,
      upstream: { timeoutMs: 5_000, maxBodyBytes: 64 * 1024 * 1024, ...upstream },
    },
    logs.log,
  );
  return Object.assign(proxy, { logs });
}

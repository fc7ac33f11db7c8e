import { rename, writeFile } from 'node:fs/promises';
import type { FleetConfig, ProxyConfig } from '../../src/server/proxy.js';
import type { UpstreamOptions } from '../../src/upstream/upstream.js';
import { startSimulator, type RunningSimulator } from '../../src/simulator/start.js';
import type { SimulatorOptions } from '../../src/simulator/simulator.js';
import { get } from './net.js';
import { testProxy, type TestProxy } from './proxy.js';

/** A proxy in fleet mode over `fleet.static` (and whatever else `fleet` names). */
export function fleetProxy(
  fleet: Partial<FleetConfig>,
  extra: Partial<ProxyConfig> = {},
  timeoutMs = 5_000,
  upstream: Partial<UpstreamOptions> = {},
): Promise<TestProxy> {
  return testProxy(
    { url: fleet.static?.[0]?.url ?? 'http://127.0.0.1:9/metrics', timeoutMs, ...upstream },
    { ...extra, fleet: { static: [], label: 'instance', ...fleet } },
  );
}

/** Frozen simulators (values only change when the test advances them). */
export async function simulators(options: Array<Partial<SimulatorOptions>>, host = '127.0.0.1', port = 0): Promise<RunningSimulator[]> {
  return Promise.all(options.map((o, i) => startSimulator({ tickMs: 0, seed: i + 1, ...o }, { host, port })));
}

/** A self-metric's value from /proxy/metrics (the sum over its series). */
export async function selfMetric(proxy: TestProxy, name: string, labels = ''): Promise<number> {
  const text = (await get(`${proxy.url}/proxy/metrics`)).body.toString();
  let sum = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith(`${name}{${labels}`) || (labels === '' && line.startsWith(`${name} `))) sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}

/** Replace a file by rename, as editors and Kubernetes ConfigMaps do (a watcher must notice). */
export async function replaceFile(file: string, text: string): Promise<void> {
  await writeFile(`${file}.tmp`, text);
  await rename(`${file}.tmp`, file);
}

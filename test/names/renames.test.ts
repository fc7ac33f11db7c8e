/**
 * Renames under a running proxy: a simulated vLLM restarted as a newer version behind the
 * proxy gives exactly one warning and one count per renamed family, in stream mode and in
 * fleet mode; the same answer again gives none; a family that is simply gone is no rename.
 */
import t, { type Test } from 'tap';
import { RenameWatch } from '../../src/names/renames.js';
import { startSimulator } from '../../src/simulator/start.js';
import type { DialectId } from '../../src/simulator/dialects.js';
import { fleetProxy, selfMetric } from '../helpers/fleet.js';
import { get } from '../helpers/net.js';
import { freePort } from '../helpers/prometheus.js';
import { testProxy, type TestProxy } from '../helpers/proxy.js';
import { eventually } from '../helpers/wait.js';

t.test('the watch: renames once, both directions of nothing', async (t) => {
  const w = new RenameWatch();
  t.same(
    w.observe('a', ['vllm:gpu_cache_usage_perc', 'vllm:num_requests_running', 'vllm:time_per_output_token_seconds']),
    [],
    'a first answer: nothing to compare',
  );
  t.same(w.observe('a', ['vllm:gpu_cache_usage_perc', 'vllm:num_requests_running', 'vllm:time_per_output_token_seconds']), [], 'the same again');
  t.same(w.observe('a', ['vllm:kv_cache_usage_perc', 'vllm:num_requests_running', 'vllm:inter_token_latency_seconds']), [
    { target: 'a', family: 'kv_cache_usage_perc', from: 'vllm:gpu_cache_usage_perc', to: 'vllm:kv_cache_usage_perc' },
    { target: 'a', family: 'inter_token_latency_seconds', from: 'vllm:time_per_output_token_seconds', to: 'vllm:inter_token_latency_seconds' },
  ]);
  t.same(w.observe('a', ['vllm:kv_cache_usage_perc', 'vllm:num_requests_running', 'vllm:inter_token_latency_seconds']), [], 'reported once');
  t.same(w.observe('a', ['vllm:num_requests_running']), [], 'a family gone altogether is not a rename');
  t.same(w.observe('b', ['vllm:kv_cache_usage_perc', 'vllm:gpu_cache_usage_perc']), []);
  t.same(
    w.observe('b', ['vllm:kv_cache_usage_perc']),
    [{ target: 'b', family: 'kv_cache_usage_perc', from: 'vllm:gpu_cache_usage_perc', to: 'vllm:kv_cache_usage_perc' }],
    'the deprecated name removed while its replacement stays (0.9 to a later version)',
  );
  t.same(w.observe('c', ['vllm:prompt_tokens']), [], 'OpenMetrics names a counter without _total');
  t.same(w.observe('c', ['vllm:prompt_tokens']), []);
});

/** What the proxy logged as renames, and what its self-metric counts. */
async function renames(proxy: TestProxy) {
  const lines = proxy.logs.lines().filter((l) => l.event === 'family_renamed');
  return {
    lines: lines.map((l) => `${String(l.from)} -> ${String(l.to)}`).sort(),
    counted: await selfMetric(proxy, 'vllm_metrics_proxy_family_renames_total'),
  };
}

async function upgrade(t: Test, from: DialectId, to: DialectId, mode: 'stream' | 'fleet'): Promise<{ lines: string[]; counted: number }> {
  const port = await freePort();
  let sim = await startSimulator({ dialect: from, tickMs: 0 }, { host: '127.0.0.1', port });
  t.teardown(() => sim.close());
  const url = `http://127.0.0.1:${port}/metrics`;
  const proxy = mode === 'stream' ? await testProxy({ url }) : await fleetProxy({ static: [{ name: 'gpu-a', url }] });
  t.teardown(() => proxy.close());
  t.equal((await get(`${proxy.url}/metrics`)).status, 200, `${mode}: a scrape of ${from}`);
  await sim.close();
  // The upgrade's restart: a scrape in between fails (the next answer is read for renames).
  await eventually('a scrape while it restarts', async () => {
    const r = await get(`${proxy.url}/metrics`);
    return (mode === 'stream' ? r.status !== 200 : /^vllm_metrics_proxy_target_up\{[^}]*\} 0$/m.test(r.body.toString())) ? true : undefined;
  });
  sim = await startSimulator({ dialect: to, tickMs: 0 }, { host: '127.0.0.1', port });
  const marker = to === 'vllm-latest' ? 'vllm_inter_token_latency_seconds' : 'vllm_kv_cache_usage_perc';
  await eventually(`a scrape of ${to}`, async () => ((await get(`${proxy.url}/metrics`)).body.toString().includes(marker) ? true : undefined));
  await get(`${proxy.url}/metrics`);
  await get(`${proxy.url}/metrics`);
  return renames(proxy);
}

for (const mode of ['stream', 'fleet'] as const) {
  t.test(`${mode} mode: vLLM 0.6 restarted as the latest vLLM under a running proxy`, async (t) => {
    const r = await upgrade(t, 'vllm-0.6', 'vllm-latest', mode);
    t.same(
      r.lines,
      ['vllm:gpu_cache_usage_perc -> vllm:kv_cache_usage_perc', 'vllm:time_per_output_token_seconds -> vllm:inter_token_latency_seconds'],
      'one warning per renamed family',
    );
    t.equal(r.counted, 2, 'and one count each');
  });
}

t.test('vLLM 0.9 (both names) to the latest: each deprecated name dropped is one warning', async (t) => {
  const r = await upgrade(t, 'vllm-0.9', 'vllm-latest', 'stream');
  t.same(r.lines, [
    'vllm:gpu_cache_usage_perc -> vllm:kv_cache_usage_perc',
    'vllm:gpu_prefix_cache_hits_total -> vllm:prefix_cache_hits_total',
    'vllm:gpu_prefix_cache_queries_total -> vllm:prefix_cache_queries_total',
    'vllm:time_per_output_token_seconds -> vllm:inter_token_latency_seconds',
  ]);
});

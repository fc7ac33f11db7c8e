/**
 * Fleet mode end to end over loopback: simulators of different sizes, a target
 * that hangs and one that is down, targets that come and go through a file and
 * through DNS, and a real Prometheus scraping the merged output.
 */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import type { MetricFamily } from '../../src/exposition/model.js';
import { parseExposition } from '../../src/exposition/parser.js';
import { startSimulator } from '../../src/simulator/start.js';
import { startDns } from '../helpers/dns.js';
import { fleetProxy, replaceFile, simulators } from '../helpers/fleet.js';
import { get, rawServer } from '../helpers/net.js';
import { freePort, promtoolCheck, startPrometheus } from '../helpers/prometheus.js';
import { parseSamples, seriesKey, type Sample } from '../helpers/samples.js';
import { eventually } from '../helpers/wait.js';

const VLLM_LINT = ['vllm_iteration_tokens_total non-counter metrics should not have "_total" suffix'];

/** The series a simulator serves, sanitized, with the target label the merge adds. */
async function expectedSeries(simUrl: string, instance: string): Promise<Map<string, number>> {
  const text = (await get(`${simUrl}/metrics`)).body.toString().replaceAll('vllm:', 'vllm_');
  return new Map(parseSamples(text).map((s) => [seriesKey({ ...s, labels: { ...s.labels, instance } }), s.value]));
}

function seriesOf(samples: Sample[], instance: string): Map<string, number> {
  return new Map(samples.filter((s) => s.labels.instance === instance && !s.name.startsWith('vllm_metrics_proxy_')).map((s) => [seriesKey(s), s.value]));
}

function gaugeByInstance(samples: Sample[], name: string): Record<string, number> {
  return Object.fromEntries(samples.filter((s) => s.name === name).map((s) => [s.labels.instance, s.value]));
}

t.test('merged /metrics: two simulators, one hanging target, one down', async (t) => {
  const [small, big] = await simulators([
    { engines: 1, models: 1 },
    { engines: 4, models: 2 },
  ]);
  t.teardown(() => Promise.all([small!.close(), big!.close()]));
  const hanging = await rawServer(() => {}); // accepts, never answers
  t.teardown(() => hanging.close());
  const downPort = await freePort();
  const proxy = await fleetProxy(
    {
      static: [
        { name: 'small', url: `${small!.url}/metrics` },
        { name: 'big', url: `${big!.url}/metrics` },
        { name: 'hanging', url: `${hanging.url}/metrics` },
        { name: 'down', url: `http://127.0.0.1:${downPort}/metrics` },
      ],
    },
    {},
    1_000,
  );
  t.teardown(() => proxy.close());

  const res = await get(`${proxy.url}/metrics`);
  t.equal(res.status, 200, 'a failing target does not fail the scrape');
  t.match(res.headers['content-type'], /^text\/plain; version=0\.0\.4/);
  const text = res.body.toString();
  const families: MetricFamily[] = parseExposition(text, 'prometheus');
  const names = families.map((f) => f.name);
  t.equal(new Set(names).size, names.length, 'each family once');
  t.notMatch(text, /^(?:# TYPE )?vllm:/m, 'sanitized');

  const samples = parseSamples(text);
  t.same(seriesOf(samples, 'small'), await expectedSeries(small!.url, 'small'), "small's series, values unchanged");
  t.same(seriesOf(samples, 'big'), await expectedSeries(big!.url, 'big'), "big's series, values unchanged");
  t.same(seriesOf(samples, 'hanging'), new Map(), 'no samples from the hanging target');
  t.same(gaugeByInstance(samples, 'vllm_metrics_proxy_target_up'), { small: 1, big: 1, hanging: 0, down: 0 });
  const errors = samples.filter((s) => s.name === 'vllm_metrics_proxy_target_error').map((s) => `${s.labels.instance}:${s.labels.kind}`);
  t.same(errors.sort(), ['down:unreachable', 'hanging:timeout'], 'the error gauge says why');
  const durations = gaugeByInstance(samples, 'vllm_metrics_proxy_target_scrape_duration_seconds');
  t.ok(durations.hanging! >= 0.9, `the hanging target took its whole timeout (${durations.hanging}s)`);
  t.ok(durations.small! < durations.hanging!, 'the others did not wait for it');
  const counts = gaugeByInstance(samples, 'vllm_metrics_proxy_target_samples');
  t.equal(counts.big, seriesOf(samples, 'big').size);
  t.same(promtoolCheck(text).problems, VLLM_LINT, 'promtool reads the merged output');

  // A second scrape: the same down targets are not logged again.
  await get(`${proxy.url}/metrics`);
  const down = proxy.logs.lines().filter((l) => l.event === 'target_down');
  t.same(down.map((l) => l.target).sort(), ['down', 'hanging'], 'one target_down line per target, not per scrape');
  t.equal((await get(`${proxy.url}/ready`)).status, 200, 'ready: some targets answer');
});

t.test('targets file: targets added and removed while serving; a broken file changes nothing', async (t) => {
  const [a, b] = await simulators([{ engines: 1 }, { engines: 2 }]);
  t.teardown(() => Promise.all([a!.close(), b!.close()]));
  const dir = await mkdtemp(join(tmpdir(), 'vmp-fleet-'));
  const file = join(dir, 'targets.yaml');
  const write = (text: string) => replaceFile(file, text);
  await write(`targets:\n  - a=${a!.url}/metrics\n`);
  const proxy = await fleetProxy({ targetsFile: file });
  t.teardown(() => proxy.close());
  const up = async () => gaugeByInstance(parseSamples((await get(`${proxy.url}/metrics`)).body.toString()), 'vllm_metrics_proxy_target_up');
  t.same(await up(), { a: 1 });

  await write(`targets:\n  - a=${a!.url}/metrics\n  - b=${b!.url}/metrics\n`);
  const added = await proxy.logs.waitFor((l) => l.event === 'target_added' && l.target === 'b');
  t.equal(added.source, 'file');
  t.same(await up(), { a: 1, b: 1 }, 'the new target is scraped without a restart');

  await write('targets: [');
  await proxy.logs.waitFor((l) => l.event === 'targets_file_invalid');
  t.same(await up(), { a: 1, b: 1 }, 'a broken file keeps the targets');

  await write(`- b=${b!.url}/metrics\n`);
  await proxy.logs.waitFor((l) => l.event === 'target_removed' && l.target === 'a');
  t.same(await up(), { b: 1 }, 'a removed target and its gauges are gone');

  await write('targets: []');
  await proxy.logs.waitFor((l) => l.event === 'no_targets');
  t.same(await up(), {});
  t.equal((await get(`${proxy.url}/metrics`)).status, 200, 'no targets is still a valid, empty exposition');
  t.equal((await get(`${proxy.url}/ready`)).status, 503, 'but not ready');
});

t.test('DNS discovery: every address of a name, re-resolved; a resolver outage keeps the fleet', async (t) => {
  const dns = await startDns();
  t.teardown(() => dns.close());
  // A headless Service: one name, several pod addresses, one port.
  const first = await startSimulator({ tickMs: 0, seed: 5 }, { host: '127.0.0.2', port: 0 });
  t.teardown(() => first.close());
  const port = Number(new URL(first.url).port);
  const second = await startSimulator({ tickMs: 0, seed: 6, engines: 2 }, { host: '127.0.0.3', port });
  t.teardown(() => second.close());

  const proxy = await fleetProxy({ discover: `dns://vllm.test:${port}/metrics`, dnsServer: dns.server, discoverIntervalMs: 100 });
  t.teardown(() => proxy.close());
  await proxy.logs.waitFor((l) => l.event === 'no_targets');
  t.equal(proxy.targets!.size, 0, 'nothing yet');

  dns.records.set('vllm.test', { a: ['127.0.0.2'] });
  await proxy.logs.waitFor((l) => l.event === 'target_added' && l.target === `127.0.0.2:${port}`);
  dns.records.set('vllm.test', { a: ['127.0.0.3', '127.0.0.2'] });
  const added = await proxy.logs.waitFor((l) => l.event === 'target_added' && l.target === `127.0.0.3:${port}`);
  t.equal(added.source, 'dns');
  const samples = parseSamples((await get(`${proxy.url}/metrics`)).body.toString());
  t.same(gaugeByInstance(samples, 'vllm_metrics_proxy_target_up'), { [`127.0.0.2:${port}`]: 1, [`127.0.0.3:${port}`]: 1 });
  t.same(seriesOf(samples, `127.0.0.3:${port}`), await expectedSeries(second.url, `127.0.0.3:${port}`));

  dns.failing = true;
  await proxy.logs.waitFor((l) => l.event === 'discovery_failed');
  t.equal(proxy.targets!.size, 2, 'a failing resolver changes nothing');
  dns.failing = false;
  dns.records.set('vllm.test', { a: ['127.0.0.3'] });
  await proxy.logs.waitFor((l) => l.event === 'target_removed' && l.target === `127.0.0.2:${port}`);
  t.same(
    proxy.targets!.list().map((x) => x.name),
    [`127.0.0.3:${port}`],
  );
});

t.test('a real Prometheus scrapes the merged output: per-target series and up gauges', async (t) => {
  const [a, b] = await simulators([{ engines: 1 }, { engines: 3 }]);
  t.teardown(() => Promise.all([a!.close(), b!.close()]));
  const downPort = await freePort();
  const proxy = await fleetProxy({
    static: [
      { name: 'gpu-a', url: `${a!.url}/metrics` },
      { name: 'gpu-b', url: `${b!.url}/metrics` },
      { name: 'gpu-down', url: `http://127.0.0.1:${downPort}/metrics` },
    ],
  });
  t.teardown(() => proxy.close());
  const prom = await startPrometheus([{ job: 'fleet', target: new URL(proxy.url).host, honorLabels: true }]);
  t.teardown(() => prom.close());

  const ups = await eventually('the fleet scraped', async () => {
    const r = await prom.query('vllm_metrics_proxy_target_up{job="fleet"}');
    return r.length === 3 ? r : undefined;
  });
  t.same(Object.fromEntries(ups.map((r) => [r.metric.instance, r.value[1]])), { 'gpu-a': '1', 'gpu-b': '1', 'gpu-down': '0' });
  const running = await prom.query('sum by (instance) (vllm_num_requests_running{job="fleet"})');
  const want = { 'gpu-a': a!.sim.engines.reduce((n, e) => n + e.running, 0), 'gpu-b': b!.sim.engines.reduce((n, e) => n + e.running, 0) };
  t.same(Object.fromEntries(running.map((r) => [r.metric.instance, Number(r.value[1])])), want, 'per-target series queryable with the simulator values');
  const engines = await prom.query('count by (instance) (vllm_kv_cache_usage_perc{job="fleet"})');
  t.same(Object.fromEntries(engines.map((r) => [r.metric.instance, Number(r.value[1])])), { 'gpu-a': 1, 'gpu-b': 3 }, 'every engine of every target');
});

/**
 * A real Prometheus (Debian package `prometheus`) scraping the proxy, and
 * promtool reading its output: the contract the sanitizer exists for.
 */
import t from 'tap';
import { startSimulator } from '../../src/simulator/start.js';
import { get } from '../helpers/net.js';
import { promtoolCheck, startPrometheus } from '../helpers/prometheus.js';
import { testProxy } from '../helpers/proxy.js';
import { parseSamples, seriesKey } from '../helpers/samples.js';
import { eventually } from '../helpers/wait.js';

t.test('Prometheus scrapes the proxy: target up, sanitized series with the simulator values', async (t) => {
  // Frozen: the values Prometheus stores are exactly what the simulator renders.
  const sim = await startSimulator({ tickMs: 0, engines: 2 }, { host: '127.0.0.1', port: 0 });
  t.teardown(() => sim.close());
  const proxy = await testProxy({ url: `${sim.url}/metrics` });
  t.teardown(() => proxy.close());
  const prom = await startPrometheus([{ job: 'vllm', target: new URL(proxy.url).host }]);
  t.teardown(() => prom.close());

  const up = await eventually('the proxy scraped', async () => {
    const r = await prom.query('up{job="vllm"}');
    return r.length === 1 ? r : undefined;
  });
  t.equal(up[0].value[1], '1', 'the proxy target is up');
  const scraped = await prom.query('scrape_samples_scraped{job="vllm"}');
  t.ok(Number(scraped[0].value[1]) > 500, `${scraped[0].value[1]} samples in one scrape`);
  // The expected values: the simulator's own exposition, names sanitized.
  const expected = parseSamples((await get(`${sim.url}/metrics`)).body.toString().replaceAll('vllm:', 'vllm_'));
  const stored = await prom.query('{job="vllm",__name__=~"vllm_.+"}');
  const storedByKey = new Map(
    stored.map((s) => [seriesKey({ name: s.metric.__name__, labels: s.metric, value: 0 }, ['__name__', 'job', 'instance']), Number(s.value[1])]),
  );
  const want = expected.filter((s) => s.name.startsWith('vllm_') && !s.name.endsWith('_created'));
  t.ok(want.length > 500, `${want.length} vLLM series expected`);
  let missing = 0;
  let wrong = 0;
  for (const s of want) {
    const got = storedByKey.get(seriesKey(s));
    if (got === undefined) missing++;
    else if (got !== s.value) wrong++;
  }
  t.equal(missing, 0, 'every sanitized series is queryable');
  t.equal(wrong, 0, 'every value is the simulator value');
  const running = await prom.query('sum(vllm_num_requests_running{job="vllm"})');
  const simRunning = sim.sim.engines.reduce((a, e) => a + e.running, 0);
  t.equal(Number(running[0].value[1]), simRunning, 'PromQL over the sanitized names works');
});

t.test('promtool: colon complaints on the raw exposition, none through the proxy', async (t) => {
  const sim = await startSimulator({ tickMs: 0, engines: 2, specDecode: true }, { host: '127.0.0.1', port: 0 });
  t.teardown(() => sim.close());
  const proxy = await testProxy({ url: `${sim.url}/metrics` });
  t.teardown(() => proxy.close());

  const raw = promtoolCheck((await get(`${sim.url}/metrics`)).body);
  t.ok(
    raw.problems.some((p) => p.includes("metric names should not contain ':'")),
    'the raw vLLM output draws colon complaints',
  );

  const clean = promtoolCheck((await get(`${proxy.url}/metrics`)).body);
  t.same(
    clean.problems.filter((p) => p.includes(':')),
    [],
    'no complaint mentions a colon',
  );
  // What promtool still says is vLLM's own naming, which the proxy must not change.
  t.same(clean.problems, ['vllm_iteration_tokens_total non-counter metrics should not have "_total" suffix']);

  const self = promtoolCheck((await get(`${proxy.url}/proxy/metrics`)).body);
  t.same(self.problems, [], 'self-metrics pass promtool cleanly');
  t.equal(self.status, 0);
});

/**
 * Push mode against a real Prometheus Pushgateway (Debian package
 * prometheus-pushgateway): groups per target, replaced on every push, deleted
 * on shutdown or when a target leaves; a gateway that is down or refuses.
 */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { groupPath } from '../../src/export/pushgateway.js';
import type { PushgatewayConfig } from '../../src/server/proxy.js';
import { fleetProxy, replaceFile, selfMetric, simulators } from '../helpers/fleet.js';
import { rawServer } from '../helpers/net.js';
import { freePort } from '../helpers/prometheus.js';
import { testProxy } from '../helpers/proxy.js';
import { startPushgateway } from '../helpers/pushgateway.js';
import { eventually } from '../helpers/wait.js';
import { parseSamples, seriesKey, type Sample } from '../helpers/samples.js';

const HOUR = 3_600_000;
const gatewayConfig = (url: string, extra: Partial<PushgatewayConfig> = {}): PushgatewayConfig => ({
  url,
  job: 'vllm',
  intervalMs: HOUR,
  timeoutMs: 2_000,
  deleteOnShutdown: false,
  retryBaseMs: 10,
  ...extra,
});

/** A one-family upstream whose body the test sets. */
async function upstream(initial: string) {
  const state = { body: initial };
  const up = await rawServer((_req, res) => res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' }).end(state.body));
  return Object.assign(up, { state });
}

const pushed = (text: string, instance: string): Sample[] => parseSamples(text).filter((s) => s.labels.instance === instance && s.labels.job === 'vllm');

t.test('grouping keys are path segments; awkward values are base64url', async (t) => {
  t.equal(
    groupPath([
      ['job', 'vllm'],
      ['instance', '10.0.0.5:8000'],
    ]),
    '/job/vllm/instance/10.0.0.5%3A8000',
  );
  t.equal(
    groupPath([
      ['job', 'a/b'],
      ['instance', ''],
    ]),
    `/job@base64/${Buffer.from('a/b').toString('base64url')}/instance@base64/=`,
  );
});

t.test('each push replaces the group: new values in, vanished series out; deleted on shutdown', async (t) => {
  const gw = await startPushgateway();
  t.teardown(() => gw.close());
  const up = await upstream('# TYPE vllm:x gauge\nvllm:x{engine="0"} 1\n# TYPE vllm:y gauge\nvllm:y{engine="0",instance="pod-7"} 2\n');
  t.teardown(() => up.close());
  const proxy = await testProxy({ url: `${up.url}/metrics` }, { pushgateway: gatewayConfig(gw.url, { deleteOnShutdown: true }) });
  const instance = new URL(up.url).host;

  await proxy.gateway!.pushOnce();
  let samples = pushed(await gw.metrics(), instance);
  t.same(
    samples
      .filter((s) => s.name.startsWith('vllm_') && !s.name.startsWith('vllm_metrics_proxy'))
      .map((s) => seriesKey(s))
      .sort(),
    [`vllm_x{engine="0",instance="${instance}",job="vllm"}`, `vllm_y{engine="0",exported_instance="pod-7",instance="${instance}",job="vllm"}`],
    "sanitized names, grouping labels; the target's own instance label kept as exported_instance",
  );
  t.equal(samples.find((s) => s.name === 'vllm_x')!.value, 1);
  t.equal(samples.find((s) => s.name === 'vllm_metrics_proxy_target_up')!.value, 1);

  up.state.body = '# TYPE vllm:x gauge\nvllm:x{engine="0"} 5\n';
  await proxy.gateway!.pushOnce();
  samples = pushed(await gw.metrics(), instance);
  t.equal(samples.find((s) => s.name === 'vllm_x')!.value, 5, 'replaced on the next push');
  t.notOk(
    samples.some((s) => s.name === 'vllm_y'),
    'a series gone upstream is gone from the gateway',
  );
  t.ok((await selfMetric(proxy, 'vllm_metrics_proxy_pushgateway_pushes_total', 'outcome="ok"')) >= 2);

  await proxy.close();
  // DELETE is answered 202 and applied from the gateway's queue.
  t.ok(
    await eventually('the group deleted', async () => (pushed(await gw.metrics(), instance).length === 0 ? true : undefined)),
    'the group is deleted on shutdown',
  );
  await proxy.logs.waitFor((l) => l.event === 'pushgateway_group_deleted');
});

t.test('a failing target is pushed as down, with the reason, not left with old numbers', async (t) => {
  const gw = await startPushgateway();
  t.teardown(() => gw.close());
  const up = await upstream('# TYPE vllm:x gauge\nvllm:x 1\n');
  t.teardown(() => up.close());
  const proxy = await testProxy({ url: `${up.url}/metrics`, timeoutMs: 1_000 }, { pushgateway: gatewayConfig(gw.url) });
  t.teardown(() => proxy.close());
  const instance = new URL(up.url).host;
  await proxy.gateway!.pushOnce();
  up.state.body = '<html>oops</html>';
  await proxy.gateway!.pushOnce();
  const samples = pushed(await gw.metrics(), instance);
  t.notOk(
    samples.some((s) => s.name === 'vllm_x'),
    'no stale numbers',
  );
  t.equal(samples.find((s) => s.name === 'vllm_metrics_proxy_target_up')!.value, 0);
  t.equal(samples.find((s) => s.name === 'vllm_metrics_proxy_target_error')!.labels.kind, 'garbage');
});

t.test('fleet mode: one group per target; a removed target loses its group', async (t) => {
  const gw = await startPushgateway();
  t.teardown(() => gw.close());
  const [a, b] = await simulators([{ engines: 1 }, { engines: 2 }]);
  t.teardown(() => Promise.all([a!.close(), b!.close()]));
  const dir = await mkdtemp(join(tmpdir(), 'vmp-push-'));
  const file = join(dir, 'targets.yaml');
  const write = (text: string) => replaceFile(file, text);
  await write(`- gpu-a=${a!.url}/metrics\n- gpu-b=${b!.url}/metrics\n`);
  const proxy = await fleetProxy({ targetsFile: file }, { pushgateway: gatewayConfig(gw.url) });
  t.teardown(() => proxy.close());
  await proxy.gateway!.pushOnce();
  let text = await gw.metrics();
  const engines = (instance: string) =>
    new Set(
      pushed(text, instance)
        .filter((s) => s.name === 'vllm_kv_cache_usage_perc')
        .map((s) => s.labels.engine),
    ).size;
  t.equal(engines('gpu-a'), 1);
  t.equal(engines('gpu-b'), 2);
  const simValue = a!.sim.engines[0]!.running;
  t.equal(pushed(text, 'gpu-a').find((s) => s.name === 'vllm_num_requests_running')!.value, simValue, 'the simulator value');

  await write(`- gpu-b=${b!.url}/metrics\n`);
  await proxy.logs.waitFor((l) => l.event === 'pushgateway_group_deleted' && l.target === 'gpu-a');
  text = await eventually("gpu-a's group gone", async () => {
    const now = await gw.metrics();
    return pushed(now, 'gpu-a').length === 0 ? now : undefined;
  });
  t.same(pushed(text, 'gpu-a'), [], "gpu-a's group is gone");
  t.ok(pushed(text, 'gpu-b').length > 0, "gpu-b's stays");
});

t.test('the gateway down: retried, logged once; its refusal text surfaced', async (t) => {
  const up = await upstream('# TYPE vllm:x gauge\nvllm:x 1\n');
  t.teardown(() => up.close());
  const deadPort = await freePort();
  const proxy = await testProxy({ url: `${up.url}/metrics` }, { pushgateway: gatewayConfig(`http://127.0.0.1:${deadPort}`, { attempts: 3 }) });
  t.teardown(() => proxy.close());
  await proxy.gateway!.pushOnce();
  await proxy.gateway!.pushOnce();
  const down = proxy.logs.lines().filter((l) => l.event === 'pushgateway_down');
  t.equal(down.length, 1, 'one warning for the outage, not one per push');
  t.match(down[0]!.msg, /Pushgateway http:\/\/127\.0\.0\.1:\d+\/ unreachable: ECONNREFUSED/);
  t.ok((await selfMetric(proxy, 'vllm_metrics_proxy_pushgateway_pushes_total', 'outcome="error"')) >= 2);

  // Timestamps are refused by the Pushgateway: its own words reach the log, and nothing is retried.
  const gw = await startPushgateway();
  t.teardown(() => gw.close());
  const stamped = await upstream('# TYPE vllm:x gauge\nvllm:x 1 1700000000000\n');
  t.teardown(() => stamped.close());
  const refused = await testProxy({ url: `${stamped.url}/metrics` }, { pushgateway: gatewayConfig(gw.url) });
  t.teardown(() => refused.close());
  await refused.gateway!.pushOnce();
  const rejected = await refused.logs.waitFor((l) => l.event === 'pushgateway_rejected');
  t.equal(rejected.status, 400);
  t.match(
    rejected.msg,
    /Pushgateway answered HTTP 400 to PUT \/job\/vllm\/instance\/.*: pushed metrics are invalid or inconsistent with existing metrics: pushed metrics must not have timestamps/,
  );
});

t.test('a busy gateway (503) is tried again within the interval; a refusal (400) is not', async (t) => {
  const up = await upstream('# TYPE vllm:x gauge\nvllm:x 1\n');
  t.teardown(() => up.close());
  const answers = [503, 503, 200];
  const gw = await rawServer((req, res) => {
    req.resume();
    res.writeHead(answers.shift() ?? 400).end('busy');
  });
  t.teardown(() => gw.close());
  const proxy = await testProxy({ url: `${up.url}/metrics` }, { pushgateway: gatewayConfig(gw.url, { attempts: 3 }) });
  t.teardown(() => proxy.close());
  // The push at start: two 503s, then through on the third try.
  await eventually('the first push through', async () =>
    (await selfMetric(proxy, 'vllm_metrics_proxy_pushgateway_pushes_total', 'outcome="ok"')) === 1 ? true : undefined,
  );
  t.equal(gw.hits, 3, '503, 503, 200');
  await proxy.gateway!.pushOnce();
  t.equal(gw.hits, 4, 'then a 400, not retried');
  t.equal(await selfMetric(proxy, 'vllm_metrics_proxy_pushgateway_pushes_total', 'outcome="error"'), 1);
  t.ok(proxy.logs.lines().some((l) => l.event === 'pushgateway_rejected' && /HTTP 400 .*: busy/.test(String(l.msg))));
});

t.test('--drop: the families left out are not pushed', async (t) => {
  const gw = await startPushgateway();
  t.teardown(() => gw.close());
  const up = await upstream(
    '# TYPE vllm:x gauge\nvllm:x{engine="0"} 1\n# TYPE python_gc_objects_collected_total counter\npython_gc_objects_collected_total 3\n',
  );
  t.teardown(() => up.close());
  const proxy = await testProxy({ url: `${up.url}/metrics`, families: { keep: [], drop: ['python_gc_*'] } }, { pushgateway: gatewayConfig(gw.url) });
  t.teardown(() => proxy.close());
  await proxy.gateway!.pushOnce();
  const names = pushed(await gw.metrics(), new URL(up.url).host).map((s) => s.name);
  t.ok(names.includes('vllm_x'), 'the kept family is pushed');
  t.notOk(
    names.some((n) => n.startsWith('python_gc')),
    'the dropped one is not',
  );
});

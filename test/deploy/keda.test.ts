/**
 * The KEDA ScaledObject of deploy/kubernetes/keda against real answers: its metrics-api
 * triggers' valueLocation paths, evaluated by tidwall/gjson (KEDA's own JSON path library,
 * test/helpers/keda.ts) on what /saturation answers for a loaded simulator, light and
 * saturating, give the fleet's figures in the units the targets assume, and the replica
 * counts the HPA would then ask for; a stale or absent value gives no number at all (an error
 * of the trigger, which never scales to zero), never a zero.
 */
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { request } from 'undici';
import { startSimulator } from '../../src/simulator/start.js';
import { buildGjson, metricsApiValue, type Gjson } from '../helpers/keda.js';
import { KUBERNETES_DIR, kustomize } from '../helpers/kubernetes.js';
import { testProxy } from '../helpers/proxy.js';
import { eventually } from '../helpers/wait.js';

interface Trigger {
  type: string;
  name: string;
  metricType: 'AverageValue' | 'Value';
  metadata: { url: string; valueLocation: string; targetValue: string; format: string };
}
interface Signal {
  value: number | null;
  status: string;
}
interface Report {
  models: Array<{ model: string; signals: Record<string, Signal> }>;
}

let gjson: Gjson;
let triggers: Trigger[];
let spec: { minReplicaCount: number; fallback: { failureThreshold: number; replicas: number } };
t.before(async () => {
  gjson = await buildGjson();
  const objs = await kustomize(join(KUBERNETES_DIR, 'examples', 'fleet-demo'));
  const so = objs.find((o) => o.kind === 'ScaledObject')! as unknown as { spec: typeof spec & { triggers: Trigger[] } };
  spec = so.spec;
  triggers = so.spec.triggers;
});
t.teardown(() => gjson.close());

/** The signal a trigger reads, from its path (`signals.<name>.value`). */
const signalOf = (tr: Trigger) => /signals\.([a-z_]+)\.value$/.exec(tr.metadata.valueLocation)![1]!;
const modelOf = (tr: Trigger) => /model=="([^"]+)"/.exec(tr.metadata.valueLocation)![1]!;

/** What the HPA asks for from one metric (Kubernetes' algorithm; KEDA hands it the value). */
function desiredReplicas(tr: Trigger, value: number, current: number): number {
  const target = Number(tr.metadata.targetValue);
  return tr.metricType === 'AverageValue' ? Math.ceil(value / target) : Math.ceil(current * (value / target));
}

async function fleetProxy(t: Test, rate: number) {
  const sim = await startSimulator({ engines: 2, rate, tickMs: 250 }, { host: '127.0.0.1', port: 0 });
  const proxy = await testProxy({ url: `${sim.url}/metrics` }, { saturation: { windowMs: 5_000, intervalMs: 250 } });
  t.teardown(async () => {
    await proxy.close();
    await sim.close().catch(() => undefined);
  });
  return { sim, proxy };
}

async function saturation(url: string): Promise<{ status: number; body: string }> {
  const res = await request(`${url}/saturation`);
  return { status: res.statusCode, body: await res.body.text() };
}

/** The answer once every signal the triggers read is current. */
async function currentAnswer(url: string): Promise<{ status: number; body: string; report: Report }> {
  return eventually('current saturation values', async () => {
    const a = await saturation(url);
    const report = JSON.parse(a.body) as Report;
    const ok = triggers.every((tr) => report.models.find((m) => m.model === modelOf(tr))?.signals[signalOf(tr)]?.status === 'ok');
    return ok ? { ...a, report } : undefined;
  });
}

t.test('the ScaledObject: metrics-api on /saturation, minReplicaCount 1, a fallback', async (t) => {
  t.same(
    triggers.map((tr) => [tr.type, new URL(tr.metadata.url).pathname, tr.metadata.format]),
    triggers.map(() => ['metrics-api', '/saturation', 'json']),
  );
  t.same(triggers.map(signalOf).sort(), ['kv_cache_usage', 'requests_waiting']);
  t.equal(spec.minReplicaCount, 1, 'never to zero');
  t.ok(spec.fallback.replicas > 0 && spec.fallback.failureThreshold > 0, 'a fallback count while the values are missing');
});

for (const [load, rate] of [
  ['light', 0.5],
  ['saturating', 50],
] as const) {
  t.test(`${load} load: the paths give the fleet's figures, and the HPA ${load === 'light' ? 'adds no replica' : 'adds replicas'}`, async (t) => {
    const { proxy } = await fleetProxy(t, rate);
    const { status, body, report } = await currentAnswer(proxy.url);
    const current = 2;
    for (const tr of triggers) {
      const got = await metricsApiValue(gjson, status, body, tr.metadata.valueLocation);
      const expected = report.models.find((m) => m.model === modelOf(tr))!.signals[signalOf(tr)]!.value!;
      t.equal(got.value, expected, `${tr.name}: ${got.value}, the fleet row's ${signalOf(tr)}`);
      if (signalOf(tr) === 'kv_cache_usage') t.ok(expected >= 0 && expected <= 1, 'a fraction, as the 0.8 target assumes');
      const desired = desiredReplicas(tr, got.value!, current);
      if (load === 'light') t.ok(desired <= current, `${tr.name}: asks for ${desired} of ${current} replicas`);
      else t.ok(desired > current, `${tr.name}: asks for ${desired} (> ${current}) replicas`);
    }
  });
}

t.test('stale, absent or unknown: no number, so KEDA reports an error and falls back, never reads a zero', async (t) => {
  const { sim, proxy } = await fleetProxy(t, 4);
  await currentAnswer(proxy.url);
  const other = triggers.map((tr) => ({ ...tr, metadata: { ...tr.metadata, valueLocation: tr.metadata.valueLocation.replace(modelOf(tr), 'no/such-model') } }));
  const fresh = await saturation(proxy.url);
  for (const tr of other)
    t.match(
      await metricsApiValue(gjson, fresh.status, fresh.body, tr.metadata.valueLocation),
      { error: /got Null/ },
      `${tr.name}: a model the fleet does not serve`,
    );

  await sim.close();
  const stale = await eventually('the values stale', async () => {
    const a = await saturation(proxy.url);
    const report = JSON.parse(a.body) as Report;
    return report.models[0]?.signals.requests_waiting?.status === 'stale' && report.models[0]?.signals.kv_cache_usage?.status === 'stale' ? a : undefined;
  });
  for (const tr of triggers) {
    t.match(JSON.parse(stale.body), { models: [{ signals: { [signalOf(tr)]: { status: 'stale' } } }] }, `${signalOf(tr)} is still shown, aging`);
    t.match(await metricsApiValue(gjson, stale.status, stale.body, tr.metadata.valueLocation), { error: /got Null/ }, `${tr.name}: a stale value is no value`);
  }
});

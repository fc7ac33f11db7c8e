/**
 * deploy/kubernetes/ run for real: `kubectl kustomize` renders the two examples, and
 * `podman kube play` runs their pods (the proxy's image built from this repository, the real
 * Fluent Bit 5.1.1 image, the simulator as vLLM) against the Parseable stand-in, as the compose
 * stack test does. `npm run test:stack`; needs root and podman (.ci/podman-setup.sh).
 *
 * What podman 4.3 cannot run as rendered, and what runs instead (docs/kubernetes.md, "What
 * the tests run"), all done to the rendered objects by `forPodman` below:
 * - Services, the NetworkPolicy, the ServiceAccount, the PodMonitor and the ScaledObject are
 *   not run (no cluster); the pods reach each other by their IPs on podman's bridge.
 * - A Deployment's replicas run as that many Pods of its template, named <deployment>-<i>,
 *   with the downward API (metadata.name, metadata.namespace) and `$(VAR)` references filled
 *   in as the kubelet would: podman 4.3 supports neither in env.
 * - `secretKeyRef`s become the test's values: podman 4.3 refuses a Secret's data
 *   ("secret ... is not valid JSON").
 * - ConfigMap values naming cluster DNS (Parseable's Service, vLLM's ClusterIP Service) are
 *   set to the stand-in's and a simulator pod's IPs; the fleet proxy's discovery name is
 *   answered by the test's DNS server (VLLM_METRICS_DNS_SERVER) with the simulator pods' IPs,
 *   as cluster DNS answers for a headless Service.
 * - An emptyDir gets its pod's name in front of its own: podman 4.3 makes it a named volume,
 *   by the volume's name, which two pods of one template would otherwise share.
 * - Container ports and probes are left out: podman 4.3 publishes every containerPort on the
 *   host (two pods of one template cannot both have 8000), and runs probes from systemd timers,
 *   which are not here. The test reaches the pods on their IPs and asks /proxy/health and
 *   /ready itself.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import t, { type Test } from 'tap';
import { request } from 'undici';
import { stringify } from 'yaml';
import { startDns, type TestDns } from '../helpers/dns.js';
import { REPO } from '../helpers/fluent-bit.js';
import { KUBERNETES_DIR, kustomize, type K8sObject } from '../helpers/kubernetes.js';
import type { Row } from '../helpers/parseable.js';
import { eventually } from '../helpers/wait.js';

const run = promisify(execFile);
const podman = (...args: string[]) => run('podman', args, { maxBuffer: 64 * 1024 * 1024 });
const VERSION = (JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { version: string }).version;
const PASSWORD = `kube-${process.pid}-pw`;
const TOKEN = `kube-${process.pid}-token`;
const STANDIN = 'vmp-kube-parseable';
const MODEL = 'meta-llama/Llama-3.1-8B-Instruct';

interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: { secretKeyRef?: { key: string }; fieldRef?: { fieldPath: string }; configMapKeyRef?: unknown };
}
interface Container {
  name: string;
  env?: EnvVar[];
  ports?: unknown;
  livenessProbe?: unknown;
  readinessProbe?: unknown;
}
interface PodTemplate {
  metadata: { labels?: Record<string, string> };
  spec: { containers: Array<Container & { volumeMounts?: Array<{ name: string }> }>; volumes?: Array<{ name: string; emptyDir?: unknown }> } & Record<
    string,
    unknown
  >;
}

/** The rendered objects as podman 4.3 can run them (the header says what changes and why). */
function forPodman(
  objects: K8sObject[],
  o: { only?: string[]; configMaps?: Record<string, Record<string, string>>; env?: Record<string, Record<string, string>> },
): string {
  const out: unknown[] = [];
  // Deployments (all, or those named), and a Job only when named: as one Pod each per replica.
  const played = objects.filter(
    (obj) => (obj.kind === 'Deployment' && (!o.only || o.only.includes(obj.metadata.name))) || (obj.kind === 'Job' && o.only?.includes(obj.metadata.name)),
  );
  const claims = new Set(
    played.flatMap((d) =>
      ((d.spec as { template: { spec: { volumes?: Array<{ persistentVolumeClaim?: { claimName: string } }> } } }).template.spec.volumes ?? []).flatMap((v) =>
        v.persistentVolumeClaim ? [v.persistentVolumeClaim.claimName] : [],
      ),
    ),
  );
  for (const obj of objects) {
    if (obj.kind === 'ConfigMap') {
      const base = obj.metadata.name.replace(/-[a-z0-9]{10}$/, '');
      out.push({ ...obj, data: { ...(obj.data as Record<string, string>), ...o.configMaps?.[base] } });
    } else if (obj.kind === 'PersistentVolumeClaim') {
      if (claims.has(obj.metadata.name)) out.push(obj);
    } else if (played.includes(obj)) {
      const spec = obj.spec as { replicas?: number; template: PodTemplate };
      for (let i = 0; i < (spec.replicas ?? 1); i++) {
        const name = `${obj.metadata.name}-${i}`;
        const pod = structuredClone(spec.template);
        const own = new Set((pod.spec.volumes ?? []).filter((v) => v.emptyDir !== undefined).map((v) => v.name));
        for (const v of pod.spec.volumes ?? []) if (own.has(v.name)) v.name = `${name}-${v.name}`;
        for (const c of pod.spec.containers) for (const m of c.volumeMounts ?? []) if (own.has(m.name)) m.name = `${name}-${m.name}`;
        for (const c of pod.spec.containers) {
          delete c.ports;
          delete c.livenessProbe;
          delete c.readinessProbe;
          const values = new Map<string, string>();
          c.env = (c.env ?? []).map((e) => {
            let value = e.value;
            if (e.valueFrom?.secretKeyRef) value = { P_PASSWORD: PASSWORD, OTLP_RELAY_TOKEN: TOKEN }[e.valueFrom.secretKeyRef.key];
            else if (e.valueFrom?.fieldRef)
              value = { 'metadata.name': name, 'metadata.namespace': obj.metadata.namespace ?? 'default' }[e.valueFrom.fieldRef.fieldPath];
            else if (e.valueFrom) return e; // configMapKeyRef: podman resolves it
            if (value === undefined) throw new Error(`${name}/${c.name}: no value for ${e.name}`);
            // The kubelet's $(VAR): an earlier variable of the same container.
            value = value.replace(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (m, v: string) => values.get(v) ?? m);
            values.set(e.name, value);
            return { name: e.name, value };
          });
          for (const [k, v] of Object.entries(o.env?.[c.name] ?? {})) c.env.push({ name: k, value: v });
        }
        out.push({ apiVersion: 'v1', kind: 'Pod', metadata: { name, labels: pod.metadata.labels }, spec: pod.spec });
      }
    }
  }
  return out.map((d) => stringify(d)).join('---\n');
}

/** Play a YAML file; `podman kube down` it at the end of the test, and remove the pods' own volumes. */
async function play(t: Test, yaml: string, dir: string, name: string): Promise<void> {
  const file = join(dir, `${name}.yaml`);
  writeFileSync(file, yaml);
  const pods = [...yaml.matchAll(/^kind: Pod\nmetadata:\n(?: {2}.*\n)*? {2}name: (\S+)$/gm)].map((m) => m[1]!);
  const removeOwnVolumes = async () => {
    const { stdout } = await podman('volume', 'ls', '--format', '{{.Name}}');
    const mine = stdout.split('\n').filter((v) => pods.some((p) => v.startsWith(`${p}-`)));
    if (mine.length > 0) await podman('volume', 'rm', '-f', ...mine);
  };
  // What a killed earlier run left under the same names.
  for (const p of pods) await podman('pod', 'rm', '-f', p).catch(() => undefined);
  await removeOwnVolumes();
  t.teardown(async () => {
    await podman('kube', 'down', file).catch(() => undefined);
    await removeOwnVolumes().catch(() => undefined);
  });
  await podman('kube', 'play', file);
}

async function podIp(pod: string): Promise<string> {
  const { stdout: infra } = await podman('pod', 'inspect', pod, '--format', '{{.InfraContainerID}}');
  return podIpOfContainer(infra.trim());
}

async function get(url: string): Promise<{ status: number; text: string }> {
  const res = await request(url);
  return { status: res.statusCode, text: await res.body.text() };
}

async function standIn(path: string): Promise<unknown> {
  const ip = await podIpOfContainer(STANDIN);
  const res = await request(`http://${ip}:8000${path}`, { headers: { authorization: `Basic ${Buffer.from(`admin:${PASSWORD}`).toString('base64')}` } });
  const text = await res.body.text();
  if (res.statusCode !== 200) throw new Error(`stand-in ${path}: ${res.statusCode} ${text}`);
  return JSON.parse(text);
}
const rows = (stream: string) => standIn(`/standin/rows/${stream}`) as Promise<Row[]>;

async function podIpOfContainer(name: string): Promise<string> {
  const { stdout } = await podman('inspect', name, '--format', '{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}');
  const ip = stdout.trim().split(' ')[0];
  if (!ip) throw new Error(`${name} has no IP address`);
  return ip;
}

async function chat(base: string, content: string): Promise<{ status: number; id: string }> {
  const res = await request(`${base}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: MODEL, messages: [{ role: 'user', content }], max_tokens: 8 }),
  });
  const text = await res.body.text();
  return { status: res.statusCode, id: res.statusCode === 200 ? (JSON.parse(text) as { id: string }).id : '' };
}

/** The ready proxy of a pod: /proxy/health and /ready answer 200 (what the probes ask). */
async function readyProxy(ip: string): Promise<string> {
  const base = `http://${ip}:9090`;
  await eventually(`${base}/ready`, async () => ((await get(`${base}/ready`).catch(() => ({ status: 0 }))).status === 200 ? true : undefined), 120_000, 500);
  return base;
}

/** What the pod's containers run as, and their memory use now (podman stats). */
async function containerFacts(name: string): Promise<{ user: string; readOnly: boolean; caps: string[]; memMiB: number }> {
  const { stdout } = await podman('inspect', name);
  const [c] = JSON.parse(stdout) as Array<{ Config: { User: string }; HostConfig: { ReadonlyRootfs: boolean }; EffectiveCaps: string[] | null }>;
  const { stdout: stats } = await podman('stats', '--no-stream', '--format', 'json', name);
  const [s] = JSON.parse(stats) as Array<{ mem_usage: string }>;
  const m = /^([\d.]+)([kMG]B)/.exec(s!.mem_usage)!;
  const memMiB = (Number(m[1]) * { kB: 1e3, MB: 1e6, GB: 1e9 }[m[2] as 'kB' | 'MB' | 'GB']) / 2 ** 20;
  return { user: c!.Config.User, readOnly: c!.HostConfig.ReadonlyRootfs, caps: c!.EffectiveCaps ?? [], memMiB };
}

/** Every container of ours: non-root, read-only root, no capability, under its memory limit. */
async function checkContainers(t: Test, pods: string[], limits: Record<string, number>): Promise<void> {
  for (const pod of pods) {
    for (const c of ['proxy', 'fluent-bit']) {
      const f = await containerFacts(`${pod}-${c}`);
      t.match(f.user, /^1000(:1000)?$/, `${pod}/${c} runs as uid 1000`);
      t.equal(f.readOnly, true, `${pod}/${c}: read-only root filesystem`);
      t.same(f.caps, [], `${pod}/${c}: no capability`);
      t.ok(f.memMiB < limits[c]!, `${pod}/${c}: ${f.memMiB.toFixed(1)} MiB in use, under its ${limits[c]} MiB limit`);
    }
  }
}

/**
 * Wait up to 2 minutes for what the pods deliver to Parseable (`check` as for `eventually`); if
 * it never comes, say first what the pods' containers and the stand-in did.
 */
async function delivered<T>(t: Test, pods: string[], what: string, check: () => Promise<T | undefined>): Promise<T> {
  try {
    return await eventually(what, check, 120_000, 1_000);
  } catch (err) {
    for (const pod of pods)
      for (const c of ['proxy', 'fluent-bit']) {
        const logs = await podman('logs', '--tail', '20', `${pod}-${c}`).catch((e: { stdout?: string; stderr?: string }) => e);
        t.comment(`${pod}-${c}: ${String(logs.stdout ?? '').slice(-3000)} ${String(logs.stderr ?? '').slice(-3000)}`);
      }
    const said = (await standIn('/standin/requests').catch((e: Error) => [{ error: e.message }])) as Array<Record<string, unknown>>;
    const tally = new Map<string, number>();
    for (const r of said) {
      const key = JSON.stringify([r.stream, r.status, String(r.answer ?? r.error ?? '').slice(0, 160)]);
      tally.set(key, (tally.get(key) ?? 0) + 1);
    }
    t.comment(`the stand-in's answers (stream, status, answer: count): ${JSON.stringify([...tally])}`);
    throw err;
  }
}

const dir = mkdtempSync(join(tmpdir(), 'vmp-kube-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

t.before(async () => {
  // The proxy's image under the name and version the kustomizations give (images:), and the stand-in.
  await run('podman', ['build', '-q', '-t', `localhost/vllm-metrics-proxy:${VERSION}`, REPO], { maxBuffer: 64 * 1024 * 1024 });
  await run('bash', [join(REPO, 'test/stack/parseable-image.sh')], { maxBuffer: 16 * 1024 * 1024 });
  await podman('rm', '-f', STANDIN).catch(() => undefined);
  await podman(
    'run',
    '-d',
    '--name',
    STANDIN,
    '-e',
    'P_USERNAME=admin',
    '-e',
    `P_PASSWORD=${PASSWORD}`,
    'quay.io/parseablehq/parseable:v2.9.5',
    'parseable',
    'local-store',
  );
});
t.teardown(async () => {
  await podman('rm', '-f', STANDIN).catch(() => undefined);
});

/** The values that name Parseable, pointed at the stand-in. */
async function parseableAt(): Promise<Record<string, string>> {
  const ip = await podIpOfContainer(STANDIN);
  return {
    PARSEABLE_URL: `http://${ip}:8000`,
    OTLP_FORWARD_URL: `http://${ip}:8000/v1/metrics`,
    PARSEABLE_HOST: ip,
    PARSEABLE_PORT: '8000',
    PARSEABLE_TLS: 'Off',
  };
}

t.test('sidecar mode: two vLLM pods, each with the proxy and Fluent Bit beside vLLM, deliver to Parseable', async (t) => {
  const objects = await kustomize(join(KUBERNETES_DIR, 'examples', 'sidecar-demo'));
  await play(t, forPodman(objects, { configMaps: { 'vllm-metrics-proxy': await parseableAt() } }), dir, 'sidecar');
  const pods = ['vllm-0', 'vllm-1'];
  const bases = await Promise.all(pods.map(async (p) => readyProxy(await podIp(p))));

  for (const [i, base] of bases.entries()) {
    t.equal((await get(`${base}/proxy/health`)).status, 200, `${pods[i]}: liveness`);
    const m = await get(`${base}/metrics`);
    t.ok(/^vllm_num_requests_running\{/m.test(m.text), `${pods[i]}: sanitized vLLM metrics on :9090`);
    t.notOk(/^vllm:/m.test(m.text), `${pods[i]}: no colon names`);
    const sat = await eventually(
      `${pods[i]} saturation gauges`,
      async () => {
        const text = (await get(`${base}/metrics`)).text;
        return /^vllm_metrics_proxy_saturation_kv_cache_usage\{/m.test(text) ? text : undefined;
      },
      60_000,
      500,
    );
    t.ok(sat, `${pods[i]}: its own saturation gauges`);
    const report = JSON.parse((await get(`${base}/saturation`)).text) as { targets: unknown[] };
    t.equal(report.targets.length, 1, `${pods[i]}: /saturation speaks for its own pod`);
    const relay = await request(`${base}/v1/metrics`, { method: 'POST', body: 'x', headers: { 'content-type': 'application/x-protobuf' } });
    await relay.body.dump();
    t.equal(relay.statusCode, 404, `${pods[i]}: no relay on the pod's port`);
    await t.rejects(
      request(`${base.replace(':9090', ':4318')}/v1/metrics`, { method: 'POST', body: 'x' }),
      { code: 'ECONNREFUSED' },
      'nor on 4318 from outside the pod',
    );
  }

  const calls = [await chat(bases[0]!, 'through pod 0'), await chat(bases[1]!, 'through pod 1')];
  t.same(
    calls.map((c) => c.status),
    [200, 200],
    "vLLM's API through each pod's proxy",
  );

  const got = await delivered(t, pods, 'rows from both pods in vLLMmetrics', async () => {
    const list = await rows('vLLMmetrics');
    const from = new Set(list.filter((r) => r.metric_name === 'vllm_num_requests_running').map((r) => String(r['k8s.pod.name'])));
    if (pods.every((p) => from.has(p))) return list;
    throw new Error(`${list.length} rows, vllm_num_requests_running from ${JSON.stringify([...from])}`);
  });
  t.ok(
    got.every((r) => !String(r.metric_name).includes(':')),
    'no colon in any metric name',
  );
  const hist = got.find((r) => r.metric_name === 'vllm_e2e_request_latency_seconds' && Number(r.data_point_count) > 0)!;
  t.ok(hist, 'a histogram row');
  t.equal(
    (hist.data_point_bucket_counts as number[]).reduce((a, b) => a + b, 0),
    Number(hist.data_point_count),
    'its buckets per bucket (the relay repaired Fluent Bit’s cumulative ones)',
  );
  // The gauges appear once the window has samples, so a scrape or two after the first rows.
  await delivered(t, pods, 'the saturation gauges of both pods in vLLMmetrics', async () => {
    const list = (await rows('vLLMmetrics')).filter((r) => r.metric_name === 'vllm_metrics_proxy_saturation_kv_cache_usage');
    return pods.every((p) => list.some((r) => r['k8s.pod.name'] === p)) ? true : undefined;
  });
  t.pass('the saturation gauges reach Parseable too');
  t.ok(
    got.every((r) => r['k8s.namespace.name'] === 'vllm'),
    'each row says its namespace',
  );
  const records = await delivered(t, pods, 'both request records in vLLMrequests', async () => {
    const list = await rows('vLLMrequests');
    return calls.every((c) => list.some((r) => r.id === c.id)) ? list : undefined;
  });
  t.equal(records.filter((r) => calls.some((c) => c.id === r.id)).length, 2, 'each request recorded once');

  await checkContainers(t, pods, { proxy: 512, 'fluent-bit': 256 });
  const stopped = Date.now();
  await podman('stop', '-t', '30', 'vllm-0-proxy');
  const { stdout: exit } = await podman('inspect', 'vllm-0-proxy', '--format', '{{.State.ExitCode}}');
  t.equal(exit.trim(), '0', 'SIGTERM: the proxy shuts down cleanly, not killed');
  t.ok(Date.now() - stopped < 30_000, `within terminationGracePeriodSeconds (${Date.now() - stopped} ms)`);
});

t.test('fleet mode: the proxy pod discovers the vLLM pods through DNS, merges them, and delivers through Fluent Bit', async (t) => {
  const objects = await kustomize(join(KUBERNETES_DIR, 'examples', 'fleet-demo'));
  const removeClaims = () =>
    podman('volume', 'rm', '-f', 'vllm-metrics-proxy-spool', 'vllm-metrics-proxy-requests', 'vllm-metrics-proxy-fluent-bit').catch(() => undefined);
  await removeClaims();
  t.teardown(removeClaims);
  const { stdout: net } = await podman('network', 'inspect', 'podman', '--format', '{{range .Subnets}}{{.Gateway}}{{end}}');
  const dns: TestDns = await startDns(net.trim());
  t.teardown(() => dns.close());
  const parseable = await parseableAt();
  await play(t, forPodman(objects, { only: ['vllm'] }), dir, 'fleet-vllm');
  const vllmIps = await Promise.all(['vllm-0', 'vllm-1'].map(podIp));
  const name = /^dns:\/\/([^:/]+)/.exec(
    String((objects.find((o) => o.metadata.name.startsWith('vllm-metrics-proxy-fleet-'))!.data as Record<string, string>).VLLM_METRICS_DISCOVER),
  )![1]!;
  dns.records.set(name, { a: vllmIps });
  await play(
    t,
    forPodman(objects, {
      only: ['vllm-metrics-proxy'],
      configMaps: { 'vllm-metrics-proxy': parseable, 'vllm-metrics-proxy-fleet': { VLLM_API_URL: `http://${vllmIps[0]}:8000` } },
      env: { proxy: { VLLM_METRICS_DNS_SERVER: dns.server } },
    }),
    dir,
    'fleet-proxy',
  );
  const base = await readyProxy(await podIp('vllm-metrics-proxy-0'));
  t.ok(dns.queries > 0, `the proxy asked DNS for ${name}`);
  const merged = await eventually(
    'both vLLM pods in the merged /metrics',
    async () => {
      const text = (await get(`${base}/metrics`)).text;
      const instances = new Set([...text.matchAll(/^vllm_num_requests_running\{[^}]*instance="([^"]+)"/gm)].map((m) => m[1]));
      return instances.size === 2 ? text : undefined;
    },
    60_000,
    500,
  );
  t.notOk(/^vllm:/m.test(merged), 'no colon names');
  for (const ip of vllmIps) t.ok(merged.includes(`instance="${ip}:8000"`), `samples of ${ip} labelled`);
  const report = await eventually(
    '/saturation over both',
    async () => {
      const r = JSON.parse((await get(`${base}/saturation`)).text) as {
        models: Array<{ model: string; targets: number; signals: Record<string, { status: string }> }>;
      };
      return r.models[0]?.targets === 2 && r.models[0].signals.requests_waiting?.status === 'ok' ? r : undefined;
    },
    60_000,
    500,
  );
  t.equal(report.models[0]!.model, MODEL, 'the fleet row KEDA reads');
  const call = await chat(base, 'through the fleet proxy');
  t.equal(call.status, 200, "vLLM's API through the fleet proxy");

  const got = await delivered(t, ['vllm-metrics-proxy-0'], 'rows of both targets in vLLMmetrics', async () => {
    const list = (await rows('vLLMmetrics')).filter((r) => r['k8s.pod.name'] === 'vllm-metrics-proxy-0');
    const from = new Set(list.filter((r) => r.metric_name === 'vllm_num_requests_running').map((r) => String(r['service.instance.id'])));
    return from.size === 2 ? list : undefined;
  });
  t.ok(got.length > 0, 'the fleet pod’s rows, each saying which vLLM pod it came from');
  await delivered(t, ['vllm-metrics-proxy-0'], "the fleet's saturation gauges in vLLMmetrics", async () =>
    (await rows('vLLMmetrics')).some((r) => r.metric_name === 'vllm_metrics_proxy_saturation_fleet_kv_cache_usage') ? true : undefined,
  );
  await delivered(t, ['vllm-metrics-proxy-0'], 'the request record', async () =>
    (await rows('vLLMrequests')).some((r) => r.id === call.id) ? true : undefined,
  );
  const { stdout: vols } = await podman('volume', 'ls', '--format', '{{.Name}}');
  for (const claim of ['vllm-metrics-proxy-spool', 'vllm-metrics-proxy-requests', 'vllm-metrics-proxy-fluent-bit'])
    t.ok(vols.split('\n').includes(claim), `the claim ${claim} is a volume that outlives the pod`);
  await checkContainers(t, ['vllm-metrics-proxy-0'], { proxy: 512, 'fluent-bit': 256 });

  // The setup Job, as its pod: it runs to completion against the same Parseable.
  await play(t, forPodman(objects, { only: ['vllm-metrics-proxy-parseable-setup'], configMaps: { 'vllm-metrics-proxy': parseable } }), dir, 'fleet-setup');
  const setup = 'vllm-metrics-proxy-parseable-setup-0-parseable-setup';
  const { stdout: exit } = await podman('wait', setup);
  const { stdout: said } = await podman('logs', setup);
  t.equal(exit.trim(), '0', `the setup Job's container exits 0 (${said.trim().split('\n').at(-1)})`);
  const boards = (await standIn('/api/v1/dashboards')) as Array<{ title: string; tags?: string[] }>;
  t.ok(
    boards.some((b) => b.title === 'vLLM' && b.tags?.includes('vllm-metrics-proxy')),
    'the dashboard "vLLM" is in Parseable',
  );
  const filters = (await standIn('/api/v1/filters')) as Array<{ filter_name: string }>;
  t.ok(
    filters.some((f) => f.filter_name.startsWith('vLLM: ')),
    'and the saved queries',
  );
});

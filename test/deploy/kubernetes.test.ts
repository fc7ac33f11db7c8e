/**
 * deploy/kubernetes/: every kustomization renders with `kubectl kustomize` (kubectl 1.32's
 * kustomize 5.5), every rendered object validates strictly against its API schema (mistyped
 * fields included: test/helpers/kubernetes.ts), and the production defaults docs/kubernetes.md
 * promises hold for every container. That the pods work is shown by running them under
 * `podman kube play` (test/stack/kubernetes.stack.ts).
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import t, { type Test } from 'tap';
import { parse as parseYaml } from 'yaml';
import { confVariables, REPO } from '../helpers/fluent-bit.js';
import { KUBERNETES_DIR, kustomize, validateAsShipped, validateStrictly, type K8sObject } from '../helpers/kubernetes.js';

/** The directories users build: the fleet base and the two examples (the components are built through them). */
const BUILDS = ['fleet', 'examples/fleet-demo', 'examples/sidecar-demo'];
const version = (JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { version: string }).version;

interface Container {
  name: string;
  image: string;
  args?: string[];
  env?: Array<{ name: string; value?: string; valueFrom?: { secretKeyRef?: { name: string; key: string }; configMapKeyRef?: { name: string; key: string } } }>;
  envFrom?: Array<{ configMapRef?: { name: string } }>;
  ports?: Array<{ name?: string; containerPort: number }>;
  livenessProbe?: { httpGet?: { path: string; port: string | number } };
  readinessProbe?: { httpGet?: { path: string; port: string | number } };
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  securityContext?: Record<string, unknown> & { capabilities?: { drop?: string[] }; seccompProfile?: { type: string } };
  volumeMounts?: Array<{ name: string; mountPath: string; readOnly?: boolean }>;
}
interface PodSpec {
  containers: Container[];
  securityContext?: Record<string, unknown> & { seccompProfile?: { type: string } };
  terminationGracePeriodSeconds?: number;
  volumes?: Array<{ name: string; emptyDir?: unknown; persistentVolumeClaim?: { claimName: string }; configMap?: { name: string } }>;
}
const podSpec = (d: K8sObject) => (d.spec as { template: { spec: PodSpec } }).template.spec;

const rendered = new Map<string, K8sObject[]>();
t.before(async () => {
  for (const b of BUILDS) rendered.set(b, await kustomize(join(KUBERNETES_DIR, b)));
});

const all = () => [...rendered.entries()].flatMap(([b, objs]) => objs.map((o) => ({ build: b, o })));
const ours = (objs: K8sObject[]) =>
  objs
    .filter((o) => o.kind === 'Deployment')
    .flatMap((d) =>
      podSpec(d)
        .containers.filter((c) => c.name === 'proxy' || c.name === 'fluent-bit')
        .map((c) => ({ d, c, pod: podSpec(d) })),
    );

t.test('every kustomization and component under deploy/ is built by one of the renders', async (t) => {
  const dirs: string[] = [];
  const walk = (dir: string) => {
    for (const e of readdirSync(dir)) {
      const p = join(dir, e);
      if (statSync(p).isDirectory()) walk(p);
      else if (e === 'kustomization.yaml') dirs.push(relative(join(REPO, 'deploy'), dir));
    }
  };
  walk(join(REPO, 'deploy'));
  // What each build pulls in: its resources and components, followed.
  const used = new Set<string>();
  const follow = (dir: string) => {
    const rel = relative(join(REPO, 'deploy'), dir);
    if (used.has(rel)) return;
    used.add(rel);
    const k = parseYaml(readFileSync(join(dir, 'kustomization.yaml'), 'utf8')) as { resources?: string[]; components?: string[] };
    for (const r of [...(k.resources ?? []), ...(k.components ?? [])]) {
      const p = join(dir, r);
      if (statSync(p).isDirectory()) follow(p);
    }
  };
  for (const b of BUILDS) follow(join(KUBERNETES_DIR, b));
  t.same(dirs.filter((d) => !used.has(d)).sort(), [], 'no kustomization left unrendered');
  for (const [b, objs] of rendered) t.ok(objs.length > 0, `${b} renders`);
});

t.test('every rendered object validates against its schema, with no unknown field', async (t) => {
  for (const { build, o } of all()) t.same(await validateStrictly(o), [], `${build}: ${o.kind} ${o.metadata.name}`);
});

t.test('a mistyped field fails the check (the packages alone let it pass)', async (t) => {
  const objs = rendered.get('examples/fleet-demo')!;
  // The test writes into arbitrary depths of a rendered object.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  type Loose = K8sObject & { spec: Record<string, any> };
  const find = (kind: string) => structuredClone(objs.find((o) => o.kind === kind)!) as Loose;
  const typos: Array<[K8sObject, string]> = [];
  const dep = find('Deployment');
  dep.spec.template.spec.containers[0].imagePullPolicyy = 'Always';
  typos.push([dep, 'spec.template.spec.containers[0].imagePullPolicyy']);
  const sec = find('Deployment');
  sec.spec.template.spec.containers[0].securityContext.runAsNonroot = true;
  typos.push([sec, 'spec.template.spec.containers[0].securityContext.runAsNonroot']);
  const so = find('ScaledObject');
  so.spec.minReplicaCont = 0;
  typos.push([so, 'spec.minReplicaCont']);
  const pm = find('PodMonitor');
  pm.spec.podMetricsEndpoints[0].intervall = '5s';
  typos.push([pm, 'spec.podMetricsEndpoints[0].intervall']);
  const np = find('NetworkPolicy');
  np.spec.podSelectr = {};
  typos.push([np, 'spec.podSelectr']);
  for (const [o, path] of typos) {
    t.ok(await validateAsShipped(o), `${o.kind}: the package's validator alone accepts ${path}`);
    t.same(await validateStrictly(o), [`${path}: not a field of the schema`], `${o.kind}: the check names ${path}`);
  }
  const bad = find('Deployment');
  bad.spec.replicas = 'two';
  t.match(await validateStrictly(bad), [/^\/spec\/replicas: type/], 'a wrong type is the schema validator’s own finding');
});

/** The defaults docs/kubernetes.md promises for a container of ours. */
function hardened(t: Test, where: string, c: Container, pod: PodSpec): void {
  const sc = { ...pod.securityContext, ...c.securityContext };
  t.equal(sc.runAsNonRoot, true, `${where}: non-root`);
  t.ok(typeof sc.runAsUser === 'number' && sc.runAsUser !== 0, `${where}: a non-zero uid`);
  t.equal(c.securityContext?.readOnlyRootFilesystem, true, `${where}: read-only root filesystem`);
  t.equal(c.securityContext?.allowPrivilegeEscalation, false, `${where}: no privilege escalation`);
  t.same(c.securityContext?.capabilities?.drop, ['ALL'], `${where}: every capability dropped`);
  t.equal(sc.seccompProfile?.type, 'RuntimeDefault', `${where}: seccomp RuntimeDefault`);
  t.match(c.image, /^[^:@]+(:[\w.-]+|@sha256:[0-9a-f]{64})$/, `${where}: ${c.image} names a version`);
  t.notMatch(c.image, /:latest$/, `${where}: not latest`);
  t.ok(c.resources?.requests?.cpu && c.resources.requests.memory && c.resources.limits?.memory, `${where}: requests and a memory limit`);
  for (const e of c.env ?? [])
    if (/PASSWORD|TOKEN|SECRET/.test(e.name)) t.ok(e.valueFrom?.secretKeyRef && e.value === undefined, `${where}: ${e.name} from a Secret, never a value`);
}

t.test('production defaults on every container of ours, in every render', async (t) => {
  for (const [build, objs] of rendered) {
    const list = ours(objs);
    t.same(list.map((x) => x.c.name).sort(), ['fluent-bit', 'proxy'], `${build}: the proxy and Fluent Bit, once each`);
    for (const { c, pod } of list) hardened(t, `${build} ${c.name}`, c, pod);
    t.notOk(
      objs.some((o) => o.kind === 'Secret'),
      `${build}: no Secret in the manifests (made by hand)`,
    );
    const proxy = list.find((x) => x.c.name === 'proxy')!;
    t.equal(proxy.c.livenessProbe?.httpGet?.path, '/proxy/health', `${build}: liveness on /proxy/health`);
    t.equal(proxy.c.readinessProbe?.httpGet?.path, '/ready', `${build}: readiness on /ready`);
    t.equal(
      proxy.c.image,
      `localhost/vllm-metrics-proxy:${version}`,
      `${build}: the proxy's image is this version (kustomize images:, set it to your registry)`,
    );
  }
});

t.test('every container of every render pulls a fully named image; ours is always this version', async (t) => {
  for (const [build, objs] of rendered)
    for (const o of objs) {
      const tmpl = (o.spec as { template?: { spec?: PodSpec } } | undefined)?.template?.spec;
      for (const c of tmpl?.containers ?? []) {
        // A bare `vllm-metrics-proxy` left unmapped is a short name: podman and CRI-O refuse it
        // without a registries.conf alias, a cluster pulls it from Docker Hub. Kustomize's
        // `images:` of a component reaches only what that build includes, so each is checked.
        t.notMatch(c.image, /^vllm-metrics-proxy(:|$)/, `${build} ${o.kind}/${o.metadata.name} ${c.name}: the image name is mapped (${c.image})`);
        if (c.image.includes('vllm-metrics-proxy'))
          t.equal(c.image, `localhost/vllm-metrics-proxy:${version}`, `${build} ${o.kind}/${o.metadata.name} ${c.name}: this version`);
      }
    }
});

t.test("the relay is on the pod's loopback only, and Fluent Bit is told where everything is", async (t) => {
  for (const [build, objs] of rendered) {
    const list = ours(objs);
    const proxy = list.find((x) => x.c.name === 'proxy')!.c;
    const fb = list.find((x) => x.c.name === 'fluent-bit')!.c;
    const listen = proxy.args![proxy.args!.indexOf('--otlp-relay-listen') + 1]!;
    t.match(listen, /^127\.0\.0\.1:\d+$/, `${build}: the relay listens on loopback (${listen})`);
    const env = new Map((fb.env ?? []).map((e) => [e.name, e]));
    t.same(
      confVariables().filter((v) => !env.has(v)),
      [],
      `${build}: Fluent Bit's container sets every \${VAR} of fluent-bit.conf`,
    );
    t.equal(env.get('RELAY_HOST')?.value, '127.0.0.1');
    t.equal(env.get('RELAY_PORT')?.value, listen.split(':')[1], 'Fluent Bit sends to the relay port');
    t.equal(env.get('PROXY_HOST')?.value, '127.0.0.1');
    t.equal(Number(env.get('PROXY_PORT')?.value), proxy.ports![0]!.containerPort, "Fluent Bit scrapes the proxy's port");
    const requestLog = proxy.args![proxy.args!.indexOf('--request-log') + 1]!;
    const logMount = proxy.volumeMounts!.find((m) => requestLog.startsWith(`${m.mountPath}/`))!;
    t.ok(
      fb.volumeMounts!.some((m) => m.name === logMount.name && m.mountPath === logMount.mountPath && m.readOnly),
      `${build}: Fluent Bit reads the request log from the same volume, read-only`,
    );
  }
  const np = rendered.get('fleet')!.find((o) => o.kind === 'NetworkPolicy')! as K8sObject & {
    spec: { ingress: Array<{ ports: Array<{ port: number }> }>; policyTypes: string[] };
  };
  t.same(np.spec.policyTypes, ['Ingress']);
  t.same(
    np.spec.ingress.flatMap((i) => i.ports.map((p) => p.port)),
    [9090],
    'only the proxy port is admitted: not the relay',
  );
});

t.test('Parseable is named once in meaning: the proxy and Fluent Bit point at the same server', async (t) => {
  for (const [build, objs] of rendered) {
    const cm = objs.find(
      (o) => o.kind === 'ConfigMap' && o.metadata.name.startsWith('vllm-metrics-proxy-') && (o.data as Record<string, string>)?.OTLP_FORWARD_URL,
    )!;
    const data = cm.data as Record<string, string>;
    const url = new URL(data.OTLP_FORWARD_URL!);
    t.equal(url.hostname, data.PARSEABLE_HOST, `${build}: the same host`);
    t.equal(url.port || (url.protocol === 'https:' ? '443' : '80'), data.PARSEABLE_PORT, `${build}: the same port`);
    t.equal(data.PARSEABLE_TLS, url.protocol === 'https:' ? 'On' : 'Off', `${build}: TLS for both or neither`);
    t.equal(new URL(data.PARSEABLE_URL!).origin, url.origin, `${build}: the setup Job talks to the server the metrics go to`);
  }
});

t.test('fleet mode: discovery, durable volumes, one pod recreated, a grace period longer than the drain', async (t) => {
  const objs = rendered.get('fleet')!;
  const dep = objs.find((o) => o.kind === 'Deployment')! as K8sObject & { spec: { replicas: number; strategy: { type: string } } };
  t.equal(dep.spec.replicas, 1);
  t.equal(dep.spec.strategy.type, 'Recreate', 'a ReadWriteOnce volume is never mounted by two pods');
  const pod = podSpec(dep);
  const fleetCm = objs.find((o) => o.kind === 'ConfigMap' && (o.data as Record<string, string>)?.VLLM_METRICS_DISCOVER)!;
  t.match(
    (fleetCm.data as Record<string, string>).VLLM_METRICS_DISCOVER,
    /^dns:\/\/[a-z0-9-]+\.[a-z0-9-]+\.svc\.cluster\.local:8000\/metrics$/,
    'a fully-qualified headless Service name',
  );
  const proxy = pod.containers.find((c) => c.name === 'proxy')!;
  t.notOk(
    proxy.env?.some((e) => e.name === 'VLLM_METRICS_URL'),
    'no single upstream beside the discovery',
  );
  t.ok(proxy.envFrom?.some((e) => e.configMapRef?.name === fleetCm.metadata.name));
  const claims = new Set(objs.filter((o) => o.kind === 'PersistentVolumeClaim').map((o) => o.metadata.name));
  for (const name of ['vllm-metrics-proxy-spool', 'vllm-metrics-proxy-requests', 'vllm-metrics-proxy-fluent-bit-state']) {
    const v = pod.volumes!.find((x) => x.name === name)!;
    t.ok(v.persistentVolumeClaim && claims.has(v.persistentVolumeClaim.claimName) && v.emptyDir === undefined, `${name} on a claim that exists`);
  }
  // The proxy's shutdown: in-flight requests, then the relay queue for up to --otlp-timeout (10 s) before the spool keeps the rest.
  t.ok((pod.terminationGracePeriodSeconds ?? 30) >= 20, 'time to drain before SIGKILL');
  t.equal(pod.securityContext?.fsGroup, 1000, 'the volumes are writable by the containers’ group');

  const sidecar = rendered.get('examples/sidecar-demo')!;
  const vllm = podSpec(sidecar.find((o) => o.kind === 'Deployment')!);
  t.same(vllm.containers.map((c) => c.name).sort(), ['fluent-bit', 'proxy', 'vllm'], 'sidecar mode: the two beside vLLM');
  t.equal(
    vllm.containers.find((c) => c.name === 'proxy')!.env!.find((e) => e.name === 'VLLM_METRICS_URL')!.value,
    'http://127.0.0.1:8000/metrics',
    'vLLM on the pod’s loopback',
  );
  t.equal(vllm.securityContext, undefined, "the user's pod-level security context is left alone");
});

t.test('the parseable-setup Job: in every build, hardened, its settings from the ConfigMap and the Secret, run again after an apply', async (t) => {
  for (const [build, objs] of rendered) {
    const jobs = objs.filter((o) => o.kind === 'Job');
    t.same(
      jobs.map((j) => j.metadata.name),
      ['vllm-metrics-proxy-parseable-setup'],
      `${build}: one Job`,
    );
    const job = jobs[0]! as K8sObject & {
      spec: { backoffLimit?: number; ttlSecondsAfterFinished?: number; template: { spec: PodSpec & { restartPolicy: string } } };
    };
    const pod = job.spec.template.spec;
    t.equal(pod.containers.length, 1);
    const c = pod.containers[0]!;
    hardened(t, `${build} ${c.name}`, c, pod);
    t.equal(c.image, `localhost/vllm-metrics-proxy:${version}`, `${build}: the proxy's image, this version`);
    t.same(c.args?.slice(0, 2), ['parseable', 'setup'], `${build}: runs parseable setup`);
    t.ok(c.args?.includes('--wait'), `${build}: waits for Parseable rather than failing while it starts`);
    t.equal(pod.restartPolicy, 'Never', `${build}: a refused run is not restarted in place`);
    t.ok((job.spec.ttlSecondsAfterFinished ?? 0) > 0, `${build}: deleted after it finishes, so the next apply runs it again`);
    const cm = objs.find((o) => o.kind === 'ConfigMap' && /^vllm-metrics-proxy-[a-z0-9]{10}$/.test(o.metadata.name))!;
    for (const e of c.env ?? []) {
      const ref = e.valueFrom?.configMapKeyRef;
      if (!ref) continue;
      t.equal(ref.name, cm.metadata.name, `${build}: ${e.name} from the generated ConfigMap`);
      t.ok((cm.data as Record<string, string>)[ref.key] !== undefined, `${build}: the ConfigMap has ${ref.key}`);
    }
    t.same(
      (c.env ?? []).map((e) => e.name).sort(),
      ['OTLP_STREAM', 'PARSEABLE_URL', 'P_PASSWORD', 'P_USERNAME'],
      `${build}: where Parseable is, who to be, and the stream the relay writes`,
    );
  }
});

/**
 * Saturation in the places a user meets it: a Prometheus behind TLS or a
 * bearer-token gate, the gauges on a streamed and on a polled /metrics (read
 * by a real Prometheus), and the flags' errors.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { request } from 'undici';
import { parseExposition } from '../../src/exposition/parser.js';
import { PrometheusClient } from '../../src/saturation/prometheus-client.js';
import type { SaturationReport } from '../../src/saturation/report.js';
import { startSimulator } from '../../src/simulator/start.js';
import { runCli, runCliAsync } from '../helpers/cli.js';
import { selfMetric } from '../helpers/fleet.js';
import { get, rawServer } from '../helpers/net.js';
import { startPrometheus } from '../helpers/prometheus.js';
import { selfSigned } from '../helpers/tls.js';
import { testProxy } from '../helpers/proxy.js';
import { eventually } from '../helpers/wait.js';

t.test('a Prometheus behind TLS: verified by default, trusted with --ca-file', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'vmp-sat-tls-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const cert = selfSigned(dir, 'prometheus-test');
  const tls = { certFile: cert.certFile, keyFile: cert.keyFile, ca: cert.cert };
  const prom = await startPrometheus([], tls);
  t.teardown(() => prom.close());
  t.match(prom.url, /^https:/);

  const refused = await runCliAsync(['saturation', '--prometheus-url', prom.url, '--json']);
  t.equal(refused.status, 1);
  t.match(refused.stderr, /error: Prometheus https:\/\/127\.0\.0\.1:\d+\/ unreachable: .*(SELF_SIGNED|self-signed)/i);

  const trusted = await runCliAsync(['saturation', '--prometheus-url', prom.url, '--ca-file', tls.certFile, '--json']);
  t.equal(trusted.status, 0, trusted.stderr);
  t.equal((JSON.parse(trusted.stdout) as SaturationReport).status, 'no_data', 'it answered (it scrapes nothing)');

  const missing = runCli(['saturation', '--prometheus-url', prom.url, '--ca-file', join(dir, 'nope.pem')]);
  t.equal(missing.status, 2);
  t.match(missing.stderr, /option --ca-file: cannot read/);
});

t.test('a bearer token from a file, read before every query (rotation), and a 401 that is not retried', async (t) => {
  const prom = await startPrometheus([]);
  t.teardown(() => prom.close());
  // The gate in front of Prometheus, as kube-rbac-proxy or an ingress would be.
  let token = 'first';
  const seen: string[] = [];
  const gate = await rawServer((req, res) => {
    const auth = req.headers.authorization ?? '';
    seen.push(auth);
    if (auth !== `Bearer ${token}`) {
      res.writeHead(401, { 'content-type': 'application/json' }).end('{"status":"error","errorType":"unauthorized","error":"bad token"}');
      return;
    }
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', async () => {
      const up = await request(`${prom.url}${req.url}`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: Buffer.concat(chunks),
      });
      res.writeHead(up.statusCode, { 'content-type': 'application/json' }).end(Buffer.from(await up.body.arrayBuffer()));
    });
  });
  t.teardown(() => gate.close());
  const dir = mkdtempSync(join(tmpdir(), 'vmp-sat-token-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'token');
  writeFileSync(file, 'first\n');
  const client = new PrometheusClient({ url: gate.url, timeoutMs: 5_000, bearerTokenFile: file, retryDelaysMs: [10, 10, 10] });
  t.teardown(() => client.close());
  const first = await client.query('vector(1)');
  t.equal(first[0]!.value[1], '1');
  t.equal(seen[seen.length - 1], 'Bearer first', 'the token from the file');
  token = 'second';
  writeFileSync(file, 'second\n');
  const r = await client.query('vector(2)');
  t.equal(r[0]!.value[1], '2', 'the rotated token is used');
  token = 'third';
  const before = seen.length;
  await t.rejects(client.query('vector(3)'), { status: 401, retriable: false, message: 'Prometheus answered HTTP 401: unauthorized: bad token' });
  t.equal(seen.length - before, 1, 'asked once: a 4xx is not retried');
  t.throws(() => new PrometheusClient({ url: gate.url, timeoutMs: 1000, bearerTokenFile: join(dir, 'none') }), { message: /--bearer-token-file: cannot read/ });
});

t.test('5xx and network errors are retried 1 s, 2 s, 4 s, then reported', async (t) => {
  let calls = 0;
  const flaky = await rawServer((_req, res) => {
    calls++;
    if (calls < 3) res.writeHead(503, { 'content-type': 'text/plain' }).end('Service Unavailable: TSDB not ready');
    else res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"success","data":{"resultType":"vector","result":[]}}');
  });
  t.teardown(() => flaky.close());
  const client = new PrometheusClient({ url: flaky.url, timeoutMs: 5_000, retryDelaysMs: [10, 20, 40] });
  t.same(await client.query('up'), []);
  t.equal(calls, 3, 'two 503s, then the answer');
  calls = -10;
  await t.rejects(client.query('up'), { status: 503, message: 'Prometheus answered HTTP 503: Service Unavailable: TSDB not ready' });
  t.equal(calls, -6, 'four attempts in all');
  await client.close();
});

t.test('a Prometheus that does not answer: the deadline, retried, then reported', async (t) => {
  let calls = 0;
  const silent = await rawServer(() => {
    calls++; // and never answer
  });
  t.teardown(() => silent.close());
  const client = new PrometheusClient({ url: silent.url, timeoutMs: 300, retryDelaysMs: [10] });
  t.teardown(() => client.close());
  await t.rejects(client.query('up'), { status: 0, retriable: true, message: `Prometheus ${silent.url}/ unreachable: no answer within 300ms` });
  t.equal(calls, 2, 'one retry');
});

t.test('streamed /metrics: the gauges end the exposition, before # EOF when Prometheus negotiates OpenMetrics', async (t) => {
  const sim = await startSimulator({ engines: 2, rate: 5, seed: 4, tickMs: 1000 }, { host: '127.0.0.1', port: 0 });
  t.teardown(() => sim.close());
  const proxy = await testProxy({ url: `${sim.url}/metrics` }, { saturation: { windowMs: 4_000, intervalMs: 1000 } });
  t.teardown(() => proxy.close());
  const target = new URL(sim.url).host;
  await eventually('a rate in the window', async () => {
    const r = JSON.parse((await get(`${proxy.url}/saturation`)).body.toString()) as SaturationReport;
    return r.targets[0]?.signals.finished_requests_per_second.status === 'ok' ? r : undefined;
  });
  const om = await get(`${proxy.url}/metrics`, { accept: 'application/openmetrics-text;version=1.0.0' });
  const text = om.body.toString();
  t.match(om.headers['content-type'], /openmetrics/);
  t.ok(text.endsWith('# EOF\n'), 'still ends with # EOF');
  t.ok(text.indexOf('vllm_metrics_proxy_saturation_kv_cache_usage{instance=') < text.indexOf('# EOF'));
  t.ok(
    parseExposition(text, 'openmetrics').some((f) => f.name === 'vllm_metrics_proxy_saturation_finished_requests_per_second'),
    'valid OpenMetrics',
  );
  const gz = await get(`${proxy.url}/metrics`, { 'accept-encoding': 'gzip' });
  t.equal(gz.headers['content-encoding'], 'gzip');

  const prom = await startPrometheus([{ job: 'proxy', target: new URL(proxy.url).host }]);
  t.teardown(() => prom.close());
  const got = await eventually('Prometheus to scrape the gauges', async () => {
    const r = await prom.query('vllm_metrics_proxy_saturation_requests_running');
    return r.length ? r : undefined;
  });
  // Prometheus' own instance label wins; the proxy's moves to exported_instance.
  t.equal(got[0]!.metric.exported_instance, target);
  t.same(
    (await prom.query('up{job="proxy"}')).map((x) => x.value[1]),
    ['1'],
    'every scrape succeeded',
  );
});

t.test('polled /metrics: every poll is a sample, and carries the gauges', async (t) => {
  const sim = await startSimulator({ engines: 1, rate: 5, seed: 5, tickMs: 1000 }, { host: '127.0.0.1', port: 0 });
  t.teardown(() => sim.close());
  const proxy = await testProxy({ url: `${sim.url}/metrics` }, { poll: { intervalMs: 500, maxStalenessMs: 5_000 }, saturation: { windowMs: 3_000 } });
  t.teardown(() => proxy.close());
  await eventually('a rate from the polls', async () => {
    const r = JSON.parse((await get(`${proxy.url}/saturation`)).body.toString()) as SaturationReport;
    return r.targets[0]?.signals.finished_requests_per_second.status === 'ok' ? r : undefined;
  });
  const text = (await get(`${proxy.url}/metrics`)).body.toString();
  t.match(text, /\nvllm_metrics_proxy_saturation_kv_cache_usage\{instance="127\.0\.0\.1:\d+",model_name="[^"]+"\} [\d.]+\n/);
  // The samples are the polls: saturation adds no fetch of its own.
  t.equal(await selfMetric(proxy, 'vllm_metrics_proxy_upstream_fetches_total'), await selfMetric(proxy, 'vllm_metrics_proxy_polls_total'));
});

t.test('the flags: errors name the flag', async (t) => {
  const cases: Array<[string[], RegExp]> = [
    [['serve', '--saturation-window', '30s'], /--saturation-window: only applies with --saturation/],
    [
      ['serve', '--saturation', '--poll-interval', '2s', '--saturation-interval', '1s'],
      /--saturation-interval: in poll mode every poll is a saturation sample/,
    ],
    [
      ['serve', '--saturation', '--saturation-window', '5s', '--saturation-interval', '5s'],
      /--saturation-window: must be at least two sampling intervals \(10s\)/,
    ],
    [['serve', '--saturation-from-prometheus', 'ftp://x'], /--saturation-from-prometheus: unsupported scheme ftp:/],
    [
      ['serve', '--saturation-from-prometheus', 'http://p:9090', '--saturation-interval', '1s'],
      /--saturation-interval: does not apply with --saturation-from-prometheus/,
    ],
    [['serve', '--saturation', '--saturation-model', 'm'], /--saturation-model: only applies with --saturation-from-prometheus/],
    [
      ['serve', '--saturation-from-prometheus', 'http://p:9090', '--prometheus-bearer-token-file', '/nonexistent/token'],
      /--prometheus-bearer-token-file: cannot read \/nonexistent\/token/,
    ],
    [['saturation'], /--prometheus-url: is required/],
    [['saturation', '--prometheus-url', 'http://p:9090', '--window', 'soon'], /--window.*"soon" is not a duration/],
    [['saturation', '--prometheus-url', 'http://p:9090', '--target-label', '__x'], /--target-label.*not a label name/],
  ];
  for (const [args, message] of cases) {
    const r = runCli(args);
    t.equal(r.status, 2, args.join(' '));
    t.match(r.stderr, message, args.join(' '));
  }
});

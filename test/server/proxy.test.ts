import { gunzipSync } from 'node:zlib';
import t, { type Test } from 'tap';
import { startSimulator, type RunningSimulator } from '../../src/simulator/start.js';
import { renameNames, underscore } from '../helpers/oracle.js';
import { get, rawServer } from '../helpers/net.js';
import { testProxy, type TestProxy } from '../helpers/proxy.js';
import { acceptsGzip } from '../../src/server/negotiate.js';

const OPENMETRICS_ACCEPT =
  'application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1';

/** A simulator frozen in time (no ticks), so two reads give the same bytes. */
async function frozenSimulator(t: Test, options: Parameters<typeof startSimulator>[0] = {}): Promise<RunningSimulator> {
  const sim = await startSimulator({ tickMs: 0, ...options }, { host: '127.0.0.1', port: 0 });
  t.teardown(() => sim.close());
  return sim;
}

async function proxyFor(t: Test, url: string, extra: Parameters<typeof testProxy>[0] = { url }): Promise<TestProxy> {
  const proxy = await testProxy({ ...extra, url });
  t.teardown(() => proxy.close());
  return proxy;
}

t.test('the proxy output is the simulator output with only names rewritten', async (t) => {
  for (const options of [{ engines: 1 }, { engines: 8 }, { engines: 2, models: 3 }, { engines: 2, multiprocess: true }, { specDecode: true }]) {
    const sim = await frozenSimulator(t, options);
    const proxy = await proxyFor(t, `${sim.url}/metrics`);
    for (const accept of [undefined, OPENMETRICS_ACCEPT]) {
      const headers: Record<string, string> = accept ? { accept } : {};
      const raw = await get(`${sim.url}/metrics`, headers);
      const out = await get(`${proxy.url}/metrics`, headers);
      const label = `${JSON.stringify(options)} ${accept ? 'openmetrics' : 'text'}`;
      t.equal(out.status, 200, label);
      t.equal(out.headers['content-type'], raw.headers['content-type'], `${label}: upstream content type kept`);
      t.ok(raw.body.toString().includes('vllm:'), `${label}: upstream has colon names`);
      t.equal(out.body.toString('utf8'), renameNames(raw.body.toString('utf8'), underscore), `${label}: only names changed`);
      t.notOk(/^[^#\s][^{ ]*:/m.test(out.body.toString('utf8')), `${label}: no sample name keeps a colon`);
    }
  }
});

t.test('OpenMetrics passes through with its content type and # EOF last', async (t) => {
  const sim = await frozenSimulator(t);
  const proxy = await proxyFor(t, `${sim.url}/metrics`);
  const out = await get(`${proxy.url}/metrics`, { accept: OPENMETRICS_ACCEPT });
  t.match(String(out.headers['content-type']), /^application\/openmetrics-text; version=1.0.0/);
  t.ok(out.body.toString().endsWith('# EOF\n'));
  t.match(out.body.toString(), /\nvllm_prompt_tokens_created\{/);
});

t.test('gzip: decoded from the upstream, and given to clients that ask', async (t) => {
  const sim = await frozenSimulator(t);
  const proxy = await proxyFor(t, `${sim.url}/metrics`, { url: '', gzip: true });
  const expected = renameNames((await get(`${sim.url}/metrics`)).body.toString(), underscore);
  const zipped = await get(`${sim.url}/metrics`, { 'accept-encoding': 'gzip' });
  t.equal(zipped.headers['content-encoding'], 'gzip', 'the simulator does gzip (so the proxy really decodes it)');

  const plain = await get(`${proxy.url}/metrics`);
  t.equal(plain.headers['content-encoding'], undefined, 'identity for a client that did not ask');
  t.equal(plain.body.toString(), expected);

  const gz = await get(`${proxy.url}/metrics`, { 'accept-encoding': 'gzip' });
  t.equal(gz.headers['content-encoding'], 'gzip');
  t.equal(gunzipSync(gz.body).toString(), expected);
});

t.test('a corrupt gzip body is an upstream error, not a 200', async (t) => {
  const up = await rawServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain', 'content-encoding': 'gzip' });
    res.end(Buffer.from('this is not gzip at all'));
  });
  t.teardown(() => up.close());
  const proxy = await proxyFor(t, up.url);
  const out = await get(`${proxy.url}/metrics`);
  t.equal(out.status, 502);
  t.match(out.body.toString(), /^upstream body could not be decoded: /);
});

t.test('/health never touches the upstream; /ready follows it', async (t) => {
  let healthy = false;
  const up = await rawServer((_req, res) => {
    if (!healthy) {
      res.writeHead(503).end('starting');
      return;
    }
    res.writeHead(200, { 'content-type': 'text/plain' }).end('vllm:x 1\n');
  });
  t.teardown(() => up.close());
  const proxy = await proxyFor(t, up.url);

  const health = await get(`${proxy.url}/health`);
  t.equal(health.status, 200);
  t.equal(up.hits, 0, '/health made no upstream request');

  const notReady = await get(`${proxy.url}/ready`);
  t.equal(notReady.status, 503);
  t.equal(notReady.body.toString(), 'not ready: upstream answered HTTP 503\n');

  healthy = true;
  const ready = await get(`${proxy.url}/ready`);
  t.equal(ready.status, 200);
  const hits = up.hits;
  await get(`${proxy.url}/metrics`);
  const again = await get(`${proxy.url}/ready`);
  t.equal(again.status, 200);
  t.equal(up.hits, hits + 1, 'a recent scrape answers /ready without another upstream request');
});

t.test('concurrent /ready probes share one upstream request', async (t) => {
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const up = await rawServer((_req, res) => {
    void gate.then(() => res.writeHead(200, { 'content-type': 'text/plain' }).end('a 1\n'));
  });
  t.teardown(() => up.close());
  const proxy = await proxyFor(t, up.url);
  const probes = Promise.all(Array.from({ length: 10 }, () => get(`${proxy.url}/ready`)));
  await new Promise<void>((resolve) => up.server.once('request', () => resolve()));
  release();
  const results = await probes;
  t.same(
    results.map((r) => r.status),
    Array(10).fill(200),
  );
  t.equal(up.hits, 1);
});

t.test('self-metrics are valid, separate, and count what happened', async (t) => {
  const sim = await frozenSimulator(t);
  const proxy = await proxyFor(t, `${sim.url}/metrics`);
  const upstreamNames = new Set(
    (await get(`${proxy.url}/metrics`)).body
      .toString()
      .split('\n')
      .filter((l) => l && !l.startsWith('#'))
      .map((l) => l.split(/[{ ]/)[0]),
  );
  const self = await get(`${proxy.url}/proxy/metrics`);
  t.equal(self.status, 200);
  const text = self.body.toString();
  t.match(text, /^vllm_metrics_proxy_scrapes_total\{outcome="ok"\} 1$/m);
  t.match(text, /^vllm_metrics_proxy_upstream_up 1$/m);
  t.match(text, /^vllm_metrics_proxy_upstream_errors_total\{kind="timeout"\} 0$/m);
  t.match(text, /^vllm_metrics_proxy_renamed_names [1-9]\d*$/m);
  const selfNames = text
    .split('\n')
    .filter((l) => l && !l.startsWith('#'))
    .map((l) => l.split(/[{ ]/)[0]);
  t.ok(
    selfNames.every((n) => n.startsWith('vllm_metrics_proxy_')),
    'every self-metric is prefixed',
  );
  t.same(
    selfNames.filter((n) => upstreamNames.has(n)),
    [],
    'no self-metric name appears upstream',
  );
});

t.test('collisions: the first spelling wins, counted, logged once', async (t) => {
  const body = '# TYPE vllm:a gauge\nvllm:a 1\n# TYPE vllm_a gauge\nvllm_a 2\nb 3\n';
  const up = await rawServer((_req, res) => res.writeHead(200, { 'content-type': 'text/plain' }).end(body));
  t.teardown(() => up.close());
  const proxy = await proxyFor(t, up.url);
  for (let i = 0; i < 2; i++) {
    const out = await get(`${proxy.url}/metrics`);
    t.equal(out.body.toString(), '# TYPE vllm_a gauge\nvllm_a 1\nb 3\n');
  }
  const self = (await get(`${proxy.url}/proxy/metrics`)).body.toString();
  t.match(self, /^vllm_metrics_proxy_name_collisions_total 2$/m, 'one colliding name per scrape');
  t.match(self, /^vllm_metrics_proxy_dropped_lines_total 4$/m);
  const logged = proxy.logs.lines().filter((l) => l.event === 'name_collision');
  t.equal(logged.length, 1, 'logged once');
  t.match(logged[0], { name: 'vllm_a', sanitized: 'vllm_a', kept: 'vllm:a' });
});

t.test('credentials reach the upstream and never the logs', async (t) => {
  const seen: Array<string | undefined> = [];
  const up = await rawServer((req, res) => {
    seen.push(req.headers.authorization);
    res.writeHead(401).end();
  });
  t.teardown(() => up.close());

  const bearer = await proxyFor(t, up.url, { url: '', token: 's3cret-token' });
  t.equal((await get(`${bearer.url}/metrics`)).status, 502);
  const basicUrl = up.url.replace('http://', 'http://alice:pa%24%24word@');
  const basic = await proxyFor(t, basicUrl);
  t.equal((await get(`${basic.url}/metrics`)).status, 502);

  t.same(seen, ['Bearer s3cret-token', `Basic ${Buffer.from('alice:pa$$word').toString('base64')}`]);
  const logs = JSON.stringify([...bearer.logs.lines(), ...basic.logs.lines()]);
  t.notOk(logs.includes('s3cret-token'), 'token not logged');
  t.notOk(logs.includes('pa$$word') || logs.includes('pa%24%24word'), 'password not logged');
  t.ok(logs.includes('http://***@127.0.0.1'), 'the URL is logged redacted');
});

t.test('the Accept header goes upstream; Prometheus scrape timeout header shortens the deadline', async (t) => {
  const accepts: Array<string | undefined> = [];
  const up = await rawServer((req) => {
    accepts.push(req.headers.accept); // never answers
  });
  t.teardown(() => up.close());
  const proxy = await proxyFor(t, up.url, { url: '', timeoutMs: 60_000 });
  const out = await get(`${proxy.url}/metrics`, { accept: OPENMETRICS_ACCEPT, 'x-prometheus-scrape-timeout-seconds': '0.3' });
  t.equal(out.status, 504);
  t.equal(out.body.toString(), 'upstream did not answer within 300ms\n');
  t.same(accepts, [OPENMETRICS_ACCEPT]);
});

t.test('Accept-Encoding: gzip only when the client takes it', async (t) => {
  for (const h of ['gzip', 'br, gzip;q=0.5', 'GZIP', 'x-gzip', '*', 'deflate, gzip ; q=1']) t.ok(acceptsGzip(h), h);
  for (const h of [undefined, '', 'identity', 'br', 'gzip;q=0', 'gzip;q=0.0, br', '*;q=0']) t.notOk(acceptsGzip(h), String(h));
});

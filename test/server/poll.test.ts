/**
 * Poll mode: the proxy scrapes on its own schedule and serves the latest
 * result from memory, with its age; past --max-staleness it answers 503.
 */
import { gunzipSync } from 'node:zlib';
import t from 'tap';
import { fleetProxy, selfMetric, simulators } from '../helpers/fleet.js';
import { get, rawServer } from '../helpers/net.js';
import { testProxy } from '../helpers/proxy.js';
import { parseSamples } from '../helpers/samples.js';
import { eventually } from '../helpers/wait.js';

const BODY = '# TYPE vllm:x gauge\nvllm:x{engine="0"} 7\n';
const HOUR = 3_600_000;

async function upstream() {
  const state = { status: 200 };
  const up = await rawServer((_req, res) => {
    if (state.status !== 200) return void res.writeHead(state.status).end('down');
    res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' }).end(BODY);
  });
  return Object.assign(up, { state });
}

t.test('any number of clients, no upstream requests of theirs; the age in headers and a gauge', async (t) => {
  const up = await upstream();
  t.teardown(() => up.close());
  const proxy = await testProxy({ url: `${up.url}/metrics` }, { poll: { intervalMs: HOUR, maxStalenessMs: HOUR } });
  t.teardown(() => proxy.close());
  t.equal(up.hits, 1, 'the first poll happened before listening');

  const answers = await Promise.all(Array.from({ length: 50 }, (_, i) => get(`${proxy.url}/metrics`, i % 2 ? { 'accept-encoding': 'gzip' } : {})));
  for (const [i, res] of answers.entries()) {
    t.equal(res.status, 200);
    t.equal((i % 2 ? gunzipSync(res.body) : res.body).toString(), '# TYPE vllm_x gauge\nvllm_x{engine="0"} 7\n');
    t.match(res.headers['x-metrics-age-seconds'], /^\d+\.\d{3}$/);
    t.match(res.headers.age, /^\d+$/);
  }
  t.equal(up.hits, 1, '50 scrapes, still one upstream request');
  const age = await selfMetric(proxy, 'vllm_metrics_proxy_poll_age_seconds');
  t.ok(age >= 0 && age < 60, `poll age gauge: ${age}s`);
  t.equal((await get(`${proxy.url}/ready`)).status, 200);
});

t.test('past --max-staleness: 503 with the reason, until a poll succeeds again', async (t) => {
  const up = await upstream();
  t.teardown(() => up.close());
  const proxy = await testProxy({ url: `${up.url}/metrics` }, { poll: { intervalMs: 50, maxStalenessMs: 300 } });
  t.teardown(() => proxy.close());
  t.equal((await get(`${proxy.url}/metrics`)).status, 200);

  up.state.status = 500;
  await proxy.logs.waitFor((l) => l.event === 'poll_failed');
  const stale = await eventually('a stale answer', async () => {
    const r = await get(`${proxy.url}/metrics`);
    return r.status === 503 ? r : undefined;
  });
  t.match(stale.body.toString(), /^stale: the latest data is \d+\.\ds old, over --max-staleness 0\.3s: last poll failed: upstream answered HTTP 500\n$/);
  t.equal((await get(`${proxy.url}/ready`)).status, 503, 'not ready either');

  up.state.status = 200;
  await proxy.logs.waitFor((l) => l.event === 'poll_recovered');
  t.equal((await get(`${proxy.url}/metrics`)).status, 200, 'fresh data again');
});

t.test('no successful poll yet: 503, not an empty 200', async (t) => {
  const up = await upstream();
  up.state.status = 503;
  t.teardown(() => up.close());
  const proxy = await testProxy({ url: `${up.url}/metrics` }, { poll: { intervalMs: HOUR, maxStalenessMs: HOUR } });
  t.teardown(() => proxy.close());
  const res = await get(`${proxy.url}/metrics`);
  t.equal(res.status, 503);
  t.equal(res.body.toString(), 'no data yet: no poll has succeeded: last poll failed: upstream answered HTTP 503\n');
});

t.test('fleet and poll together: the merged exposition from memory', async (t) => {
  const [a, b] = await simulators([{ engines: 1 }, { engines: 2 }]);
  t.teardown(() => Promise.all([a!.close(), b!.close()]));
  const proxy = await fleetProxy(
    {
      static: [
        { name: 'a', url: `${a!.url}/metrics` },
        { name: 'b', url: `${b!.url}/metrics` },
      ],
    },
    { poll: { intervalMs: HOUR, maxStalenessMs: HOUR } },
  );
  t.teardown(() => proxy.close());
  const first = await get(`${proxy.url}/metrics`);
  const second = await get(`${proxy.url}/metrics`);
  t.equal(first.body.toString(), second.body.toString(), 'the same snapshot for every client');
  const up = parseSamples(first.body.toString()).filter((s) => s.name === 'vllm_metrics_proxy_target_up');
  t.same(
    up.map((s) => [s.labels.instance, s.value]),
    [
      ['a', 1],
      ['b', 1],
    ],
  );
  t.equal(await selfMetric(proxy, 'vllm_metrics_proxy_upstream_fetches_total'), 2, 'one poll: one request per target');
});

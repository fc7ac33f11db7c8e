import { gzipSync } from 'node:zlib';
import t, { type Test } from 'tap';
import { request } from 'undici';
import { parseExposition } from '../../src/exposition/parser.js';
import type { OtlpConfig } from '../../src/server/proxy.js';
import { encodeForParseable } from '../../src/otlp/parseable-json.js';
import { decodeProtobuf, decodeResponse, encodeProtobuf } from '../../src/otlp/proto.js';
import type { MetricsRequest } from '../../src/otlp/types.js';
import { startSimulator } from '../../src/simulator/start.js';
import { otlpHttpBody, otlpFromFamilies } from '../helpers/otlp-sender.js';
import { ParseableStandIn, type Row } from '../helpers/parseable.js';
import { relayConfig } from '../helpers/relay.js';
import { testProxy, type TestProxy } from '../helpers/proxy.js';
import { eventually } from '../helpers/wait.js';

const T_NS = 1_760_000_000_123_456_789n;

const seriesKey = (name: string, labels: Record<string, string>) =>
  `${name}{${Object.entries(labels)
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
    .join(',')}}`;

/** A relay proxy (no upstream needed) forwarding to a fresh stand-in; both closed after the test. */
async function relay(t: Test, extra: Partial<OtlpConfig> = {}, parseable = new ParseableStandIn()) {
  await parseable.start();
  const proxy = await testProxy({ url: 'http://127.0.0.1:9/metrics' }, { otlp: relayConfig(parseable, extra) });
  t.teardown(async () => {
    await proxy.close();
    await parseable.stop();
  });
  return { parseable, proxy };
}

async function post(proxy: TestProxy, body: Buffer | string, headers: Record<string, string>) {
  const res = await request(`${proxy.url}/v1/metrics`, { method: 'POST', body, headers });
  return { status: res.statusCode, type: res.headers['content-type'], body: Buffer.from(await res.body.arrayBuffer()) };
}

async function selfMetric(proxy: TestProxy, name: string, labels = ''): Promise<number> {
  const text = await (await request(`${proxy.url}/proxy/metrics`)).body.text();
  const line = text.split('\n').find((l) => l.startsWith(`vllm_metrics_proxy_${name}${labels ? `{${labels}}` : ''} `));
  return line ? Number(line.split(' ')[1]) : 0;
}

/** A small gauge request, `n` points, for the queue tests. */
function gaugeRequest(name: string, n: number): MetricsRequest {
  const dataPoints = Array.from({ length: n }, (_, i) => ({
    attributes: [{ key: 'i', value: { stringValue: String(i) } }],
    timeUnixNano: T_NS.toString(),
    asDouble: i,
  }));
  // A resource of its own: the relay forwards it as it is (an empty one would be taken for a scrape of the proxy and split).
  return {
    resourceMetrics: [
      { resource: { attributes: [{ key: 'host.name', value: { stringValue: 'test' } }] }, scopeMetrics: [{ metrics: [{ name, gauge: { dataPoints } }] }] },
    ],
  };
}

const PB = { 'content-type': 'application/x-protobuf' };

t.test('a correct OTLP sender -> relay -> Parseable: every sanitized vLLM series arrives with its type, temporality, buckets and value', async (t) => {
  const sim = await startSimulator({ tickMs: 0, engines: 2, models: 1 }, { host: '127.0.0.1', port: 0 });
  const parseable = await new ParseableStandIn().start();
  const proxy = await testProxy({ url: `${sim.url}/metrics` }, { otlp: relayConfig(parseable) });
  t.teardown(async () => {
    await proxy.close();
    await parseable.stop();
    await sim.close();
  });

  // What a sender scraped from the proxy, and what it sends on (correct OTLP; the real Fluent Bit is in fluent-bit.test.ts).
  const scraped = await (await request(`${proxy.url}/metrics`)).body.text();
  const families = parseExposition(scraped, 'prometheus');
  const fb = otlpHttpBody(otlpFromFamilies(families, T_NS));
  const res = await post(proxy, fb.body, fb.headers);
  t.equal(res.status, 200);
  t.equal(res.type, 'application/x-protobuf');
  t.same(decodeResponse(res.body), {}, 'full success, no partial rejection');

  const grouped = (type: string) => type === 'histogram' || type === 'summary';
  // `_created` gauges are folded into their counters' and histograms' start times, not forwarded.
  const created = families.filter((f) => f.name.endsWith('_created')).reduce((n, f) => n + f.samples.length, 0);
  const expectedPoints =
    families.reduce((n, f) => n + (grouped(f.type) ? f.samples.filter((s) => s.name.endsWith('_count')).length : f.samples.length), 0) - created;
  const rows = await eventually(
    'rows in Parseable',
    async () => {
      const answer = parseable.requests.find((r) => r.status !== 200);
      if (answer) throw new Error(`Parseable answered ${answer.status}: ${answer.answer}`);
      if (parseable.rows().length === 0) return undefined;
      return parseable.rows().length >= expectedPoints ? parseable.rows() : undefined;
    },
    10_000,
    20,
  );
  t.equal(rows.length, expectedPoints, 'one row per data point');
  const req = parseable.requests.at(-1)!;
  t.equal(req.headers['content-type'], 'application/json');
  t.equal(req.headers['x-p-stream'], 'vLLMmetrics');
  t.equal(req.headers['x-p-log-source'], 'otel-metrics');
  t.notOk(
    rows.some((r) => String(r.metric_name).includes(':')),
    'no colon in any metric name',
  );

  // Values: every simulator sample is found in the rows, under its sanitized name.
  const simFamilies = parseExposition(sim.sim.exposition('text'), 'prometheus');
  const byKey = new Map<string, Row>();
  for (const r of rows) {
    const { metric_name, metric_type, metric_description, metric_unit, aggregation_temporality, is_monotonic, start_time_unix_nano, time_unix_nano, ...rest } =
      r;
    const labels = Object.fromEntries(Object.entries(rest).filter(([k]) => !k.startsWith('data_point_') && !k.includes('.')));
    byKey.set(seriesKey(String(metric_name), labels as Record<string, string>), r);
  }
  let checked = 0;
  for (const f of simFamilies) {
    const name = f.name.replaceAll(':', '_');
    if (f.name.endsWith('_created')) {
      t.notOk(
        rows.some((r) => r.metric_name === name),
        `${name} is folded, not forwarded`,
      );
    } else if (f.type === 'summary') {
      for (const count of f.samples.filter((s) => s.name.endsWith('_count'))) {
        const row = byKey.get(seriesKey(name, count.labels as Record<string, string>));
        t.equal(row?.metric_type, 'summary');
        t.equal(row?.data_point_count, count.value, `${name}: summary count`);
        checked++;
      }
    } else if (f.type === 'histogram') {
      for (const count of f.samples.filter((s) => s.name.endsWith('_count'))) {
        const row = byKey.get(seriesKey(name, count.labels as Record<string, string>));
        if (!row) t.fail(`missing histogram ${name}`);
        t.equal(row!.metric_type, 'histogram');
        t.equal(row!.aggregation_temporality, 2, 'cumulative');
        t.equal(row!.data_point_count, count.value);
        const buckets = f.samples.filter(
          (s) => s.name.endsWith('_bucket') && seriesKey('', { ...s.labels, le: '' }) === seriesKey('', { ...count.labels, le: '' }),
        );
        const perBucket = buckets.map((b, i) => b.value - (i > 0 ? buckets[i - 1]!.value : 0));
        t.same(row!.data_point_bucket_counts, perBucket, `${name}: per-bucket counts`);
        checked++;
      }
    } else {
      for (const s of f.samples) {
        const row = byKey.get(seriesKey(s.name.replaceAll(':', '_'), s.labels as Record<string, string>));
        if (!row) t.fail(`missing ${s.name}`);
        t.equal(row!.data_point_value, s.value);
        t.equal(row!.metric_type, f.type === 'counter' ? 'sum' : 'gauge');
        if (f.type === 'counter') t.equal(row!.is_monotonic, true);
        checked++;
      }
    }
  }
  t.ok(checked > 80, `${checked} series compared`);
  t.equal(await selfMetric(proxy, 'otlp_forwarded_points_total', 'path="relay"'), expectedPoints);
  t.equal(await selfMetric(proxy, 'otlp_received_points_total'), expectedPoints + created);
  t.equal(await selfMetric(proxy, 'otlp_repaired_points_total', 'reason="created_folded"'), created);
  t.equal(await selfMetric(proxy, 'otlp_repaired_points_total', 'reason="cumulative_buckets"'), 0, 'per-bucket counts pass untouched');
});

t.test('relay input: OTLP/JSON (canonical, quoted 64-bit ints), gzip, summaries with NaN, stream override', async (t) => {
  const { parseable, proxy } = await relay(t);
  const canonical = {
    resourceMetrics: [
      {
        resource: { attributes: [{ key: 'host', value: { stringValue: 'gpu-1' } }] },
        scopeMetrics: [
          {
            metrics: [
              { name: 'vllm:num_requests_running', gauge: { dataPoints: [{ timeUnixNano: '1760000000123456789', asInt: '7' }] } },
              {
                name: 'rpc:latency',
                summary: {
                  dataPoints: [
                    {
                      timeUnixNano: '1760000000123456789',
                      count: '3',
                      sum: 1.5,
                      quantileValues: [
                        { quantile: 0.5, value: 'NaN' },
                        { quantile: 0.9, value: 0.7 },
                      ],
                    },
                  ],
                },
              },
              { name: 'stale', gauge: { dataPoints: [{ timeUnixNano: '1', asDouble: 'NaN' }] } },
            ],
          },
        ],
      },
    ],
  };
  const res = await post(proxy, gzipSync(JSON.stringify(canonical)), {
    'content-type': 'application/json',
    'content-encoding': 'gzip',
    'x-p-stream': 'other_stream',
  });
  t.equal(res.status, 200);
  t.match(res.type, /^application\/json/);
  t.same(JSON.parse(res.body.toString()), {
    partialSuccess: { rejectedDataPoints: '1', errorMessage: 'NaN and infinite values cannot be written as OTLP/JSON for Parseable' },
  });
  const rows = await eventually('rows', async () => (parseable.rows('other_stream').length === 2 ? parseable.rows('other_stream') : undefined), 10_000, 20);
  t.same(
    rows.map((r) => [r.metric_name, r.metric_type, r.data_point_value ?? r.data_point_quantile_values, r.host, r.time_unix_nano]),
    [
      ['vllm_num_requests_running', 'gauge', 7, 'gpu-1', '1760000000123456789'],
      ['rpc_latency', 'summary', [[0.9, 0.7]], 'gpu-1', '1760000000123456789'],
    ],
    'exact nanoseconds, NaN quantile left out, names sanitized',
  );
  // The body on the wire writes 64-bit integers bare, which canonical proto3 JSON does not.
  t.match(parseable.requests.at(-1)!.body, /"timeUnixNano":1760000000123456789/);
  t.equal(await selfMetric(proxy, 'otlp_dropped_points_total', 'reason="not_finite"'), 1);
});

t.test('relay rejects what it cannot read, with a reason, and counts it', async (t) => {
  const { parseable, proxy } = await relay(t, { maxRequestBytes: 64 * 1024 });
  const cases: Array<[string, Buffer | string, Record<string, string>, number, RegExp]> = [
    ['text/plain', 'x', { 'content-type': 'text/plain' }, 415, /unsupported Content-Type "text\/plain"/],
    ['garbage protobuf', Buffer.from([0xff, 0xff, 0xff, 0xff]), PB, 400, /not an OTLP ExportMetricsServiceRequest/],
    ['garbage JSON', '{"resourceMetrics": 5}', { 'content-type': 'application/json' }, 400, /resourceMetrics: array expected/],
    ['not gzip', 'plain', { ...PB, 'content-encoding': 'gzip' }, 400, /gzip:/],
    ['brotli', 'x', { ...PB, 'content-encoding': 'br' }, 415, /unsupported Content-Encoding "br"/],
    ['too large', Buffer.alloc(70 * 1024), PB, 413, /exceeds --otlp-max-request-bytes/],
    ['gzip bomb', gzipSync(Buffer.alloc(10 * 1024 * 1024)), { ...PB, 'content-encoding': 'gzip' }, 413, /decompressed body exceeds/],
    ['bad stream header', encodeProtobuf(gaugeRequest('g', 1)), { ...PB, 'x-p-stream': '../etc' }, 400, /X-P-Stream is not a stream name/],
  ];
  for (const [what, body, headers, status, reason] of cases) {
    const res = await post(proxy, body, headers);
    t.equal(res.status, status, what);
    t.match(res.body.toString(), reason, what);
  }
  t.equal(parseable.requests.length, 0, 'nothing forwarded');
  t.equal(await selfMetric(proxy, 'otlp_relay_requests_total', 'outcome="invalid"'), 4);
  t.equal(await selfMetric(proxy, 'otlp_relay_requests_total', 'outcome="too_large"'), 2);
  t.equal(await selfMetric(proxy, 'otlp_relay_requests_total', 'outcome="unsupported"'), 2);
});

t.test('Parseable down: batches wait, and are delivered in order when it is back', async (t) => {
  const { parseable, proxy } = await relay(t);
  await parseable.stop();
  for (let i = 0; i < 5; i++) t.equal((await post(proxy, encodeProtobuf(gaugeRequest(`g${i}`, 3)), PB)).status, 200, 'accepted while Parseable is down');
  await eventually('retries', async () => ((await selfMetric(proxy, 'otlp_forward_retries_total')) >= 3 ? true : undefined), 10_000, 20);
  t.equal(await selfMetric(proxy, 'otlp_queue_batches'), 5);
  await proxy.logs.waitFor((l) => l.event === 'otlp_destination_down');

  await parseable.start();
  const rows = await eventually('delivery after recovery', async () => (parseable.rows().length === 15 ? parseable.rows() : undefined), 10_000, 20);
  t.same([...new Set(rows.map((r) => r.metric_name))], ['g0', 'g1', 'g2', 'g3', 'g4'], 'in order, nothing lost');
  t.equal(await selfMetric(proxy, 'otlp_queue_batches'), 0);
  t.equal(await selfMetric(proxy, 'otlp_forwarded_points_total', 'path="relay"'), 15);
  await proxy.logs.waitFor((l) => l.event === 'otlp_destination_up');
});

t.test('Parseable down past the queue bound: the oldest batches are dropped and counted', async (t) => {
  // Room for three batches of ten points as the relay queues them (Parseable's JSON dialect).
  const one = encodeForParseable(decodeProtobuf(encodeProtobuf(gaugeRequest('b0', 10)))).body.length;
  const { parseable, proxy } = await relay(t, { maxQueueBytes: one * 3 + 16 });
  await parseable.stop();
  for (let i = 0; i < 8; i++) await post(proxy, encodeProtobuf(gaugeRequest(`b${i}`, 10)), PB);
  const dropped = await selfMetric(proxy, 'otlp_dropped_points_total', 'reason="queue_full"');
  const queued = await selfMetric(proxy, 'otlp_queue_batches');
  t.equal(queued, 3, 'the queue is full to its bound');
  t.equal(dropped, 50, 'every other point was dropped and counted');
  await parseable.start();
  const rows = await eventually('delivery', async () => (parseable.rows().length === 30 ? parseable.rows() : undefined), 10_000, 20);
  const names = [...new Set(rows.map((r) => String(r.metric_name)))];
  t.equal(names.length, 3);
  t.same(names.slice(1), ['b6', 'b7'], 'the newest batches survive (the first may be one that was on the wire)');
  t.same([...names].sort(), names, 'delivered in order');
  await proxy.logs.waitFor((l) => l.event === 'otlp_queue_full');
});

t.test('Parseable answers 400: not retried, its reason is logged, the points are counted as rejected', async (t) => {
  const { parseable, proxy } = await relay(t);
  parseable.failWith = { status: 400, text: 'Failed to decode OTEL metrics: missing field `name`' };
  await post(proxy, encodeProtobuf(gaugeRequest('g', 4)), PB);
  const line = await proxy.logs.waitFor((l) => l.event === 'otlp_rejected');
  t.equal(line.status, 400);
  t.equal(line.response, 'Failed to decode OTEL metrics: missing field `name`');
  t.equal(await selfMetric(proxy, 'otlp_dropped_points_total', 'reason="rejected"'), 4);
  // A second batch goes through once Parseable is fixed: the first was not retried in between.
  parseable.failWith = undefined;
  await post(proxy, encodeProtobuf(gaugeRequest('h', 1)), PB);
  await eventually('second batch', async () => (parseable.rows().length === 1 ? true : undefined), 10_000, 20);
  t.equal(parseable.requests.length, 2, 'one attempt each');
  t.equal(await selfMetric(proxy, 'otlp_forward_retries_total'), 0);
});

t.test('Parseable answers 503 then recovers: retried with backoff', async (t) => {
  const { parseable, proxy } = await relay(t);
  parseable.failWith = { status: 503, text: 'busy' };
  await post(proxy, encodeProtobuf(gaugeRequest('g', 2)), PB);
  await eventually('a few failed attempts', async () => (parseable.requests.length >= 3 ? true : undefined), 10_000, 10);
  parseable.failWith = undefined;
  await eventually('delivered', async () => (parseable.rows().length === 2 ? true : undefined), 10_000, 20);
  t.ok((await selfMetric(proxy, 'otlp_forward_retries_total')) >= 2);
});

t.test('slow Parseable: a request past --otlp-timeout is abandoned and retried, then delivered once', async (t) => {
  const { parseable, proxy } = await relay(t, { timeoutMs: 300 });
  parseable.delayMs = 1_000;
  await post(proxy, encodeProtobuf(gaugeRequest('slow', 2)), PB);
  const down = await proxy.logs.waitFor((l) => l.event === 'otlp_destination_down');
  t.match(down.reason, /no answer within 300 ms/);
  parseable.delayMs = 0;
  await eventually('delivered', async () => (parseable.rows().length === 2 ? true : undefined), 10_000, 20);
  t.equal(parseable.rows().length, 2, 'abandoned attempts were not ingested');
});

t.test('credentials are sent to Parseable but never logged', async (t) => {
  const { parseable, proxy } = await relay(t, {}, new ParseableStandIn({ password: 'hunter2-never-log-me' }));
  parseable.failWith = { status: 400, text: 'nope' };
  await post(proxy, encodeProtobuf(gaugeRequest('g', 1)), PB);
  await proxy.logs.waitFor((l) => l.event === 'otlp_rejected');
  t.equal(parseable.requests[0]!.headers.authorization, `Basic ${Buffer.from(`${parseable.username}:hunter2-never-log-me`).toString('base64')}`);
  t.notMatch(JSON.stringify(proxy.logs.lines()), /hunter2|aHVudGVyM/);
});

t.test('the stand-in is strict: it turns away what Parseable turns away', async (t) => {
  const parseable = await new ParseableStandIn().start();
  t.teardown(() => parseable.stop());
  const auth = `Basic ${Buffer.from(`${parseable.username}:${parseable.password}`).toString('base64')}`;
  const ok = { authorization: auth, 'x-p-stream': 's', 'x-p-log-source': 'otel-metrics', 'content-type': 'application/json' };
  const good = JSON.stringify({
    resourceMetrics: [
      {
        scopeMetrics: [
          { metrics: [{ name: 'h', histogram: { aggregationTemporality: 2, dataPoints: [{ count: 1, bucketCounts: [1, 0], explicitBounds: [1] }] } }] },
        ],
      },
    ],
  });
  const send = async (headers: Record<string, string>, body = good) => {
    const res = await request(`${parseable.url}/v1/metrics`, { method: 'POST', headers, body });
    return [res.statusCode, await res.body.text()] as const;
  };
  t.same(await send(ok), [200, '']);
  t.equal((await send({ ...ok, authorization: 'Basic eDp5' }))[0], 401);
  t.same(await send({ ...ok, 'content-type': 'application/x-protobuf' }), [400, 'Protobuf ingestion is not supported in Parseable OSS']);
  t.equal((await send({ ...ok, 'content-type': 'application/json; charset=utf-8' }))[0], 400);
  const { 'x-p-log-source': _ls, ...noSource } = ok;
  t.equal((await send(noSource))[0], 400);
  t.match((await send(ok, good.replace('"count":1', '"count":"1"')))[1], /expected a plain integer number, got "1"/);
  t.match((await send(ok, good.replace('[1,0]', '["1",0]')))[1], /bucketCounts\[0\]: expected a plain integer/);
  const summary = JSON.stringify({
    resourceMetrics: [{ scopeMetrics: [{ metrics: [{ name: 's', summary: { dataPoints: [{ timeUnixNano: '5', count: 1, sum: 1, quantileValues: [] }] } }] }] }],
  });
  t.match((await send(ok, summary))[1], /missing field `attributes`/);
  t.same(await send({ ...ok, 'x-p-log-source': 'otel-logs' }), [400, 'Log source header X-P-Log-Source must be otel-metrics for /v1/metrics']);
});

t.test('relay token: a missing or wrong token gets 401 and nothing is forwarded or queued; the right one is accepted; the token is never logged', async (t) => {
  const token = 'relay-token-0123456789abcdef';
  const { parseable, proxy } = await relay(t, { relayToken: token });
  const body = encodeProtobuf(gaugeRequest('g', 3));
  for (const [what, auth] of [
    ['no header', undefined],
    ['a wrong token', `Bearer ${token}x`],
    ['a prefix of it', `Bearer ${token.slice(0, 8)}`],
    ['basic auth', `Basic ${Buffer.from(`u:${token}`).toString('base64')}`],
  ] as const) {
    const res = await post(proxy, body, { ...PB, ...(auth ? { authorization: auth } : {}) });
    t.equal(res.status, 401, `${what}: 401`);
  }
  t.equal(await selfMetric(proxy, 'otlp_queue_batches'), 0, 'nothing queued');
  t.equal(await selfMetric(proxy, 'otlp_relay_requests_total', 'outcome="unauthorized"'), 4);
  t.equal(parseable.requests.length, 0, 'nothing reached Parseable');
  const ok = await post(proxy, body, { ...PB, authorization: `Bearer ${token}` });
  t.equal(ok.status, 200);
  await eventually('delivery', async () => (parseable.rows().length === 3 ? true : undefined), 10_000, 20);
  t.notOk(JSON.stringify(proxy.logs.lines()).includes(token), 'the token is in no log line');
});

t.test('relay on a non-loopback address without a token: one warning at start saying how to set one', async (t) => {
  const parseable = await new ParseableStandIn().start();
  const open = await testProxy({ url: 'http://127.0.0.1:9/metrics' }, { host: '0.0.0.0', otlp: relayConfig(parseable) });
  const closed = await testProxy({ url: 'http://127.0.0.1:9/metrics' }, { host: '0.0.0.0', otlp: relayConfig(parseable, { relayToken: 't' }) });
  t.teardown(async () => {
    await open.close();
    await closed.close();
    await parseable.stop();
  });
  const warnings = open.logs.lines().filter((l) => l.event === 'otlp_relay_open');
  t.equal(warnings.length, 1);
  t.match(String(warnings[0]!.msg), /OTLP_RELAY_TOKEN/);
  t.equal(closed.logs.lines().filter((l) => l.event === 'otlp_relay_open').length, 0, 'not with a token');
});

t.test('--otlp-relay-listen: the relay on its own address only; the main port answers 404 for it', async (t) => {
  const parseable = await new ParseableStandIn().start();
  const proxy = await testProxy(
    { url: 'http://127.0.0.1:9/metrics' },
    { host: '0.0.0.0', otlp: relayConfig(parseable, { relayListen: { host: '127.0.0.1', port: 0 } }) },
  );
  t.teardown(async () => {
    await proxy.close();
    await parseable.stop();
  });
  t.ok(proxy.relayUrl && new URL(proxy.relayUrl).port !== new URL(proxy.url).port, `the relay at ${proxy.relayUrl}, apart from ${proxy.url}`);
  const body = encodeProtobuf(gaugeRequest('own_address', 2));
  const main = await request(`${proxy.url}/v1/metrics`, { method: 'POST', body, headers: PB });
  await main.body.dump();
  t.equal(main.statusCode, 404, 'the main port takes no OTLP');
  const own = await request(proxy.relayUrl!, { method: 'POST', body, headers: PB });
  await own.body.dump();
  t.equal(own.statusCode, 200);
  await eventually('delivery', async () => (parseable.rows().length === 2 ? true : undefined));
  t.equal(proxy.logs.lines().filter((l) => l.event === 'otlp_relay_open').length, 0, 'no warning: the relay is on loopback, whatever --host is');
  t.ok(proxy.logs.lines().some((l) => l.event === 'otlp_relay' && l.url === proxy.relayUrl));
});

t.test('--otlp-relay-listen: on the proxy port or without the relay, refused at start naming the flag', async (t) => {
  const parseable = await new ParseableStandIn().start();
  t.teardown(() => parseable.stop());
  await t.rejects(
    testProxy({ url: 'http://127.0.0.1:9/metrics' }, { port: 19091, otlp: relayConfig(parseable, { relayListen: { host: '127.0.0.1', port: 19091 } }) }),
    { code: 'VMP_CONFIG', message: /otlp\.relayListen.*--port already/ },
  );
  await t.rejects(
    testProxy(
      { url: 'http://127.0.0.1:9/metrics' },
      { otlp: { ...relayConfig(parseable, { relayListen: { host: '127.0.0.1', port: 0 } }), forwardUrl: undefined, pushUrl: 'http://127.0.0.1:9/v1/metrics' } },
    ),
    { code: 'VMP_CONFIG', message: /otlp\.relayListen.*only applies with otlp\.forwardUrl/ },
  );
});

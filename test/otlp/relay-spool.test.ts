/**
 * The relay with a spool (--spool-dir): a batch is acknowledged once it is on
 * disk, survives a restart of the proxy while Parseable is down, and is
 * delivered when Parseable is back; a batch Parseable refuses is dropped with
 * its reason; the bound drops the oldest; a full disk is refused with 503 so the
 * sender keeps what it sent. Against the strict Parseable stand-in.
 */
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { request } from 'undici';
import { encodeProtobuf } from '../../src/otlp/proto.js';
import type { MetricsRequest } from '../../src/otlp/types.js';
import type { SpoolConfig } from '../../src/server/proxy.js';
import { ParseableStandIn } from '../helpers/parseable.js';
import { testProxy, type TestProxy } from '../helpers/proxy.js';
import { relayConfig } from '../helpers/relay.js';
import { smallDisk } from '../helpers/tmpfs.js';
import { eventually } from '../helpers/wait.js';

const dir = mkdtempSync(join(tmpdir(), 'vmp-relay-spool-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

/** One gauge point per request, its `batch` attribute saying which request it came in. */
function batch(n: number): Buffer {
  const body: MetricsRequest = {
    resourceMetrics: [
      {
        resource: { attributes: [{ key: 'host.name', value: { stringValue: 'spool-test' } }] },
        scopeMetrics: [
          {
            metrics: [
              {
                name: 'vllm:num_requests_running',
                gauge: {
                  dataPoints: [{ attributes: [{ key: 'batch', value: { stringValue: String(n) } }], timeUnixNano: '1760000000000000000', asDouble: n }],
                },
              },
            ],
          },
        ],
      },
    ],
  };
  return Buffer.from(encodeProtobuf(body));
}

async function post(proxy: TestProxy, n: number): Promise<{ status: number; retryAfter: unknown }> {
  const res = await request(`${proxy.url}/v1/metrics`, { method: 'POST', body: batch(n), headers: { 'content-type': 'application/x-protobuf' } });
  await res.body.dump();
  return { status: res.statusCode, retryAfter: res.headers['retry-after'] };
}

async function selfMetric(proxy: TestProxy, name: string, labels = ''): Promise<number> {
  const text = await (await request(`${proxy.url}/proxy/metrics`)).body.text();
  const line = text.split('\n').find((l) => l.startsWith(`vllm_metrics_proxy_${name}${labels ? `{${labels}}` : ''} `));
  return line ? Number(line.split(' ')[1]) : 0;
}

const batchesIn = (parseable: ParseableStandIn) => parseable.rows().map((r) => Number(r.batch));
const spoolFiles = (at: string) => readdirSync(join(at, 'relay')).filter((f) => f.endsWith('.batch'));

async function relayProxy(t: Test, parseable: ParseableStandIn, spool: SpoolConfig) {
  const proxy = await testProxy({ url: 'http://127.0.0.1:9/metrics' }, { otlp: relayConfig(parseable), spool });
  t.teardown(() => proxy.close());
  return proxy;
}

t.test('Parseable down, the proxy restarted: every acknowledged batch is delivered once Parseable is back, and the spool empties', async (t) => {
  const at = join(dir, 'restart');
  const parseable = await new ParseableStandIn().start();
  t.teardown(() => parseable.stop());
  const spool = { dir: at, maxBytes: 64 * 1024 * 1024, drainPerSecond: 200 };
  let proxy = await relayProxy(t, parseable, spool);
  t.equal((await post(proxy, 0)).status, 200);
  await eventually('the first batch in Parseable', async () => (batchesIn(parseable).length === 1 ? true : undefined));

  await parseable.stop();
  for (let n = 1; n <= 10; n++) t.equal((await post(proxy, n)).status, 200, `batch ${n} acknowledged while Parseable is down`);
  await proxy.logs.waitFor((l) => l.event === 'otlp_destination_down');
  t.equal(spoolFiles(at).length, 10, 'ten batches on disk');
  await proxy.close();
  t.equal(spoolFiles(at).length, 10, 'kept through the shutdown');
  t.ok(
    proxy.logs.lines().some((l) => l.event === 'spool_kept' && l.batches === 10),
    'the shutdown says what it kept',
  );

  proxy = await relayProxy(t, parseable, spool);
  t.ok(
    proxy.logs.lines().some((l) => l.event === 'spool_resumed' && l.batches === 10),
    'the start says what it found',
  );
  for (let n = 11; n <= 12; n++) t.equal((await post(proxy, n)).status, 200);
  t.equal(await selfMetric(proxy, 'otlp_queue_batches'), 12);
  t.ok((await selfMetric(proxy, 'otlp_queue_oldest_age_seconds')) > 0, 'the oldest batch has an age');

  await parseable.start();
  await eventually('all thirteen batches in Parseable', async () => (new Set(batchesIn(parseable)).size === 13 ? true : undefined));
  t.same(
    [...new Set(batchesIn(parseable))].sort((a, b) => a - b),
    Array.from({ length: 13 }, (_, i) => i),
  );
  await eventually('the spool empty', async () => (spoolFiles(at).length === 0 ? true : undefined));
  t.equal(await selfMetric(proxy, 'otlp_queue_batches'), 0);
  t.equal(await selfMetric(proxy, 'otlp_queue_oldest_age_seconds'), 0);
  t.equal(await selfMetric(proxy, 'otlp_dropped_points_total', 'reason="queue_full"'), 0, 'nothing dropped');
  const caughtUp = await proxy.logs.waitFor((l) => l.event === 'otlp_caught_up');
  t.equal(caughtUp.delivered, caughtUp.held, 'the catch-up line says all of it was delivered');
});

t.test('a batch Parseable refuses (400) is dropped with its reason and leaves the spool; the others go on', async (t) => {
  const at = join(dir, 'rejected');
  const parseable = await new ParseableStandIn().start();
  t.teardown(() => parseable.stop());
  const proxy = await relayProxy(t, parseable, { dir: at, maxBytes: 64 * 1024 * 1024 });
  parseable.failWith = { status: 400, text: 'Json deserialize error: test' };
  t.equal((await post(proxy, 1)).status, 200);
  const rejected = await proxy.logs.waitFor((l) => l.event === 'otlp_rejected');
  t.match(rejected.response, /Json deserialize error: test/);
  t.equal(await selfMetric(proxy, 'otlp_dropped_points_total', 'reason="rejected"'), 1);
  await eventually('the refused batch off the disk', async () => (spoolFiles(at).length === 0 ? true : undefined));
  parseable.failWith = undefined;
  t.equal((await post(proxy, 2)).status, 200);
  await eventually('the next batch in Parseable', async () => (batchesIn(parseable).includes(2) ? true : undefined));
  t.same(batchesIn(parseable), [2]);
});

t.test('Parseable down longer than the spool holds: the oldest dropped and counted, the disk bounded', async (t) => {
  const at = join(dir, 'bound');
  const parseable = await new ParseableStandIn().start();
  await parseable.stop();
  const one = batch(0).length;
  // Room for about five of the re-encoded batches.
  const proxy = await relayProxy(t, parseable, { dir: at, maxBytes: 5 * 1024 });
  for (let n = 1; n <= 40; n++) t.equal((await post(proxy, n)).status, 200);
  const dropped = await selfMetric(proxy, 'otlp_dropped_points_total', 'reason="queue_full"');
  t.ok(dropped > 0, `${dropped} points dropped for the bound (a request is ${one} bytes of protobuf)`);
  // What the queue holds; a dropped batch's file is removed a moment after it was counted.
  const held = await selfMetric(proxy, 'otlp_queue_batches');
  t.equal(dropped + held, 40, 'every batch either held or counted');
  await eventually('the dropped batches off the disk', async () => (spoolFiles(at).length === held ? true : undefined));
  t.ok((await selfMetric(proxy, 'otlp_queue_bytes')) <= 5 * 1024, 'the spool within its bound');
  t.ok(proxy.logs.lines().some((l) => l.event === 'otlp_queue_full'));
  await parseable.start();
  await eventually('what was held delivered', async () => (batchesIn(parseable).length === held ? true : undefined));
  // The oldest batch is evicted first, except the one being sent at that moment (a retry to the
  // down destination may be in flight): so the newest held-1 are certain, and one more may be older.
  const delivered = batchesIn(parseable).sort((a, b) => a - b);
  t.equal(new Set(delivered).size, held, 'each held batch delivered once');
  const newest = Array.from({ length: held - 1 }, (_, i) => 40 - held + 2 + i);
  t.same(delivered.slice(1), newest, 'the newest were kept');
  t.ok(
    delivered[0] >= 1 && delivered[0] < newest[0],
    `the remaining one (${delivered[0]}) is an older batch kept because it was in flight, or the next newest`,
  );
  await parseable.stop();
});

t.test('a full disk: the relay answers 503 with Retry-After and keeps what it holds; the sender sends again once there is room', async (t) => {
  const at = join(dir, 'full');
  smallDisk(t, at, '64k');
  const parseable = await new ParseableStandIn().start();
  await parseable.stop();
  const proxy = await relayProxy(t, parseable, { dir: at, maxBytes: 1024 * 1024 });
  const answers: number[] = [];
  let n = 0;
  while (answers.at(-1) !== 503 && n < 500) answers.push((await post(proxy, ++n)).status);
  t.equal(answers.at(-1), 503, `refused once the disk is full, after ${n - 1} batches`);
  const refused = await post(proxy, n);
  t.equal(refused.status, 503);
  t.equal(refused.retryAfter, '5');
  t.ok((await selfMetric(proxy, 'otlp_relay_requests_total', 'outcome="unavailable"')) >= 2);
  t.equal(await selfMetric(proxy, 'otlp_dropped_points_total', 'reason="disk_full"'), 0, 'not dropped: the sender keeps it');
  t.equal(proxy.logs.lines().filter((l) => l.event === 'spool_write_failed').length, 1, 'one log line for the whole episode');
  await parseable.start();
  await eventually('the held batches delivered', async () => (batchesIn(parseable).length === n - 1 ? true : undefined));
  t.equal((await post(proxy, n)).status, 200, 'room again: the batch the sender kept is taken');
  await eventually('and delivered', async () => (batchesIn(parseable).includes(n) ? true : undefined));
  await parseable.stop();
});

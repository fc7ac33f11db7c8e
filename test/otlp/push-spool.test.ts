/**
 * The direct push with --spool-dir: every scrape pushed while Parseable is down
 * is kept on disk, through a restart of the proxy, and arrives once Parseable is
 * back; Parseable takes the serialized pushes as it takes the exporter's.
 */
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import type { ProxyConfig } from '../../src/server/proxy.js';
import { startSimulator } from '../../src/simulator/start.js';
import { ParseableStandIn } from '../helpers/parseable.js';
import { testProxy } from '../helpers/proxy.js';
import { eventually } from '../helpers/wait.js';

t.test('pushes made during an outage survive a proxy restart and all arrive, each scrape once', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'vmp-push-spool-'));
  const sim = await startSimulator({ tickMs: 100, engines: 1 }, { host: '127.0.0.1', port: 0 });
  const parseable = await new ParseableStandIn().start();
  t.teardown(async () => {
    await sim.close();
    await parseable.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  const extra: Partial<ProxyConfig> = {
    spool: { dir: join(dir, 'spool'), maxBytes: 64 * 1024 * 1024, drainPerSecond: 200 },
    otlp: {
      pushUrl: `${parseable.url}/v1/metrics`,
      pushIntervalMs: 200,
      timeoutMs: 2_000,
      maxQueueBytes: 1 << 20,
      maxRequestBytes: 1 << 20,
      retryBaseMs: 20,
      retryMaxMs: 200,
      destination: { stream: 'vLLMmetrics', logSource: 'otel-metrics', username: parseable.username, password: parseable.password },
    },
  };
  // Scrape times of one gauge series, as Parseable stores them.
  const times = () =>
    new Set(
      parseable
        .rows()
        .filter((r) => r.metric_name === 'vllm_num_requests_running')
        .map((r) => String(r.time_unix_nano)),
    );
  const spooled = () => readdirSync(join(dir, 'spool', 'push')).filter((f) => f.endsWith('.batch')).length;

  let proxy = await testProxy({ url: `${sim.url}/metrics` }, extra);
  await eventually('a first push delivered', async () => (times().size >= 1 ? true : undefined));
  await parseable.stop();
  await eventually('pushes held on disk', async () => (spooled() >= 8 ? true : undefined));
  await proxy.close();
  const held = spooled();
  const pushedBefore = proxy.logs.lines().filter((l) => l.event === 'spool_kept');
  t.equal(pushedBefore.length, 1, 'the shutdown says what it kept');

  proxy = await testProxy({ url: `${sim.url}/metrics` }, extra);
  t.teardown(() => proxy.close());
  t.ok(
    proxy.logs.lines().some((l) => l.event === 'spool_resumed'),
    'the start finds them',
  );
  const before = times().size;
  await parseable.start();
  await eventually('the held pushes delivered', async () => (spooled() === 0 && times().size >= before + held ? true : undefined));
  const bad = parseable.requests.filter((r) => r.status !== 200);
  t.same(
    bad.map((r) => r.answer),
    [],
    'Parseable took every serialized push',
  );
  const rows = parseable.rows().filter((r) => r.metric_name === 'vllm_num_requests_running');
  t.equal(rows.length, new Set(rows.map((r) => `${r.time_unix_nano} ${r.engine} ${r.model_name}`)).size, 'each scrape once');
  t.ok(times().size >= before + held, `${times().size} scrapes in Parseable, ${held} of them held through the restart`);
});

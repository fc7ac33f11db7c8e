/**
 * --request-log-url with --spool-dir: request records made while Parseable is
 * down survive a restart of the proxy and all arrive once it is back, the same
 * records as the request log file has.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { request } from 'undici';
import type { RequestRecord } from '../../src/requests/record.js';
import type { ProxyConfig } from '../../src/server/proxy.js';
import { startSimulator } from '../../src/simulator/start.js';
import { ParseableStandIn } from '../helpers/parseable.js';
import { testProxy } from '../helpers/proxy.js';
import { eventually } from '../helpers/wait.js';

t.test('records made during an outage survive a proxy restart and are all delivered', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'vmp-request-spool-'));
  const sim = await startSimulator({ tickMs: 0, rate: 0, engines: 1 }, { host: '127.0.0.1', port: 0 }, undefined, { decodeTokensPerSecond: 2000 });
  const parseable = await new ParseableStandIn().start();
  t.teardown(async () => {
    await sim.close();
    await parseable.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  const log = join(dir, 'requests.jsonl');
  const extra: Partial<ProxyConfig> = {
    spool: { dir: join(dir, 'spool'), maxBytes: 16 * 1024 * 1024, drainPerSecond: 100 },
    api: {
      upstream: sim.url,
      timeoutMs: 10_000,
      requestUsage: false,
      serverView: false,
      requestLog: { path: log, maxBytes: 64 * 1024 * 1024 },
      ship: {
        destination: { url: `${parseable.url}/api/v1/ingest`, stream: 'vLLMrequests', username: parseable.username, password: parseable.password },
        maxQueueBytes: 1024 * 1024,
        timeoutMs: 2_000,
        retryBaseMs: 20,
        retryMaxMs: 200,
        maxWaitMs: 20,
      },
    },
  };
  const chat = async (url: string, content: string) => {
    const res = await request(`${url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: sim.api.models[0], messages: [{ role: 'user', content }], max_tokens: 2 }),
    });
    await res.body.dump();
    return res.statusCode;
  };

  let proxy = await testProxy({ url: `${sim.url}/metrics` }, extra);
  await parseable.stop();
  for (let i = 0; i < 5; i++) t.equal(await chat(proxy.url, `during the outage ${i}`), 200);
  await proxy.logs.waitFor((l) => l.event === 'otlp_destination_down');
  await proxy.close();
  const spooled = readdirSync(join(dir, 'spool', 'requests')).filter((f) => f.endsWith('.batch'));
  t.ok(spooled.length >= 1, `${spooled.length} batch(es) of records on disk after the shutdown`);

  proxy = await testProxy({ url: `${sim.url}/metrics` }, extra);
  t.teardown(() => proxy.close());
  t.equal(await chat(proxy.url, 'after the restart'), 200);
  await parseable.start();
  const ids = () =>
    readFileSync(log, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => (JSON.parse(l) as RequestRecord).id)
      .sort();
  await eventually('all six records in Parseable', async () => (parseable.rows('vLLMrequests').length >= 6 ? true : undefined));
  t.equal(ids().length, 6, 'six records in the file');
  t.same([...new Set(parseable.rows('vLLMrequests').map((r) => String(r.id)))].sort(), ids(), 'the same records, none lost');
  await eventually('the spool empty', async () =>
    readdirSync(join(dir, 'spool', 'requests')).filter((f) => f.endsWith('.batch')).length === 0 ? true : undefined,
  );
});

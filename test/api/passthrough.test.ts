/**
 * vLLM's API through the proxy, against the simulator's API, whose ground truth
 * (/sim/requests, and /metrics that count exactly what it served) each record is
 * held against.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:net';
import { Readable } from 'node:stream';
import t, { type Test } from 'tap';
import { request } from 'undici';
import type { RequestRecord } from '../../src/requests/record.js';
import type { ApiPassthroughConfig } from '../../src/server/proxy.js';
import { startSimulator, type RunningSimulator } from '../../src/simulator/start.js';
import { spawnCli } from '../helpers/cli.js';
import { gate, rawServer } from '../helpers/net.js';
import { ParseableStandIn } from '../helpers/parseable.js';
import { testProxy, type TestProxy } from '../helpers/proxy.js';
import { eventually } from '../helpers/wait.js';

interface Setup {
  sim: RunningSimulator;
  proxy: TestProxy;
  records: () => RequestRecord[];
  model: string;
}

/** A quiet simulator (no simulated load: /metrics moves only with the API) behind a proxy with the API on. */
async function setup(t: Test, api: Partial<ApiPassthroughConfig> = {}, simApi: Parameters<typeof startSimulator>[3] = {}): Promise<Setup> {
  const sim = await startSimulator({ tickMs: 0, rate: 0, engines: 2 }, { host: '127.0.0.1', port: 0 }, undefined, {
    decodeTokensPerSecond: 300,
    prefillTokensPerSecond: 20_000,
    ...simApi,
  });
  const dir = mkdtempSync(join(tmpdir(), 'vmp-api-'));
  const log = join(dir, 'requests.jsonl');
  const proxy = await testProxy(
    { url: `${sim.url}/metrics` },
    { api: { upstream: sim.url, timeoutMs: 10_000, requestUsage: false, requestLog: { path: log, maxBytes: 64 * 1024 * 1024 }, ...api } },
  );
  t.teardown(async () => {
    await proxy.close();
    await sim.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const records = () =>
    readFileSync(log, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as RequestRecord);
  return { sim, proxy, records, model: sim.api.models[0]! };
}

async function chat(url: string, body: Record<string, unknown>, headers: Record<string, string> = {}) {
  const res = await request(`${url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
  return { status: res.statusCode, headers: res.headers, text: await res.body.text() };
}

const events = (text: string) =>
  text
    .split('\n\n')
    .filter((e) => e.startsWith('data: ') && e !== 'data: [DONE]')
    .map((e) => JSON.parse(e.slice(6)) as Record<string, unknown>);

const close = (a: number | null, b: number, what: string, t: Test, eps = 1e-6) => t.ok(a !== null && Math.abs(a - b) < eps, `${what}: ${a} = ${b}`);

t.test('sequential requests: every record is exact, and matches what the simulator did', async (t) => {
  const s = await setup(t, {}, { perRequestMetrics: true });
  const asked = [
    { stream: false, max_tokens: 6 },
    { stream: true, max_tokens: 9, stream_options: { include_usage: true } },
    { stream: true, max_tokens: 4, include_metrics: true, stream_options: { include_usage: true } },
    { stream: false, max_tokens: 3, include_metrics: true },
  ];
  for (const [i, extra] of asked.entries()) {
    const res = await chat(s.proxy.url, { model: s.model, messages: [{ role: 'user', content: `question number ${i}` }], ...extra });
    t.equal(res.status, 200);
  }
  const records = await eventually('four records', async () => (s.records().length === 4 ? s.records() : undefined));
  for (const [i, r] of records.entries()) {
    const truth = s.sim.api.served.get(r.id)!;
    t.ok(truth, `record ${i} carries vLLM's id`);
    t.equal(r.id_source, 'response');
    t.equal(r.server_attribution, 'exact', `record ${i}: exact`);
    t.equal(r.server_overlap, 0);
    t.equal(r.server_requests, 1);
    close(r.server_queue_s, truth.queue, `record ${i} queue`, t);
    close(r.server_prefill_s, truth.prefill, `record ${i} prefill`, t);
    close(r.server_decode_s, truth.decode, `record ${i} decode`, t);
    close(r.server_ttft_s, truth.ttft, `record ${i} server TTFT`, t);
    t.equal(r.completion_tokens, truth.completionTokens, `record ${i} tokens`);
    t.equal(r.tokens_source, 'usage');
    t.equal(r.prompt_tokens, truth.promptTokens);
    t.equal(r.stream, asked[i]!.stream);
    t.equal(r.finish_reason, truth.finishReason);
    t.equal(r.model, s.model);
    t.ok(r.e2e_ms >= truth.e2e * 1000 - 1, 'the client waited at least as long as the server worked');
    if (asked[i]!.stream) {
      t.ok(r.ttft_ms! >= truth.ttft * 1000 - 1 && r.ttft_ms! <= r.e2e_ms, 'TTFT at the proxy');
      t.ok(r.itl_mean_ms! > 0 && r.itl_max_ms! >= r.itl_p50_ms!, 'inter-token latency');
    }
    if ('include_metrics' in asked[i]!) {
      close(r.vllm_ttft_ms, truth.ttft * 1000, `record ${i}: vLLM's own TTFT`, t);
      close(r.vllm_generation_ms, truth.decode * 1000, `record ${i}: vLLM's own generation time`, t);
    } else t.equal(r.vllm_ttft_ms, null, 'no vLLM metrics unless asked');
  }
});

t.test('concurrent requests: records are shared with their overlap, and the token totals add up', async (t) => {
  const n = 6;
  // vLLM sees none of them until it has all six: each began at the proxy before any ended.
  let origin = '';
  const held = await gate(() => origin, n);
  t.teardown(() => held.close());
  const s = await setup(t, { upstream: held.url });
  origin = s.sim.url;
  await Promise.all(
    Array.from({ length: n }, (_, i) =>
      chat(s.proxy.url, {
        model: s.model,
        messages: [{ role: 'user', content: `concurrent ${i}` }],
        max_tokens: 20,
        stream: true,
        stream_options: { include_usage: true },
      }),
    ),
  );
  const records = await eventually('all records', async () => (s.records().length === n ? s.records() : undefined));
  t.ok(
    records.every((r) => r.server_attribution === 'shared'),
    'all shared',
  );
  t.ok(
    records.every((r) => r.server_overlap === n - 1),
    `each overlapped the ${n - 1} others`,
  );
  const truths = [...s.sim.api.served.values()];
  t.equal(
    records.reduce((a, r) => a + r.completion_tokens!, 0),
    truths.reduce((a, r) => a + r.completionTokens, 0),
    'completion tokens add up',
  );
  t.same(records.map((r) => r.id).sort(), truths.map((r) => r.id).sort(), 'one record per request the server saw');
});

t.test('--request-usage: usage is recorded for a stream that did not ask, and the client never sees that chunk', async (t) => {
  const s = await setup(t, { requestUsage: true });
  const res = await chat(s.proxy.url, { model: s.model, messages: [{ role: 'user', content: 'no usage asked' }], max_tokens: 7, stream: true });
  const chunks = events(res.text);
  t.notOk(
    chunks.some((c) => 'usage' in c),
    'no usage chunk reached the client',
  );
  t.ok(res.text.endsWith('data: [DONE]\n\n'));
  const [r] = await eventually('the record', async () => (s.records().length === 1 ? s.records() : undefined));
  const truth = s.sim.api.served.get(r!.id)!;
  t.equal(r!.tokens_source, 'usage');
  t.equal(r!.completion_tokens, truth.completionTokens);
  const asked = await chat(s.proxy.url, {
    model: s.model,
    messages: [{ role: 'user', content: 'usage asked' }],
    max_tokens: 3,
    stream: true,
    stream_options: { include_usage: true },
  });
  t.ok(
    events(asked.text).some((c) => 'usage' in c),
    'a client that asked still gets its usage chunk',
  );
  const none = await setup(t);
  await chat(none.proxy.url, { model: none.model, messages: [{ role: 'user', content: 'no usage asked' }], max_tokens: 7, stream: true });
  const [e] = await eventually('the record', async () => (none.records().length === 1 ? none.records() : undefined));
  t.equal(e!.tokens_source, 'estimated', 'without it, tokens are counted from chunks and marked');
  t.equal(e!.completion_tokens, 7);
});

t.test('a client that aborts mid-stream: the record says so, and the simulator sees the cancel', async (t) => {
  const s = await setup(t, {}, { decodeTokensPerSecond: 40 });
  const controller = new AbortController();
  const res = await request(`${s.proxy.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: s.model, messages: [{ role: 'user', content: 'a long one, please go on and on' }], max_tokens: 200, stream: true }),
    signal: controller.signal,
  });
  for await (const chunk of res.body) if (String(chunk).includes('tok1')) break;
  controller.abort();
  const truth = await eventually('the cancel at the simulator', async () => [...s.sim.api.served.values()].find((r) => r.cancelled));
  t.ok(truth.completionTokens < 200);
  const [r] = await eventually('the record', async () => (s.records().length === 1 ? s.records() : undefined));
  t.equal(r!.client_abort, true);
  t.equal(r!.error_kind, null);
});

t.test('a client that gives up before vLLM answers: vLLM sees the request dropped, the record says client abort, nothing blames vLLM', async (t) => {
  let arrived!: () => void;
  const got = new Promise<void>((r) => (arrived = r));
  const silent = await rawServer((req) => {
    req.resume();
    arrived();
  });
  t.teardown(() => silent.close());
  const s = await setup(t, { upstream: silent.url });
  const controller = new AbortController();
  const pending = request(`${s.proxy.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'hi' }], stream: true }),
    signal: controller.signal,
  }).catch((err: Error) => err);
  await got;
  controller.abort();
  t.match(await pending, { name: 'AbortError' });
  await eventually('vLLM sees the request dropped', async () => (silent.aborted === 1 ? true : undefined));
  const [r] = await eventually('the record', async () => (s.records().length === 1 ? s.records() : undefined));
  t.match(r, { client_abort: true, error_kind: null });
  t.notOk(
    s.proxy.logs.lines().some((l) => l.event === 'api_upstream_error'),
    'no upstream error logged',
  );
});

t.test("hop-by-hop headers stay on their hop: the client's Connection and what it names, vLLM's Connection and Keep-Alive; Host names vLLM", async (t) => {
  const seen: Array<Record<string, unknown>> = [];
  const upstream = await rawServer((req, res) => {
    seen.push({ ...req.headers });
    req.resume();
    req.on('end', () =>
      res
        .writeHead(200, { 'content-type': 'application/json', connection: 'keep-alive', 'keep-alive': 'timeout=1', 'x-vllm': 'kept' })
        .end('{"id":"cmpl-1","object":"chat.completion","choices":[]}'),
    );
  });
  t.teardown(() => upstream.close());
  const s = await setup(t, { upstream: upstream.url });
  // Written by hand: HTTP clients will not send a Connection header that names another.
  const body = JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'hi' }] });
  const { hostname, port } = new URL(s.proxy.url);
  const socket = connect(Number(port), hostname);
  socket.write(
    `POST /v1/chat/completions HTTP/1.1\r\nHost: ${hostname}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
      `Connection: close, x-hop\r\nX-Hop: mine\r\nX-End-To-End: yours\r\n\r\n${body}`,
  );
  const answer = (await socket.toArray()).map((c) => c.toString()).join('');
  const head = answer.slice(0, answer.indexOf('\r\n\r\n')).toLowerCase();
  t.match(head, /^http\/1\.1 200/);
  t.match(head, /\r\nx-vllm: kept\r\n/, "vLLM's own headers reach the client");
  t.notMatch(head, /keep-alive: timeout=1/, "vLLM's Keep-Alive is about its connection, not the client's");
  const got = seen[0]!;
  t.equal(got.host, new URL(upstream.url).host, 'Host names vLLM');
  t.equal(got['x-end-to-end'], 'yours');
  t.equal(got['x-hop'], undefined, 'a header the client named in Connection is not forwarded');
  t.equal(got['content-length'], String(Buffer.byteLength(body)));
});

t.test('vLLM down: 502 with a vLLM-shaped JSON error, and a record; a vLLM that does not answer: 504', async (t) => {
  const down = await setup(t, { upstream: 'http://127.0.0.1:9' });
  const res = await chat(down.proxy.url, { model: 'm', messages: [{ role: 'user', content: 'hi' }] });
  t.equal(res.status, 502);
  t.match(JSON.parse(res.text), { object: 'error', type: 'BadGatewayError', code: 502, message: /unreachable/ });
  const [r] = await eventually('the record', async () => (down.records().length === 1 ? down.records() : undefined));
  t.match(r, { status: 502, error_kind: 'unreachable', client_abort: false });

  const silent = await rawServer(() => {});
  t.teardown(() => silent.close());
  const slow = await setup(t, { upstream: silent.url, timeoutMs: 300 });
  const late = await chat(slow.proxy.url, { model: 'm', messages: [{ role: 'user', content: 'hi' }] });
  t.equal(late.status, 504);
  t.match(JSON.parse(late.text), { object: 'error', type: 'GatewayTimeoutError', code: 504 });
  const [l] = await eventually('the record', async () => (slow.records().length === 1 ? slow.records() : undefined));
  t.match(l, { status: 504, error_kind: 'timeout' });
});

t.test('a stream of chunks that are JSON but no chunk (null, a list, a choice that is null): passed on whole, the proxy keeps serving', async (t) => {
  const odd = ['null', '[1]', '{"choices":[null]}', '{"choices":[{"delta":"x"}]}', '{"id":"c1","choices":[{"index":0,"delta":{"content":"ok"}}]}'];
  const body = `${odd.map((p) => `data: ${p}\n\n`).join('')}data: [DONE]\n\n`;
  const upstream = await rawServer((req, res) => {
    req.resume();
    req.on('end', () => res.writeHead(200, { 'content-type': 'text/event-stream' }).end(body));
  });
  t.teardown(() => upstream.close());
  const s = await setup(t, { upstream: upstream.url });
  for (const n of [1, 2]) {
    const res = await chat(s.proxy.url, { model: 'm', messages: [{ role: 'user', content: 'hi' }], stream: true });
    t.equal(res.status, 200);
    t.equal(res.text, body, `answer ${n}: every byte passed on`);
  }
  const records = await eventually('both records', async () => (s.records().length === 2 ? s.records() : undefined));
  t.match(records[1], { id: 'c1', completion_tokens: 1, tokens_source: 'estimated' }, 'the one real chunk read');
});

t.test('Authorization and other headers pass through; neither the token nor the prompt is logged', async (t) => {
  const seen: Array<Record<string, unknown>> = [];
  const upstream = await rawServer((req, res) => {
    seen.push({ ...req.headers });
    req.resume();
    req.on('end', () => res.writeHead(200, { 'content-type': 'application/json', 'x-request-id': 'req-from-vllm' }).end('{"object":"list","data":[]}'));
  });
  t.teardown(() => upstream.close());
  const s = await setup(t, { upstream: upstream.url });
  const secret = 'Bearer sk-very-secret-token';
  const res = await request(`${s.proxy.url}/v1/models`, { headers: { authorization: secret } });
  t.equal(res.statusCode, 200);
  t.equal(res.headers['x-request-id'], 'req-from-vllm');
  await res.body.text();
  t.equal(seen[0]!.authorization, secret, 'vLLM got the Authorization header');
  await chat(s.proxy.url, { model: 'm', messages: [{ role: 'user', content: 'my private prompt text' }] }, { authorization: secret });
  const [r] = await eventually('the record', async () => (s.records().length === 1 ? s.records() : undefined));
  t.equal(r!.id, 'req-from-vllm', "the X-Request-Id when vLLM's body has no id");
  t.equal(r!.id_source, 'x-request-id');
  const logged = JSON.stringify(s.proxy.logs.lines());
  t.notOk(logged.includes('sk-very-secret-token'), 'the token is in no log line');
  t.notOk(logged.includes('my private prompt text'), 'the prompt is in no log line');
  t.notOk(JSON.stringify(r).includes('my private prompt text'), 'nor in the record');
});

t.test('a 20 MB request body streams through: the proxy process holds none of it', async (t) => {
  let received = 0;
  const upstream = await rawServer((req, res) => {
    req.on('data', (c: Buffer) => (received += c.length));
    req.on('end', () => res.writeHead(200, { 'content-type': 'application/json' }).end('{}'));
  });
  t.teardown(() => upstream.close());
  // The proxy in a process of its own, so its peak memory (VmHWM) is its own.
  const proxy = spawnCli(['serve', '--upstream', `${upstream.url}/metrics`, '--api', '--host', '127.0.0.1', '--port', '0', '--log-level', 'info']);
  t.teardown(async () => {
    proxy.child.kill('SIGTERM');
    await proxy.exited;
  });
  const url = String((await proxy.waitFor((l) => l.event === 'listening')).url);
  const peakKiB = () => Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${proxy.child.pid}/status`, 'utf8'))![1]);
  const chunk = Buffer.alloc(64 * 1024, 'a');
  const upload = async (bytes: number) => {
    let sent = 0;
    const body = new Readable({
      read() {
        if (sent >= bytes) return this.push(null);
        sent += chunk.length;
        this.push(chunk);
      },
    });
    received = 0;
    const r = await request(`${url}/v1/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'content-length': String(bytes) },
      body,
    });
    await r.body.text();
    return r;
  };
  // Warm up the streaming path (code compiled, pools and socket buffers allocated) with a first, smaller body.
  await upload(4 * 1024 * 1024);
  const res = await upload(20 * 1024 * 1024);
  t.equal(res.statusCode, 200);
  t.equal(received, 20 * 1024 * 1024, 'every byte of 20 MiB reached vLLM');
  const after20 = peakKiB();
  // Held bodies would follow the body's size: a body four times larger must not move the peak.
  await upload(80 * 1024 * 1024);
  t.equal(received, 80 * 1024 * 1024, 'every byte of 80 MiB reached vLLM');
  const grew = (peakKiB() - after20) / 1024;
  // Holding the body would add 60 MiB or more; collection lag of the socket buffers adds up to ~20.
  t.ok(grew < 40, `80 MiB after 20 MiB raised the proxy's peak memory by ${grew.toFixed(1)} MiB (peak ${(after20 / 1024).toFixed(0)} MiB after 20 MiB)`);
});

t.test("--request-log-url: records posted to Parseable's JSON ingest, held and retried while it is down", async (t) => {
  const parseable = new ParseableStandIn();
  await parseable.start();
  const ship = {
    destination: { url: `${parseable.url}/api/v1/ingest`, stream: 'vLLMrequests', username: parseable.username, password: parseable.password },
    maxQueueBytes: 1024 * 1024,
    timeoutMs: 2_000,
    retryBaseMs: 20,
    retryMaxMs: 200,
    maxWaitMs: 50,
  };
  const s = await setup(t, { ship });
  t.teardown(() => parseable.stop());
  await chat(s.proxy.url, { model: s.model, messages: [{ role: 'user', content: 'first' }], max_tokens: 2 });
  await eventually('the first record in Parseable', async () => (parseable.rows('vLLMrequests').length === 1 ? true : undefined));
  await parseable.stop();
  await chat(s.proxy.url, { model: s.model, messages: [{ role: 'user', content: 'second' }], max_tokens: 2 });
  await s.proxy.logs.waitFor((l) => l.event === 'otlp_destination_down');
  await parseable.start();
  const rows = await eventually('both records', async () => (parseable.rows('vLLMrequests').length === 2 ? parseable.rows('vLLMrequests') : undefined));
  t.same(
    rows.map((r) => r.id).sort(),
    s
      .records()
      .map((r) => r.id)
      .sort(),
    'the same records as the file',
  );
  t.ok(
    parseable.requests.filter((r) => r.status === 200).every((r) => r.headers['x-p-stream'] === 'vLLMrequests' && r.headers['x-p-log-source'] === undefined),
  );
});

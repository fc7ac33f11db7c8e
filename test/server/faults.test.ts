import { connect, createServer, type Socket } from 'node:net';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import type { IncomingMessage, ServerResponse } from 'node:http';
import t, { type Test } from 'tap';
import { request } from 'undici';
import { get, rawServer, type RawServer } from '../helpers/net.js';
import { testProxy, type TestProxy } from '../helpers/proxy.js';

const GOOD = '# TYPE vllm:x gauge\nvllm:x{engine="0"} 1.0\n';

type Mode = (req: IncomingMessage, res: ServerResponse, socket: Socket) => void;

/**
 * An upstream that misbehaves as told, then behaves: every fault test ends with
 * a good scrape through the same proxy, to show it keeps serving.
 */
async function switchable(t: Test, mode: Mode): Promise<{ up: RawServer; set(m: Mode): void }> {
  let current = mode;
  const up = await rawServer((req, res, socket) => current(req, res, socket));
  t.teardown(() => up.close());
  return { up, set: (m) => (current = m) };
}

const good: Mode = (_req, res) => res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' }).end(GOOD);

async function proxyFor(t: Test, url: string, extra: Record<string, unknown> = {}): Promise<TestProxy> {
  const proxy = await testProxy({ url, timeoutMs: 1_000, ...extra });
  t.teardown(() => proxy.close());
  return proxy;
}

async function stillServes(t: Test, proxy: TestProxy, upstream: { set(m: Mode): void }): Promise<void> {
  upstream.set(good);
  const ok = await get(`${proxy.url}/metrics`);
  t.equal(ok.status, 200, 'the proxy keeps serving afterwards');
  t.equal(ok.body.toString(), '# TYPE vllm_x gauge\nvllm_x{engine="0"} 1.0\n');
}

function failure(proxy: TestProxy, kind: string) {
  return proxy.logs.waitFor((l) => l.event === 'scrape_failed' && l.kind === kind);
}

t.test('upstream refused: 502 with the reason', async (t) => {
  const probe = createServer();
  probe.listen(0, '127.0.0.1');
  await once(probe, 'listening');
  const port = (probe.address() as AddressInfo).port;
  probe.close();
  await once(probe, 'close');
  const proxy = await proxyFor(t, `http://127.0.0.1:${port}/metrics`);
  const out = await get(`${proxy.url}/metrics`);
  t.equal(out.status, 502);
  t.match(out.body.toString(), /^upstream unreachable: ECONNREFUSED/);
  t.match(await failure(proxy, 'unreachable'), { code: 'VMP_UPSTREAM_UNREACHABLE', level: 40 });
  const self = (await get(`${proxy.url}/proxy/metrics`)).body.toString();
  t.match(self, /^vllm_metrics_proxy_upstream_errors_total\{kind="unreachable"\} 1$/m);
  t.match(self, /^vllm_metrics_proxy_upstream_up 0$/m);
});

t.test('upstream hangs before headers: 504 after --timeout', async (t) => {
  const u = await switchable(t, () => {});
  const proxy = await proxyFor(t, u.up.url, { timeoutMs: 300 });
  const out = await get(`${proxy.url}/metrics`);
  t.equal(out.status, 504);
  t.equal(out.body.toString(), 'upstream did not answer within 300ms\n');
  await failure(proxy, 'timeout');
  await stillServes(t, proxy, u);
});

t.test('upstream answers 500: 502 naming the status', async (t) => {
  const u = await switchable(t, (_req, res) => res.writeHead(500).end('Internal Server Error'));
  const proxy = await proxyFor(t, u.up.url);
  const out = await get(`${proxy.url}/metrics`);
  t.equal(out.status, 502);
  t.equal(out.body.toString(), 'upstream answered HTTP 500\n');
  await failure(proxy, 'status');
  await stillServes(t, proxy, u);
});

t.test('upstream resets mid-body: the client sees a cut response, never a clean 200', async (t) => {
  let reset!: () => void;
  const clientHasHeaders = new Promise<void>((r) => (reset = r));
  const u = await switchable(t, (_req, res, socket) => {
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.write(GOOD);
    void clientHasHeaders.then(() => socket.destroy()); // no terminating chunk
  });
  const proxy = await proxyFor(t, u.up.url);
  const res = await request(`${proxy.url}/metrics`);
  t.equal(res.statusCode, 200, 'headers were already committed');
  reset();
  await t.rejects(res.body.text(), 'the body errors for the client');
  await failure(proxy, 'reset');
  await stillServes(t, proxy, u);
});

t.test('garbage bodies: 502 naming what came', async (t) => {
  const u = await switchable(t, (_req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end('<html><body>Bad Gateway</body></html>'));
  const proxy = await proxyFor(t, u.up.url);
  const out = await get(`${proxy.url}/metrics`);
  t.equal(out.status, 502);
  t.equal(out.body.toString(), 'upstream body is not a Prometheus text exposition: starts with "<html><body>Bad Gateway<"\n');
  await failure(proxy, 'garbage');

  u.set((_req, res) => res.writeHead(200).end(Buffer.from([0x1f, 0x8b, 0x08, 0x00, 0xff, 0x00])));
  const binary = await get(`${proxy.url}/metrics`);
  t.equal(binary.status, 502, 'undeclared binary (gzip magic) is refused too');

  u.set((_req, res) => res.writeHead(200, { 'content-encoding': 'br' }).end('xx'));
  const br = await get(`${proxy.url}/metrics`);
  t.equal(br.status, 502);
  t.equal(br.body.toString(), 'upstream body could not be decoded: unsupported content-encoding "br"\n');
  await stillServes(t, proxy, u);
});

t.test('an empty or whitespace-only body is a valid, empty exposition', async (t) => {
  const u = await switchable(t, (_req, res) => res.writeHead(200, { 'content-type': 'text/plain' }).end('\n\n'));
  const proxy = await proxyFor(t, u.up.url);
  const out = await get(`${proxy.url}/metrics`);
  t.equal(out.status, 200);
  t.equal(out.body.toString(), '\n\n');
});

t.test('oversized bodies are cut, not buffered', async (t) => {
  const max = 4096;
  const u = await switchable(t, (_req, res) => res.writeHead(200, { 'content-length': String(max * 10) }).end('a 1\n'.repeat((max * 10) / 4)));
  const proxy = await proxyFor(t, u.up.url, { maxBodyBytes: max });
  const declared = await get(`${proxy.url}/metrics`);
  t.equal(u.up.hits, 1);
  t.equal(declared.status, 502, 'a declared length over the limit is refused before streaming');
  t.equal(declared.body.toString(), `upstream body exceeds --max-body-bytes (${max} bytes)\n`);

  // Chunked: the first part goes out (headers committed), then the limit is crossed.
  let more!: () => void;
  const clientHasHeaders = new Promise<void>((r) => (more = r));
  u.set((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.write('a 1\n'.repeat(256));
    void clientHasHeaders.then(() => res.end('b 2\n'.repeat(4096)));
  });
  const res = await request(`${proxy.url}/metrics`);
  t.equal(res.statusCode, 200, 'headers were committed with the first part');
  more();
  let received = 0;
  const error = await (async () => {
    try {
      for await (const chunk of res.body) received += (chunk as Buffer).length;
    } catch (err) {
      return err as Error;
    }
  })();
  t.ok(error, 'the client sees the response cut');
  t.ok(received <= max, `the client received no more than the limit (${received})`);
  await failure(proxy, 'too_large');
  await stillServes(t, proxy, u);
});

t.test('a client that disconnects aborts the upstream request', async (t) => {
  let upstreamClosed!: () => void;
  const closed = new Promise<void>((r) => (upstreamClosed = r));
  const u = await switchable(t, (_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.write(GOOD); // then keeps the response open, as a slow vLLM would
    res.on('close', () => upstreamClosed());
  });
  const proxy = await proxyFor(t, u.up.url, { timeoutMs: 60_000 });
  const res = await request(`${proxy.url}/metrics`);
  for await (const chunk of res.body) {
    t.match((chunk as Buffer).toString(), /vllm_x/);
    break; // leaving the loop destroys the response: the client is gone
  }
  await closed;
  t.equal(u.up.aborted, 1, 'the upstream response was abandoned, not finished');
  await proxy.logs.waitFor((l) => l.event === 'client_abort');
  const self = (await get(`${proxy.url}/proxy/metrics`)).body.toString();
  t.match(self, /^vllm_metrics_proxy_scrapes_total\{outcome="client_abort"\} 1$/m);
  t.match(self, /^vllm_metrics_proxy_scrapes_in_flight 0$/m);
  await stillServes(t, proxy, u);
});

t.test('a client that leaves before the upstream answers: upstream request cancelled, no upstream error', async (t) => {
  let arrived!: () => void;
  const requested = new Promise<void>((r) => (arrived = r));
  let upstreamClosed!: () => void;
  const closed = new Promise<void>((r) => (upstreamClosed = r));
  const u = await switchable(t, (_req, res) => {
    res.on('close', () => upstreamClosed());
    arrived(); // and never answers, as a busy vLLM would
  });
  const proxy = await proxyFor(t, u.up.url, { timeoutMs: 60_000 });
  const { port } = new URL(proxy.url);
  const client = connect(Number(port), '127.0.0.1');
  client.write('GET /metrics HTTP/1.1\r\nhost: x\r\n\r\n');
  await requested;
  client.destroy();
  await closed;
  await proxy.logs.waitFor((l) => l.event === 'client_abort');
  t.notOk(
    proxy.logs.lines().some((l) => l.event === 'scrape_failed'),
    'not logged as an upstream failure',
  );
  const self = (await get(`${proxy.url}/proxy/metrics`)).body.toString();
  t.match(self, /^vllm_metrics_proxy_scrapes_total\{outcome="client_abort"\} 1$/m);
  t.notMatch(self, /^vllm_metrics_proxy_upstream_errors_total\{.*\} [1-9]/m, 'no upstream error counted');
  t.match(self, /^vllm_metrics_proxy_scrapes_in_flight 0$/m);
  await stillServes(t, proxy, u);
});

t.test('a client that stops reading is cut off at the deadline; others are served meanwhile', async (t) => {
  const big = Buffer.from('vllm:z{engine="0",pad="' + 'x'.repeat(200) + '"} 1\n')
    .toString()
    .repeat(100_000); // ~23 MB
  const u = await switchable(t, (_req, res) => res.writeHead(200, { 'content-type': 'text/plain' }).end(big));
  const proxy = await proxyFor(t, u.up.url, { timeoutMs: 500 });
  const { port } = new URL(proxy.url);
  const slow = connect(Number(port), '127.0.0.1');
  slow.write(`GET /metrics HTTP/1.1\r\nhost: x\r\n\r\n`);
  slow.pause(); // never reads: the proxy's writes back up
  t.teardown(() => slow.destroy());
  const line = await failure(proxy, 'timeout');
  t.match(line.msg, /did not answer within 500ms/);
  u.set(good);
  const ok = await get(`${proxy.url}/metrics`);
  t.equal(ok.status, 200);
});

t.test('TLS verification failure is its own error kind', async (t) => {
  // A plain-HTTP server spoken to over https fails the TLS handshake.
  const u = await switchable(t, good);
  const proxy = await proxyFor(t, u.up.url.replace('http:', 'https:'));
  const out = await get(`${proxy.url}/metrics`);
  t.equal(out.status, 502);
  t.match(out.body.toString(), /^upstream (TLS verification failed|unreachable): /);
});

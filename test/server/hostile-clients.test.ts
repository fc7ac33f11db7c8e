/**
 * Slow and malicious clients, each bounded by a stated timeout or limit (docs/reliability.md),
 * while the proxy keeps serving everyone else: headers dripped a byte at a time (on the main
 * port and the relay's own), connections that never send a byte, more connections than
 * allowed, a client that never reads a large answer, a header past Node's 16 KiB, and request
 * smuggling on the API passthrough, which must reach vLLM never. The limits are small here so
 * the test takes seconds; the defaults are the flags' (--client-header-timeout 30s, ...).
 */
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import { connect, type Socket } from 'node:net';
import t, { type Test } from 'tap';
import { request } from 'undici';
import type { ClientLimits } from '../../src/http/fastify.js';
import { startSimulator } from '../../src/simulator/start.js';
import { ParseableStandIn } from '../helpers/parseable.js';
import { relayConfig } from '../helpers/relay.js';
import { testProxy, type TestProxy } from '../helpers/proxy.js';
import { eventually } from '../helpers/wait.js';

const LIMITS: ClientLimits = { headerTimeoutMs: 1_000, requestTimeoutMs: 2_000, idleTimeoutMs: 1_500, maxConnections: 100 };

async function simProxy(t: Test, extra: Parameters<typeof testProxy>[1] = {}) {
  const sim = await startSimulator({ tickMs: 0, engines: 2 }, { host: '127.0.0.1', port: 0 });
  const proxy = await testProxy({ url: `${sim.url}/metrics` }, { clientLimits: LIMITS, ...extra });
  t.teardown(async () => {
    await proxy.close();
    await sim.close();
  });
  return { sim, proxy };
}

const portOf = (url: string) => Number(new URL(url).port);

/** A raw connection; resolves once connected. */
async function raw(url: string): Promise<Socket> {
  const s = connect(portOf(url), '127.0.0.1');
  s.on('error', () => {});
  await once(s, 'connect');
  return s;
}

/** Everything a raw connection receives until the server closes it, and how long that took. */
async function untilClosed(s: Socket): Promise<{ text: string; ms: number }> {
  const started = performance.now();
  let text = '';
  s.on('data', (d: Buffer) => (text += d.toString('latin1')));
  await once(s, 'close');
  return { text, ms: performance.now() - started };
}

async function scrapeOk(url: string): Promise<boolean> {
  const res = await request(`${url}/metrics`, { reset: true });
  await res.body.text();
  return res.statusCode === 200;
}

const openConnections = (proxy: TestProxy) =>
  new Promise<number>((resolve, reject) => proxy.app.server.getConnections((err, n) => (err ? reject(err) : resolve(n))));

/** Headers one byte every 100 ms, never finished: what slowloris does. */
function drip(s: Socket): () => void {
  s.write('GET /metrics HTTP/1.1\r\nHost: proxy\r\n');
  const timer = setInterval(() => s.writable && s.write('x'), 100);
  return () => clearInterval(timer);
}

t.test('slowloris on the main port and the relay port: closed after the header timeout, others served meanwhile', async (t) => {
  const parseable = await new ParseableStandIn().start();
  t.teardown(() => parseable.stop());
  const { proxy } = await simProxy(t, { otlp: relayConfig(parseable, { relayListen: { host: '127.0.0.1', port: 0 } }) });
  for (const [port, url] of [
    ['main', proxy.url],
    ['relay', proxy.relayUrl!],
  ] as const) {
    const s = await raw(url);
    const stop = drip(s);
    const closed = untilClosed(s);
    // While it drips, a scraper is served.
    t.ok(await scrapeOk(proxy.url), `${port}: a scrape meanwhile`);
    const { text, ms } = await closed;
    stop();
    t.match(text, /^HTTP\/1\.1 408/, `${port}: answered 408 Request Timeout`);
    t.ok(ms >= LIMITS.headerTimeoutMs - 50, `${port}: not before the header timeout (${Math.round(ms)} ms)`);
    t.ok(ms < LIMITS.headerTimeoutMs + 5_000, `${port}: closed within the header timeout and one check (${Math.round(ms)} ms)`);
  }
});

t.test('connections that never send a byte are closed; the port serves others throughout', async (t) => {
  const { proxy } = await simProxy(t);
  const sockets = await Promise.all(Array.from({ length: 80 }, () => raw(proxy.url)));
  const closed = Promise.all(sockets.map(untilClosed));
  t.ok(await scrapeOk(proxy.url), 'a scrape while 80 connections sit idle');
  const times = (await closed).map((c) => c.ms);
  t.ok(
    times.every((ms) => ms < LIMITS.idleTimeoutMs + 5_000),
    `all 80 closed by the proxy (${Math.round(Math.min(...times))}–${Math.round(Math.max(...times))} ms)`,
  );
  t.ok(await eventually('none left open', async () => ((await openConnections(proxy)) === 0 ? true : undefined)), 'none left open');
});

t.test('past --max-connections, new connections are closed at once; once the idle ones go, scrapes come back', async (t) => {
  const { proxy } = await simProxy(t);
  const held = await Promise.all(Array.from({ length: LIMITS.maxConnections }, () => raw(proxy.url)));
  await eventually('the proxy counts them', async () => ((await openConnections(proxy)) === LIMITS.maxConnections ? true : undefined));
  const extra = await raw(proxy.url);
  const { text } = await untilClosed(extra);
  t.equal(text, '', 'one more is closed without an answer');
  await Promise.all(held.map(untilClosed));
  t.ok(await scrapeOk(proxy.url), 'the idle ones closed, a scrape is served again');
});

t.test('a client that never reads a large answer: the proxy lets go of it after the idle timeout', async (t) => {
  // 48 MB (under the test proxy's --max-body-bytes), more than the kernel buffers of a loopback connection hold.
  const chunk = Buffer.from(`big_metric{i="${'x'.repeat(100)}"} 1\n`);
  const upstream: Server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
    let sent = 0;
    const more = () => {
      while (sent < 48 * 1024 * 1024) {
        sent += chunk.length;
        if (!res.write(chunk)) return void res.once('drain', more);
      }
      res.end();
    };
    more();
  });
  upstream.listen(0, '127.0.0.1');
  await once(upstream, 'listening');
  const url = `http://127.0.0.1:${(upstream.address() as { port: number }).port}`;
  const proxy = await testProxy({ url: `${url}/metrics`, timeoutMs: 60_000 }, { clientLimits: LIMITS });
  t.teardown(async () => {
    await proxy.close();
    upstream.closeAllConnections();
    upstream.close();
  });
  const s = await raw(proxy.url);
  s.pause(); // never reads
  s.write('GET /metrics HTTP/1.1\r\nHost: proxy\r\n\r\n');
  await eventually('the proxy holds it', async () => ((await openConnections(proxy)) === 1 ? true : undefined));
  await eventually('the proxy lets it go', async () => ((await openConnections(proxy)) === 0 ? true : undefined), 15_000, 50);
  t.ok(await scrapeOk(proxy.url).catch(() => false), 'a new client is served');
  s.destroy();
});

t.test('a header past 16 KiB: 431, and the next request is served', async (t) => {
  const { proxy } = await simProxy(t);
  const res = await request(`${proxy.url}/metrics`, { headers: { 'x-big': 'y'.repeat(20 * 1024) } });
  await res.body.text();
  t.equal(res.statusCode, 431);
  t.ok(await scrapeOk(proxy.url), 'served after it');
});

t.test('request smuggling on the API passthrough: 400, the connection closed, nothing reaches vLLM', async (t) => {
  let seen = 0;
  const vllm = createServer((req, res) => {
    seen++;
    req.resume();
    res.writeHead(200, { 'content-type': 'application/json' }).end('{"object":"list","data":[]}');
  });
  vllm.listen(0, '127.0.0.1');
  await once(vllm, 'listening');
  const origin = `http://127.0.0.1:${(vllm.address() as { port: number }).port}`;
  const proxy = await testProxy({ url: `${origin}/metrics` }, { clientLimits: LIMITS, api: { upstream: origin, timeoutMs: 5_000, requestUsage: false } });
  t.teardown(async () => {
    await proxy.close();
    vllm.close();
  });
  const attempts: Array<[string, string]> = [
    [
      'Content-Length and Transfer-Encoding',
      'POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /v1/models HTTP/1.1\r\nHost: x\r\n\r\n',
    ],
    ['two Content-Lengths', 'POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nContent-Length: 40\r\n\r\nabcd'],
    ['obs-fold', 'GET /v1/models HTTP/1.1\r\nHost: x\r\nX-A: a\r\n b\r\n\r\n'],
    ['an unknown Transfer-Encoding', 'POST /v1/completions HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n'],
    ['a space before the colon', 'POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Length : 4\r\n\r\nabcd'],
    ['a bare LF in a header', 'GET /v1/models HTTP/1.1\r\nHost: x\nX-B: c\r\n\r\n'],
  ];
  for (const [what, bytes] of attempts) {
    const s = await raw(proxy.url);
    s.write(bytes);
    const { text } = await untilClosed(s);
    t.match(text, /^HTTP\/1\.1 400/, `${what}: 400`);
  }
  t.equal(seen, 0, 'vLLM saw none of them');
  const ok = await request(`${proxy.url}/v1/models`);
  await ok.body.text();
  t.equal(ok.statusCode, 200, 'a proper request passes');
  t.equal(seen, 1, 'and only it reached vLLM');
});

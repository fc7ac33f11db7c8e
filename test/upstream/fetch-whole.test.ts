/**
 * fetchText on fetch-whole.ts: the readers that want a whole exposition (the fleet merge,
 * the pushes, the API's server view). Each way an upstream can fail is met by the
 * UpstreamError the streaming path gives for it (test/server/faults.test.ts), recorded on
 * the upstream, and the upstream's next good answer is read through the same pool.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer as createHttps } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deflateSync, gzipSync } from 'node:zlib';
import { once } from 'node:events';
import type { AddressInfo, Socket } from 'node:net';
import type { IncomingMessage, ServerResponse } from 'node:http';
import t, { type Test } from 'tap';
import { UpstreamError } from '../../src/errors.js';
import { Cancellation } from '../../src/upstream/fetch.js';
import { fetchText } from '../../src/upstream/scrape.js';
import { Upstream, type UpstreamOptions } from '../../src/upstream/upstream.js';
import { rawServer } from '../helpers/net.js';
import { freePort } from '../helpers/prometheus.js';
import { selfSigned } from '../helpers/tls.js';

const GOOD = '# TYPE vllm:x gauge\nvllm:x{engine="0"} 1.0\n';
type Mode = (req: IncomingMessage, res: ServerResponse, socket: Socket) => void;
const good: Mode = (_req, res) => res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' }).end(GOOD);

async function setup(t: Test, mode: Mode, options: Partial<UpstreamOptions> = {}) {
  let current = mode;
  const up = await rawServer((req, res, socket) => current(req, res, socket));
  const failures: string[] = [];
  const upstream = new Upstream({ url: `${up.url}/metrics`, timeoutMs: 1_000, maxBodyBytes: 64 * 1024, onFailure: (e) => failures.push(e.kind), ...options });
  t.teardown(async () => {
    await upstream.close();
    await up.close();
  });
  return { up, upstream, failures, set: (m: Mode) => (current = m) };
}

/** The UpstreamError fetchText rejects with. */
async function failure(upstream: Upstream, timeoutMs?: number): Promise<UpstreamError> {
  try {
    await fetchText(upstream, timeoutMs);
  } catch (err) {
    if (err instanceof UpstreamError) return err;
    throw err;
  }
  throw new Error('fetchText resolved');
}

async function readsGood(t: Test, s: { upstream: Upstream; set(m: Mode): void }) {
  s.set(good);
  t.equal((await fetchText(s.upstream)).text, GOOD, 'the next good answer is read');
}

t.test('a body with a Content-Length and a chunked one: the bytes as sent, the format from the content type', async (t) => {
  const s = await setup(t, good);
  const text = await fetchText(s.upstream);
  t.equal(text.text, GOOD);
  t.equal(text.format, 'prometheus');
  t.ok(text.timeMs > 0);
  const big = Array.from({ length: 2000 }, (_, i) => `vllm:y{i="${i}"} ${i}\n`).join('');
  s.set((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/openmetrics-text; version=1.0.0' });
    for (let i = 0; i < big.length; i += 1000) res.write(big.slice(i, i + 1000));
    res.end();
  });
  const chunked = await fetchText(s.upstream);
  t.equal(chunked.text, big, 'every chunk, in order');
  t.equal(chunked.format, 'openmetrics');
  // A declared length larger than one socket read (64 KiB): read in several chunks into one Buffer,
  // where a small body is kept as the one chunk it came in.
  const large = big.repeat(8);
  const l = await setup(t, (_req, res) => res.writeHead(200, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(large) }).end(large), {
    maxBodyBytes: 1024 * 1024,
  });
  const read = await fetchText(l.upstream);
  t.equal(read.text, large, 'a long body with a Content-Length, whole');
  t.equal(read.body.length, Buffer.byteLength(large));
  t.same([...s.failures, ...l.failures], []);
});

t.test("a caller's buffer: a body that fits is read into it, one that does not into its own", async (t) => {
  const large = Array.from({ length: 16_000 }, (_, i) => `vllm:y{i="${i}"} ${i}\n`).join(''); // several socket reads
  let body = large;
  const s = await setup(t, (_req, res) => res.writeHead(200, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(body) }).end(body), {
    maxBodyBytes: 1024 * 1024,
  });
  const into = Buffer.alloc(Buffer.byteLength(large) + 100);
  const read = await fetchText(s.upstream, undefined, into);
  t.equal(read.body.buffer, into.buffer, 'read into the buffer given');
  t.equal(read.text, large, 'whole');
  body = large.replaceAll('vllm:y', 'vllm:z');
  const again = await fetchText(s.upstream, undefined, into);
  t.equal(again.text, body, 'the next answer, read over the last');
  body = large + large;
  const larger = await fetchText(s.upstream, undefined, into);
  t.not(larger.body.buffer, into.buffer, 'too large for it: a buffer of its own');
  t.equal(larger.text, body);
  t.same(s.failures, []);
});

t.test('gzip and deflate are decoded; a body that decodes past the bound is too large; a bad one is an encoding error', async (t) => {
  const s = await setup(t, (_req, res) => res.writeHead(200, { 'content-type': 'text/plain', 'content-encoding': 'gzip' }).end(gzipSync(GOOD)), { gzip: true });
  t.equal((await fetchText(s.upstream)).text, GOOD, 'gzip');
  s.set((_req, res) => res.writeHead(200, { 'content-encoding': 'deflate' }).end(deflateSync(GOOD)));
  t.equal((await fetchText(s.upstream)).text, GOOD, 'deflate');
  // 1 MiB of zeros is a kilobyte compressed: the bound is on what it decodes to.
  s.set((_req, res) => res.writeHead(200, { 'content-encoding': 'gzip' }).end(gzipSync(Buffer.alloc(1024 * 1024, 0x61))));
  t.match(await failure(s.upstream), { kind: 'too_large', code: 'VMP_UPSTREAM_TOO_LARGE' });
  s.set((_req, res) => res.writeHead(200, { 'content-encoding': 'gzip' }).end('not gzip at all'));
  t.match(await failure(s.upstream), { kind: 'encoding' });
  s.set((_req, res) => res.writeHead(200, { 'content-encoding': 'br' }).end('xx'));
  t.match(await failure(s.upstream), { kind: 'encoding', message: /unsupported content-encoding "br"/ });
  t.same(s.failures, ['too_large', 'encoding', 'encoding'], 'each failure recorded on the upstream');
  await readsGood(t, s);
});

t.test('over --max-body-bytes: refused on a declared length before the body, and cut while a chunked one arrives', async (t) => {
  const max = 4096;
  let written = 0;
  const s = await setup(t, (_req, res) => res.writeHead(200, { 'content-length': String(max * 10) }).end('a 1\n'.repeat((max * 10) / 4)), {
    maxBodyBytes: max,
  });
  t.match(await failure(s.upstream), { kind: 'too_large', message: `upstream body exceeds --max-body-bytes (${max} bytes)` });
  s.set((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain' });
    const more = () => {
      // Writes until the reader goes away: a body without end.
      while (!res.destroyed && res.write('b 2\n'.repeat(256))) written += 1024;
      if (!res.destroyed) res.once('drain', more);
    };
    more();
  });
  t.match(await failure(s.upstream), { kind: 'too_large' });
  t.ok(written < 64 * 1024 * 1024, 'the endless body was not read to its end');
  t.same(s.failures, ['too_large', 'too_large']);
  await readsGood(t, s);
});

t.test('a 500: a status error, its body read so the connection is kept', async (t) => {
  const sockets = new Set<Socket>();
  const s = await setup(t, (_req, res, socket) => {
    sockets.add(socket);
    res.writeHead(500).end('Internal Server Error');
  });
  t.match(await failure(s.upstream), { kind: 'status', message: 'upstream answered HTTP 500' });
  await readsGood(t, s);
  s.set((_req, res, socket) => {
    sockets.add(socket);
    good(_req, res, socket);
  });
  await fetchText(s.upstream);
  t.equal(sockets.size, 1, 'the good answers came on the connection of the 500');
});

t.test('no headers, or a body that stops: a timeout at the deadline; a reset mid-body; nobody listening', async (t) => {
  const s = await setup(t, () => {});
  const t0 = performance.now();
  t.match(await failure(s.upstream, 200), { kind: 'timeout', message: 'upstream did not answer within 200ms' });
  t.ok(performance.now() - t0 >= 190, 'the deadline was waited for');
  s.set((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '1000' });
    res.write(GOOD); // and nothing more
  });
  t.match(await failure(s.upstream, 200), { kind: 'timeout' }, 'a body that stalls');
  s.set((_req, res, socket) => {
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '1000' });
    res.write(GOOD, () => socket.destroy());
  });
  t.match(await failure(s.upstream), { kind: 'reset' }, 'a body cut short');
  await readsGood(t, s);

  const port = await freePort();
  const down = new Upstream({ url: `http://127.0.0.1:${port}/metrics`, timeoutMs: 1_000, maxBodyBytes: 1024 });
  t.teardown(() => down.close());
  t.match(await failure(down), { kind: 'unreachable', message: /ECONNREFUSED/ });
});

t.test('garbage and non-UTF-8 bodies are refused', async (t) => {
  const s = await setup(t, (_req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end('<html><body>Bad Gateway</body></html>'));
  t.match(await failure(s.upstream), { kind: 'garbage', message: /starts with "<html>/ });
  s.set((_req, res) => res.writeHead(200).end(Buffer.from('vllm:x 1\n\xff\xfe', 'latin1')));
  t.match(await failure(s.upstream), { kind: 'garbage', message: /not UTF-8/ });
  await readsGood(t, s);
});

t.test('TLS: an unverified certificate is refused; the same with its CA given is read', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'vmp-whole-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const cert = selfSigned(dir);
  const server = createHttps({ key: cert.key, cert: cert.cert }, (_req, res) => good(_req, res, _req.socket));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.teardown(() => server.close());
  const url = `https://127.0.0.1:${(server.address() as AddressInfo).port}/metrics`;
  const strict = new Upstream({ url, timeoutMs: 1_000, maxBodyBytes: 1024 });
  t.teardown(() => strict.close());
  t.match(await failure(strict), { kind: 'tls' });
  const trusted = new Upstream({ url, timeoutMs: 1_000, maxBodyBytes: 1024, caFile: cert.certFile });
  t.teardown(() => trusted.close());
  t.equal((await fetchText(trusted)).text, GOOD);
});

t.test('a cancelled fetch rejects at once and leaves the pool usable', async (t) => {
  const s = await setup(t, () => {});
  const cancel = new Cancellation();
  const pending = s.upstream.readWhole(undefined, 60_000, cancel);
  cancel.cancel();
  await t.rejects(pending, UpstreamError);
  await readsGood(t, s);
});

// Child processes of the benchmark, one role each, so that the upstream, the
// thing measured and the load generator do not share an event loop.
//   node bench/servers.js static <file> <content-type> [n]  serve a file from memory (on n ports)
//   node bench/servers.js passthrough <upstream-url>     no-op undici passthrough
//   node bench/servers.js api-noop <origin>              no-op @fastify/reply-from passthrough of a whole API
//   node bench/servers.js stream <bytes>                 generate a huge exposition
// Each prints {"url": ...} on its first stdout line when listening ({"urls": [...]}
// for static on several ports).
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { pipeline } from 'node:stream';
import { Agent, request } from 'undici';
import { Simulator } from '../dist/simulator/simulator.js';

const [role, arg, arg2] = process.argv.slice(2);

function listen(server) {
  server.keepAliveTimeout = 60_000;
  server.listen(0, '127.0.0.1', () => {
    process.stdout.write(`${JSON.stringify({ url: `http://127.0.0.1:${server.address().port}` })}\n`);
  });
}

if (role === 'static') {
  const body = readFileSync(arg);
  const n = Number(process.argv[5] ?? 1);
  const serve = (req, res) => {
    res.writeHead(200, { 'content-type': arg2, 'content-length': body.length });
    res.end(body);
  };
  if (n === 1) listen(createServer(serve));
  else {
    // A fleet of upstreams in one process: the bench machine has two cores, not sixteen.
    const urls = [];
    for (let i = 0; i < n; i++) {
      const server = createServer(serve);
      server.keepAliveTimeout = 60_000;
      server.listen(0, '127.0.0.1', () => {
        urls.push(`http://127.0.0.1:${server.address().port}`);
        if (urls.length === n) process.stdout.write(`${JSON.stringify({ urls })}\n`);
      });
    }
  }
} else if (role === 'passthrough') {
  // What a minimal Node proxy costs with no transformation: the baseline the
  // sanitizing proxy is held to.
  const dispatcher = new Agent({ connections: 64 });
  listen(
    createServer(async (req, res) => {
      try {
        const up = await request(arg, { dispatcher });
        res.writeHead(up.statusCode, { 'content-type': up.headers['content-type'] });
        pipeline(up.body, res, () => {});
      } catch (err) {
        res.writeHead(502).end(String(err));
      }
    }),
  );
} else if (role === 'api-noop') {
  // What the API passthrough costs with no records, no views and no inspection: Fastify and
  // @fastify/reply-from (what the proxy uses) relaying every request and answer untouched.
  const { default: Fastify } = await import('fastify');
  const { default: replyFrom } = await import('@fastify/reply-from');
  const app = Fastify({ keepAliveTimeout: 60_000 });
  await app.register(replyFrom, { base: arg, undici: { connections: 1024, pipelining: 1 } });
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', (_req, payload, done) => done(null, payload));
  app.all('/*', (req, reply) => reply.from(req.url));
  await app.listen({ port: 0, host: '127.0.0.1' });
  process.stdout.write(`${JSON.stringify({ url: `http://127.0.0.1:${app.server.address().port}` })}\n`);
} else if (role === 'stream') {
  // A huge exposition made on the fly (never held whole): copies of the
  // one-engine exposition, each under its own model name.
  // POST /size?bytes=N changes the size of later responses (the bench warms
  // the proxy up with small ones first).
  let total = Number(arg);
  const sim = new Simulator({ tickMs: 0 }, 1_760_000_000);
  const model = sim.engines[0].model;
  const template = sim.exposition('text').toString('utf8');
  listen(
    createServer((req, res) => {
      if (req.method === 'POST') {
        total = Number(new URL(req.url, 'http://x').searchParams.get('bytes'));
        return void res.end();
      }
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' });
      let sent = 0;
      let copy = 0;
      const more = () => {
        while (sent < total) {
          const chunk = Buffer.from(template.replaceAll(model, `bench-model-${copy++}`));
          sent += chunk.length;
          if (!res.write(chunk)) return void res.once('drain', more);
        }
        res.end();
      };
      more();
    }),
  );
} else {
  process.stderr.write(`unknown role ${role}\n`);
  process.exit(2);
}

import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { Writable } from 'node:stream';
import { request } from 'undici';
import { createLogger, type Logger } from '../../src/logger.js';
import { LogLines } from './lines.js';

export interface RawServer {
  server: Server;
  url: string;
  /** Requests received so far. */
  hits: number;
  /** Requests whose connection closed before the response finished. */
  aborted: number;
  close(): Promise<void>;
}

/** A plain HTTP server on a free loopback port, for upstreams that misbehave on purpose. */
export async function rawServer(handler: (req: IncomingMessage, res: ServerResponse, socket: Socket) => void): Promise<RawServer> {
  const sockets = new Set<Socket>();
  const state = { hits: 0, aborted: 0 };
  const server = createServer((req, res) => {
    state.hits++;
    res.on('close', () => {
      if (!res.writableFinished) state.aborted++;
    });
    handler(req, res, req.socket);
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    server,
    url: `http://127.0.0.1:${port}`,
    get hits() {
      return state.hits;
    },
    get aborted() {
      return state.aborted;
    },
    async close() {
      for (const s of sockets) s.destroy();
      server.close();
      await once(server, 'close').catch(() => {});
    },
  };
}

export interface CapturedLog {
  log: Logger;
  lines(): Array<Record<string, unknown>>;
  /** Resolves with the first line matching, waiting for it if needed. */
  waitFor(match: (line: Record<string, unknown>) => boolean): Promise<Record<string, unknown>>;
}

/** A pino logger whose JSON lines the test can read. */
export function captureLog(level = 'info'): CapturedLog {
  const collected = new LogLines();
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const text of chunk.toString('utf8').split('\n')) if (text) collected.push(text);
      cb();
    },
  });
  return {
    log: createLogger(level, sink),
    lines: () => collected.lines,
    waitFor: (match) => collected.waitFor(match),
  };
}

export interface Fetched {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

/** GET and read the whole body (tests only: small bodies). */
export async function get(url: string, headers: Record<string, string> = {}): Promise<Fetched> {
  const res = await request(url, { headers });
  const parts: Buffer[] = [];
  for await (const c of res.body) parts.push(c as Buffer);
  return { status: res.statusCode, headers: res.headers, body: Buffer.concat(parts) };
}

/**
 * An HTTP relay in front of `origin()` that holds every request until `n` have arrived, then
 * sends them all on: requests that must overlap do, however slow the machine (no timing).
 */
export async function gate(origin: () => string, n: number): Promise<RawServer> {
  const held: Array<() => void> = [];
  const server = await rawServer((req, res) => {
    const go = () => {
      const headers = { ...req.headers };
      for (const h of ['host', 'connection', 'content-length', 'transfer-encoding']) delete headers[h];
      const hasBody = req.method !== 'GET' && req.method !== 'HEAD';
      request(`${origin()}${req.url}`, { method: req.method as 'POST', headers, body: hasBody ? req : undefined }).then(
        (up) => {
          const out: Record<string, string | string[]> = {};
          for (const [k, v] of Object.entries(up.headers)) if (v !== undefined && !['connection', 'transfer-encoding', 'keep-alive'].includes(k)) out[k] = v;
          res.writeHead(up.statusCode, out);
          up.body.pipe(res);
        },
        () => res.destroy(),
      );
    };
    held.push(go);
    if (held.length === n) for (const f of held) f();
    else if (held.length > n) go();
  });
  return server;
}

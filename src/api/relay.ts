/**
 * One API request relayed to vLLM on undici's dispatch() handler interface,
 * its answer written to the raw response chunk by chunk: no Readable for the
 * answer, no stream plumbing between undici and the socket.
 *
 * Why not @fastify/reply-from, as the other API routes: measured side by side
 * relaying the same streamed chat answers, reply-from's path (undici's
 * request(), its body stream, reply-from's bookkeeping) cost ~170 µs of CPU a
 * request at 64 clients and ~1.1 ms at one; this one ~116 µs and ~0.83 ms
 * (bench/README.md, "API passthrough"). The generation endpoints, which every
 * record comes from, take this path.
 *
 * It forwards what reply-from forwards: the client's headers but the
 * hop-by-hop ones (Connection and those it names, Transfer-Encoding) and
 * `host`, which names vLLM; the body as given. The answer's headers go back
 * without its hop-by-hop ones (Node's server sets its own).
 */
import type { IncomingHttpHeaders, ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';
import type { Dispatcher } from 'undici';

export interface RelayRequest {
  /** vLLM's origin, and its host (the `host` header sent). */
  origin: string;
  host: string;
  method: string;
  /** The request target as the client sent it (path and query). */
  path: string;
  /** The client's headers (forwarded as reply-from forwards them). */
  headers: IncomingHttpHeaders;
  /** The body: bytes read whole (its length is set), or the request's own stream (its length as the client gave it). */
  body?: Buffer | string | Readable;
}

export interface RelayHooks {
  /** vLLM's status and headers arrived; `headers` (lower-case names) may be changed in place before they are written. */
  response(status: number, headers: Record<string, string | string[]>): void;
  /** A chunk of the answer: what to write (null: nothing). */
  data(chunk: Buffer): Buffer | null;
  /** The answer ended: what to write last (null: nothing). */
  end(): Buffer | null;
  /** vLLM did not answer (`answered`: false; nothing has been written) or broke off mid-answer (the response is destroyed). */
  failed(error: Error, answered: boolean): void;
}

/** Request headers not forwarded: hop-by-hop, and `host` (set to vLLM's). */
const DROP_REQUEST = new Set(['connection', 'transfer-encoding', 'host', 'keep-alive', 'proxy-connection', 'upgrade']);
/** Answer headers not passed back: hop-by-hop (Node's server writes its own). */
const DROP_RESPONSE = new Set(['connection', 'transfer-encoding', 'keep-alive', 'proxy-connection', 'upgrade']);

/** The headers sent to vLLM. */
export function forwardHeaders(client: IncomingHttpHeaders, host: string, body: RelayRequest['body']): Record<string, string | string[]> {
  const named =
    typeof client.connection === 'string'
      ? client.connection
          .toLowerCase()
          .split(',')
          .map((s) => s.trim())
      : [];
  const out: Record<string, string | string[]> = {};
  for (const name in client) {
    const v = client[name];
    if (v === undefined || DROP_REQUEST.has(name) || (named.length > 0 && named.includes(name))) continue;
    out[name] = v;
  }
  out.host = host;
  if (typeof body === 'string' || Buffer.isBuffer(body)) out['content-length'] = String(Buffer.byteLength(body));
  return out;
}

/**
 * Relay `req` to vLLM through `dispatcher` and write the answer to `res`, with
 * backpressure both ways. A client that goes away aborts the request to vLLM.
 */
export function relay(dispatcher: Dispatcher, req: RelayRequest, res: ServerResponse, hooks: RelayHooks): void {
  let abort: ((err?: Error) => void) | undefined;
  let resume: (() => void) | undefined;
  let answered = false;
  let over = false;
  res.once('close', () => {
    if (!res.writableFinished && !over) abort?.();
  });
  res.on('drain', () => resume?.());
  const handler: Dispatcher.DispatchHandler = {
    onConnect(abortRequest) {
      abort = abortRequest;
      if (res.destroyed) abortRequest();
    },
    onHeaders(status, raw, resumeRequest) {
      if (status < 200) return true; // informational: the answer follows
      resume = resumeRequest;
      answered = true;
      const headers: Record<string, string | string[]> = {};
      for (let i = 0; i + 1 < raw.length; i += 2) {
        const name = raw[i]!.toString('latin1').toLowerCase();
        if (DROP_RESPONSE.has(name)) continue;
        const value = raw[i + 1]!.toString('latin1');
        const had = headers[name];
        headers[name] = had === undefined ? value : Array.isArray(had) ? [...had, value] : [had, value];
      }
      hooks.response(status, headers);
      res.writeHead(status, headers);
      return true;
    },
    onData(chunk) {
      const pass = hooks.data(chunk);
      if (pass) res.write(pass);
      // 'drain' may have been emitted inside write() already (see shared-relay.ts): ask the sink.
      return !res.writableNeedDrain;
    },
    onComplete() {
      over = true;
      const tail = hooks.end();
      if (tail) res.end(tail);
      else res.end();
    },
    onError(err) {
      over = true;
      hooks.failed(err, answered);
      if (answered) res.destroy();
    },
  };
  try {
    dispatcher.dispatch(
      {
        origin: req.origin,
        path: req.path,
        method: req.method as Dispatcher.HttpMethod,
        headers: forwardHeaders(req.headers, req.host, req.body),
        body: req.body,
      },
      handler,
    );
  } catch (err) {
    over = true;
    hooks.failed(err as Error, false);
  }
}

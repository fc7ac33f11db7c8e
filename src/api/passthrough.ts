/**
 * vLLM's HTTP API through the proxy's port, with @fastify/reply-from: /v1/*,
 * /tokenize, /detokenize, /version, and vLLM's /health. Bodies stream both ways:
 * a request body is read here only when it is a small JSON document (for its
 * model, `stream` flag, and `--request-usage`), anything else goes through as it
 * comes; the answer passes through a ResponseObserver that times it and reads
 * its usage without holding it up. Every generation request (chat, completions)
 * ends in one RequestRecord. server/routes/api.ts registers it on the proxy's port.
 */
import type { IncomingMessage } from 'node:http';
import { pipeline, Transform, type Readable, type TransformCallback } from 'node:stream';
import { Agent } from 'undici';
// reply.from's types (the plugin itself is registered by server/routes/api.ts).
import type {} from '@fastify/reply-from';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from '../logger.js';
import { buildRecord, type RequestRecord } from '../requests/record.js';
import { ResponseObserver } from '../requests/response-observer.js';
import type { ServerView } from '../requests/server-view.js';
import { GcPacer } from '../http/gc-pacer.js';
import { relay } from './relay.js';

export interface ApiConfig {
  /** vLLM's origin, e.g. http://vllm:8000. */
  upstream: string;
  /** Deadline for vLLM's response headers, and for each gap in its body. */
  timeoutMs: number;
  /** Ask vLLM for `stream_options.include_usage` on streams that did not, and take that chunk out again. */
  requestUsage: boolean;
  /** JSON request bodies up to this size are read (for the record); larger ones stream untouched. */
  inspectLimitBytes?: number;
}

export interface ApiContext {
  log: Logger;
  /** Where finished records go (the request log, Parseable, self-metrics). */
  onRecord: (record: RequestRecord) => void;
  /** The server-side view from /metrics, when the proxy scrapes vLLM. */
  serverView?: ServerView;
}

/** Streamed bytes between young-generation collections (as /metrics does, routes/metrics.ts). */
const GC_EVERY_BYTES = 8 * 1024 * 1024;

/** Passes chunks on unchanged, counting them for the pacer. */
class PacedPassThrough extends Transform {
  constructor(private readonly pacer: GcPacer) {
    super();
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.pacer.add(chunk.length);
    done(null, chunk);
  }
}

/** The generation endpoints: one record each. */
const RECORDED = new Set(['/v1/chat/completions', '/v1/completions']);

/** A small JSON request body, read whole: its bytes (sent on as they are) and what they say. */
class InspectedBody {
  readonly json: Record<string, unknown> | undefined;
  constructor(readonly raw: Buffer) {
    try {
      const v = JSON.parse(raw.toString('utf8')) as unknown;
      this.json = typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
    } catch {
      this.json = undefined;
    }
  }
}

type UpstreamFailure = Error & { statusCode?: number; code?: string; cause?: { code?: string } };

/** vLLM did not answer: 504 for a timeout, 502 otherwise, with an error body shaped like vLLM's own. */
function sendUpstreamError(reply: FastifyReply, error: UpstreamFailure, timeoutMs: number, endpoint: string, log: Logger): { kind: string; status: number } {
  const cause = error.cause?.code ?? error.code ?? error.message;
  const timeout = error.statusCode === 504 || /TIMEOUT/i.test(cause);
  const kind = timeout ? 'timeout' : 'unreachable';
  const status = timeout ? 504 : 502;
  log.warn({ event: 'api_upstream_error', kind, code: cause, endpoint }, `vLLM API ${kind}: ${cause}`);
  const message = timeout ? `vLLM did not answer within ${timeoutMs} ms` : `vLLM is unreachable: ${cause}`;
  reply
    .code(status)
    .type('application/json')
    .send({ object: 'error', message, type: timeout ? 'GatewayTimeoutError' : 'BadGatewayError', param: null, code: status });
  return { kind, status };
}

/** The passthrough's parts, for routes/api.ts to register: where to, how to read bodies, and the one handler. */
export interface Passthrough {
  /** vLLM's origin, reply-from's base. */
  origin: string;
  /** reply-from's undici options: vLLM's deadlines, and room for many concurrent streams. */
  undici: { headersTimeout: number; bodyTimeout: number; connections: number; pipelining: number };
  /** The content-type parser for every type: small JSON read whole, anything else streamed on. */
  parseBody: (req: FastifyRequest, payload: IncomingMessage, done: (err: Error | null, body?: unknown) => void) => void;
  handle: (request: FastifyRequest, reply: FastifyReply) => Promise<FastifyReply>;
  /** Close the generation endpoints' connections to vLLM. */
  close: () => Promise<void>;
}

export function createPassthrough(config: ApiConfig, ctx: ApiContext): Passthrough {
  const url = new URL(config.upstream);
  const origin = url.origin;
  const host = url.host;
  const undiciOptions = { headersTimeout: config.timeoutMs, bodyTimeout: config.timeoutMs, connections: 1024, pipelining: 1 };
  const agent = new Agent(undiciOptions);
  const inspectLimit = config.inspectLimitBytes ?? 1024 * 1024;
  const pacer = new GcPacer(GC_EVERY_BYTES);
  const parseBody = (req: FastifyRequest, payload: IncomingMessage, done: (err: Error | null, body?: unknown) => void) => {
    const length = Number(req.headers['content-length']);
    const json = /^application\/json\b/i.test(req.headers['content-type'] ?? '');
    // Streamed on untouched: anything not a small JSON document (a 20 MB prompt, an audio upload),
    // through a counter that paces young-generation collections, so the socket buffers it leaves
    // behind do not pile up to V8's 64 MB external-memory threshold (see GcPacer).
    if (!json || !Number.isFinite(length) || length > inspectLimit)
      return done(
        null,
        pipeline(payload, new PacedPassThrough(pacer), () => {}),
      );
    const chunks: Buffer[] = [];
    payload.on('data', (c: Buffer) => chunks.push(c));
    payload.once('end', () => done(null, new InspectedBody(Buffer.concat(chunks))));
    payload.once('error', (err) => done(err));
  };

  const handle = async (request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> => {
    const path = request.url.split('?')[0]!;
    const recorded = request.method === 'POST' && RECORDED.has(path);
    const inspected = request.body instanceof InspectedBody ? request.body : undefined;
    const json = inspected?.json;
    const stream = json ? json.stream === true : undefined;
    let body: Buffer | string | undefined = inspected?.raw;
    let strip = false;
    const options = json?.stream_options as Record<string, unknown> | undefined;
    if (recorded && config.requestUsage && stream && options?.include_usage !== true) {
      body = JSON.stringify({ ...json, stream_options: { ...options, include_usage: true } });
      strip = true;
    }
    if (!recorded) {
      return reply.from(undefined, {
        ...(body !== undefined ? { body, contentType: request.headers['content-type'] } : {}),
        onError: (rep, { error }) => sendUpstreamError(rep as unknown as FastifyReply, error as UpstreamFailure, config.timeoutMs, path, ctx.log),
      });
    }

    const startedAt = performance.now();
    const startTime = new Date();
    const server = ctx.serverView?.begin();
    let headersAt: number | undefined;
    let upstreamRequestId: string | undefined;
    let observer: ResponseObserver | undefined;
    let errorKind: string | undefined;
    let status = 0;
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      const endedAt = performance.now();
      const clientAbort = !reply.raw.writableFinished && errorKind === undefined;
      const model = typeof json?.model === 'string' ? json.model : observer?.observation.model;
      const parts = {
        startedAt,
        startTime,
        endedAt,
        endpoint: path,
        model,
        stream,
        status: status || reply.statusCode,
        requestId: String(upstreamRequestId ?? request.headers['x-request-id'] ?? '') || undefined,
        headersAt,
        observation: observer?.observation,
        clientAbort,
        errorKind,
      };
      // The server's view waits for its "after" snapshot; the client is not kept waiting for it.
      const emit = (s?: Awaited<ReturnType<ServerView['end']>>) => {
        try {
          ctx.onRecord(buildRecord({ ...parts, server: s }));
        } catch (err) {
          ctx.log.error({ event: 'request_record_failed', err: (err as Error).message }, `a request record could not be written: ${(err as Error).message}`);
        }
      };
      if (server) void ctx.serverView!.end(server, model).then(emit, () => emit());
      else emit();
    };
    reply.raw.once('close', finish);

    const upstreamError = (rep: FastifyReply, error: UpstreamFailure) => {
      const failure = sendUpstreamError(rep, error, config.timeoutMs, path, ctx.log);
      errorKind = failure.kind;
      status = failure.status;
    };

    // The generation endpoints take our own relay (api/relay.ts), not reply-from: it cost a third of the CPU a request.
    const raw = request.raw;
    relay(
      agent,
      { origin, host, method: request.method, path: request.url, headers: raw.headers, body: body ?? (request.body as Readable | undefined) },
      reply.raw,
      {
        response: (code, headers) => {
          headersAt = performance.now();
          status = code;
          upstreamRequestId = typeof headers['x-request-id'] === 'string' ? headers['x-request-id'] : undefined;
          const sse = /^text\/event-stream/i.test(String(headers['content-type'] ?? ''));
          observer = new ResponseObserver({ sse, stripUsageChunk: strip, onBytes: (n) => pacer.add(n) });
          if (strip) delete headers['content-length'];
          // The upstream answered before the request body was all read: that connection cannot carry another request.
          if (!raw.complete) headers.connection = 'close';
          reply.hijack();
        },
        data: (chunk) => observer!.see(chunk),
        end: () => observer!.end(),
        failed: (error, answered) => {
          // A client that went away (the relay then aborts vLLM's request) is a client abort, not vLLM's fault.
          if (reply.raw.destroyed) return;
          if (!answered) return upstreamError(reply, error as UpstreamFailure);
          if (errorKind === undefined) errorKind = 'reset';
        },
      },
    );
    return reply;
  };

  return {
    origin,
    undici: undiciOptions,
    parseBody,
    handle,
    close: () => agent.close(),
  };
}

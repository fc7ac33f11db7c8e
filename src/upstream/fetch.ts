import { EventEmitter } from 'node:events';
import { pipeline, type Readable } from 'node:stream';
import { createGunzip, createInflate } from 'node:zlib';
import { request, type Dispatcher } from 'undici';
import {
  UpstreamEncoding,
  UpstreamStatus,
  UpstreamTimeout,
  UpstreamTls,
  UpstreamTooLarge,
  UpstreamUnreachable,
  UpstreamReset,
  UpstreamError,
} from '../errors.js';
import { formatDuration } from '../units.js';
import type { UpstreamTarget } from './target.js';

export interface FetchOptions {
  target: UpstreamTarget;
  dispatcher: Dispatcher;
  /** Deadline for the whole scrape, headers and body. */
  timeoutMs: number;
  maxBodyBytes: number;
  /** The client's Accept header, passed on so OpenMetrics negotiation works end to end. */
  accept?: string;
  /** Ask the upstream for gzip (saves bandwidth, costs the upstream CPU). */
  acceptGzip?: boolean;
  userAgent?: string;
  /** Aborts the request before its headers arrived. */
  cancel?: Cancellation;
}

/**
 * A cancellation undici understands (it takes an EventEmitter as `signal`),
 * cheaper than AbortController: two of those per scrape, with their
 * EventTarget listeners, showed in the profile of the one-engine benchmark.
 */
export class Cancellation extends EventEmitter {
  cancelled = false;

  cancel(): void {
    if (this.cancelled) return;
    this.cancelled = true;
    this.emit('abort');
  }
}

/** An upstream response whose headers arrived; the body is still streaming. */
export interface UpstreamResponse {
  statusCode: number;
  contentType: string | undefined;
  /** The decoded body's length when the upstream said it (no content-encoding), else undefined. */
  contentLength: number | undefined;
  /** Decoded body. Errors on it are UpstreamErrors. */
  body: Readable;
  /** Stop the scrape: releases the upstream connection. */
  abort(): void;
  /** Whether the deadline fired. */
  readonly timedOut: boolean;
  /** What an error raised by `body` means for the client and the logs. */
  mapError(err: unknown): UpstreamError;
}

const noop = () => {};

const TLS_CODES = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'ERR_SSL_WRONG_VERSION_NUMBER',
]);

const TIMEOUT_CODES = new Set(['UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'ETIMEDOUT']);

/** Translate a low-level failure into the error the client is answered with. */
export function classifyFailure(err: unknown, timedOut: boolean, timeoutMs: number, midBody: boolean): UpstreamError {
  const e = err as NodeJS.ErrnoException & { cause?: NodeJS.ErrnoException };
  if (typeof (e as UpstreamError)?.kind === 'string' && e.code?.startsWith('VMP_')) return e as unknown as UpstreamError;
  const code = e?.code ?? e?.cause?.code ?? '';
  if (timedOut || TIMEOUT_CODES.has(code)) return UpstreamTimeout(formatDuration(timeoutMs));
  if (TLS_CODES.has(code) || TLS_CODES.has(e?.cause?.code ?? '')) return UpstreamTls(`${code}: ${e.message}`);
  const detail = code ? `${code} ${e.message}`.replace(`${code}: `, '') : (e?.message ?? String(err));
  return midBody ? UpstreamReset(detail) : UpstreamUnreachable(detail);
}

/** How much of an error answer is read, so that its connection can be reused, before it is cut off. */
export const ERROR_BODY_BYTES = 64 * 1024;

/** A scrape's request headers: the client's Accept passed on, gzip only when asked for, the upstream's credentials. */
export function requestHeaders(opts: FetchOptions): Record<string, string> {
  const headers: Record<string, string> = {
    accept: opts.accept ?? 'text/plain;version=0.0.4;q=1,*/*;q=0.1',
    'accept-encoding': opts.acceptGzip ? 'gzip' : 'identity',
    'user-agent': opts.userAgent ?? 'vllm-metrics-proxy',
  };
  if (opts.target.authorization) headers.authorization = opts.target.authorization;
  return headers;
}

/** The coding a Content-Encoding header names (none is identity), or the UpstreamEncoding error for one that cannot be decoded. */
export function contentCodingOf(header: string | undefined): 'identity' | 'gzip' | 'deflate' | UpstreamError {
  const coding = (header ?? 'identity').trim().toLowerCase();
  if (coding === 'identity' || coding === '') return 'identity';
  if (coding === 'gzip' || coding === 'x-gzip') return 'gzip';
  if (coding === 'deflate') return 'deflate';
  return UpstreamEncoding(`unsupported content-encoding "${coding}"`);
}

/**
 * Start a scrape: resolves once the upstream's headers are in and acceptable,
 * rejects with an UpstreamError otherwise. Never buffers the body.
 */
export async function fetchUpstream(opts: FetchOptions): Promise<UpstreamResponse> {
  // The caller's cancellation doubles as the deadline's: `timedOut` tells them apart.
  const signal = opts.cancel ?? new Cancellation();
  if (signal.cancelled) throw UpstreamUnreachable('scrape cancelled before it started');
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    signal.cancel();
  }, opts.timeoutMs);
  timer.unref();

  const headers = requestHeaders(opts);
  let res: Dispatcher.ResponseData<unknown>;
  try {
    res = await request(opts.target.url, {
      method: 'GET',
      headers,
      dispatcher: opts.dispatcher,
      signal,
      maxRedirections: 0,
    } as Parameters<typeof request>[1]);
  } catch (err) {
    clearTimeout(timer);
    throw classifyFailure(err, timedOut, opts.timeoutMs, false);
  }

  const fail = (err: UpstreamError): never => {
    clearTimeout(timer);
    // Read a little of an error body so the connection can be reused; a big
    // one is cut off (dump destroys it past the limit).
    res.body.dump({ limit: ERROR_BODY_BYTES }).catch(() => {});
    throw err;
  };
  if (res.statusCode < 200 || res.statusCode >= 300) fail(UpstreamStatus(res.statusCode));
  const length = Number(res.headers['content-length']);
  if (Number.isFinite(length) && length > opts.maxBodyBytes) fail(UpstreamTooLarge(opts.maxBodyBytes));

  const header = res.headers['content-encoding'];
  const coding = contentCodingOf(header === undefined ? undefined : String(header));
  let body: Readable = res.body;
  // pipeline, not pipe: a broken socket must fail the decoded stream, and
  // destroying the decoded stream must release the socket.
  if (coding === 'gzip') body = pipeline(res.body, createGunzip(), noop);
  else if (coding === 'deflate') body = pipeline(res.body, createInflate(), noop);
  else if (coding instanceof UpstreamError) fail(coding);

  const done = () => clearTimeout(timer);
  body.once('end', done);
  body.once('close', done);

  return {
    statusCode: res.statusCode,
    contentType: typeof res.headers['content-type'] === 'string' ? res.headers['content-type'] : undefined,
    contentLength: body === res.body && Number.isSafeInteger(length) && length >= 0 ? length : undefined,
    body,
    abort() {
      clearTimeout(timer);
      signal.cancel();
      body.destroy();
      res.body.destroy();
    },
    get timedOut() {
      return timedOut;
    },
    mapError(err) {
      const code = (err as NodeJS.ErrnoException)?.code ?? '';
      if (code.startsWith('Z_') || code === 'ERR_INVALID_ARG_TYPE') return UpstreamEncoding((err as Error).message);
      return classifyFailure(err, timedOut, opts.timeoutMs, true);
    },
  };
}

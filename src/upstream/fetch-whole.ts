/**
 * A whole upstream answer, read into one Buffer on undici's dispatch() handler
 * interface instead of request(): no Readable body, no async iterator, no
 * promise per chunk. The readers that want the whole exposition at once (the
 * fleet merge's hundreds of targets a round, the API's server view once a
 * request) paid more for request()'s stream plumbing than for the bytes
 * (bench/README.md, "Fleet merge"). The streaming /metrics path keeps
 * fetchUpstream (fetch.ts): it must pass bytes on as they come.
 *
 * Same contract as fetchUpstream: one deadline for headers and body, the body
 * bounded while it arrives, and every failure an UpstreamError.
 */
import { gunzip, inflate } from 'node:zlib';
import type { Dispatcher } from 'undici';
import { UpstreamEncoding, UpstreamError, UpstreamStatus, UpstreamTooLarge } from '../errors.js';
import { classifyFailure, contentCodingOf, ERROR_BODY_BYTES, requestHeaders, type FetchOptions } from './fetch.js';

export interface WholeResponse {
  statusCode: number;
  contentType: string | undefined;
  /** The decoded body. */
  body: Buffer;
  /** Date.now() when the headers arrived. */
  timeMs: number;
}

type Decoder = typeof gunzip;

/** The three headers read, from undici's raw [name, value, ...] list (the first of each). */
function headersOf(raw: Buffer[]): { type?: string; length?: string; encoding?: string } {
  const out: { type?: string; length?: string; encoding?: string } = {};
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const n = raw[i]!.length;
    if (n !== 12 && n !== 14 && n !== 16) continue;
    const name = raw[i]!.toString('latin1').toLowerCase();
    const value = raw[i + 1]!.toString('latin1');
    if (name === 'content-type') out.type ??= value;
    else if (name === 'content-length') out.length ??= value;
    else if (name === 'content-encoding') out.encoding ??= value;
  }
  return out;
}

export interface WholeOptions extends FetchOptions {
  /**
   * A buffer of the caller's the body is read into when it fits (the body is then a view of
   * it): a caller that reads one answer at a time and is done with it before the next (the
   * API's server view) need not allocate a buffer a fetch.
   */
  into?: Buffer;
}

/** Fetch the whole answer; rejects with an UpstreamError. `opts.cancel` aborts it at any point. */
export function fetchWhole(opts: WholeOptions): Promise<WholeResponse> {
  return new Promise<WholeResponse>((resolve, reject) => {
    const { target, maxBodyBytes: max, timeoutMs } = opts;
    const headers = requestHeaders(opts);

    let settled = false;
    let timedOut = false;
    let abort: ((err?: Error) => void) | undefined;
    let midBody = false;
    /** Set once the answer is known bad: the rest is read up to ERROR_BODY_BYTES, then the request is aborted. */
    let failure: UpstreamError | undefined;
    let statusCode = 0;
    let contentType: string | undefined;
    let decoder: Decoder | null = null;
    let timeMs = 0;
    /**
     * With a Content-Length (the usual case) the body is the one chunk it came in when it came
     * in one: a view of that socket read, which undici hands over and never reuses. Else one
     * Buffer of that length filled as chunks arrive; without a length, the chunks.
     */
    let expected = -1;
    let single: Buffer | undefined;
    let whole: Buffer | undefined;
    let chunks: Buffer[] = [];
    let bytes = 0;

    const finish = (err: UpstreamError | undefined, res?: WholeResponse) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      opts.cancel?.off('abort', onCancel);
      if (err) reject(err);
      else resolve(res!);
    };
    const fail = (err: UpstreamError) => {
      finish(err);
      abort?.(err);
    };
    const onCancel = () => fail(classifyFailure(new Error('scrape cancelled'), timedOut, timeoutMs, midBody));
    const timer = setTimeout(() => {
      timedOut = true;
      fail(classifyFailure(new Error('deadline'), true, timeoutMs, midBody));
    }, timeoutMs);
    timer.unref();
    if (opts.cancel) {
      if (opts.cancel.cancelled) return fail(classifyFailure(new Error('scrape cancelled before it started'), false, timeoutMs, false));
      opts.cancel.on('abort', onCancel);
    }

    // The callbacks undici's own request() is built on (the newer onResponse* shape is
    // translated to these per call, which measured a fifth dearer a fetch).
    const handler: Dispatcher.DispatchHandler = {
      onConnect(abortRequest) {
        abort = abortRequest;
        if (settled) abortRequest();
      },
      onHeaders(status, raw) {
        if (status < 200) return true; // informational: the answer follows
        statusCode = status;
        timeMs = Date.now();
        midBody = true;
        if (status >= 300) {
          failure = UpstreamStatus(status);
          return true;
        }
        const h = headersOf(raw);
        contentType = h.type;
        const coding = contentCodingOf(h.encoding);
        if (coding instanceof UpstreamError) {
          fail(coding);
          return false;
        }
        decoder = coding === 'gzip' ? gunzip : coding === 'deflate' ? inflate : null;
        const length = Number(h.length);
        if (Number.isFinite(length) && length > max) {
          fail(UpstreamTooLarge(max));
          return false;
        }
        if (Number.isSafeInteger(length) && length >= 0) expected = length;
        return true;
      },
      onData(chunk) {
        if (settled) return false;
        if (failure) {
          bytes += chunk.length;
          if (bytes > ERROR_BODY_BYTES) fail(failure);
          return true;
        }
        if (bytes + chunk.length > max) {
          fail(UpstreamTooLarge(max));
          return false;
        }
        if (bytes === 0 && chunk.length === expected) single = chunk;
        else if (single === undefined && expected >= 0 && bytes + chunk.length <= expected) {
          whole ??= opts.into && opts.into.length >= expected ? opts.into.subarray(0, expected) : Buffer.allocUnsafe(expected);
          chunk.copy(whole, bytes);
        } else {
          // More than it said (undici refuses a mismatch anyway), or no length: the rest as it comes.
          if (single !== undefined || whole !== undefined) chunks = [(single ?? whole!).subarray(0, bytes)];
          single = whole = undefined;
          expected = -1;
          chunks.push(chunk);
        }
        bytes += chunk.length;
        return true;
      },
      onComplete() {
        if (settled) return;
        if (failure || statusCode < 200) return finish(failure ?? UpstreamStatus(statusCode));
        const raw = single ?? (whole ? (bytes === whole.length ? whole : whole.subarray(0, bytes)) : Buffer.concat(chunks, bytes));
        if (!decoder) return finish(undefined, { statusCode, contentType, body: raw, timeMs });
        decoder(raw, { maxOutputLength: max }, (err, body) => {
          if (!err) return finish(undefined, { statusCode, contentType, body, timeMs });
          const code = (err as NodeJS.ErrnoException).code;
          finish(code === 'ERR_BUFFER_TOO_LARGE' ? UpstreamTooLarge(max) : UpstreamEncoding(err.message));
        });
      },
      onError(err) {
        finish(classifyFailure(err, timedOut, timeoutMs, midBody));
      },
    };
    try {
      opts.dispatcher.dispatch({ origin: target.url.origin, path: `${target.url.pathname}${target.url.search}`, method: 'GET', headers }, handler);
    } catch (err) {
      finish(classifyFailure(err, timedOut, timeoutMs, false));
    }
  });
}

import { promisify } from 'node:util';
import { gunzip } from 'node:zlib';
import type { FastifyPluginAsync, FastifyReply } from 'fastify';
import { STREAM_NAME } from '../../otlp/destination.js';
import type { JsonForwarder } from '../../export/json-forwarder.js';
import { encodeForParseable } from '../../otlp/parseable-json.js';
import { OtlpDecodeError, decodeJson, decodeProtobuf, encodeResponse } from '../../otlp/proto.js';
import type { RelayRepair } from '../../otlp/relay-repair.js';
import { countPoints, type MetricsRequest } from '../../otlp/types.js';
import type { Logger } from '../../logger.js';
import type { BearerToken } from '../bearer-token.js';
import type { SelfMetrics } from '../self-metrics.js';

const gunzipAsync = promisify(gunzip);

/** Where OTLP/HTTP senders (Fluent Bit's `Metrics_uri`) post metrics. */
export const OTLP_METRICS_PATH = '/v1/metrics';

export interface OtlpRelayRoutesOptions {
  forwarder: JsonForwarder;
  /** Fixes what Fluent Bit sends wrong (cumulative buckets, `_created`, empty resource). */
  repair: RelayRepair;
  /** Largest request body, compressed or not. */
  maxRequestBytes: number;
  /** With a token, only `Authorization: Bearer <token>` may write. */
  token?: BearerToken;
  metrics: SelfMetrics;
  log: Logger;
}

const FORMATS: Record<string, 'protobuf' | 'json'> = {
  'application/x-protobuf': 'protobuf',
  'application/protobuf': 'protobuf',
  'application/json': 'json',
};

/**
 * The OTLP relay: takes what Fluent Bit's opentelemetry output sends (protobuf,
 * maybe gzip) or any OTLP/HTTP JSON, answers at once, and queues the metrics as
 * Parseable-compatible OTLP/JSON for the forwarder. Registered only when a
 * forward URL is configured.
 */
export const otlpRelayRoutes: FastifyPluginAsync<OtlpRelayRoutesOptions> = async (scope, relay) => {
  const { metrics, log } = relay;
  // Raw bytes for every type: decoding depends on Content-Type and Content-Encoding, which the handler checks.
  scope.removeAllContentTypeParsers();
  scope.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: relay.maxRequestBytes }, (_req, body, done) => done(null, body));
  scope.setErrorHandler((err: Error & { statusCode?: number; code?: string }, _req, reply) => {
    const status = err.statusCode ?? 500;
    metrics.otlpRequests.inc({ outcome: status === 413 ? 'too_large' : 'invalid' });
    return text(reply, status, status === 413 ? `request body exceeds --otlp-max-request-bytes (${relay.maxRequestBytes} bytes)` : err.message);
  });

  // Before the body is read: a writer without the token costs nothing and leaves nothing.
  if (relay.token) {
    const token = relay.token;
    scope.addHook('onRequest', async (request, reply) => {
      if (token.accepts(request.headers.authorization)) return;
      metrics.otlpRequests.inc({ outcome: 'unauthorized' });
      return text(
        reply.header('www-authenticate', 'Bearer realm="otlp-relay"'),
        401,
        "the OTLP relay needs Authorization: Bearer <token> (the proxy's --otlp-relay-token)",
      );
    });
  }

  scope.post(OTLP_METRICS_PATH, async (request, reply) => {
    const type = String(request.headers['content-type'] ?? '')
      .split(';')[0]!
      .trim()
      .toLowerCase();
    const format = FORMATS[type];
    if (!format) {
      metrics.otlpRequests.inc({ outcome: 'unsupported' });
      return text(reply, 415, `unsupported Content-Type "${type}": send application/x-protobuf or application/json`);
    }
    const encoding = String(request.headers['content-encoding'] ?? 'identity')
      .trim()
      .toLowerCase();
    if (encoding !== 'identity' && encoding !== 'gzip') {
      metrics.otlpRequests.inc({ outcome: 'unsupported' });
      return text(reply, 415, `unsupported Content-Encoding "${encoding}": send gzip or identity`);
    }
    const stream = request.headers['x-p-stream'];
    if (stream !== undefined && (typeof stream !== 'string' || !STREAM_NAME.test(stream))) {
      metrics.otlpRequests.inc({ outcome: 'invalid' });
      return text(reply, 400, 'X-P-Stream is not a stream name (letters, digits, _ and -)');
    }

    let body = (request.body as Buffer | undefined) ?? Buffer.alloc(0);
    let decoded: MetricsRequest;
    try {
      if (encoding === 'gzip') body = await gunzipAsync(body, { maxOutputLength: relay.maxRequestBytes });
      decoded = format === 'protobuf' ? decodeProtobuf(body) : decodeJson(body.toString('utf8'));
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      if (e.code === 'ERR_BUFFER_TOO_LARGE') {
        metrics.otlpRequests.inc({ outcome: 'too_large' });
        return text(reply, 413, `decompressed body exceeds --otlp-max-request-bytes (${relay.maxRequestBytes} bytes)`);
      }
      metrics.otlpRequests.inc({ outcome: 'invalid' });
      // Only the decoders and gunzip can throw here; anything else is said as it is, not as gzip's.
      const reason = err instanceof OtlpDecodeError ? err.message : e.code?.startsWith('Z_') ? `gzip: ${e.message}` : e.message;
      log.warn({ event: 'otlp_invalid', reason }, `rejected an OTLP request: ${reason}`);
      return text(reply, 400, reason);
    }

    const received = countPoints(decoded);
    let encoded;
    try {
      const { request: repaired, counts } = relay.repair.repair(decoded);
      metrics.countRepairs(counts);
      encoded = encodeForParseable(repaired);
    } catch (err) {
      metrics.otlpRequests.inc({ outcome: 'invalid' });
      return text(reply, 400, `invalid OTLP data: ${(err as Error).message}`);
    }
    // Acknowledged once held: with a spool, once it is on disk. What cannot be held
    // now is refused with a retryable status, so the sender keeps it (Fluent Bit
    // retries from its own buffer) instead of this relay losing it.
    if (encoded.points > 0 && (await relay.forwarder.enqueue(encoded.body, encoded.points, stream, { senderRetries: true })) === 'refused') {
      metrics.otlpRequests.inc({ outcome: 'unavailable' });
      return text(reply.header('retry-after', '5'), 503, 'the relay cannot hold this batch now (shutting down, or its spool cannot write); send it again');
    }
    metrics.otlpRequests.inc({ outcome: 'accepted' });
    metrics.otlpReceivedPoints.inc(received);
    if (encoded.dropped > 0) metrics.otlpDroppedPoints.inc({ reason: 'not_finite' }, encoded.dropped);
    return reply
      .code(200)
      .type(format === 'json' ? 'application/json' : 'application/x-protobuf')
      .send(encodeResponse(format, encoded.dropped, 'NaN and infinite values cannot be written as OTLP/JSON for Parseable'));
  });
};

function text(reply: FastifyReply, status: number, message: string): FastifyReply {
  return reply.code(status).type('text/plain; charset=utf-8').send(`${message}\n`);
}

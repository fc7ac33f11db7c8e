/**
 * The API passthrough's parts put together for `serve`: where records go (the
 * request log, Parseable's JSON ingest, the self-metrics) and the server-side
 * view from the one upstream's /metrics.
 */
import type { Counter } from 'prom-client';
import { JsonForwarder, type ForwarderMetrics } from '../export/json-forwarder.js';
import type { Logger } from '../logger.js';
import { resolveDestination, type DestinationOptions } from '../otlp/destination.js';
import { RequestLog } from '../requests/request-log.js';
import { ServerView, Snapshots, totalsByModel } from '../requests/server-view.js';
import { RequestShipper } from '../requests/shipper.js';
import type { Spool } from '../spool/spool.js';
import { fetchText } from '../upstream/scrape.js';
import type { Upstream } from '../upstream/upstream.js';
import type { ApiConfig, ApiContext } from './passthrough.js';

export interface ApiPassthroughConfig extends ApiConfig {
  /** `--request-log`: JSON lines, one per request. */
  requestLog?: { path: string; maxBytes: number };
  /** `--request-log-url`: records posted to Parseable's /api/v1/ingest. */
  ship?: { destination: DestinationOptions; maxQueueBytes: number; timeoutMs: number; retryBaseMs?: number; retryMaxMs?: number; maxWaitMs?: number };
  /** Take vLLM's /metrics around each request (the server-side view); on by default. */
  serverView?: boolean;
}

/** What the passthrough counts (server/self-metrics.ts implements it). */
export interface ApiMetrics {
  /** vllm_metrics_proxy_api_requests_total{endpoint,status}. */
  readonly apiRequests: Counter<'endpoint' | 'status'>;
  /** The counters of the records shipped to Parseable. */
  requestShipper(): ForwarderMetrics;
}

export interface ApiPassthrough {
  context: ApiContext;
  /** Deliver what is queued for Parseable, close the log. */
  close(): Promise<void>;
}

/** `upstream` is the single upstream, when there is one: the server-side view reads it (in fleet mode a request's vLLM is not known here). */
export function apiPassthrough(
  config: ApiPassthroughConfig,
  deps: { log: Logger; metrics: ApiMetrics; upstream?: Upstream; spool?: { spool: Spool; maxBytes: number; drainPerSecond?: number } },
): ApiPassthrough {
  const { log, metrics, upstream } = deps;
  const requestLog = config.requestLog ? new RequestLog(config.requestLog) : undefined;
  const ship = config.ship;
  const shipper = ship
    ? new RequestShipper(
        new JsonForwarder({
          destination: resolveDestination(ship.destination, 'api.ship.destination.url'),
          // With a spool, the records wait on disk (bounded by the spool's size) across restarts.
          spool: deps.spool?.spool,
          drainPerSecond: deps.spool?.drainPerSecond,
          maxQueueBytes: deps.spool?.maxBytes ?? ship.maxQueueBytes,
          timeoutMs: ship.timeoutMs,
          retryBaseMs: ship.retryBaseMs,
          retryMaxMs: ship.retryMaxMs,
          log,
          metrics: metrics.requestShipper(),
          what: 'request log',
        }),
        { maxWaitMs: ship.maxWaitMs },
      )
    : undefined;
  // The view reads /metrics about once a request. A fresh buffer for every body was the external
  // memory that set V8 off on a full collection every second or so at one client (bench/README.md,
  // "API passthrough"): the bodies are read into one buffer, sized to the largest seen. Snapshots
  // has at most one fetch in flight, and a body is scanned before that fetch is over.
  let into = Buffer.allocUnsafeSlow(0);
  const serverView =
    config.serverView !== false && upstream
      ? new ServerView(
          new Snapshots(async () => {
            const t = await fetchText(upstream, undefined, into);
            const { body } = t;
            if (body.buffer !== into.buffer && body.length > into.length) into = Buffer.allocUnsafeSlow(body.length + (body.length >> 2));
            return totalsByModel(body);
          }),
        )
      : undefined;
  return {
    context: {
      log,
      serverView,
      onRecord: (record) => {
        metrics.apiRequests.inc({ endpoint: record.endpoint, status: String(record.status) });
        requestLog?.append(record);
        shipper?.add(record);
      },
    },
    async close() {
      await shipper?.close(ship!.timeoutMs);
      requestLog?.close();
    },
  };
}

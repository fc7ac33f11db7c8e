import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { ApiMetrics } from '../api/wiring.js';
import { UPSTREAM_ERROR_KINDS } from '../errors.js';
import type { GatewayPushMetrics } from '../export/gateway-pusher.js';
import type { ForwarderMetrics } from '../export/json-forwarder.js';
import type { FleetMetrics } from '../fleet/fleet.js';
import type { MergeIssueMetrics } from '../fleet/issue-log.js';
import type { PushMetrics } from '../otlp/push.js';
import type { SaturationMetrics } from '../saturation/wiring.js';
import type { RepairCounts } from '../otlp/relay-repair.js';

/**
 * The proxy's own metrics, served on their own path (/proxy/metrics) so they can
 * never collide with, or change the content type of, the upstream exposition.
 * Every name starts with vllm_metrics_proxy_.
 */
export const SELF_PREFIX = 'vllm_metrics_proxy_';

export type ScrapeOutcome = 'ok' | 'error' | 'client_abort';

/** The forwarders' queues (in memory or spooled). */
type QueueName = 'relay' | 'push' | 'requests';
const OUTCOMES: ScrapeOutcome[] = ['ok', 'error', 'client_abort'];

/**
 * Every module below the server declares the few metrics it reports as a narrow
 * interface of its own; this class implements them all, so those modules never
 * import the server.
 */
export class SelfMetrics implements FleetMetrics, MergeIssueMetrics, PushMetrics, GatewayPushMetrics, SaturationMetrics, ApiMetrics {
  readonly registry = new Registry();
  readonly scrapeDuration: Histogram<'outcome'>;
  readonly upstreamErrors: Counter<'kind'>;
  readonly upstreamBytes: Counter;
  readonly scrapes: Counter<'outcome'>;
  readonly collisions: Counter;
  readonly droppedLines: Counter;
  readonly renamedNames: Gauge;
  readonly familyRenames: Counter<'target' | 'from' | 'to'>;
  readonly upstreamUp: Gauge;
  readonly lastSuccess: Gauge;
  readonly inFlight: Gauge;
  readonly otlpRequests: Counter<'outcome'>;
  readonly otlpReceivedPoints: Counter;
  readonly otlpForwardedPoints: Counter<'path'>;
  readonly otlpDroppedPoints: Counter<'reason'>;
  readonly otlpRetries: Counter;
  readonly otlpRepairs: Counter<'reason'>;
  readonly otlpUnrepaired: Counter<'reason'>;
  readonly otlpQueueBytes: Gauge;
  readonly otlpQueueBatches: Gauge;
  readonly otlpPushes: Counter<'outcome'>;
  readonly upstreamFetches: Counter;
  readonly coalescedScrapes: Counter;
  readonly targets: Gauge<'state'>;
  readonly mergeIssues: Counter<'kind'>;
  readonly pollAge: Gauge;
  readonly polls: Counter<'outcome'>;
  readonly gatewayPushes: Counter<'outcome'>;
  readonly saturationQueries: Counter<'outcome'>;
  readonly apiRequests: Counter<'endpoint' | 'status'>;
  readonly requestsShipped: Counter;
  readonly requestsDropped: Counter<'reason'>;
  readonly requestsShipRetries: Counter;
  readonly requestsQueueBytes: Gauge;
  readonly requestsQueueBatches: Gauge;
  readonly otlpQueueOldestAge: Gauge;
  readonly otlpPushQueueBytes: Gauge;
  readonly otlpPushQueueBatches: Gauge;
  readonly otlpPushQueueOldestAge: Gauge;
  readonly requestsQueueOldestAge: Gauge;
  /** When the oldest waiting batch was accepted (ms), per queue; undefined when empty. */
  readonly #oldestMs: Partial<Record<QueueName, number>> = {};
  /** Label children bound once: prom-client hashes a label object on every call otherwise. */
  private readonly byOutcome: Record<ScrapeOutcome, { scrapes: { inc(): void }; duration: { observe(v: number): void } }>;
  /** When the latest poll's data was scraped (ms); 0 before the first. */
  pollTimeMs = 0;

  constructor(options: { processMetrics?: boolean } = {}) {
    const registers = [this.registry];
    const p = SELF_PREFIX;
    this.scrapeDuration = new Histogram({
      name: `${p}scrape_duration_seconds`,
      help: 'Time from a client request on /metrics to the end of the sanitized response.',
      labelNames: ['outcome'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    });
    this.scrapes = new Counter({
      name: `${p}scrapes_total`,
      help: 'Client scrapes of /metrics by outcome (ok, error, client_abort).',
      labelNames: ['outcome'],
      registers,
    });
    this.upstreamErrors = new Counter({
      name: `${p}upstream_errors_total`,
      help: 'Failed upstream fetches by kind.',
      labelNames: ['kind'],
      registers,
    });
    for (const kind of UPSTREAM_ERROR_KINDS) this.upstreamErrors.inc({ kind }, 0);
    const bind = (o: ScrapeOutcome) => ({ scrapes: this.scrapes.labels(o), duration: this.scrapeDuration.labels(o) });
    this.byOutcome = { ok: bind('ok'), error: bind('error'), client_abort: bind('client_abort') };
    for (const outcome of OUTCOMES) this.scrapes.inc({ outcome }, 0);
    this.upstreamBytes = new Counter({
      name: `${p}upstream_bytes_total`,
      help: 'Decoded bytes read from the upstream exposition.',
      registers,
    });
    this.collisions = new Counter({
      name: `${p}name_collisions_total`,
      help: 'Names whose lines were dropped because their sanitized spelling was already taken (counted per scrape).',
      registers,
    });
    this.droppedLines = new Counter({
      name: `${p}dropped_lines_total`,
      help: 'Exposition lines dropped because of a name collision.',
      registers,
    });
    this.renamedNames = new Gauge({
      name: `${p}renamed_names`,
      help: 'Distinct metric names rewritten in the last successful scrape.',
      registers,
    });
    this.familyRenames = new Counter({
      name: `${p}family_renames_total`,
      help: 'Families a target now serves under another known name than in its previous answer (an upgrade): from the old name to the new (docs/names.md).',
      labelNames: ['target', 'from', 'to'],
      registers,
    });
    this.upstreamUp = new Gauge({
      name: `${p}upstream_up`,
      help: '1 if the last upstream fetch succeeded, else 0.',
      registers,
    });
    this.lastSuccess = new Gauge({
      name: `${p}upstream_last_success_timestamp_seconds`,
      help: 'Unix time of the last successful upstream fetch.',
      registers,
    });
    this.inFlight = new Gauge({
      name: `${p}scrapes_in_flight`,
      help: 'Client scrapes currently streaming.',
      registers,
    });
    this.otlpRequests = new Counter({
      name: `${p}otlp_relay_requests_total`,
      help: 'OTLP requests received on /v1/metrics by outcome (accepted, invalid, too_large, unsupported, unauthorized, unavailable: refused with 503 because the batch could not be held, so the sender keeps it).',
      labelNames: ['outcome'],
      registers,
    });
    this.otlpReceivedPoints = new Counter({
      name: `${p}otlp_received_points_total`,
      help: 'Data points accepted by the OTLP relay.',
      registers,
    });
    this.otlpForwardedPoints = new Counter({
      name: `${p}otlp_forwarded_points_total`,
      help: 'Data points delivered to the OTLP destination, by path (relay, push).',
      labelNames: ['path'],
      registers,
    });
    this.otlpDroppedPoints = new Counter({
      name: `${p}otlp_dropped_points_total`,
      help: 'Data points given up on, by reason (queue_full: the queue or spool bound; rejected: a 4xx from the destination; not_finite; shutdown; push_failed; disk_full: the spool could not write for lack of room; spool_error: it could not write for another reason; damaged: a spooled batch could not be read back).',
      labelNames: ['reason'],
      registers,
    });
    this.otlpRepairs = new Counter({
      name: `${p}otlp_repaired_points_total`,
      help: 'Relay points repaired before forwarding, by reason (cumulative_buckets: histogram buckets made per-bucket; temporality_unspecified: histograms marked cumulative; created_folded: _created gauge points folded into start times; start_from_created, start_first_seen: start times filled in).',
      labelNames: ['reason'],
      registers,
    });
    this.otlpUnrepaired = new Counter({
      name: `${p}otlp_unrepaired_points_total`,
      help: 'Relay points forwarded as they came although wrong, by reason (inconsistent_buckets: histogram buckets neither per-bucket nor cumulative).',
      labelNames: ['reason'],
      registers,
    });
    this.otlpRetries = new Counter({
      name: `${p}otlp_forward_retries_total`,
      help: 'Relay deliveries (and spooled pushes) retried after a network error, a timeout, 429 or 5xx.',
      registers,
    });
    this.otlpQueueBytes = new Gauge({
      name: `${p}otlp_queue_bytes`,
      help: 'Bytes of OTLP/JSON waiting for delivery (in memory, or in the spool with --spool-dir).',
      registers,
    });
    this.otlpQueueBatches = new Gauge({
      name: `${p}otlp_queue_batches`,
      help: 'Requests waiting for delivery.',
      registers,
    });
    this.otlpPushes = new Counter({
      name: `${p}otlp_pushes_total`,
      help: 'Direct OTLP pushes by outcome (ok, scrape_error, export_error).',
      labelNames: ['outcome'],
      registers,
    });
    this.upstreamFetches = new Counter({
      name: `${p}upstream_fetches_total`,
      help: 'Requests sent to upstreams (every target, every path: client scrapes, polls, pushes, probes).',
      registers,
    });
    this.coalescedScrapes = new Counter({
      name: `${p}coalesced_scrapes_total`,
      help: 'Client scrapes of /metrics answered by joining a fetch already in flight instead of making their own.',
      registers,
    });
    this.targets = new Gauge({
      name: `${p}targets`,
      help: 'Targets by the state of their last scrape (up, down).',
      labelNames: ['state'],
      registers,
    });
    this.mergeIssues = new Counter({
      name: `${p}merge_issues_total`,
      help: 'Decisions of the fleet merge, by kind (label_renamed, type_conflict, name_collision), counted per scrape.',
      labelNames: ['kind'],
      registers,
    });
    for (const kind of ['label_renamed', 'type_conflict', 'name_collision']) this.mergeIssues.inc({ kind }, 0);
    // collect() runs with the gauge as `this`: read the poll time through a closure.
    const pollTimeMs = () => this.pollTimeMs;
    this.pollAge = new Gauge({
      name: `${p}poll_age_seconds`,
      help: 'Age of the data /metrics serves in poll mode (--poll-interval); absent before the first successful poll.',
      registers,
      collect() {
        if (pollTimeMs() > 0) this.set((Date.now() - pollTimeMs()) / 1000);
      },
    });
    this.polls = new Counter({
      name: `${p}polls_total`,
      help: 'Polls in poll mode by outcome (ok, error).',
      labelNames: ['outcome'],
      registers,
    });
    this.gatewayPushes = new Counter({
      name: `${p}pushgateway_pushes_total`,
      help: 'Pushes of one group to the Pushgateway by outcome (ok, error, scrape_error), retries not counted.',
      labelNames: ['outcome'],
      registers,
    });
    this.saturationQueries = new Counter({
      name: `${p}prometheus_queries_total`,
      help: 'HTTP requests to Prometheus for saturation (--saturation-from-prometheus) by outcome (ok, error), retries included.',
      labelNames: ['outcome'],
      registers,
    });
    this.apiRequests = new Counter({
      name: `${p}api_requests_total`,
      help: 'Generation requests passed through to vLLM and recorded, by endpoint and HTTP status.',
      labelNames: ['endpoint', 'status'],
      registers,
    });
    this.requestsShipped = new Counter({ name: `${p}request_records_shipped_total`, help: 'Request records delivered to --request-log-url.', registers });
    this.requestsDropped = new Counter({
      name: `${p}request_records_dropped_total`,
      help: 'Request records given up on, by reason (queue_full, rejected, shutdown, disk_full, spool_error, damaged).',
      labelNames: ['reason'],
      registers,
    });
    this.requestsShipRetries = new Counter({ name: `${p}request_records_retries_total`, help: 'Deliveries to --request-log-url retried.', registers });
    this.requestsQueueBytes = new Gauge({
      name: `${p}request_records_queue_bytes`,
      help: 'Bytes of request records waiting for delivery (in memory, or in the spool with --spool-dir).',
      registers,
    });
    this.requestsQueueBatches = new Gauge({ name: `${p}request_records_queue_batches`, help: 'Batches of request records waiting for delivery.', registers });
    // Each queue's age, read from its oldest batch's time when scraped.
    const oldestMs = this.#oldestMs;
    const ageGauge = (name: string, help: string, queue: QueueName) =>
      new Gauge({
        name,
        help,
        registers,
        collect() {
          const at = oldestMs[queue];
          this.set(at === undefined ? 0 : (Date.now() - at) / 1000);
        },
      });
    this.otlpQueueOldestAge = ageGauge(`${p}otlp_queue_oldest_age_seconds`, 'Age of the oldest relay batch waiting for delivery; 0 when none waits.', 'relay');
    this.otlpPushQueueBytes = new Gauge({
      name: `${p}otlp_push_queue_bytes`,
      help: 'Bytes of direct pushes waiting in the spool (--otlp-push-url with --spool-dir).',
      registers,
    });
    this.otlpPushQueueBatches = new Gauge({ name: `${p}otlp_push_queue_batches`, help: 'Direct pushes waiting in the spool.', registers });
    this.otlpPushQueueOldestAge = ageGauge(
      `${p}otlp_push_queue_oldest_age_seconds`,
      'Age of the oldest direct push waiting in the spool; 0 when none waits.',
      'push',
    );
    this.requestsQueueOldestAge = ageGauge(
      `${p}request_records_queue_oldest_age_seconds`,
      'Age of the oldest batch of request records waiting for delivery; 0 when none waits.',
      'requests',
    );
    if (options.processMetrics !== false) collectDefaultMetrics({ register: this.registry, prefix: p });
  }

  /** The relay forwarder's counters: otlp_forwarded_points_total{path="relay"}, otlp_dropped_points_total, otlp_queue_* */
  relayForwarder(): ForwarderMetrics {
    return this.#forwarder(
      'relay',
      (n) => this.otlpForwardedPoints.inc({ path: 'relay' }, n),
      this.otlpDroppedPoints,
      this.otlpRetries,
      this.otlpQueueBytes,
      this.otlpQueueBatches,
    );
  }

  /** The spooled direct push's counters: otlp_forwarded_points_total{path="push"}, otlp_push_queue_* */
  pushForwarder(): ForwarderMetrics {
    return this.#forwarder(
      'push',
      (n) => this.otlpForwardedPoints.inc({ path: 'push' }, n),
      this.otlpDroppedPoints,
      this.otlpRetries,
      this.otlpPushQueueBytes,
      this.otlpPushQueueBatches,
    );
  }

  /** The request log shipper's counters: request_records_shipped_total, request_records_queue_* */
  requestShipper(): ForwarderMetrics {
    return this.#forwarder(
      'requests',
      (n) => this.requestsShipped.inc(n),
      this.requestsDropped,
      this.requestsShipRetries,
      this.requestsQueueBytes,
      this.requestsQueueBatches,
    );
  }

  /** One forwarder's counters and queue gauges; the queue's oldest batch time feeds its age gauge. */
  #forwarder(queue: QueueName, delivered: (n: number) => void, dropped: Counter<'reason'>, retried: Counter, bytes: Gauge, batches: Gauge): ForwarderMetrics {
    return {
      delivered,
      dropped: (reason, n) => dropped.inc({ reason }, n),
      retried: () => retried.inc(),
      queue: (b, n, oldestMs) => {
        bytes.set(b);
        batches.set(n);
        this.#oldestMs[queue] = oldestMs;
      },
    };
  }

  /** What the relay repaired in one request. */
  countRepairs(counts: RepairCounts): void {
    for (const reason of ['cumulative_buckets', 'temporality_unspecified', 'created_folded', 'start_from_created', 'start_first_seen'] as const) {
      if (counts[reason] > 0) this.otlpRepairs.inc({ reason }, counts[reason]);
    }
    if (counts.inconsistentBuckets > 0) this.otlpUnrepaired.inc({ reason: 'inconsistent_buckets' }, counts.inconsistentBuckets);
  }

  /** One client scrape of /metrics ended. */
  scrapeDone(outcome: ScrapeOutcome, seconds: number): void {
    this.byOutcome[outcome].scrapes.inc();
    this.byOutcome[outcome].duration.observe(seconds);
  }
}

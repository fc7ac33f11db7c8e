/**
 * Delivers JSON batches (OTLP/JSON for the relay, request records for the
 * request log) to a destination, in order, one at a time.
 *
 * The queue is bounded in bytes. When the destination is down, batches wait and
 * are retried with capped exponential backoff and full jitter (so many proxies
 * coming back at once do not hammer Parseable in step); when the bound is
 * reached the oldest batch is dropped, because for metrics the newest values
 * are the valuable ones. A 4xx answer (other than 408/429) will not get better
 * by retrying: the batch is dropped and Parseable's reason is logged.
 */
import { backoffDelay } from '../backoff.js';
import { Agent, request } from 'undici';
import type { Logger } from '../logger.js';
import type { Destination } from '../otlp/destination.js';

/** What a forwarder reports; `items` are data points (OTLP) or records (request log). */
export interface ForwarderMetrics {
  delivered(items: number): void;
  dropped(reason: 'queue_full' | 'rejected' | 'shutdown', items: number): void;
  retried(): void;
  queue(bytes: number, batches: number): void;
}

export interface ForwarderOptions {
  destination: Destination;
  maxQueueBytes: number;
  timeoutMs: number;
  retryBaseMs?: number;
  retryMaxMs?: number;
  log: Logger;
  metrics: ForwarderMetrics;
  /** Names the forwarder in its log lines (`OTLP`, `request log`). */
  what?: string;
}

interface Batch {
  body: Buffer;
  points: number;
  headers: Record<string, string>;
}

type Outcome = { kind: 'delivered' } | { kind: 'rejected'; status: number; text: string } | { kind: 'retry'; reason: string };

const MAX_LOGGED_TEXT = 1000;

export class JsonForwarder {
  readonly #dest: Destination;
  readonly #maxBytes: number;
  readonly #timeoutMs: number;
  readonly #baseMs: number;
  readonly #maxMs: number;
  readonly #log: Logger;
  readonly #metrics: ForwarderMetrics;
  readonly #what: string;
  readonly #agent: Agent;
  readonly #queue: Batch[] = [];
  #bytes = 0;
  #inFlight: Batch | null = null;
  #pumping: Promise<void> | null = null;
  #down = false;
  #closed = false;
  #abort = new AbortController();
  #wake: (() => void) | null = null;
  #overflowLogged = false;

  constructor(options: ForwarderOptions) {
    this.#dest = options.destination;
    this.#maxBytes = options.maxQueueBytes;
    this.#timeoutMs = options.timeoutMs;
    this.#baseMs = options.retryBaseMs ?? 500;
    this.#maxMs = options.retryMaxMs ?? 30_000;
    this.#log = options.log;
    this.#metrics = options.metrics;
    this.#what = options.what ?? 'OTLP';
    this.#agent = new Agent({ headersTimeout: this.#timeoutMs, bodyTimeout: this.#timeoutMs, connect: { timeout: this.#timeoutMs } });
  }

  get queuedBatches(): number {
    return this.#queue.length;
  }

  /** Queue one OTLP/JSON body. `stream` overrides the configured X-P-Stream. */
  enqueue(body: string, points: number, stream?: string): void {
    if (this.#closed) {
      this.#metrics.dropped('shutdown', points);
      return;
    }
    const batch: Batch = { body: Buffer.from(body), points, headers: stream ? { 'x-p-stream': stream } : {} };
    if (batch.body.length > this.#maxBytes) {
      this.#drop(batch, 'queue_full');
      return;
    }
    this.#queue.push(batch);
    this.#bytes += batch.body.length;
    // Drop the oldest waiting batch, never the one on the wire.
    while (this.#bytes > this.#maxBytes) {
      const victimIndex = this.#queue[0] === this.#inFlight ? 1 : 0;
      const [victim] = this.#queue.splice(victimIndex, 1);
      this.#bytes -= victim!.body.length;
      this.#drop(victim!, 'queue_full');
    }
    this.#gauges();
    this.#pumping ??= this.#pump().finally(() => {
      this.#pumping = null;
    });
  }

  /** Stop taking batches; deliver what is queued until `deadlineMs`, then drop the rest. */
  async close(deadlineMs: number): Promise<void> {
    this.#closed = true;
    if (this.#pumping) {
      this.#wake?.();
      let timer: NodeJS.Timeout | undefined;
      const deadline = new Promise<void>((resolve) => {
        timer = setTimeout(() => {
          this.#abort.abort();
          this.#wake?.();
          resolve();
        }, deadlineMs);
      });
      await Promise.race([this.#pumping, deadline]);
      clearTimeout(timer);
      await this.#pumping;
    }
    for (const batch of this.#queue.splice(0)) this.#drop(batch, 'shutdown');
    this.#bytes = 0;
    this.#gauges();
    await this.#agent.close();
  }

  async #pump(): Promise<void> {
    let attempt = 0;
    while (this.#queue.length > 0 && !this.#abort.signal.aborted) {
      const batch = this.#queue[0]!;
      this.#inFlight = batch;
      const outcome = await this.#send(batch);
      this.#inFlight = null;
      if (outcome.kind === 'retry') {
        if (!this.#down) {
          this.#down = true;
          this.#log.warn(
            { event: 'otlp_destination_down', destination: this.#dest.display, reason: outcome.reason },
            `${this.#what} destination failing (${outcome.reason}); queueing and retrying`,
          );
        }
        if (this.#closed) break;
        this.#metrics.retried();
        const delay = backoffDelay(attempt, this.#baseMs, this.#maxMs);
        attempt++;
        await this.#sleep(delay);
        continue;
      }
      attempt = 0;
      if (this.#down) {
        this.#down = false;
        this.#overflowLogged = false;
        this.#log.info(
          { event: 'otlp_destination_up', destination: this.#dest.display, queued: this.#queue.length },
          `${this.#what} destination accepts again`,
        );
      }
      // Still the head: overflow never drops the batch on the wire.
      this.#queue.shift();
      this.#bytes -= batch.body.length;
      if (outcome.kind === 'delivered') {
        this.#metrics.delivered(batch.points);
      } else {
        this.#log.warn(
          { event: 'otlp_rejected', destination: this.#dest.display, status: outcome.status, response: outcome.text, points: batch.points },
          `${this.#what} destination rejected a batch with HTTP ${outcome.status}: ${outcome.text}`,
        );
        this.#metrics.dropped('rejected', batch.points);
      }
      this.#gauges();
    }
  }

  async #send(batch: Batch): Promise<Outcome> {
    const deadline = AbortSignal.timeout(this.#timeoutMs);
    const signal = AbortSignal.any([deadline, this.#abort.signal]);
    try {
      const res = await request(this.#dest.url, {
        method: 'POST',
        dispatcher: this.#agent,
        headers: { ...this.#dest.headers, ...batch.headers, 'content-type': 'application/json' },
        body: batch.body,
        signal,
      });
      const text = (await res.body.text()).slice(0, MAX_LOGGED_TEXT);
      if (res.statusCode >= 200 && res.statusCode < 300) return { kind: 'delivered' };
      if (res.statusCode >= 500 || res.statusCode === 408 || res.statusCode === 429) return { kind: 'retry', reason: `HTTP ${res.statusCode}` };
      return { kind: 'rejected', status: res.statusCode, text };
    } catch (err) {
      if (deadline.aborted) return { kind: 'retry', reason: `no answer within ${this.#timeoutMs} ms` };
      const e = err as NodeJS.ErrnoException;
      return { kind: 'retry', reason: e.code ?? e.message };
    }
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.#wake = () => {
        this.#wake = null;
        done();
      };
    });
  }

  #drop(batch: Batch, reason: 'queue_full' | 'shutdown'): void {
    this.#metrics.dropped(reason, batch.points);
    // Once per outage: the counter has the running total.
    if (reason === 'queue_full' && !this.#overflowLogged) {
      this.#overflowLogged = true;
      this.#log.warn(
        { event: 'otlp_queue_full', destination: this.#dest.display, points: batch.points, maxQueueBytes: this.#maxBytes },
        `${this.#what} queue full: dropping the oldest batches until the destination accepts again`,
      );
    }
  }

  #gauges(): void {
    this.#metrics.queue(this.#bytes, this.#queue.length);
  }
}

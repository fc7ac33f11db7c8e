/**
 * Delivers JSON batches (OTLP/JSON for the relay, request records for the
 * request log) to a destination, in order, one at a time.
 *
 * Batches wait in memory or, with a spool, on disk (spool/spool.ts), where they
 * survive a restart of the proxy: then `enqueue` resolves only once the batch is
 * durable, which is what lets the relay acknowledge a sender only for what it
 * will not lose. Either way the queue is bounded in bytes. When the destination
 * is down, batches wait and are retried with capped exponential backoff and full
 * jitter (so many proxies coming back at once do not hammer Parseable in step);
 * when the bound is reached the oldest batch is dropped, because for metrics the
 * newest values are the valuable ones. A 4xx answer (other than 408/429) will
 * not get better by retrying: the batch is dropped and Parseable's reason is
 * logged.
 *
 * Catching up after an outage: the backlog drains oldest first at a bounded
 * rate (`drainPerSecond`), and a batch that arrives meanwhile goes out before
 * the rest of the backlog, so current data is not held back behind old.
 */
import { backoffDelay } from '../backoff.js';
import { Agent, request } from 'undici';
import { SpoolError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { Destination } from '../otlp/destination.js';
import type { Spool, SpooledBatch } from '../spool/spool.js';

export type DropReason = 'queue_full' | 'rejected' | 'shutdown' | 'disk_full' | 'spool_error' | 'damaged';
export type EnqueueResult = 'held' | 'dropped' | 'refused';

/** What a forwarder reports; `items` are data points (OTLP) or records (request log). */
export interface ForwarderMetrics {
  delivered(items: number): void;
  dropped(reason: DropReason, items: number): void;
  retried(): void;
  /** What waits: bytes, batches, and when the oldest was accepted (undefined when nothing waits). */
  queue(bytes: number, batches: number, oldestMs?: number): void;
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
  /** Keep waiting batches on disk, across restarts; `maxQueueBytes` then bounds the spool. */
  spool?: Spool;
  /** After an outage, backlog batches sent per second at most (default 20). */
  drainPerSecond?: number;
}

interface Batch {
  /** In memory; a spooled batch is read back when its turn comes. */
  body?: Buffer;
  spooled?: SpooledBatch;
  bytes: number;
  points: number;
  headers: Record<string, string>;
  createdMs: number;
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
  readonly #spool: Spool | undefined;
  readonly #drainGapMs: number;
  /** Oldest first. */
  readonly #queue: Batch[] = [];
  /** Spool writes and removals under way: close() waits for them (a delivered batch left on disk would be sent again). */
  readonly #appending = new Set<Promise<unknown>>();
  #bytes = 0;
  #inFlight: Batch | null = null;
  #pumping: Promise<void> | null = null;
  #down = false;
  #closed = false;
  #abort = new AbortController();
  #wake: (() => void) | null = null;
  #overflowLogged = false;
  #diskFullLogged = false;
  /** Set when an outage ends with a backlog: the catch-up under way. */
  #catchUp: { sinceMs: number; held: number; delivered: number; dropped: number } | null = null;
  /** Counted during an outage, for the line that says it is over. */
  #outage: { sinceMs: number; dropped: number } | null = null;
  #lastSendMs = 0;

  constructor(options: ForwarderOptions) {
    this.#dest = options.destination;
    this.#maxBytes = options.maxQueueBytes;
    this.#timeoutMs = options.timeoutMs;
    this.#baseMs = options.retryBaseMs ?? 500;
    this.#maxMs = options.retryMaxMs ?? 30_000;
    this.#log = options.log;
    this.#metrics = options.metrics;
    this.#what = options.what ?? 'OTLP';
    this.#spool = options.spool;
    this.#drainGapMs = 1000 / (options.drainPerSecond ?? 20);
    this.#agent = new Agent({ headersTimeout: this.#timeoutMs, bodyTimeout: this.#timeoutMs, connect: { timeout: this.#timeoutMs } });
    // What a previous run left on disk goes first, in order.
    for (const spooled of this.#spool?.index ?? []) {
      this.#queue.push({ spooled, bytes: spooled.bytes, points: spooled.points, headers: spooled.headers, createdMs: spooled.createdMs });
      this.#bytes += spooled.bytes;
    }
    if (this.#queue.length > 0) {
      this.#log.info(
        { event: 'spool_resumed', spool: this.#spool!.dir, batches: this.#queue.length, bytes: this.#bytes, points: this.#points() },
        `${this.#what}: ${this.#queue.length} batch(es) kept from before the restart, delivering them`,
      );
      this.#gauges();
      this.#startPump();
    }
  }

  get queuedBatches(): number {
    return this.#queue.length;
  }

  /**
   * Queue one JSON body; `stream` overrides the configured X-P-Stream. Resolves
   * `held` once the batch is held (in memory, or on disk with a spool). One that
   * cannot be held now (shutting down, the spool's disk full) is `dropped` and
   * counted, or, when `senderRetries` says the sender will be told to send it
   * again (the relay answers 503), `refused` and not counted, since nothing is
   * lost here. One larger than the whole bound is always `dropped`: sending it
   * again would not help.
   */
  enqueue(body: string | Uint8Array, points: number, stream?: string, options: { senderRetries?: boolean } = {}): Promise<EnqueueResult> {
    const refuse = (reason: DropReason): Promise<EnqueueResult> => {
      if (options.senderRetries) return Promise.resolve('refused');
      this.#metrics.dropped(reason, points);
      return Promise.resolve('dropped');
    };
    if (this.#closed) return refuse('shutdown');
    const bytes = typeof body === 'string' ? Buffer.from(body) : Buffer.from(body.buffer, body.byteOffset, body.byteLength);
    const headers: Record<string, string> = stream ? { 'x-p-stream': stream } : {};
    if (bytes.length > this.#maxBytes) {
      this.#drop({ points }, 'queue_full');
      return Promise.resolve('dropped');
    }
    if (!this.#spool) {
      this.#hold({ body: bytes, bytes: bytes.length, points, headers, createdMs: Date.now() });
      return Promise.resolve('held');
    }
    const spool = this.#spool;
    const written = spool.append(bytes, points, headers).then(
      (spooled): EnqueueResult => {
        this.#hold({ spooled, bytes: spooled.bytes, points, headers, createdMs: spooled.createdMs });
        this.#diskFullLogged = false;
        return 'held';
      },
      (err: unknown): Promise<EnqueueResult> => {
        const e = err as SpoolError;
        if (!this.#diskFullLogged) {
          this.#diskFullLogged = true;
          this.#log.error(
            { event: 'spool_write_failed', spool: spool.dir, diskFull: e.diskFull, points },
            `${this.#what} spool cannot hold new batches (${e.message}): ${options.senderRetries ? 'refusing' : 'dropping'} them, keeping what it holds`,
          );
        }
        return refuse(e.diskFull ? 'disk_full' : 'spool_error');
      },
    );
    this.#appending.add(written);
    void written.finally(() => this.#appending.delete(written));
    return written;
  }

  /** Into the queue, then the bound: the oldest waiting batch goes first, never the one on the wire. */
  #hold(batch: Batch): void {
    this.#queue.push(batch);
    this.#bytes += batch.bytes;
    while (this.#bytes > this.#maxBytes) {
      const victim = this.#queue.find((b) => b !== this.#inFlight);
      if (!victim) break;
      this.#forget(victim);
      this.#drop(victim, 'queue_full');
    }
    this.#gauges();
    this.#startPump();
  }

  #startPump(): void {
    this.#pumping ??= this.#pump().finally(() => {
      this.#pumping = null;
    });
  }

  /**
   * Stop taking batches; deliver what is queued until `deadlineMs`. What is
   * left is dropped, or, with a spool, stays on disk for the next start.
   */
  async close(deadlineMs: number): Promise<void> {
    this.#closed = true;
    await Promise.allSettled([...this.#appending]);
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
    await Promise.allSettled([...this.#appending]);
    if (this.#spool) {
      if (this.#queue.length > 0)
        this.#log.info(
          { event: 'spool_kept', spool: this.#spool.dir, batches: this.#queue.length, bytes: this.#bytes, points: this.#points() },
          `${this.#what}: ${this.#queue.length} batch(es) kept on disk for the next start`,
        );
    } else {
      for (const batch of this.#queue.splice(0)) this.#drop(batch, 'shutdown');
      this.#bytes = 0;
    }
    this.#gauges();
    await this.#agent.close();
  }

  /** The next batch to send: during a catch-up, one that arrived since the outage ended goes before the backlog. */
  #next(): Batch {
    const newest = this.#queue[this.#queue.length - 1]!;
    if (this.#catchUp && newest.createdMs >= this.#catchUp.sinceMs) return newest;
    return this.#queue[0]!;
  }

  async #pump(): Promise<void> {
    let attempt = 0;
    while (this.#queue.length > 0 && !this.#abort.signal.aborted) {
      const batch = this.#next();
      if (this.#catchUp) {
        // Gentle on a destination that just came back: a bounded rate through the backlog.
        const wait = this.#lastSendMs + this.#drainGapMs - Date.now();
        if (wait > 0) await this.#sleep(wait);
        if (this.#abort.signal.aborted) break;
      }
      const body = await this.#body(batch);
      if (!body) continue;
      this.#inFlight = batch;
      this.#lastSendMs = Date.now();
      const outcome = await this.#send(batch, body);
      this.#inFlight = null;
      if (outcome.kind === 'retry') {
        if (!this.#down) {
          this.#down = true;
          this.#outage = { sinceMs: Date.now(), dropped: 0 };
          this.#log.warn(
            { event: 'otlp_destination_down', destination: this.#dest.display, reason: outcome.reason, queued: this.#queue.length },
            `${this.#what} destination failing (${outcome.reason}); ${this.#spool ? 'spooling' : 'queueing'} and retrying`,
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
      if (this.#down) this.#recovered();
      // Gone from the queue whatever else arrived meanwhile: overflow never drops the batch on the wire.
      this.#forget(batch);
      if (outcome.kind === 'delivered') {
        this.#metrics.delivered(batch.points);
        if (this.#catchUp) this.#catchUp.delivered++;
      } else {
        this.#log.warn(
          { event: 'otlp_rejected', destination: this.#dest.display, status: outcome.status, response: outcome.text, points: batch.points },
          `${this.#what} destination rejected a batch with HTTP ${outcome.status}: ${outcome.text}`,
        );
        this.#metrics.dropped('rejected', batch.points);
        if (this.#catchUp) this.#catchUp.dropped++;
      }
      this.#gauges();
      if (this.#catchUp && this.#queue.length === 0) this.#caughtUp();
    }
  }

  /** The destination answered again after an outage. */
  #recovered(): void {
    this.#down = false;
    this.#overflowLogged = false;
    const outage = this.#outage;
    this.#outage = null;
    const held = this.#queue.length;
    this.#log.info(
      {
        event: 'otlp_destination_up',
        destination: this.#dest.display,
        queued: held,
        bytes: this.#bytes,
        outageSeconds: outage ? Math.round((Date.now() - outage.sinceMs) / 1000) : undefined,
        droppedBatches: outage?.dropped,
      },
      `${this.#what} destination accepts again; delivering ${held} held batch(es)`,
    );
    if (held > 1) this.#catchUp = { sinceMs: Date.now(), held, delivered: 0, dropped: 0 };
  }

  #caughtUp(): void {
    const c = this.#catchUp!;
    this.#catchUp = null;
    this.#log.info(
      {
        event: 'otlp_caught_up',
        destination: this.#dest.display,
        held: c.held,
        delivered: c.delivered,
        rejected: c.dropped,
        seconds: Math.round((Date.now() - c.sinceMs) / 100) / 10,
      },
      `${this.#what} backlog delivered: ${c.delivered} batch(es) of ${c.held} held, ${c.dropped} rejected`,
    );
  }

  /** A batch's bytes; a spooled one that cannot be read back whole is dropped (and named) instead. */
  async #body(batch: Batch): Promise<Buffer | undefined> {
    if (batch.body) return batch.body;
    try {
      return await this.#spool!.read(batch.spooled!);
    } catch (err) {
      this.#log.warn(
        { event: 'spool_file_skipped', file: batch.spooled!.file, reason: (err as Error).message },
        `${this.#what} spool: ${(err as Error).message}; skipped`,
      );
      this.#forget(batch);
      this.#drop(batch, 'damaged');
      this.#gauges();
      return undefined;
    }
  }

  /** Out of the queue (and off the disk). */
  #forget(batch: Batch): void {
    const i = this.#queue.indexOf(batch);
    if (i < 0) return;
    this.#queue.splice(i, 1);
    this.#bytes -= batch.bytes;
    if (batch.spooled) {
      const removed = this.#spool!.remove(batch.spooled);
      this.#appending.add(removed);
      void removed.finally(() => this.#appending.delete(removed));
    }
  }

  #points(): number {
    return this.#queue.reduce((n, b) => n + b.points, 0);
  }

  async #send(batch: Batch, body: Buffer): Promise<Outcome> {
    const deadline = AbortSignal.timeout(this.#timeoutMs);
    const signal = AbortSignal.any([deadline, this.#abort.signal]);
    try {
      const res = await request(this.#dest.url, {
        method: 'POST',
        dispatcher: this.#agent,
        headers: { ...this.#dest.headers, ...batch.headers, 'content-type': 'application/json' },
        body,
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

  #drop(batch: Pick<Batch, 'points'>, reason: DropReason): void {
    this.#metrics.dropped(reason, batch.points);
    if (this.#outage) this.#outage.dropped++;
    // Once per outage: the counter has the running total.
    if (reason === 'queue_full' && !this.#overflowLogged) {
      this.#overflowLogged = true;
      this.#log.warn(
        { event: 'otlp_queue_full', destination: this.#dest.display, points: batch.points, maxQueueBytes: this.#maxBytes },
        `${this.#what} ${this.#spool ? 'spool' : 'queue'} full: dropping the oldest batches until the destination accepts again`,
      );
    }
  }

  #gauges(): void {
    this.#metrics.queue(this.#bytes, this.#queue.length, this.#queue[0]?.createdMs);
  }
}

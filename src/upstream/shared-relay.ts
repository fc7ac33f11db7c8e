import type { Readable, Writable } from 'node:stream';
import type { UpstreamError } from '../errors.js';
import type { SanitizingWriter } from '../exposition/sanitize-stream.js';
import { Cancellation, type UpstreamResponse } from './fetch.js';

const premature = (message: string) => Object.assign(new Error(message), { code: 'ERR_STREAM_PREMATURE_CLOSE' });

/** How one fetch ended, for the per-upstream bookkeeping (once per fetch, however many clients). */
export type FetchOutcome = { kind: 'ok' } | { kind: 'error'; error: UpstreamError } | { kind: 'abandoned' };

export interface SharedRelayOptions {
  open: (cancel: Cancellation) => Promise<UpstreamResponse>;
  writer: SanitizingWriter;
  /** Late clients replay the output so far; past this many bytes nobody else may join. */
  joinWindowBytes: number;
  onSettled: (outcome: FetchOutcome) => void;
}

/**
 * One upstream fetch, sanitized once, written to every client that joined it
 * (request coalescing: N concurrent scrapes cost vLLM one).
 *
 * The hot path is plain `write` calls on each client's sink with pause/resume
 * for backpressure. Why not a Transform in a pipe: measured on the one-engine
 * exposition (one 47 KB chunk per scrape), an identity Transform between the
 * upstream body and the response alone cost about 40% of the requests per
 * second; the sanitizer costs a fraction of that (bench/README.md).
 *
 * Until a client attaches its sink it can still be answered with an error
 * status: its `ready` settles on the first output or the end of the body, and
 * the body stays paused while any client that was told "ready" has not
 * attached yet. A client that joins late first gets the output so far
 * (kept while it is under `joinWindowBytes`; beyond, the fetch stops taking
 * clients and the kept output is let go). The slowest client sets the pace,
 * as one client did before; memory stays bounded by the window.
 * When the last client leaves, the upstream request is aborted.
 */
export class SharedRelay {
  contentType: string | undefined;
  private readonly o: SharedRelayOptions;
  private readonly cancel = new Cancellation();
  private res: UpstreamResponse | undefined;
  private src: Readable | undefined;
  private readonly subs = new Set<Subscriber>();
  private history: Buffer[] | null = [];
  private historyBytes = 0;
  private readonly out: Buffer[] = [];
  private started = false;
  private ended = false;
  private failure: UpstreamError | undefined;
  private settled = false;
  /** Clients told "ready" that have not attached yet, and sinks waiting for 'drain'. */
  private holds = 0;

  constructor(options: SharedRelayOptions) {
    this.o = options;
    options.open(this.cancel).then(
      (res) => this.onResponse(res),
      (err: UpstreamError) => this.fail(err),
    );
  }

  /** Whether a new client may still join (in flight, all output so far kept). */
  get joinable(): boolean {
    return !this.ended && !this.failure && !this.settled && this.history !== null;
  }

  /** `done` is called once for this client: no error when its sink finished. */
  join(done: (err?: Error) => void): Subscriber {
    const sub = new Subscriber(this, done);
    this.subs.add(sub);
    if (this.started) this.markReady(sub);
    return sub;
  }

  private onResponse(res: UpstreamResponse): void {
    this.res = res;
    this.contentType = res.contentType;
    if (this.subs.size === 0) return this.abandon();
    const src = res.body;
    this.src = src;
    src.on('data', (chunk: Buffer) => this.onData(chunk));
    src.once('end', () => this.onEnd());
    src.once('error', (err) => this.fail(res.mapError(err)));
    src.once('close', () => {
      // A source torn down without ending or erroring (a destroyed socket) fails too.
      if (!src.readableEnded) this.fail(res.mapError(premature('upstream closed before the end of the body')));
    });
  }

  private onData(chunk: Buffer): void {
    const out = this.out;
    const err = this.o.writer.write(chunk, out);
    if (err) return this.fail(err as UpstreamError);
    this.broadcast(out);
    out.length = 0;
    if (!this.started && this.o.writer.sawContent) this.start();
    if (this.holds > 0) this.src!.pause();
  }

  private onEnd(): void {
    this.ended = true;
    this.o.writer.end(this.out);
    this.broadcast(this.out);
    this.out.length = 0;
    // Nobody can join a fetch that ended: the kept output goes now, unless a client told
    // "ready" has yet to attach. Kept until the relay itself went, it outlived a scavenge
    // or two and was promoted: a lone scraper's every chunk then cost a full collection.
    this.releaseHistory();
    if (!this.started) this.start();
    for (const sub of this.subs) if (sub.sink) sub.sink.end();
    this.settle({ kind: 'ok' });
  }

  private broadcast(out: Buffer[]): void {
    if (out.length === 0) return;
    if (this.history) {
      for (const b of out) {
        this.history.push(b);
        this.historyBytes += b.length;
      }
      this.trimHistory();
    }
    for (const sub of this.subs) if (sub.sink && !writeAll(sub.sink, out)) this.block(sub);
  }

  private start(): void {
    this.started = true;
    for (const sub of this.subs) this.markReady(sub);
  }

  private markReady(sub: Subscriber): void {
    this.holds++;
    sub.awaitingAttach = true;
    this.src?.pause();
    sub.resolve();
  }

  /** @internal Subscriber.attach */
  attached(sub: Subscriber, sink: Writable): void {
    if (this.failure || !this.subs.has(sub)) {
      // Failed (or left) between "ready" and now: cut the answer short.
      sink.destroy();
      return;
    }
    this.unhold(sub);
    sink.once('finish', () => sub.finish());
    sink.once('error', (err) => sub.finish(err));
    sink.once('close', () => {
      if (!sink.writableFinished) sub.finish(premature('client closed before the end of the response'));
    });
    sink.on('drain', () => {
      if (!sub.blocked) return;
      sub.blocked = false;
      this.holds--;
      this.maybeResume();
    });
    if (this.history && !writeAll(sink, this.history)) this.block(sub);
    if (this.ended) sink.end();
    this.trimHistory();
    if (this.ended) this.releaseHistory();
    this.maybeResume();
  }

  /**
   * Past the window nobody else may join, and the kept output goes, unless a
   * client told "ready" has yet to attach and needs it (the body is paused
   * then, so the window is passed by one chunk at most).
   */
  private trimHistory(): void {
    if (!this.history || this.historyBytes <= this.o.joinWindowBytes) return;
    for (const sub of this.subs) if (!sub.sink) return;
    this.history = null;
  }

  /** Once no client can join any more and every one has attached, nothing needs the kept output. */
  private releaseHistory(): void {
    if (!this.history) return;
    for (const sub of this.subs) if (!sub.sink) return;
    this.history = null;
  }

  private block(sub: Subscriber): void {
    if (sub.blocked) return;
    sub.blocked = true;
    this.holds++;
    this.src?.pause();
  }

  private maybeResume(): void {
    if (this.holds === 0 && this.started && !this.ended && !this.settled) this.src?.resume();
  }

  private unhold(sub: Subscriber): void {
    if (sub.awaitingAttach) {
      sub.awaitingAttach = false;
      this.holds--;
    }
    if (sub.blocked) {
      sub.blocked = false;
      this.holds--;
    }
  }

  /** @internal A client went away (closed its connection, or its sink failed). */
  left(sub: Subscriber): void {
    if (!this.subs.delete(sub)) return;
    this.unhold(sub);
    if (this.subs.size === 0 && !this.ended && !this.failure) return this.abandon();
    this.maybeResume();
  }

  /** Nobody is listening any more: stop the upstream request. */
  private abandon(): void {
    this.cancel.cancel();
    this.res?.abort();
    this.settle({ kind: 'abandoned' });
  }

  private fail(err: UpstreamError): void {
    if (this.failure || this.ended || this.settled) return;
    this.failure = err;
    this.res?.abort();
    for (const sub of [...this.subs]) {
      if (sub.sink) sub.sink.destroy();
      sub.finish(err);
    }
    this.settle({ kind: 'error', error: err });
  }

  private settle(outcome: FetchOutcome): void {
    if (this.settled) return;
    this.settled = true;
    // The kept output stays: clients told "ready" may still attach and need it.
    this.o.onSettled(outcome);
  }
}

/** One client of a shared fetch. */
export class Subscriber {
  /** Settles when the answer may be committed: rejects with the upstream error before that. */
  readonly ready: Promise<void>;
  sink: Writable | undefined;
  awaitingAttach = false;
  blocked = false;
  resolve!: () => void;
  private reject!: (err: Error) => void;
  private done = false;

  constructor(
    private readonly relay: SharedRelay,
    private readonly onDone: (err?: Error) => void,
  ) {
    this.ready = new Promise((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
    this.ready.catch(() => {}); // observed by the caller or not at all
  }

  /** Start writing into `sink`; the status line is committed by then. */
  attach(sink: Writable): void {
    this.sink = sink;
    this.relay.attached(this, sink);
  }

  /** The client went away: stop writing to it (the upstream is aborted when nobody is left). */
  leave(): void {
    this.sink?.destroy();
    this.finish(premature('client left'));
  }

  /** @internal */
  finish(err?: Error): void {
    if (this.done) return;
    this.done = true;
    if (err) this.reject(err); // a no-op once ready; otherwise the caller stops waiting
    this.relay.left(this);
    this.onDone(err);
  }
}

function writeAll(sink: Writable, list: Buffer[]): boolean {
  if (list.length === 1) sink.write(list[0]);
  else {
    // Several slices of one input chunk (a line held across a chunk boundary):
    // one syscall for all of them, not one each.
    sink.cork();
    for (let i = 0; i < list.length; i++) sink.write(list[i]);
    sink.uncork();
  }
  // Whether the sink still wants a 'drain', not what write() answered: on Node 26
  // the socket can take the corked bytes inside uncork() and emit that 'drain'
  // there, before the caller listens for it, and a relay waiting for it then
  // waited forever (a 290 KB exposition stalled at 190 KB).
  return !sink.writableNeedDrain;
}

import type { NamesMode } from '../exposition/canonical-names.js';
import type { FamilySelection } from '../exposition/family-filter.js';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Agent } from 'undici';
import type { UpstreamError } from '../errors.js';
import { SanitizeStream } from '../exposition/sanitize-stream.js';
import { createDispatcher } from './dispatcher.js';
import { fetchUpstream, type Cancellation, type FetchOptions, type UpstreamResponse } from './fetch.js';
import { fetchWhole, type WholeOptions, type WholeResponse } from './fetch-whole.js';
import { parseUpstream, type UpstreamTarget } from './target.js';

export interface UpstreamOptions {
  url: string;
  token?: string;
  timeoutMs: number;
  maxBodyBytes: number;
  caFile?: string;
  insecure?: boolean;
  /** Ask the upstream for gzip. */
  gzip?: boolean;
  /** Told of every request sent (the self-metric that shows coalescing at work). */
  onFetch?: () => void;
  /** Told of every failed fetch, whoever made it. */
  onFailure?: (err: UpstreamError) => void;
  /** `--keep`/`--drop`: the families of its body that are served (stream and poll mode; fleet mode filters each target's text). */
  families?: FamilySelection;
  /** `--names`: deprecated vLLM names under their replacements, in stream and poll mode. */
  names?: NamesMode;
  /** Told the family names (TYPE lines) of every whole answer: the rename watch. Asks the readers to collect them. */
  onFamilies?: (upstream: Upstream, names: ReadonlySet<string>) => void;
}

/** How often an answer that follows a success is read for renames (docs/names.md). */
export const FAMILIES_EVERY_MS = 30_000;

/** One upstream /metrics endpoint: how to reach it and how it has been answering. */
export class Upstream {
  readonly target: UpstreamTarget;
  readonly options: UpstreamOptions;
  private readonly dispatcher: Agent;
  lastSuccessAt = 0;
  lastError: UpstreamError | undefined;
  private probing: Promise<void> | undefined;
  /** When the next answer's family names are wanted (renames are rare; reading TYPE lines costs a pass). */
  private familiesDueAt = 0;

  constructor(options: UpstreamOptions) {
    this.options = options;
    this.target = parseUpstream(options.url, options.token);
    this.dispatcher = createDispatcher({ caFile: options.caFile, insecure: options.insecure }, options.timeoutMs);
  }

  /** Start a scrape (the deadline is the configured timeout unless a shorter one is given); `cancel` aborts it while the headers are awaited (the client left). */
  open(accept?: string, timeoutMs = this.options.timeoutMs, cancel?: Cancellation): Promise<UpstreamResponse> {
    return fetchUpstream(this.fetchOptions(accept, timeoutMs, cancel));
  }

  /** The whole answer in one Buffer (fetch-whole.ts), for readers that want all of it at once; the same deadline and bounds. `into`: see WholeOptions. */
  readWhole(accept?: string, timeoutMs = this.options.timeoutMs, cancel?: Cancellation, into?: Buffer): Promise<WholeResponse> {
    const opts: WholeOptions = this.fetchOptions(accept, timeoutMs, cancel);
    if (into) opts.into = into;
    return fetchWhole(opts);
  }

  /** One request's options (and the count of requests sent). */
  private fetchOptions(accept: string | undefined, timeoutMs: number, cancel: Cancellation | undefined): FetchOptions {
    this.options.onFetch?.();
    return {
      cancel,
      target: this.target,
      dispatcher: this.dispatcher,
      timeoutMs: Math.min(timeoutMs, this.options.timeoutMs),
      maxBodyBytes: this.options.maxBodyBytes,
      accept,
      acceptGzip: this.options.gzip,
    };
  }

  /**
   * Whether a reader should collect this answer's family names: the first answer after a
   * failure (an upgrade restarts the server, and the scrapes in between fail), and otherwise
   * one every FAMILIES_EVERY_MS, so that a rename is reported within that even when no
   * scrape saw the restart.
   */
  wantsFamilies(): boolean {
    return this.options.onFamilies !== undefined && Date.now() >= this.familiesDueAt;
  }

  /** A whole answer arrived; `families` are its TYPE names when wantsFamilies() asked for them. */
  recordSuccess(families?: ReadonlySet<string>): void {
    this.lastSuccessAt = Date.now();
    this.lastError = undefined;
    if (families && this.options.onFamilies) {
      this.familiesDueAt = this.lastSuccessAt + FAMILIES_EVERY_MS;
      this.options.onFamilies(this, families);
    }
  }

  recordFailure(err: UpstreamError): void {
    this.familiesDueAt = 0;
    this.lastError = err;
    this.options.onFailure?.(err);
  }

  /**
   * Fetch the whole exposition and discard it, to learn whether the upstream
   * answers. Concurrent callers share one fetch.
   */
  probe(): Promise<void> {
    this.probing ??= this.runProbe().finally(() => {
      this.probing = undefined;
    });
    return this.probing;
  }

  private async runProbe(): Promise<void> {
    let res: UpstreamResponse;
    try {
      res = await this.open();
    } catch (err) {
      this.recordFailure(err as UpstreamError);
      throw err;
    }
    const discard = new Writable({ write: (_chunk, _enc, cb) => cb() });
    try {
      await pipeline(res.body, new SanitizeStream({ maxBytes: this.options.maxBodyBytes }), discard);
    } catch (err) {
      const mapped = res.mapError(err);
      this.recordFailure(mapped);
      throw mapped;
    }
    this.recordSuccess();
  }

  close(): Promise<void> {
    return this.dispatcher.close();
  }
}

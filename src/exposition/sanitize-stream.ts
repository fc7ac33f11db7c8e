import { Transform, type TransformCallback } from 'node:stream';
import { UpstreamGarbage, UpstreamTooLarge } from '../errors.js';
import { CanonicalNames, type NamesMode } from './canonical-names.js';
import { FamilyFilter, type FamilySelection } from './family-filter.js';
import { NameSanitizer, type Collision } from './sanitizer.js';
import { ExpositionTrailer } from './trailer.js';
import { TypeNameScanner } from './type-names.js';

export interface SanitizeStreamOptions {
  /** Decoded bytes allowed through; beyond it the stream fails (nothing is buffered). */
  maxBytes: number;
  onCollision?: (collision: Collision) => void;
  /** Told the size of each input chunk (the server paces garbage collection by it). */
  onInput?: (bytes: number) => void;
  /** Lines to add at the end of the body (before an OpenMetrics `# EOF`), asked for when it ends. */
  trailer?: () => string;
  /** `--keep`/`--drop`: only these families go on to the sanitizer. */
  families?: FamilySelection;
  /** `--names canonical|both`: deprecated vLLM names under their replacements (canonical-names.ts). */
  names?: NamesMode;
  /** Collect the family names of the body's TYPE lines (the rename watch compares them). */
  typeNames?: boolean;
}

/**
 * The checks and the sanitizer every consumer of an upstream body runs, with no
 * stream attached: the Transform below and the metrics route's direct relay
 * share it. Refuses a body that cannot be an exposition at all (HTML error
 * pages, binary): a text exposition starts, after optional whitespace, with
 * '#', a metric name, or '{'.
 */
export class SanitizingWriter {
  bytes = 0;
  readonly sanitizer: NameSanitizer;
  /** The family filter, with `families`. */
  readonly filter: FamilyFilter | undefined;
  /** The renamer, with `names`. */
  readonly canonical: CanonicalNames | undefined;
  /** A first non-whitespace byte that may start an exposition was seen. */
  sawContent = false;
  private readonly maxBytes: number;
  private readonly onInput?: (bytes: number) => void;
  private readonly trailer: ExpositionTrailer | undefined;
  /** With `typeNames`: the body's family names, as the upstream wrote them. */
  readonly typeNames: TypeNameScanner | undefined;

  constructor(options: SanitizeStreamOptions) {
    this.typeNames = options.typeNames ? new TypeNameScanner() : undefined;
    this.maxBytes = options.maxBytes;
    this.onInput = options.onInput;
    this.sanitizer = new NameSanitizer({ onCollision: options.onCollision });
    const f = options.families;
    this.filter = f && (f.keep.length > 0 || f.drop.length > 0) ? new FamilyFilter(f) : undefined;
    this.canonical = options.names && options.names !== 'upstream' ? new CanonicalNames(options.names) : undefined;
    this.trailer = options.trailer ? new ExpositionTrailer(options.trailer) : undefined;
  }

  /** Sanitizes `chunk` (in place) into `out`; returns the error that ends the body instead of throwing. */
  write(chunk: Buffer, out: Buffer[]): Error | undefined {
    this.bytes += chunk.length;
    this.onInput?.(chunk.length);
    if (this.bytes > this.maxBytes) return UpstreamTooLarge(this.maxBytes);
    if (!this.sawContent) {
      const bad = firstContentProblem(chunk);
      if (bad) return UpstreamGarbage(bad);
      this.sawContent = bad === ''; // null: only whitespace so far
    }
    // Before the sanitizer, which rewrites the chunk in place.
    this.typeNames?.write(chunk);
    const start = out.length;
    if (this.filter || this.canonical) {
      let parts: Buffer[] = [chunk];
      if (this.filter) {
        parts = [];
        this.filter.write(chunk, parts);
      }
      if (this.canonical) {
        const mapped: Buffer[] = [];
        for (const p of parts) this.canonical.write(p, mapped);
        parts = mapped;
      }
      for (const p of parts) this.sanitizer.write(p, out);
    } else this.sanitizer.write(chunk, out);
    this.trailer?.afterWrite(out, start);
    return undefined;
  }

  end(out: Buffer[]): void {
    this.typeNames?.end();
    const start = out.length;
    let parts: Buffer[] = [];
    if (this.filter) this.filter.end(parts);
    if (this.canonical) {
      const mapped: Buffer[] = [];
      for (const p of parts) this.canonical.write(p, mapped);
      this.canonical.end(mapped);
      parts = mapped;
    }
    for (const p of parts) this.sanitizer.write(p, out);
    this.sanitizer.end(out);
    this.trailer?.end(out, start);
  }
}

/** The sanitizer as a Transform, for consumers that want a stream. */
export class SanitizeStream extends Transform {
  readonly writer: SanitizingWriter;
  /**
   * Settles when the first output is ready (or the body ended): until then the
   * caller can still answer with an error status instead of a broken 200.
   */
  readonly started: Promise<void>;
  private settled = false;
  private settleWith!: (err?: Error | null) => void;
  private readonly out: Buffer[] = [];

  constructor(options: SanitizeStreamOptions) {
    super();
    this.writer = new SanitizingWriter(options);
    this.started = new Promise<void>((resolve, reject) => {
      this.settleWith = (err) => (err ? reject(err) : resolve());
    });
    this.started.catch(() => {}); // observed by the caller or not at all
  }

  get bytes(): number {
    return this.writer.bytes;
  }

  get sanitizer(): NameSanitizer {
    return this.writer.sanitizer;
  }

  override _destroy(err: Error | null, callback: (error?: Error | null) => void): void {
    // (An Error costs a stack trace: only made when someone still waits.)
    if (!this.settled) this.settle(err ?? new Error('stream closed before any output'));
    callback(err);
  }

  private settle(err?: Error | null): void {
    if (this.settled) return;
    this.settled = true;
    this.settleWith(err);
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    const out = this.out;
    const err = this.writer.write(chunk, out);
    if (err) return callback(err);
    for (let i = 0; i < out.length; i++) this.push(out[i]);
    out.length = 0;
    if (this.writer.sawContent) this.settle();
    callback();
  }

  override _flush(callback: TransformCallback): void {
    const out = this.out;
    this.writer.end(out);
    for (let i = 0; i < out.length; i++) this.push(out[i]);
    out.length = 0;
    this.settle();
    callback();
  }
}

/** '' if the first non-whitespace byte may start an exposition, null if there is none yet, else why not. */
export function firstContentProblem(chunk: Buffer): string | '' | null {
  for (let i = 0; i < chunk.length; i++) {
    const b = chunk[i];
    if (b === 0x20 || b === 0x09 || b === 0x0a || b === 0x0d) continue;
    const ok = b === 0x23 || b === 0x7b || b === 0x5f || b === 0x3a || (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a);
    if (ok) return '';
    const text = chunk
      .subarray(i, i + 24)
      .toString('latin1')
      .replace(/[^\x20-\x7e]/g, '.');
    return `starts with "${text}"`;
  }
  return null;
}

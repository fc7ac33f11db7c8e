/**
 * Where a fleet merge keeps the bytes its answer is made of, and how it
 * writes the answer: one WebAssembly memory holding every target's body, the
 * sanitized names and the label openers, with the answer's pieces (address,
 * length) gathered from it by gather.wat's memory.copy.
 *
 * Why: the answer of 256 one-engine targets is ~330,000 pieces of 1 to ~100
 * bytes. Copied in JavaScript (four bytes a move through DataViews; a
 * Buffer.copy call costs more than such a piece) they were 15 ms of a 39 ms
 * merge; gathered natively, 1.5 ms, plus one copy of each body in and of the
 * answer out (bench/README.md, "Fleet merge on bytes").
 *
 * An arena is reused from merge to merge (`takeArena`, `PieceArena.release`):
 * a new WebAssembly memory would fault in every page of a large merge again.
 * So are the merge's arrays of pieces and runs, for the same reason: grown by
 * doubling afresh each merge, they were ~8 MB of allocations a merged scrape
 * of 256 targets, and with the answer's own allocation they set off a
 * mark-compact every other scrape (bench/README.md, "2026-12-04, later").
 * Addresses are below 2 GiB (the memory's maximum), so they fit the merge's
 * Int32Array of pieces.
 */
import { GATHER_WASM_BASE64 } from './gather-wasm.js';

/** What is used of the WebAssembly API (lib.dom's types are not in this project's lib, nor in @types/node 20's). */
interface WasmMemory {
  readonly buffer: ArrayBuffer;
  grow(pages: number): number;
}
interface Wasm {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: Record<string, unknown> };
}
const wasm = (globalThis as unknown as { WebAssembly: Wasm }).WebAssembly;

const PAGE = 65536;
/** gather.wat's memory maximum, in pages: 2 GiB. */
const MAX_PAGES = 32768;
/** The window the answer is gathered into before it is copied out (a run larger than it gets its own). */
const WINDOW = 1 << 20;
/** Idle arenas kept for the next merges (a proxy runs one merge at a time, a push beside it at most). */
const POOL = 2;

let module: object | undefined;
const idle: PieceArena[] = [];

/** A merged exposition too large for one arena: the merge fails with this, nothing else breaks. */
export class ArenaFull extends Error {
  constructor(bytes: number) {
    super(`a merged exposition needs ${bytes} bytes of working memory, more than the 2 GiB one merge may use`);
    this.name = 'ArenaFull';
  }
}

export class PieceArena {
  private readonly memory: WasmMemory;
  private readonly gatherPieces: (runs: number, count: number, pieces: number, dst: number) => number;
  private bytes: Uint8Array;
  /** Bytes in use; everything placed lies below. */
  private top = 0;
  /**
   * The merge's pieces, pairs of words (address, length), written by the merge
   * (TextMerge's `Shared.reserve` grows it); kept, at its largest, for the next.
   */
  pieces = new Int32Array(1 << 14);
  private runWords = new Int32Array(1 << 10);

  constructor() {
    module ??= new wasm.Module(Buffer.from(GATHER_WASM_BASE64, 'base64'));
    const exports = new wasm.Instance(module, {}).exports;
    this.memory = exports.memory as WasmMemory;
    this.gatherPieces = exports.gather as PieceArena['gatherPieces'];
    this.bytes = new Uint8Array(this.memory.buffer);
  }

  /** Bytes in use. */
  get used(): number {
    return this.top;
  }

  /** Room for `n` run words (three a run), the last merge's if it is large enough; its contents are the caller's to write. */
  runs(n: number): Int32Array {
    if (this.runWords.length < n) this.runWords = new Int32Array(Math.max(n, this.runWords.length * 2));
    return this.runWords;
  }

  /** Copies `b` in; its address. */
  place(b: Uint8Array): number {
    const at = this.alloc(b.length, 1);
    this.bytes.set(b, at);
    return at;
  }

  /**
   * The answer: `head`, the pieces of `count` runs, `tail`, in one Buffer
   * outside the arena (which is reused), from `alloc`. A run is three words of
   * `runs`: [from, to) word indexes into `pieces` (whose first `used` words
   * are written) and its length in bytes. The pieces are gathered into a
   * window of the arena about a MiB at a time (a run is never split) and
   * copied out from there, so a large merge holds its answer once, not twice.
   * The working space taken for it is given back.
   */
  gather(
    pieces: Int32Array,
    used: number,
    runs: Int32Array,
    count: number,
    head: Buffer,
    tail: Buffer,
    alloc: (bytes: number) => Buffer = Buffer.allocUnsafe,
  ): Buffer {
    let total = head.length + tail.length;
    let largest = 0;
    for (let r = 0; r < count; r++) {
      const bytes = runs[3 * r + 2]!;
      total += bytes;
      if (bytes > largest) largest = bytes;
    }
    const out = alloc(total);
    if (out.length !== total) throw new Error(`an answer of ${total} bytes was given ${out.length}`);
    head.copy(out, 0);
    const mark = this.top;
    try {
      const piecesAt = this.alloc(used * 4, 4);
      const runsAt = this.alloc(count * 12, 4);
      const window = Math.max(WINDOW, largest);
      const windowAt = this.alloc(window, 1);
      new Int32Array(this.memory.buffer, piecesAt, used).set(pieces.subarray(0, used));
      new Int32Array(this.memory.buffer, runsAt, count * 3).set(runs.subarray(0, count * 3));
      let o = head.length;
      for (let r = 0; r < count;) {
        // The next runs that fit the window, at least one.
        let bytes = runs[3 * r + 2]!;
        let next = r + 1;
        while (next < count && bytes + runs[3 * next + 2]! <= window) bytes += runs[3 * next++ + 2]!;
        const end = this.gatherPieces(runsAt + 12 * r, next - r, piecesAt, windowAt);
        if (end - windowAt !== bytes) throw new Error(`gathered ${end - windowAt} bytes where the runs hold ${bytes}`);
        out.set(new Uint8Array(this.memory.buffer, windowAt, bytes), o);
        o += bytes;
        r = next;
      }
      tail.copy(out, o);
      return out;
    } finally {
      this.top = mark;
    }
  }

  /** Back to the pool, empty; the merge that had it must not use it again. */
  release(): void {
    this.top = 0;
    if (idle.length < POOL && !idle.includes(this)) idle.push(this);
  }

  /** `n` bytes at an address aligned to `align` (1 or 4); grows the memory when needed. */
  private alloc(n: number, align: number): number {
    const at = align === 1 ? this.top : (this.top + 3) & ~3;
    const end = at + n;
    if (end > this.memory.buffer.byteLength) {
      const pages = Math.ceil(end / PAGE);
      if (pages > MAX_PAGES) throw new ArenaFull(end);
      // A quarter more than asked: a first merge grows the memory a few times, not once a target.
      const want = Math.min(MAX_PAGES, Math.max(pages, Math.ceil((this.memory.buffer.byteLength / PAGE) * 1.25)));
      try {
        this.memory.grow(want - this.memory.buffer.byteLength / PAGE);
      } catch {
        throw new ArenaFull(end); // the system would not give it
      }
      // Growing detaches the old buffer: every view is made again from here.
      this.bytes = new Uint8Array(this.memory.buffer);
    }
    this.top = end;
    return at;
  }
}

/** An empty arena: an idle one if there is one. */
export function takeArena(): PieceArena {
  return idle.pop() ?? new PieceArena();
}

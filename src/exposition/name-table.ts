/**
 * The metric names this process has seen, shared by every sanitizer.
 *
 * An exposition repeats the same hundred or so names on every scrape. Reading a
 * name the first time costs strings, a map lookup and a few small allocations;
 * interning it once per process instead of once per scrape is what keeps the
 * per-scrape cost at the bytes themselves. Entries carry no per-scrape state:
 * which spelling owns a sanitized name is decided by each sanitizer (an array
 * indexed by `slot`), so concurrent scrapes cannot disturb each other.
 *
 * Bounded: after MAX_ENTRIES names nothing more is interned, and new names take
 * the sanitizer's string path, which is slower but equally correct.
 */

import { sameBytes } from './bytes.js';

/** One spelling of a name as it appears in the input (colons included). */
export interface NameEntry {
  /** Index in the table. */
  readonly id: number;
  /** Shared by all spellings that sanitize to the same name. */
  readonly slot: number;
  readonly len: number;
  readonly bytes: Uint8Array;
  /** `bytes` as little-endian 32-bit words, for the 4-bytes-at-a-time match. */
  readonly words: Uint32Array;
  /** Offsets of the colons to rewrite. */
  readonly colons: number[];
  readonly original: string;
  readonly sanitized: string;
  /**
   * The name that followed this one last time. Expositions repeat in the same
   * order scrape after scrape, so this predicts the next line's name. Shared and
   * racy by design: a wrong guess only costs a slower match.
   */
  next: NameEntry | undefined;
}

/** Names longer than this are not interned (they are rare, and the match loop stays short). */
export const MAX_ENTRY_LEN = 256;
const MAX_ENTRIES = 32_768;
const INDEX_SIZE = MAX_ENTRIES * 2; // power of two, load factor <= 0.5
const COLON = 0x3a;

export const FNV_OFFSET = 0x811c9dc5 | 0;
export const FNV_PRIME = 0x01000193;

class NameTable {
  private readonly entries: NameEntry[] = [];
  /** Open addressing over `entries`: index + 1, 0 = empty. */
  private readonly index = new Int32Array(INDEX_SIZE);
  private readonly slots = new Map<string, number>();

  get slotCount(): number {
    return this.slots.size;
  }

  entry(id: number): NameEntry {
    return this.entries[id];
  }

  /** The slot of a sanitized name, if any interned spelling has it. */
  slotOf(sanitized: string): number | undefined {
    return this.slots.get(sanitized);
  }

  /**
   * The entry for `src[0..len)` whose FNV-1a hash is `hash`, interned now if
   * new; undefined when the table is full.
   */
  find(hash: number, src: Uint8Array, len: number): NameEntry | undefined {
    const mask = INDEX_SIZE - 1;
    let at = hash & mask;
    for (;;) {
      const v = this.index[at];
      if (v === 0) break;
      const e = this.entries[v - 1];
      if (e.len === len && sameBytes(e.bytes, 0, src, 0, len)) return e;
      at = (at + 1) & mask;
    }
    if (this.entries.length >= MAX_ENTRIES) return undefined;
    const e = this.create(src, len);
    this.index[at] = e.id + 1;
    return e;
  }

  private create(src: Uint8Array, len: number): NameEntry {
    const bytes = Uint8Array.prototype.slice.call(src, 0, len);
    const words = new Uint32Array(len >> 2);
    const colons: number[] = [];
    for (let j = 0; j + 4 <= len; j += 4) words[j >> 2] = (bytes[j] | (bytes[j + 1] << 8) | (bytes[j + 2] << 16) | (bytes[j + 3] << 24)) >>> 0;
    for (let j = 0; j < len; j++) if (bytes[j] === COLON) colons.push(j);
    const original = Buffer.from(bytes.buffer, bytes.byteOffset, len).toString('latin1');
    const sanitized = colons.length > 0 ? original.replaceAll(':', '_') : original;
    let slot = this.slots.get(sanitized);
    if (slot === undefined) {
      slot = this.slots.size;
      this.slots.set(sanitized, slot);
    }
    const e: NameEntry = { id: this.entries.length, slot, len, bytes, words, colons, original, sanitized, next: undefined };
    this.entries.push(e);
    return e;
  }
}

export const NAMES = new NameTable();

import { closeSync, fstatSync, openSync } from 'node:fs';
import { writeAllSync } from './durable.js';
import { StoreError } from './store.js';

/**
 * An append-only file written with one synchronous write per round: when
 * `append` returns, the round is in the kernel's page cache, so a collector
 * killed right after loses nothing, and a round is never half-written by a
 * killed process (the write is a single system call on a regular file).
 */
export class AppendFile {
  private fd: number;

  /** Opens (creates) the file at once, so an unwritable path fails at start. */
  constructor(
    readonly store: string,
    readonly path: string,
  ) {
    try {
      this.fd = openSync(path, 'a');
    } catch (err) {
      throw new StoreError(store, path, err);
    }
  }

  get size(): number {
    return fstatSync(this.fd).size;
  }

  append(text: string): void {
    try {
      writeAllSync(this.fd, Buffer.from(text));
    } catch (err) {
      throw new StoreError(this.store, this.path, err);
    }
  }

  close(): void {
    if (this.fd < 0) return;
    closeSync(this.fd);
    this.fd = -1;
  }
}

/** JSON has no NaN or infinities: they are written as the exposition spells them. */
export function jsonValue(v: number): number | string {
  if (Number.isFinite(v)) return v;
  return Number.isNaN(v) ? 'NaN' : v > 0 ? '+Inf' : '-Inf';
}

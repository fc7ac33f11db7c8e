/**
 * The request log: one JSON line per request, appended with one write(2) each,
 * so a crash loses at most the line being written (nothing waits in a buffer of
 * ours). Rotated by size: `FILE` becomes `FILE.1` (`.1` becomes `.2`, ...), the
 * way Fluent Bit's tail input follows a rotation, keeping `keep` old files.
 */
import { closeSync, existsSync, fstatSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import type { RequestRecord } from './record.js';

export interface RequestLogOptions {
  path: string;
  maxBytes: number;
  keep?: number;
}

export class RequestLog {
  readonly #o: Required<RequestLogOptions>;
  #fd: number;
  #size: number;

  constructor(options: RequestLogOptions) {
    this.#o = { keep: 5, ...options };
    this.#fd = openSync(this.#o.path, 'a', 0o640);
    this.#size = fstatSync(this.#fd).size;
  }

  append(record: RequestRecord): void {
    // Written as the string (encoded natively): a Buffer of it first was a copy and an allocation a request.
    const line = `${JSON.stringify(record)}\n`;
    const bytes = Buffer.byteLength(line);
    if (this.#size > 0 && this.#size + bytes > this.#o.maxBytes) this.#rotate();
    writeSync(this.#fd, line);
    this.#size += bytes;
  }

  #rotate(): void {
    closeSync(this.#fd);
    const { path, keep } = this.#o;
    rmSync(`${path}.${keep}`, { force: true });
    for (let i = keep - 1; i >= 1; i--) if (existsSync(`${path}.${i}`)) renameSync(`${path}.${i}`, `${path}.${i + 1}`);
    renameSync(path, `${path}.1`);
    this.#fd = openSync(path, 'a', 0o640);
    this.#size = 0;
  }

  close(): void {
    closeSync(this.#fd);
  }
}

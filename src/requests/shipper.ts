/**
 * `--request-log-url`: request records posted straight to Parseable's JSON log
 * ingest (`/api/v1/ingest`), no Fluent Bit. Records are gathered for up to a
 * second (or 200 of them) into one JSON array, then delivered by the same bounded,
 * retrying queue as the OTLP relay's (export/json-forwarder.ts).
 */
import type { JsonForwarder } from '../export/json-forwarder.js';
import type { RequestRecord } from './record.js';

export class RequestShipper {
  readonly #forwarder: JsonForwarder;
  readonly #maxRecords: number;
  readonly #maxWaitMs: number;
  #batch: RequestRecord[] = [];
  #timer: NodeJS.Timeout | undefined;

  constructor(forwarder: JsonForwarder, options: { maxRecords?: number; maxWaitMs?: number } = {}) {
    this.#forwarder = forwarder;
    this.#maxRecords = options.maxRecords ?? 200;
    this.#maxWaitMs = options.maxWaitMs ?? 1_000;
  }

  add(record: RequestRecord): void {
    this.#batch.push(record);
    if (this.#batch.length >= this.#maxRecords) this.flush();
    else this.#timer ??= setTimeout(() => this.flush(), this.#maxWaitMs);
  }

  flush(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#batch.length === 0) return;
    const batch = this.#batch;
    this.#batch = [];
    void this.#forwarder.enqueue(JSON.stringify(batch), batch.length);
  }

  /** Send what is gathered, then let the queue drain until `deadlineMs`. */
  async close(deadlineMs: number): Promise<void> {
    this.flush();
    await this.#forwarder.close(deadlineMs);
  }
}

import { createReadStream, existsSync, rmSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import Database from 'better-sqlite3';
import { parse as parseCsv } from 'csv-parse';
import { DataFileError } from '../errors.js';
import { parseNumber } from '../exposition/parser.js';
import { CSV_HEADER } from './csv.js';
import type { RowFormat } from './row-formats.js';
import { walHasContent, walSidecars } from './sqlite.js';
import { DERIVED_TYPES, type Row } from './store.js';

const SQLITE_MAGIC = 'SQLite format 3\u0000';
const TYPES = new Set<string>(['counter', 'gauge', 'histogram', 'gaugehistogram', 'summary', 'info', 'stateset', 'unknown', ...DERIVED_TYPES]);
/** Rows handed on at a time: big enough that a SQLite batch is one cheap transaction, small enough to stay a few MB. */
const BATCH = 4096;

/** Collects rows into batches; a generator per row would cost a promise per row. */
class Batcher {
  private rows: Row[] = [];

  /** True when a batch is full and should be taken. */
  add(row: Row): boolean {
    this.rows.push(row);
    return this.rows.length >= BATCH;
  }

  get empty(): boolean {
    return this.rows.length === 0;
  }

  take(): Row[] {
    const rows = this.rows;
    this.rows = [];
    return rows;
  }
}

/** What a file holds, from its first bytes rather than its name, so `run.jsonl.raw` reads like `run.jsonl`. */
export async function sniffFormat(path: string): Promise<RowFormat> {
  let head: string;
  try {
    const fh = await open(path, 'r');
    try {
      const buf = Buffer.alloc(64);
      const { bytesRead } = await fh.read(buf, 0, buf.length, 0);
      head = buf.subarray(0, bytesRead).toString('latin1');
    } finally {
      await fh.close();
    }
  } catch (err) {
    throw new DataFileError(path, (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message, { cause: err });
  }
  if (head.startsWith(SQLITE_MAGIC)) return 'sqlite';
  if (head.startsWith(CSV_HEADER.slice(0, CSV_HEADER.indexOf(',') + 1))) return 'csv';
  if (head.trimStart().startsWith('{')) return 'jsonl';
  throw new DataFileError(path, head.length === 0 ? 'the file is empty' : 'not a JSONL, CSV or SQLite file written by collect or postprocess');
}

/**
 * Every row of a collected or post-processed file, in file order, in batches;
 * memory stays at one batch whatever the file's size. A malformed row stops
 * the read with a DataFileError naming the line.
 */
export async function* readRows(path: string, format?: RowFormat): AsyncGenerator<Row[]> {
  const kind = format ?? (await sniffFormat(path));
  if (kind === 'sqlite') yield* sqliteRows(path);
  else {
    await checkWholeLines(path);
    if (kind === 'csv') yield* csvRows(path);
    else yield* jsonlRows(path);
  }
}

/**
 * The stores end every row with a newline. A text file that does not was cut short (a full
 * disk, a copy stopped half way), and its last row may still read as a row with a shorter
 * value: refused before anything is read, rather than read into a silently wrong result.
 */
async function checkWholeLines(path: string): Promise<void> {
  const fh = await open(path, 'r').catch((err: NodeJS.ErrnoException) => {
    throw new DataFileError(path, err.code === 'ENOENT' ? 'no such file' : err.message, { cause: err });
  });
  try {
    const { size } = await fh.stat();
    if (size === 0) return;
    const last = Buffer.alloc(1);
    await fh.read(last, 0, 1, size - 1);
    if (last[0] !== 0x0a) throw new DataFileError(path, 'the last line has no newline: the file was cut short (remove the partial last line to read the rest)');
  } finally {
    await fh.close();
  }
}

function checkRow(path: string, where: string, r: Row): Row {
  if (!Number.isFinite(r.timeMs)) throw new DataFileError(path, `${where}: no valid time`);
  if (typeof r.target !== 'string' || typeof r.family !== 'string' || typeof r.name !== 'string')
    throw new DataFileError(path, `${where}: target, family and name must be text`);
  if (!TYPES.has(r.type)) throw new DataFileError(path, `${where}: "${String(r.type)}" is not a metric type`);
  if (typeof r.labels !== 'object' || r.labels === null || Array.isArray(r.labels)) throw new DataFileError(path, `${where}: labels must be an object`);
  for (const v of Object.values(r.labels)) if (typeof v !== 'string') throw new DataFileError(path, `${where}: label values must be text`);
  return r;
}

/** The labels column of CSV and SQLite: a JSON object (checkRow checks it is one). */
function labelsOf(path: string, where: string, text: string): Record<string, string> {
  try {
    return JSON.parse(text) as Record<string, string>;
  } catch (err) {
    throw new DataFileError(path, `${where}: labels are not a JSON object`, { cause: err });
  }
}

function valueOf(path: string, where: string, v: unknown): number {
  const n = typeof v === 'number' ? v : typeof v === 'string' ? parseNumber(v, true) : undefined;
  if (n === undefined) throw new DataFileError(path, `${where}: ${JSON.stringify(v)} is not a sample value`);
  return n;
}

async function* jsonlRows(path: string): AsyncGenerator<Row[]> {
  const lines = createInterface({ input: createReadStream(path), crlfDelay: Infinity });
  const batch = new Batcher();
  let n = 0;
  for await (const line of lines) {
    n++;
    if (line.trim() === '') continue;
    const where = `line ${n}`;
    let o: Record<string, unknown>;
    try {
      o = JSON.parse(line) as Record<string, unknown>;
    } catch (err) {
      throw new DataFileError(path, `${where}: not JSON (${(err as Error).message})`, { cause: err });
    }
    if (typeof o !== 'object' || o === null || Array.isArray(o)) throw new DataFileError(path, `${where}: not a JSON object`);
    if (
      batch.add(
        checkRow(path, where, {
          timeMs: Number(o.unix_ms ?? Date.parse(String(o.ts))),
          target: o.target as string,
          family: o.family as string,
          type: o.type as Row['type'],
          name: o.name as string,
          labels: o.labels as Record<string, string>,
          value: valueOf(path, where, o.value),
        }),
      )
    )
      yield batch.take();
  }
  if (!batch.empty) yield batch.take();
}

async function* csvRows(path: string): AsyncGenerator<Row[]> {
  const parser = createReadStream(path).pipe(parseCsv({ relax_column_count: false, info: true }));
  let col: Record<string, number> | undefined;
  const batch = new Batcher();
  try {
    // With `info`, each record carries its own line: the parser's running count is ahead by a chunk.
    for await (const { record: fields, info } of parser as AsyncIterable<{ record: string[]; info: { lines: number } }>) {
      if (!col) {
        col = Object.fromEntries(fields.map((f, i) => [f, i]));
        const missing = CSV_HEADER.split(',').filter((c) => col![c] === undefined);
        if (missing.length) throw new DataFileError(path, `line 1: the header lacks ${missing.join(', ')}`);
        continue;
      }
      const where = `line ${info.lines}`;
      const f = (c: string) => fields[col![c]!]!;
      const labels = labelsOf(path, where, f('labels'));
      if (
        batch.add(
          checkRow(path, where, {
            timeMs: Number(f('unix_ms')),
            target: f('target'),
            family: f('family'),
            type: f('type') as Row['type'],
            name: f('name'),
            labels,
            value: valueOf(path, where, f('value')),
          }),
        )
      )
        yield batch.take();
    }
  } catch (err) {
    if (err instanceof DataFileError) throw err;
    throw new DataFileError(path, `not valid CSV: ${(err as Error).message}`, { cause: err });
  }
  if (!batch.empty) yield batch.take();
}

/** The rows of a statement, a damaged page (SQLite finds one only when it reads it) said as a DataFileError. */
function* damaged(path: string, rows: IterableIterator<unknown>): Generator<unknown> {
  for (;;) {
    let next: IteratorResult<unknown>;
    try {
      next = rows.next();
    } catch (err) {
      throw new DataFileError(path, `the database is damaged: ${(err as Error).message}`, { cause: err });
    }
    if (next.done) return;
    yield next.value;
  }
}

async function* sqliteRows(path: string): AsyncGenerator<Row[]> {
  // A reader of a WAL database creates its -wal and -shm files; those are removed again if they were not there before.
  const sidecars = walSidecars(path).filter((p) => !existsSync(p));
  let db: Database.Database;
  try {
    db = new Database(path, { readonly: true, fileMustExist: true });
  } catch (err) {
    throw new DataFileError(path, (err as Error).message, { cause: err });
  }
  let rows: IterableIterator<unknown> | undefined;
  try {
    try {
      // The points' time index makes this a walk, not a sort.
      rows = db.prepare('SELECT ts, target, family, type, name, labels, value FROM samples ORDER BY ts').iterate();
    } catch (err) {
      throw new DataFileError(path, `not a database written by collect (${(err as Error).message})`, { cause: err });
    }
    const batch = new Batcher();
    for (const raw of damaged(path, rows)) {
      const r = raw as { ts: number; target: string; family: string; type: Row['type']; name: string; labels: string; value: number | null };
      const where = `series ${r.target} ${r.name}`;
      if (
        batch.add(
          checkRow(path, where, {
            timeMs: r.ts,
            target: r.target,
            family: r.family,
            type: r.type,
            name: r.name,
            labels: labelsOf(path, where, r.labels),
            value: r.value ?? NaN,
          }),
        )
      )
        yield batch.take();
    }
    if (!batch.empty) yield batch.take();
  } finally {
    // A reader that stopped early leaves the statement open; end it, or close() refuses.
    rows?.return?.();
    db.close();
    if (!walHasContent(path)) for (const p of sidecars) rmSync(p, { force: true });
  }
}

import { existsSync, linkSync, renameSync, rmSync, unlinkSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import Database from 'better-sqlite3';
import { ConfigError, DataFileError } from '../errors.js';
import { fsyncPath } from '../store/durable.js';
import { readRows, sniffFormat } from '../store/read.js';
import { openRowStore, rowFormatOfPath, type RowFormat } from '../store/row-formats.js';
import { sqliteSidecars, walHasContent } from '../store/sqlite.js';
import type { RowStore } from '../store/store.js';
import { Deriver, type DeriveStats } from './derive.js';

export interface PostprocessResult {
  input: string;
  output: string;
  /** Where the original went, when the input was rewritten in place. */
  raw?: string;
  from: RowFormat;
  to: RowFormat;
  stats: DeriveStats;
}

/** The output's format, from its extension. */
export function formatOfPath(path: string): RowFormat {
  const f = rowFormatOfPath(path);
  if (!f) throw new ConfigError('--output', `${path}: name the format by the extension (.jsonl, .csv or .sqlite)`);
  return f;
}

/**
 * A killed collector can leave rounds in the write-ahead log. Fold them into
 * the file, so that the .raw copy is whole on its own and no stale log sits
 * next to the name the new file will take.
 */
function foldSqliteWal(path: string): void {
  const db = new Database(path, { fileMustExist: true });
  try {
    db.pragma('wal_checkpoint(TRUNCATE)');
  } finally {
    db.close();
  }
}

/** The reader's empty log and shared-memory files; a log with content means a writer is still at work. */
function dropSqliteSidecars(path: string): void {
  if (walHasContent(path)) throw new DataFileError(path, 'the database is being written to (is a collector still running on it?)');
  for (const s of sqliteSidecars(path)) rmSync(s, { force: true });
}

/**
 * Post-processes a collected file (see Deriver for what comes out). With no
 * `output`, or `output` naming the input, the input is rewritten in place and
 * the original is kept as `<input>.raw`. Nothing is lost on any failure: the
 * result is written to a temporary file beside its destination and only then
 * moved there, an existing output or .raw is never overwritten, and the input
 * is renamed only once its replacement is whole on disk.
 */
export async function postprocessFile(input: string, output?: string): Promise<PostprocessResult> {
  const from = await sniffFormat(input);
  const inPlace = output === undefined || resolve(output) === resolve(input);
  const dest = inPlace ? input : output!;
  const to = inPlace ? from : formatOfPath(dest);
  const raw = inPlace ? `${input}.raw` : undefined;
  if (raw && existsSync(raw))
    throw new DataFileError(input, `${raw} exists already: was this file post-processed before? Move the .raw copy away, or give --output`);
  if (!inPlace && existsSync(dest)) throw new ConfigError('--output', `${dest} exists already (postprocess does not overwrite or append)`);
  // Only in place: with --output the input is only read, and a reader sees the log's rounds anyway.
  if (raw && from === 'sqlite') foldSqliteWal(input);

  const tmp = join(dirname(resolve(dest)), `.${basename(dest)}.postprocess-${process.pid}.tmp`);
  const deriver = new Deriver();
  let store: RowStore | undefined;
  try {
    store = openRowStore(to, tmp);
    for await (const batch of readRows(input, from)) {
      const rows = deriver.push(batch);
      if (rows.length) await store.writeRows(rows);
    }
    await store.writeRows(deriver.end());
    await store.close();
    fsyncPath(tmp);
    if (deriver.stats.rowsIn === 0) throw new DataFileError(input, 'no rows to post-process');
    if (raw) {
      // link() refuses an existing name: a .raw that appeared meanwhile is not overwritten.
      if (from === 'sqlite') dropSqliteSidecars(input);
      linkSync(input, raw);
      renameSync(tmp, input);
    } else {
      linkSync(tmp, dest);
      unlinkSync(tmp);
    }
    fsyncPath(dirname(resolve(dest)));
  } catch (err) {
    await store?.close().catch(() => {});
    for (const p of [tmp, ...sqliteSidecars(tmp)]) rmSync(p, { force: true });
    throw err;
  }
  return { input, output: dest, raw, from, to, stats: deriver.stats };
}

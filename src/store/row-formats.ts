import { extname } from 'node:path';
import { CsvStore } from './csv.js';
import { JsonlStore } from './jsonl.js';
import { SqliteStore } from './sqlite.js';
import type { RowStore } from './store.js';

/** The formats that hold rows, which postprocess and report read back. */
export type RowFormat = 'jsonl' | 'csv' | 'sqlite';

/** Each row format's own extension, as collect names its files. */
export const ROW_EXTENSIONS: Readonly<Record<RowFormat, string>> = { jsonl: '.jsonl', csv: '.csv', sqlite: '.sqlite' };

export const isRowFormat = (name: string): name is RowFormat => Object.hasOwn(ROW_EXTENSIONS, name);

/** The row format a file name says, by its extension (the old collector's .json and .db included). */
const FORMAT_OF_EXT: Readonly<Record<string, RowFormat>> = {
  '.jsonl': 'jsonl',
  '.ndjson': 'jsonl',
  '.json': 'jsonl',
  '.csv': 'csv',
  '.sqlite': 'sqlite',
  '.sqlite3': 'sqlite',
  '.db': 'sqlite',
};

export const rowFormatOfPath = (path: string): RowFormat | undefined => FORMAT_OF_EXT[extname(path).toLowerCase()];

export function openRowStore(format: RowFormat, path: string): RowStore {
  return format === 'jsonl' ? new JsonlStore(path) : format === 'csv' ? new CsvStore(path) : new SqliteStore(path);
}

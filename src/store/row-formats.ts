import { CsvStore } from './csv.js';
import { JsonlStore } from './jsonl.js';
import { SqliteStore } from './sqlite.js';
import type { RowStore } from './store.js';

/** The formats that hold rows, which postprocess and report read back. */
export type RowFormat = 'jsonl' | 'csv' | 'sqlite';

/** Each row format's own extension, as collect names its files. */
export const ROW_EXTENSIONS: Readonly<Record<RowFormat, string>> = { jsonl: '.jsonl', csv: '.csv', sqlite: '.sqlite' };

export const isRowFormat = (name: string): name is RowFormat => Object.hasOwn(ROW_EXTENSIONS, name);

export function openRowStore(format: RowFormat, path: string): RowStore {
  return format === 'jsonl' ? new JsonlStore(path) : format === 'csv' ? new CsvStore(path) : new SqliteStore(path);
}

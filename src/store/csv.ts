import { AppendFile } from './file-append.js';
import { formatValue } from '../exposition/render.js';
import { rowsOf, type Round, type Row, type RowStore } from './store.js';

export const CSV_HEADER = 'timestamp,unix_ms,target,family,type,name,labels,value';

/** RFC 4180: a field with a comma, quote or line break is quoted, quotes doubled. */
export function csvField(v: string): string {
  return /[",\r\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v;
}

/**
 * CSV (RFC 4180), one sample per row, long format: `timestamp` (ISO 8601),
 * `unix_ms`, `target`, `family`, `type`, `name`, `labels` (a JSON object),
 * `value` (`NaN`, `+Inf`, `-Inf` as the exposition spells them). The header is
 * written once, when the file is new.
 */
export class CsvStore implements RowStore {
  readonly name = 'csv';
  private readonly file: AppendFile;

  constructor(readonly location: string) {
    this.file = new AppendFile(this.name, location);
    if (this.file.size === 0) this.file.append(`${CSV_HEADER}\n`);
  }

  async write(round: Round): Promise<void> {
    return this.writeRows(rowsOf(round));
  }

  async writeRows(rows: readonly Row[]): Promise<void> {
    let text = '';
    for (const r of rows) {
      text += `${new Date(r.timeMs).toISOString()},${r.timeMs},${csvField(r.target)},${r.family},${r.type},${r.name},${csvField(JSON.stringify(r.labels))},${formatValue(r.value)}\n`;
    }
    if (text) this.file.append(text);
  }

  async close(): Promise<void> {
    this.file.close();
  }
}

import { readFileSync } from 'node:fs';
import { DataFileError } from '../errors.js';
import type { RequestRecord } from './record.js';

/** Reads a request log; a line that is not a record names the file and line. */
export function readRequestLog(file: string): RequestRecord[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new DataFileError(file, (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message, { cause: err });
  }
  const out: RequestRecord[] = [];
  text.split('\n').forEach((line, i) => {
    if (line.trim() === '') return;
    let r: RequestRecord;
    try {
      r = JSON.parse(line) as RequestRecord;
    } catch {
      throw new DataFileError(file, `line ${i + 1}: not JSON`);
    }
    if (typeof r.start_time !== 'string' || typeof r.e2e_ms !== 'number' || typeof r.endpoint !== 'string')
      throw new DataFileError(file, `line ${i + 1}: not a request record (serve --request-log writes them)`);
    out.push(r);
  });
  return out;
}

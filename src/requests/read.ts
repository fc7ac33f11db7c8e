import { readFileSync } from 'node:fs';
import type { RequestRecord } from './record.js';

/** Reads a request log; a line that is not a record names the file and line. */
export function readRequestLog(file: string): RequestRecord[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new Error(`cannot read ${file}: ${(err as Error).message}`);
  }
  const out: RequestRecord[] = [];
  text.split('\n').forEach((line, i) => {
    if (line.trim() === '') return;
    let r: RequestRecord;
    try {
      r = JSON.parse(line) as RequestRecord;
    } catch {
      throw new Error(`${file} line ${i + 1}: not JSON`);
    }
    if (typeof r.start_time !== 'string' || typeof r.e2e_ms !== 'number' || typeof r.endpoint !== 'string') throw new Error(`${file} line ${i + 1}: not a request record (serve --request-log writes them)`);
    out.push(r);
  });
  return out;
}

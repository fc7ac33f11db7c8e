/**
 * The collector's readers (JSONL, CSV, SQLite) on files damaged in ways nobody chose
 * (fast-check; test/helpers/fuzz.ts says how to replay a seed or run longer): cut short,
 * a byte changed, bytes inserted, a line replaced by other JSON. Each read either gives
 * rows or stops with a DataFileError that names the file (and the line, for the text
 * formats); a file cut short mid-line is always refused, never read as a shorter result.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import t from 'tap';
import { DataFileError } from '../../src/errors.js';
import { readRows } from '../../src/store/read.js';
import { openRowStore, ROW_EXTENSIONS as EXT, type RowFormat } from '../../src/store/row-formats.js';
import { fuzz } from '../helpers/fuzz.js';
import { rounds } from '../helpers/rounds.js';

const dir = mkdtempSync(join(tmpdir(), 'vmp-readers-fuzz-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

async function written(f: RowFormat): Promise<Buffer> {
  const path = join(dir, `pristine${EXT[f]}`);
  const store = openRowStore(f, path);
  for (const r of rounds(2)) await store.write(r);
  await store.close();
  return readFileSync(path);
}

type Outcome = { rows: number } | { error: DataFileError };

async function read(path: string, format?: RowFormat): Promise<Outcome> {
  let rows = 0;
  try {
    for await (const batch of readRows(path, format)) rows += batch.length;
    return { rows };
  } catch (err) {
    if (err instanceof DataFileError) return { error: err };
    throw err; // anything else fails the property
  }
}

const damage = fc.oneof(
  fc.record({ how: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({ how: fc.constant('flip' as const), at: fc.nat(), byte: fc.nat(255) }),
  fc.record({ how: fc.constant('insert' as const), at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 8 }) }),
  fc.record({
    how: fc.constant('line' as const),
    at: fc.nat(),
    text: fc.oneof(fc.json(), fc.constantFrom('null', '[]', '"x"', '{}', '{"labels":{"a":1}}', ',,,,', '"unterminated')),
  }),
);

type Damage = { how: 'truncate' | 'flip' | 'insert' | 'line'; at: number; byte?: number; bytes?: Uint8Array; text?: string };

function damaged(pristine: Buffer, d: Damage): Buffer {
  const i = d.at % (pristine.length + 1);
  if (d.how === 'truncate') return pristine.subarray(0, i);
  if (d.how === 'flip') {
    const b = Buffer.from(pristine);
    if (i < b.length) b[i] = d.byte!;
    return b;
  }
  if (d.how === 'insert') return Buffer.concat([pristine.subarray(0, i), Buffer.from(d.bytes!), pristine.subarray(i)]);
  const lines = pristine.toString('latin1').split('\n');
  lines[1 + (d.at % Math.max(1, lines.length - 2))] = d.text!;
  return Buffer.from(lines.join('\n'), 'latin1');
}

for (const format of ['jsonl', 'csv', 'sqlite'] as RowFormat[]) {
  t.test(`${format}: rows, or a DataFileError naming the file${format === 'sqlite' ? '' : ' and the line; a cut mid-line always refused'}`, async (t) => {
    const pristine = await written(format);
    const whole = await read(join(dir, `pristine${EXT[format]}`));
    t.ok('rows' in whole && whole.rows > 1000, 'the pristine file reads whole');
    let n = 0;
    let refused = 0;
    await fc.assert(
      fc.asyncProperty(damage, async (d) => {
        // SQLite's damage is bytes only (its "lines" mean nothing).
        if (format === 'sqlite' && d.how === 'line') return true;
        const bytes = damaged(pristine, d);
        const path = join(dir, `case-${format}-${n++}${EXT[format]}`);
        writeFileSync(path, bytes);
        try {
          // The format as the file's name says (sniffing would take some damaged files for none).
          const got = await read(path, format);
          if ('rows' in got) return !(format !== 'sqlite' && bytes.length > 0 && bytes[bytes.length - 1] !== 0x0a);
          refused++;
          const m = got.error.message;
          return m.startsWith(`${path}: `) && (format === 'sqlite' || /line \d+|cut short|header|not valid CSV|empty/.test(m));
        } finally {
          rmSync(path, { force: true });
          rmSync(`${path}-wal`, { force: true });
          rmSync(`${path}-shm`, { force: true });
        }
      }),
      fuzz(t, format === 'sqlite' ? 60 : 150),
    );
    t.ok(refused > 0, `${refused} damaged files refused with a clear error`);
  });
}

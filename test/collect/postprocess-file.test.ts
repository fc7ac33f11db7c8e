/**
 * Post-processing files as a user does: every format in, every format out,
 * read back; in place with the original kept; and nothing lost on a bad
 * input, an existing output, or a SQLite file left by a killed collector.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import t from 'tap';
import { Deriver } from '../../src/collect/derive.js';
import { postprocessFile } from '../../src/collect/postprocess-file.js';
import { labelKey } from '../../src/exposition/parser.js';
import { readRows } from '../../src/store/read.js';
import { openRowStore, ROW_EXTENSIONS as EXT, type RowFormat } from '../../src/store/row-formats.js';
import { rowsOf, type Row } from '../../src/store/store.js';
import { runCliAsync, spawnCli } from '../helpers/cli.js';
import { simulators } from '../helpers/fleet.js';
import { rounds } from '../helpers/rounds.js';

const dir = mkdtempSync(join(tmpdir(), 'vmp-postprocess-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

const FORMATS = Object.keys(EXT) as RowFormat[];

const RUN = rounds(4);
const RAW_ROWS = RUN.flatMap(rowsOf);

/** A collected file of the four rounds, written by the store collect uses. */
async function collected(f: RowFormat, name: string): Promise<string> {
  const path = join(dir, `${name}${EXT[f]}`);
  const store = openRowStore(f, path);
  for (const r of RUN) await store.write(r);
  await store.close();
  return path;
}

const rowKey = (r: Row) => `${r.timeMs} ${r.target} ${r.type} ${r.name} ${labelKey(r.labels, '')} ${Number.isNaN(r.value) ? 'NaN' : r.value}`;

async function readAll(path: string): Promise<string[]> {
  const out: string[] = [];
  for await (const batch of readRows(path)) for (const r of batch) out.push(rowKey(r));
  return out.sort();
}

function derivedInMemory(rows: Row[]): string[] {
  const d = new Deriver();
  return [...d.push(rows), ...d.end()].map(rowKey).sort();
}

t.test('each store is read back whole: every sample, NaN and an awkward label value included', async (t) => {
  const want = RAW_ROWS.map(rowKey).sort();
  for (const f of FORMATS) t.same(await readAll(await collected(f, `read-${f}`)), want, f);
});

t.test('every format into every format: the same derived rows as in memory', async (t) => {
  const want = derivedInMemory(RAW_ROWS);
  t.ok(
    want.some((k) => k.includes('vllm_time_to_first_token_seconds_p99')),
    'quantiles are among them',
  );
  t.ok(
    want.some((k) => k.includes('vllm_generation_tokens_total_rate')),
    'rates are among them',
  );
  for (const from of FORMATS) {
    const input = await collected(from, `in-${from}`);
    const before = readFileSync(input);
    for (const to of FORMATS) {
      const output = join(dir, `out-${from}-to${EXT[to]}`);
      const r = await postprocessFile(input, output);
      t.same([r.from, r.to, r.raw], [from, to, undefined], `${from} → ${to}`);
      t.same(await readAll(output), want, `${from} → ${to}: rows read back`);
    }
    t.same(readFileSync(input), before, `${from}: the input is untouched when --output is given`);
  }
});

t.test('in place: the original becomes <file>.raw, byte for byte; a second run refuses and changes nothing', async (t) => {
  for (const f of FORMATS) {
    const input = await collected(f, `inplace-${f}`);
    const original = readFileSync(input);
    const r = await postprocessFile(input);
    t.equal(r.raw, `${input}.raw`);
    t.same(readFileSync(`${input}.raw`), original, `${f}: the .raw copy is the original`);
    t.same(await readAll(input), derivedInMemory(RAW_ROWS), `${f}: the file now holds the derived rows`);
    const processed = readFileSync(input);
    await t.rejects(postprocessFile(input), { code: 'VMP_DATA_FILE', message: /\.raw exists already/ });
    t.same(readFileSync(input), processed, `${f}: unchanged by the refused run`);
    // A processed file given with --output elsewhere: refused for what it is.
    await t.rejects(postprocessFile(input, join(dir, `again-${f}.jsonl`)), { code: 'VMP_ALREADY_POSTPROCESSED' });
    t.notOk(existsSync(join(dir, `again-${f}.jsonl`)), 'and no output is left behind');
  }
});

t.test('bad input or output: a clear error, the input whole, no temporary file left', async (t) => {
  const input = await collected('jsonl', 'bad');
  const lines = readFileSync(input, 'utf8').split('\n');
  lines[2] = lines[2]!.slice(0, 40);
  writeFileSync(input, lines.join('\n'));
  const broken = readFileSync(input);
  await t.rejects(postprocessFile(input), { code: 'VMP_DATA_FILE', message: /bad\.jsonl: line 3: not JSON/ });
  t.same(readFileSync(input), broken);
  t.notOk(existsSync(`${input}.raw`));

  const csv = await collected('csv', 'badvalue');
  writeFileSync(csv, readFileSync(csv, 'utf8').replace(/,([0-9.e+-]+)\n/, ',twelve\n'));
  await t.rejects(postprocessFile(csv), { message: /badvalue\.csv: line 2: "twelve" is not a sample value/ });

  const empty = join(dir, 'empty.jsonl');
  writeFileSync(empty, '');
  await t.rejects(postprocessFile(empty), { message: /empty\.jsonl: the file is empty/ });
  writeFileSync(empty, 'hello\n');
  await t.rejects(postprocessFile(empty), { message: /not a JSONL, CSV or SQLite file/ });
  await t.rejects(postprocessFile(join(dir, 'missing.csv')), { message: /missing\.csv: no such file/ });

  const good = await collected('csv', 'good');
  const taken = join(dir, 'taken.jsonl');
  writeFileSync(taken, 'mine\n');
  await t.rejects(postprocessFile(good, taken), { code: 'VMP_CONFIG', message: /--output: .*taken\.jsonl exists already/ });
  t.equal(readFileSync(taken, 'utf8'), 'mine\n', 'an existing output is never overwritten');
  await t.rejects(postprocessFile(good, join(dir, 'out.parquet')), { code: 'VMP_CONFIG', message: /--output: .*\.jsonl, \.csv or \.sqlite/ });

  t.same(
    readdirSync(dir).filter((n) => n.includes('.tmp')),
    [],
    'no temporary file anywhere',
  );
});

t.test('a SQLite file left by a killed collector: its log is folded in, the .raw copy is whole on its own', async (t) => {
  const path = join(dir, 'killed.sqlite');
  const store = fileURLToPath(new URL('../../dist/store/sqlite.js', import.meta.url));
  const rounds = join(dir, 'rounds.json');
  writeFileSync(rounds, JSON.stringify(RUN));
  // A writer that dies with its rounds still in the write-ahead log.
  const script = `import { readFileSync } from 'node:fs'; import { SqliteStore } from ${JSON.stringify(store)}; const s = new SqliteStore(${JSON.stringify(path)}); for (const r of JSON.parse(readFileSync(${JSON.stringify(rounds)}, 'utf8'))) await s.write(r); process.kill(process.pid, 'SIGKILL');`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script]);
  t.equal(r.signal, 'SIGKILL', r.stderr.toString());
  t.ok(statSync(`${path}-wal`).size > 0, 'the rounds are in the log');
  await postprocessFile(path);
  t.notOk(existsSync(`${path}-wal`) && statSync(`${path}-wal`).size > 0, 'no stale log beside the new file');
  const alone = join(dir, 'raw-alone.sqlite');
  copyFileSync(`${path}.raw`, alone);
  const db = new Database(alone, { readonly: true });
  t.teardown(() => db.close());
  t.equal((db.prepare('SELECT COUNT(*) AS n FROM points').get() as { n: number }).n, RAW_ROWS.length, 'every collected sample is in the .raw file alone');
  t.same(await readAll(path), derivedInMemory(RAW_ROWS));
});

t.test('the commands: postprocess in place and to another format; collect --auto-postprocess', async (t) => {
  const input = await collected('jsonl', 'cli');
  const r = await runCliAsync(['postprocess', input]);
  t.equal(r.status, 0, r.stderr);
  const log = JSON.parse(r.stdout.trim().split('\n').pop()!) as Record<string, unknown>;
  t.match(log, { event: 'postprocessed', raw: `${input}.raw`, rowsIn: RAW_ROWS.length });
  t.match(log.msg, /the original is kept as .*cli\.jsonl\.raw/);

  const bad = await runCliAsync(['postprocess', join(dir, 'nothing.jsonl')]);
  t.equal(bad.status, 1);
  t.match(bad.stderr, /error: .*nothing\.jsonl: no such file/);
  const ext = await runCliAsync(['postprocess', `${input}.raw`, '--output', join(dir, 'x.txt')]);
  t.equal(ext.status, 2);
  t.match(ext.stderr, /error: option --output: .*x\.txt: name the format/);
  const toSqlite = await runCliAsync(['postprocess', `${input}.raw`, '--output', join(dir, 'cli.sqlite')]);
  t.equal(toSqlite.status, 0, toSqlite.stderr);
  t.same(await readAll(join(dir, 'cli.sqlite')), await readAll(input), 'the same rows through either route');

  const [sim] = await simulators([{ engines: 2, tickMs: 20 }]);
  t.teardown(() => sim!.close());
  const base = join(dir, 'auto');
  const proc = spawnCli([
    'collect',
    '--upstream',
    `${sim!.url}/metrics`,
    '--interval',
    '100ms',
    '--duration',
    '450ms',
    '--store',
    'csv',
    'sqlite',
    '--output',
    base,
    '--auto-postprocess',
  ]);
  t.teardown(() => proc.child.kill('SIGKILL'));
  t.equal(await proc.exited, 0);
  const done = proc.lines.filter((l) => l.event === 'postprocessed');
  t.same(
    done.map((l) => l.output),
    [`${base}.csv`, `${base}.sqlite`],
  );
  const rawRows: Row[] = [];
  for await (const b of readRows(`${base}.csv.raw`)) rawRows.push(...b);
  t.ok(new Set(rawRows.map((x) => x.timeMs)).size >= 2, 'at least two rounds, so at least one interval');
  const want = derivedInMemory(rawRows);
  t.same(await readAll(`${base}.csv`), want, 'the CSV holds the derived rows of what was collected');
  t.same(await readAll(`${base}.sqlite`), want, 'and so does the SQLite file');
});

t.test('a vLLM restarted mid-run: the interval across it counts from zero, marked as a reset, and no delta is negative', async (t) => {
  const [before] = await simulators([{ engines: 2 }]);
  // Thirty seconds of load on the first process, a second at a time as its ticks would go,
  // so that every counter and histogram stands above a fresh one's (the same seed: the new
  // process replays the first's first minute). One 30-second step left some unchanged, and
  // then the restart did not show in them.
  const now = Date.now() / 1000;
  for (let s = 1; s <= 30; s++) before!.sim.advance(now + s, 1);
  const port = Number(new URL(before!.url).port);
  const base = join(dir, 'restart');
  const proc = spawnCli([
    'collect',
    '--upstream',
    `gpu-a=${before!.url}/metrics`,
    '--interval',
    '100ms',
    '--store',
    'jsonl',
    '--output',
    base,
    '--auto-postprocess',
    '--log-level',
    'debug',
  ]);
  t.teardown(() => proc.child.kill('SIGKILL'));
  const rounds = () => proc.lines.filter((l) => l.event === 'round' && l.errors === 0).length;
  await proc.waitFor(() => rounds() >= 3);
  await before!.close();
  const [after] = await simulators([{ engines: 2 }], '127.0.0.1', port);
  t.teardown(() => after!.close());
  const seen = rounds();
  await proc.waitFor(() => rounds() >= seen + 3);
  proc.child.kill('SIGTERM');
  t.equal(await proc.exited, 0);

  const raw: Row[] = [];
  for await (const b of readRows(`${base}.jsonl.raw`)) raw.push(...b);
  const derived: Row[] = [];
  for await (const b of readRows(`${base}.jsonl`)) derived.push(...b);
  const prompt = (r: Row) => r.labels.engine === '0' && r.name.startsWith('vllm_prompt_tokens_total');
  const values = raw.filter((r) => r.name === 'vllm_prompt_tokens_total' && r.labels.engine === '0');
  const drop = values.findIndex((r, i) => i > 0 && r.value < values[i - 1]!.value);
  t.ok(drop > 0, 'the raw counter went down once the new process answered');
  const at = values[drop]!.timeMs;
  t.same(
    derived
      .filter((r) => prompt(r) && r.timeMs === at)
      .map((r) => [r.name, r.value])
      .sort(),
    [
      ['vllm_prompt_tokens_total_delta', values[drop]!.value],
      ['vllm_prompt_tokens_total_rate', values[drop]!.value / ((at - values[drop - 1]!.timeMs) / 1000)],
      ['vllm_prompt_tokens_total_resets', 1],
    ],
    'the interval across the restart counts from zero, as PromQL increase() does',
  );
  t.ok(
    derived.some((r) => r.name === 'vllm_time_to_first_token_seconds_resets' && r.timeMs === at),
    'the histograms are marked reset too',
  );
  t.same(
    derived.filter((r) => r.type === 'delta' && r.value < 0),
    [],
    'no negative delta anywhere',
  );
});

/**
 * Each store against its real backend: files parsed back, SQLite opened and
 * queried, the textfile read by promtool, a real Pushgateway; and the errors
 * of an unwritable path and a full disk.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import t from 'tap';
import { CSV_HEADER, CsvStore } from '../../src/store/csv.js';
import { JsonlStore } from '../../src/store/jsonl.js';
import { PromFileStore } from '../../src/store/prom-file.js';
import { PushgatewayStore } from '../../src/store/pushgateway.js';
import { SqliteStore } from '../../src/store/sqlite.js';
import { rowsOf, StoreError, type Round } from '../../src/store/store.js';
import { parse as parseCsv } from 'csv-parse/sync';
import { promtoolCheck } from '../helpers/prometheus.js';
import { startPushgateway } from '../helpers/pushgateway.js';
import { rounds } from '../helpers/rounds.js';
import { parseSamples } from '../helpers/samples.js';

const dir = mkdtempSync(join(tmpdir(), 'vmp-stores-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

const key = (r: { target: string; name: string; labels: Record<string, string> }, ts: number) =>
  `${ts} ${r.target} ${r.name} ${JSON.stringify(Object.entries(r.labels).sort())}`;
const fmt = (v: number) => (Number.isNaN(v) ? 'NaN' : String(v));

function expected(rs: Round[]): Map<string, string> {
  return new Map(rs.flatMap((r) => rowsOf(r).map((row) => [key(row, row.timeMs), fmt(row.value)] as [string, string])));
}

t.test('jsonl: every sample of every round, read back line by line', async (t) => {
  const path = join(dir, 'run.jsonl');
  const store = new JsonlStore(path);
  const rs = rounds();
  for (const r of rs) await store.write(r);
  await store.close();
  const got = new Map<string, string>();
  for (const line of readFileSync(path, 'utf8').split('\n').filter(Boolean)) {
    const o = JSON.parse(line) as {
      ts: string;
      unix_ms: number;
      target: string;
      name: string;
      labels: Record<string, string>;
      value: number | string;
      type: string;
      family: string;
    };
    t.equal(new Date(o.ts).getTime(), o.unix_ms);
    got.set(key(o, o.unix_ms), String(o.value));
  }
  t.same(got, expected(rs));
  t.ok(got.size > 1000, `${got.size} samples`);
});

t.test('csv: RFC 4180 with a header, read back by a CSV parser', async (t) => {
  const path = join(dir, 'run.csv');
  const rs = rounds();
  const store = new CsvStore(path);
  await store.write(rs[0]!);
  await store.close();
  // Reopened: appends, no second header.
  const again = new CsvStore(path);
  await again.write(rs[1]!);
  await again.close();
  const [header, ...rows] = parseCsv(readFileSync(path, 'utf8')) as string[][];
  t.equal(header!.join(','), CSV_HEADER);
  const got = new Map(rows.map((r) => [key({ target: r[2]!, name: r[5]!, labels: JSON.parse(r[6]!) }, Number(r[1])), r[7]!]));
  t.same(got, expected(rs));
});

t.test('sqlite: WAL, one row per sample in the samples view, indexed', async (t) => {
  const path = join(dir, 'run.sqlite');
  const store = new SqliteStore(path);
  const rs = rounds();
  for (const r of rs) await store.write(r);
  await store.close();
  const db = new Database(path, { readonly: true });
  t.teardown(() => db.close());
  t.equal(db.pragma('journal_mode', { simple: true }), 'wal');
  t.equal(db.pragma('integrity_check', { simple: true }), 'ok');
  const rows = db.prepare('SELECT ts, target, name, labels, value FROM samples').all() as Array<{
    ts: number;
    target: string;
    name: string;
    labels: string;
    value: number | null;
  }>;
  const got = new Map(
    rows.map((r) => [key({ target: r.target, name: r.name, labels: JSON.parse(r.labels) }, r.ts), r.value === null ? 'NaN' : String(r.value)]),
  );
  t.same(got, expected(rs));
  const plan = db.prepare("EXPLAIN QUERY PLAN SELECT * FROM samples WHERE family = 'vllm_num_requests_running' AND ts > 0").all() as Array<{ detail: string }>;
  t.match(plan.map((p) => p.detail).join('\n'), /USING INDEX series_family/, 'family lookups use the index');
  const running = db.prepare("SELECT SUM(value) AS v FROM samples WHERE family = 'vllm_num_requests_running' AND ts = ?").get(rs[1]!.timeMs) as { v: number };
  const want = rowsOf(rs[1]!)
    .filter((r) => r.family === 'vllm_num_requests_running')
    .reduce((n, r) => n + r.value, 0);
  t.equal(running.v, want, 'SQL over the samples gives the simulator totals');
});

t.test('prom-file: the latest round, labelled, replaced whole; promtool reads it', async (t) => {
  const path = join(dir, 'vllm.prom');
  const store = new PromFileStore(path);
  const rs = rounds();
  for (const r of rs) await store.write(r);
  const text = readFileSync(path, 'utf8');
  t.same(
    promtoolCheck(text).problems,
    ['odd no help text', 'vllm_iteration_tokens_total non-counter metrics should not have "_total" suffix'],
    'promtool parses it (and only lints)',
  );
  const latest = new Map(rowsOf(rs[1]!).map((r) => [`${r.name}${JSON.stringify(Object.entries({ ...r.labels, instance: r.target }).sort())}`, fmt(r.value)]));
  const got = new Map(parseSamples(text).map((s) => [`${s.name}${JSON.stringify(Object.entries(s.labels).sort())}`, fmt(s.value)]));
  t.same(got, latest, 'exactly the second round');
  t.throws(() => new PromFileStore(join(dir, 'missing-dir', 'x.prom')), /prom-file store .*missing-dir\/x\.prom: no such directory/);
});

t.test('pushgateway: one group per target, replaced each round; a failed target pushed as down', async (t) => {
  const gw = await startPushgateway();
  t.teardown(() => gw.close());
  const store = new PushgatewayStore(gw.url, 'bench', 2_000);
  const rs = rounds();
  for (const r of rs) await store.write(r);
  const got = parseSamples(await gw.metrics()).filter((s) => s.labels.job === 'bench' && s.name === 'vllm_num_requests_running');
  const want = rowsOf(rs[1]!).filter((r) => r.name === 'vllm_num_requests_running');
  t.same(got.map((s) => [s.labels.instance, s.labels.engine, s.value]).sort(), want.map((r) => [r.target, r.labels.engine, r.value]).sort());
  const meta = parseSamples(await gw.metrics()).filter((s) => s.labels.job === 'bench' && s.name.startsWith('vllm_metrics_proxy_target_'));
  const of = (name: string) =>
    meta
      .filter((s) => s.name === name)
      .map((s) => [s.labels.instance, s.labels.kind, s.value])
      .sort();
  t.same(
    of('vllm_metrics_proxy_target_up'),
    [
      ['gpu-a', undefined, 1],
      ['gpu-b', undefined, 1],
      ['gpu-down', undefined, 0],
    ],
    "as serve's push mode does: up per target",
  );
  t.same(of('vllm_metrics_proxy_target_error'), [['gpu-down', 'unreachable', 1]], 'and why the failed one is down');
  t.notOk(
    parseSamples(await gw.metrics()).some((s) => s.labels.instance === 'gpu-down' && s.name.startsWith('vllm_num')),
    'with no data of its own',
  );
});

t.test('an unwritable path and a full disk: errors that say which file and why', async (t) => {
  const err = t.throws(() => new JsonlStore(join(dir, 'no', 'such', 'dir', 'x.jsonl'))) as StoreError;
  t.type(err, StoreError);
  t.match(err.message, /^jsonl store .*no\/such\/dir\/x\.jsonl: no such directory$/);
  t.throws(() => new SqliteStore(join(dir, 'nope', 'x.sqlite')), /sqlite store .*nope\/x\.sqlite: /);
  // /dev/full: every write fails with ENOSPC, as on a full disk.
  const full = new JsonlStore('/dev/full');
  await t.rejects(full.write(rounds()[0]!), /^jsonl store \/dev\/full: the disk is full$/);
  await full.close();
});

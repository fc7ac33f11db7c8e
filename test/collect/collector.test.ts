import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import t from 'tap';
import { Collector, type RoundResult } from '../../src/collect/collector.js';
import { selection } from '../../src/collect/selection.js';
import { JsonlStore } from '../../src/store/jsonl.js';
import type { Target } from '../../src/targets/target-set.js';
import { Upstream } from '../../src/upstream/upstream.js';
import { runCliAsync, spawnCli } from '../helpers/cli.js';
import { parse as parseCsv } from 'csv-parse/sync';
import { simulators } from '../helpers/fleet.js';
import { captureLog } from '../helpers/net.js';
import { freePort } from '../helpers/prometheus.js';

const dir = mkdtempSync(join(tmpdir(), 'vmp-collect-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

t.test('--metrics: exact names and globs, in either spelling, counters with or without _total', async (t) => {
  const s = selection(['vllm:num_requests_running', 'vllm_kv_cache_usage_perc', 'vllm:*_tokens', 'vllm:time_to_first_token_seconds,vllm:e2e_*']);
  t.same(s.patterns, ['vllm:num_requests_running', 'vllm_kv_cache_usage_perc', 'vllm:*_tokens', 'vllm:time_to_first_token_seconds', 'vllm:e2e_*']);
  for (const yes of [
    'vllm_num_requests_running',
    'vllm_kv_cache_usage_perc',
    'vllm_prompt_tokens_total',
    'vllm_generation_tokens_total',
    'vllm_time_to_first_token_seconds',
    'vllm_e2e_request_latency_seconds',
  ])
    t.ok(s.matches(yes), yes);
  for (const no of ['vllm_num_requests_waiting', 'vllm_num_requests_running_x', 'process_cpu_seconds_total', 'vllm_num_preemptions_total'])
    t.notOk(s.matches(no), no);
  t.same(s.unmatched(['vllm_num_requests_running', 'vllm_prompt_tokens_total']), [
    'vllm_kv_cache_usage_perc',
    'vllm:time_to_first_token_seconds',
    'vllm:e2e_*',
  ]);
  t.ok(selection(undefined).matches('anything'), 'no --metrics: everything');
});

t.test('the API: rounds on an interval, selected families only, unknown names reported with a hint', async (t) => {
  const [sim] = await simulators([{ engines: 2 }]);
  t.teardown(() => sim!.close());
  const upstream = new Upstream({ url: `${sim!.url}/metrics`, timeoutMs: 2_000, maxBodyBytes: 1 << 26 });
  t.teardown(() => upstream.close());
  const target: Target = { name: 'gpu-a', upstream, source: 'static' };
  const path = join(dir, 'api.jsonl');
  const logs = captureLog('debug');
  const collector = new Collector({
    targets: () => [target],
    intervalMs: 50,
    timeoutMs: 2_000,
    selection: selection(['vllm:num_requests_running', 'vllm:gpu_utilization']),
    stores: [new JsonlStore(path)],
    log: logs.log,
  });
  const results: RoundResult[] = [];
  collector.on('round', (r) => results.push(r));
  collector.start();
  await new Promise<void>((resolve) => collector.on('round', () => results.length >= 3 && resolve()));
  await collector.stop();
  t.ok(results.length >= 3);
  t.equal(results[0]!.samples, 2, 'two engines, one family');
  const lines = readFileSync(path, 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { family: string; target: string; unix_ms: number });
  t.same([...new Set(lines.map((l) => l.family))], ['vllm_num_requests_running']);
  t.equal(new Set(lines.map((l) => l.unix_ms)).size, collector.stats.rounds, 'one timestamp per round');
  const unknown = logs.lines().filter((l) => l.event === 'unknown_metric');
  t.equal(unknown.length, 1, 'said once');
  t.match(unknown[0]!.msg, /no target serves "vllm:gpu_utilization": vLLM does not export GPU utilization/);
});

t.test('SIGKILL mid-run: every round logged as written is in every file, and no file is corrupt', async (t) => {
  const [sim] = await simulators([{ engines: 8, tickMs: 20 }]);
  t.teardown(() => sim!.close());
  const base = join(dir, 'killed');
  const proc = spawnCli([
    'collect',
    '--upstream',
    `gpu-a=${sim!.url}/metrics`,
    '--interval',
    '50ms',
    '--store',
    'jsonl',
    'csv',
    'sqlite',
    '--output',
    base,
    '--log-level',
    'debug',
  ]);
  t.teardown(() => proc.child.kill('SIGKILL'));
  // A round whose scrape timed out (50 ms, on a busy machine) has no samples and writes nothing: count the others.
  const written = (l: Record<string, unknown>) => l.event === 'round' && (l.samples as number) > 0;
  await proc.waitFor(() => proc.lines.filter(written).length >= 5);
  proc.child.kill('SIGKILL');
  await proc.exited;
  const logged = proc.lines.filter(written).map((l) => l.timeMs as number);
  t.ok(logged.length >= 5);

  const jsonl = readFileSync(`${base}.jsonl`, 'utf8');
  t.ok(jsonl.endsWith('\n'), 'no half-written line');
  const jsonTimes = new Set(
    jsonl
      .trim()
      .split('\n')
      .map((l) => (JSON.parse(l) as { unix_ms: number }).unix_ms),
  );
  const [header, ...csvRows] = parseCsv(readFileSync(`${base}.csv`, 'utf8')) as string[][];
  t.equal(header![0], 'timestamp');
  const csvTimes = new Set(csvRows.map((r) => Number(r[1])));
  const db = new Database(`${base}.sqlite`);
  t.teardown(() => db.close());
  t.equal(db.pragma('integrity_check', { simple: true }), 'ok');
  const sqlTimes = new Set((db.prepare('SELECT DISTINCT ts FROM points').all() as Array<{ ts: number }>).map((r) => r.ts));
  for (const ts of logged) {
    t.ok(jsonTimes.has(ts) && csvTimes.has(ts) && sqlTimes.has(ts), `round ${ts} is in the JSONL, the CSV and SQLite`);
  }
  const perRound = db.prepare('SELECT COUNT(*) AS n FROM points WHERE ts = ?').get(logged[0]) as { n: number };
  t.equal(perRound.n, csvRows.filter((r) => Number(r[1]) === logged[0]).length, 'the same samples in SQLite and CSV');
});

t.test('the command: --duration stops it with everything flushed; --debug says what each name finds', async (t) => {
  const [sim] = await simulators([{ engines: 1 }]);
  t.teardown(() => sim!.close());
  const base = join(dir, 'timed');
  const proc = spawnCli([
    'collect',
    '--upstream',
    `${sim!.url}/metrics`,
    '--interval',
    '100ms',
    '--duration',
    '500ms',
    '--metrics',
    'vllm:num_requests_*',
    'vllm:request_latency',
    '--store',
    'sqlite',
    '--output',
    base,
    '--debug',
  ]);
  t.teardown(() => proc.child.kill('SIGKILL'));
  t.equal(await proc.exited, 0, 'exits 0 after --duration');
  t.match(
    proc.lines.find((l) => l.event === 'shutdown'),
    { reason: '--duration 0.5s reached' },
    'and says so, rather than naming a signal nobody sent',
  );
  const found = proc.lines.find((l) => l.event === 'debug_metric' && l.metric === 'vllm:num_requests_*');
  t.same(found?.found, ['vllm_num_requests_running', 'vllm_num_requests_waiting']);
  t.ok(proc.lines.some((l) => l.event === 'unknown_metric' && /use vllm:e2e_request_latency_seconds/.test(String(l.msg))));
  const done = proc.lines.find((l) => l.event === 'collected')!;
  t.ok((done.rounds as number) >= 2);
  const db = new Database(`${base}.sqlite`, { readonly: true });
  t.teardown(() => db.close());
  t.equal(db.pragma('journal_mode', { simple: true }), 'wal');
  const n = (db.prepare('SELECT COUNT(*) AS n FROM samples').get() as { n: number }).n;
  t.equal(n, done.samples, 'every sample counted is in the file');
});

t.test('bad collect flags: exit 2 naming the flag', async (t) => {
  const cases: Array<[string[], RegExp]> = [
    [['collect', '--store', 'parquet'], /--store: "parquet" is not a store/],
    [['collect', '--store', 'pushgateway'], /--store: pushgateway needs --push-url/],
    [['collect', '--output', '/nonexistent/dir/run'], /--output: jsonl store \/nonexistent\/dir\/run\.jsonl: no such directory/],
    [['collect', '--interval', 'often'], /--interval.*"often" is not a duration/],
  ];
  for (const [args, re] of cases) {
    const r = await runCliAsync(args);
    t.equal(r.status, 2, args.join(' '));
    t.match(r.stderr, re);
  }
  const port = await freePort();
  const down = spawnCli([
    'collect',
    '--upstream',
    `http://127.0.0.1:${port}/metrics`,
    '--interval',
    '50ms',
    '--duration',
    '300ms',
    '--output',
    join(dir, 'down'),
    '--log-level',
    'debug',
  ]);
  t.equal(await down.exited, 0, 'an upstream that is down is not a reason to stop collecting');
  t.ok(down.lines.some((l) => l.event === 'round' && (l.errors as number) === 1));
});

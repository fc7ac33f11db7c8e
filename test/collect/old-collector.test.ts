/**
 * The older Python vLLM metrics collector's command line (vllm_metrics_collector.py): its
 * README's examples, run as written with `python vllm_metrics_collector.py` replaced by
 * `collect` and its default endpoint (localhost:8000) by the simulator's, produce the files
 * they promise; the store follows --output's extension; an old flag and the one of ours it
 * stands for, both given, is refused with both named.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import t from 'tap';
import { planStores, resolveOldFlags, type CollectTargetFlags, type OldCollectorFlags } from '../../src/commands/collect-flags.js';
import { runCliAsync, spawnCli } from '../helpers/cli.js';
import { simulators } from '../helpers/fleet.js';
import { promtoolCheck } from '../helpers/prometheus.js';
import { startPushgateway } from '../helpers/pushgateway.js';
import { eventually } from '../helpers/wait.js';

const dir = mkdtempSync(join(tmpdir(), 'vmp-old-collector-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

const base: CollectTargetFlags = { pushJob: 'vllm', logLevel: 'info' };
const none = () => false;
const ours =
  (...keys: Array<keyof CollectTargetFlags>) =>
  (k: keyof CollectTargetFlags) =>
    keys.includes(k);
const resolved = (f: OldCollectorFlags & Partial<CollectTargetFlags>, given = none) => {
  const p = resolveOldFlags({ ...base, ...f }, given);
  if (p.postprocess) throw new Error('expected a collection');
  return p;
};

t.test('each old flag lands on one of ours', async (t) => {
  const p = resolved({ endpoint: 'http://gpu1:8000/metrics', pushgatewayUrl: 'http://pg:9091', jobName: 'vllm_metrics', verbose: true, storageType: 'sqlite' });
  t.same(p.flags.upstream, ['http://gpu1:8000/metrics'], '--endpoint is --upstream');
  t.equal(p.flags.pushUrl, 'http://pg:9091', '--pushgateway-url is --push-url');
  t.equal(p.flags.pushJob, 'vllm_metrics', '--job-name is --push-job');
  t.equal(p.flags.logLevel, 'debug', '--verbose is --log-level debug');
  t.equal(p.storageType, 'sqlite');
  t.same(
    resolved({ endpoint: 'http://gpu1:8000/metrics', instance: 'instance_001' }).flags.upstream,
    ['instance_001=http://gpu1:8000/metrics'],
    '--instance names the target',
  );
  t.same(resolved({ instance: 'a' }).flags.upstream, ['a=http://localhost:8000/metrics'], '--instance alone: the default endpoint, named');
  t.same(
    resolveOldFlags({ ...base, postprocess: 'm.csv', outputProcessed: 'p.csv' }, none),
    { postprocess: { input: 'm.csv', output: 'p.csv' } },
    '--postprocess runs the postprocess command',
  );
});

t.test('an old flag and its twin of ours, both given: refused naming both', async (t) => {
  const refused = (f: OldCollectorFlags & Partial<CollectTargetFlags>, given: (k: keyof CollectTargetFlags) => boolean, re: RegExp) =>
    t.throws(() => resolveOldFlags({ ...base, ...f }, given), re, String(re));
  refused({ endpoint: 'http://a/metrics', upstream: ['http://b/metrics'] }, ours('upstream'), /^--endpoint: and --upstream say the same thing/);
  refused({ storageType: 'csv', store: ['sqlite'] }, ours('store'), /^--storage-type: and --store/);
  refused({ pushgatewayUrl: 'http://a', pushUrl: 'http://b' }, ours('pushUrl'), /^--pushgateway-url: and --push-url/);
  refused({ jobName: 'a', pushJob: 'b' }, ours('pushJob'), /^--job-name: and --push-job/);
  refused({ verbose: true, logLevel: 'warn' }, ours('logLevel'), /^--verbose: and --log-level/);
  refused({ instance: 'a', upstream: ['x=http://h/metrics'] }, ours('upstream'), /^--instance: and a name= in --upstream/);
  refused({ instance: 'a', upstream: ['http://h/metrics', 'http://i/metrics'] }, ours('upstream'), /^--instance: names one target/);
  refused({ instance: 'a', discover: 'dns://vllm:8000/metrics' }, none, /^--instance: names one target/);
  refused({ outputProcessed: 'p.csv' }, none, /^--output-processed: .*give --postprocess/);
});

t.test("the store follows --output's extension when --store is not given", async (t) => {
  const plan = (o: Parameters<typeof planStores>[0]) => planStores(o).files.map((f) => `${f.kind} ${f.path}`);
  t.same(plan({ output: 'run.sqlite' }), ['sqlite run.sqlite']);
  t.same(plan({ output: 'run.db' }), ['sqlite run.db']);
  t.same(plan({ output: 'run.csv' }), ['csv run.csv']);
  t.same(plan({ output: 'run.json' }), ['jsonl run.json']);
  t.same(plan({ output: 'run.prom' }), ['prom-file run.prom']);
  t.same(plan({ output: 'run' }), ['jsonl run.jsonl'], 'no extension: JSONL');
  t.same(plan({ output: 'run.txt' }), ['jsonl run.txt'], 'an extension no store has: JSONL under that name');
  t.same(plan({ output: 'run.sqlite', store: ['sqlite'] }), ['sqlite run.sqlite'], 'the same thing twice is no conflict');
  t.same(plan({ output: 'run', store: ['csv,sqlite'] }), ['csv run.csv', 'sqlite run.sqlite'], 'several stores: a base name');
  t.same(plan({ output: 'my_metrics', storageType: 'sqlite' }), ['sqlite my_metrics.db'], "--storage-type: the old collector's file names");
  t.same(plan({ output: 'my_metrics', storageType: 'json' }), ['jsonl my_metrics.json']);
  t.same(planStores({ output: 'm', storageType: 'prometheus', pushUrl: 'http://pg' }), { files: [{ kind: 'prom-file', path: 'm.prom' }], pushgateway: true });
  t.same(planStores({ output: 'm', storageType: 'prometheus' }).pushgateway, false, 'prometheus without a Pushgateway: the file only, as before');
  t.throws(() => planStores({ output: 'run.sqlite', store: ['jsonl'] }), /^--store: jsonl and --output run\.sqlite \(a sqlite name\) disagree/);
});

t.test("the old collector's README examples, as written, against the simulator", async (t) => {
  const [sim] = await simulators([{ engines: 1 }]);
  t.teardown(() => sim!.close());
  const endpoint = `${sim!.url}/metrics`;
  const gateway = await startPushgateway();
  t.teardown(() => gateway.close());
  const cwd = mkdtempSync(join(dir, 'examples-'));
  /** The example's words, with the simulator for localhost:8000 (and given where the example relied on the default). */
  const args = (example: string) => {
    const words = example.replace('http://localhost:8000/metrics', endpoint).replace('http://localhost:9091', gateway.url).split(/\s+/).filter(Boolean);
    return words.includes('--endpoint') || words.includes('--postprocess') ? words : [...words, '--endpoint', endpoint];
  };
  const rowsIn = (file: string) => readFileSync(join(cwd, file), 'utf8').trim().split('\n').length;
  /** Run until the first round is in `file`, then Ctrl-C, as a user would. */
  const collectUntil = async (example: string, file: string, written: (path: string) => boolean) => {
    const p = spawnCli(['collect', ...args(example)], {}, cwd);
    t.teardown(() => p.child.kill('SIGKILL'));
    await eventually(`${file} written`, async () => (existsSync(join(cwd, file)) && written(join(cwd, file)) ? true : undefined), 20_000);
    p.child.kill('SIGINT');
    t.equal(await p.exited, 0, `${example}: exits 0 on Ctrl-C`);
    return p;
  };
  const sqliteSamples = (path: string) => {
    const db = new Database(path, { readonly: true, fileMustExist: true });
    try {
      return (db.prepare('SELECT COUNT(*) AS n FROM samples').get() as { n: number }).n;
    } finally {
      db.close();
    }
  };

  // Advanced usage: --storage-type sqlite --output my_metrics: the old collector's my_metrics.db.
  const advanced = await collectUntil(
    '--endpoint http://localhost:8000/metrics --interval 5 --storage-type sqlite --output my_metrics --metrics vllm:num_requests_running vllm:generation_tokens_total --verbose',
    'my_metrics.db',
    (p) => sqliteSamples(p) > 0,
  );
  const db = new Database(join(cwd, 'my_metrics.db'), { readonly: true });
  const families = (db.prepare('SELECT DISTINCT family FROM series ORDER BY family').all() as Array<{ family: string }>).map((r) => r.family);
  db.close();
  t.same(families, ['vllm_generation_tokens_total', 'vllm_num_requests_running'], 'only the two --metrics, in SQLite');
  t.ok(
    advanced.lines.some((l) => l.level === 20),
    '--verbose: debug lines',
  );

  // Prometheus file output: vllm_metrics.prom, a text exposition promtool reads.
  await collectUntil('--storage-type prometheus-file --output vllm_metrics', 'vllm_metrics.prom', (p) => statSync(p).size > 0);
  const prom = readFileSync(join(cwd, 'vllm_metrics.prom'));
  // What promtool still says is vLLM's own naming (as of the proxy's /metrics: test/server/prometheus.test.ts).
  t.same(promtoolCheck(prom).problems, ['vllm_iteration_tokens_total non-counter metrics should not have "_total" suffix'], 'promtool reads it');
  t.match(prom.toString(), /^vllm_num_requests_running\{/m, 'sanitized names');

  // Prometheus Pushgateway: the group job=vllm_metrics, instance=instance_001.
  const example = '--storage-type prometheus --pushgateway-url http://localhost:9091 --job-name vllm_metrics --instance instance_001';
  const pushing = spawnCli(['collect', ...args(example)], {}, cwd);
  t.teardown(() => pushing.child.kill('SIGKILL'));
  const pushed = await eventually('the pushed group', async () => (await gateway.metrics()).match(/^vllm_num_requests_running\{[^}]*\}/m)?.[0], 20_000);
  pushing.child.kill('SIGINT');
  t.equal(await pushing.exited, 0, `${example}: exits 0 on Ctrl-C`);
  t.match(pushed, /instance="instance_001"/, 'the instance the example names');
  t.match(pushed, /job="vllm_metrics"/, 'the job the example names');
  t.ok(
    readdirSync(cwd).some((f) => /^vllm-metrics-.*\.prom$/.test(f)),
    'and the .prom file beside it',
  );

  // Auto-postprocessing: metrics.csv post-processed on stop (two rounds, at the default 10 s,
  // so that there is a delta), the original kept as metrics.csv.raw.
  const rounds = (p: string) =>
    new Set(
      readFileSync(p, 'utf8')
        .split('\n')
        .slice(1)
        .map((l) => l.split(',')[1])
        .filter(Boolean),
    ).size;
  await collectUntil('--storage-type csv --output metrics --auto-postprocess', 'metrics.csv', (p) => rounds(p) >= 2);
  t.ok(existsSync(join(cwd, 'metrics.csv.raw')), 'metrics.csv.raw: the original');
  const types = new Set(
    readFileSync(join(cwd, 'metrics.csv'), 'utf8')
      .split('\n')
      .slice(1)
      .map((l) => l.split(',')[4]),
  );
  t.ok(
    types.has('delta') && !readFileSync(join(cwd, 'metrics.csv.raw'), 'utf8').includes(',delta,'),
    'metrics.csv: counter deltas, which the original has not',
  );

  // Postprocessing existing files: a JSON (the old collector's .json) and a CSV.
  await collectUntil('--storage-type json --output metrics', 'metrics.json', (p) => readFileSync(p, 'utf8').split('\n').length > 2);
  t.ok(rowsIn('metrics.json') > 0 && JSON.parse(readFileSync(join(cwd, 'metrics.json'), 'utf8').split('\n')[0]!), 'metrics.json: one JSON object per line');
  for (const example of [
    '--postprocess metrics.json --output-processed metrics_processed.json',
    '--postprocess metrics.csv.raw --output-processed metrics_processed.csv',
  ]) {
    const r = await runCliAsync(['collect', ...args(example)], {}, cwd);
    t.equal(r.status, 0, `${example}: exit 0 (${r.stderr.trim()})`);
    const out = example.split(' ').at(-1)!;
    t.ok(existsSync(join(cwd, out)) && rowsIn(out) > 1, `${out} written`);
  }
  t.ok(existsSync(join(cwd, 'metrics.json')), '--output-processed leaves the input alone');
});

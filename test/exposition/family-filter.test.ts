/**
 * `--keep`/`--drop` (src/exposition/family-filter.ts): byte-exact at every chunk cut against
 * a plain line-by-line reference, OpenMetrics' `# EOF` kept, the conformance suite's valid
 * cases still valid after a drop, and through `serve` as a user runs it.
 */
import t from 'tap';
import { request } from 'undici';
import { FamilyFilter, familyOf, globToRegExp, selects, type FamilySelection } from '../../src/exposition/family-filter.js';
import { parseExposition } from '../../src/exposition/parser.js';
import { SanitizingWriter } from '../../src/exposition/sanitize-stream.js';
import { startSimulator } from '../../src/simulator/start.js';
import { spawnCli } from '../helpers/cli.js';
import { loadConformance } from '../helpers/conformance.js';
import { promtoolCheck } from '../helpers/prometheus.js';
import { throughChunks } from '../helpers/chunks.js';

/** The reference: split into lines, decide each as the module's header says, join. */
function reference(text: string, selection: FamilySelection): string {
  const keeps = selects(selection);
  let typed: string | undefined;
  const lines = text.split('\n');
  const out: string[] = [];
  lines.forEach((line, i) => {
    const last = i === lines.length - 1;
    let keep = true;
    const meta = /^#\s+(HELP|TYPE|UNIT)\s+(\S+)/.exec(line);
    if (meta) {
      typed = meta[2];
      keep = keeps(meta[2]!);
    } else if (line !== '' && !line.startsWith('#')) keep = keeps(familyOf(/^[^{ \t]*/.exec(line)![0], typed));
    if (keep) out.push(last ? line : `${line}\n`);
  });
  return out.join('');
}

function filtered(input: Buffer, selection: FamilySelection, cuts: number[]): string {
  return throughChunks(new FamilyFilter(selection), input, cuts).toString('latin1');
}

const VLLM = `# HELP vllm:num_requests_running Number of requests in model execution batches.
# TYPE vllm:num_requests_running gauge
vllm:num_requests_running{model_name="m",engine="0"} 3.0
# HELP vllm:e2e_request_latency_seconds Histogram of e2e request latency in seconds.
# TYPE vllm:e2e_request_latency_seconds histogram
vllm:e2e_request_latency_seconds_sum{model_name="m",engine="0"} 12.5
vllm:e2e_request_latency_seconds_bucket{le="0.3",model_name="m",engine="0"} 1.0
vllm:e2e_request_latency_seconds_bucket{le="+Inf",model_name="m",engine="0"} 4.0
vllm:e2e_request_latency_seconds_count{model_name="m",engine="0"} 4.0
# HELP vllm:e2e_request_latency_seconds_created Histogram of e2e request latency in seconds.
# TYPE vllm:e2e_request_latency_seconds_created gauge
vllm:e2e_request_latency_seconds_created{model_name="m",engine="0"} 1.76e+09
# HELP python_gc_objects_collected_total Objects collected during gc
# TYPE python_gc_objects_collected_total counter
python_gc_objects_collected_total{generation="0"} 1234.0

# HELP process_open_fds Number of open file descriptors.
# TYPE process_open_fds gauge
process_open_fds 42.0
# a free comment
untyped_thing 1
http_requests_total{handler="/metrics"} 7
`;

const OPENMETRICS = `# TYPE vllm:prompt_tokens counter
# HELP vllm:prompt_tokens Number of prefill tokens processed.
vllm:prompt_tokens_total{model_name="m"} 100.0
vllm:prompt_tokens_created{model_name="m"} 1.7e+09
# TYPE python_info gauge
python_info{version="3.12"} 1.0
# TYPE process_cpu_seconds counter
process_cpu_seconds_total 3.5
# EOF
`;

const SELECTIONS: FamilySelection[] = [
  { keep: ['vllm:*'], drop: [] },
  { keep: [], drop: ['python_*', 'process_*'] },
  { keep: ['vllm:*', 'process_*'], drop: ['*_created'] },
  { keep: ['nothing'], drop: [] },
  { keep: [], drop: ['vllm:e2e_request_latency_seconds'] },
];

t.test('globs: * any run, ? one character, the rest literal', async (t) => {
  t.ok(globToRegExp('vllm:*').test('vllm:num_requests_running'));
  t.notOk(globToRegExp('vllm:*').test('python_gc_objects_collected_total'));
  t.ok(globToRegExp('process_?pen_fds').test('process_open_fds'));
  t.notOk(globToRegExp('a.b').test('axb'), 'a dot is a dot');
  t.ok(selects({ keep: [], drop: [] })('anything'), 'no glob keeps everything');
  t.notOk(selects({ keep: ['vllm:*'], drop: ['vllm:num_*'] })('vllm:num_requests_running'), 'drop wins over keep');
  t.equal(familyOf('vllm:e2e_request_latency_seconds_bucket', 'vllm:e2e_request_latency_seconds'), 'vllm:e2e_request_latency_seconds');
  t.equal(familyOf('vllm:e2e_request_latency_seconds_created', 'vllm:e2e_request_latency_seconds'), 'vllm:e2e_request_latency_seconds');
  t.equal(
    familyOf('vllm:e2e_request_latency_seconds_other', 'vllm:e2e_request_latency_seconds'),
    'vllm:e2e_request_latency_seconds_other',
    'not a suffix of its type',
  );
});

t.test('byte-exact with the reference at every chunk cut, one and two cuts', async (t) => {
  for (const text of [VLLM, OPENMETRICS, VLLM.trimEnd(), 'no_newline_at_all 1']) {
    const input = Buffer.from(text, 'latin1');
    for (const sel of SELECTIONS) {
      const want = reference(text, sel);
      let bad = 0;
      for (let i = 0; i <= input.length; i++) if (filtered(input, sel, [i]) !== want) bad++;
      for (let i = 0; i <= input.length; i += 7) for (let j = i; j <= input.length; j += 11) if (filtered(input, sel, [i, j]) !== want) bad++;
      t.equal(bad, 0, `${JSON.stringify(sel)} on ${input.length} bytes: every cut gives the reference`);
    }
  }
  const kept = reference(VLLM, { keep: ['vllm:*'], drop: [] });
  t.notMatch(kept, /python_|process_|http_|untyped/, 'only vLLM families');
  t.match(kept, /vllm:e2e_request_latency_seconds_bucket\{le="\+Inf"/);
  t.match(kept, /# a free comment/, 'free comments stay');
  const om = reference(OPENMETRICS, { keep: ['vllm:*'], drop: [] });
  t.match(om, /# EOF\n$/, '# EOF stays');
  t.match(om, /vllm:prompt_tokens_created/, 'a counter keeps its _created');
});

t.test('the OpenMetrics conformance suite: a valid exposition stays valid with any one family dropped', async (t) => {
  let checked = 0;
  for (const c of loadConformance().filter((x) => x.shouldParse)) {
    const families = parseExposition(c.input.toString('utf8'), 'openmetrics');
    for (const f of families.slice(0, 3)) {
      const out = filtered(c.input, { keep: [], drop: [f.name] }, [Math.floor(c.input.length / 2)]);
      const left = parseExposition(out, 'openmetrics');
      t.notOk(
        left.some((x) => x.name === f.name),
        `${c.name}: ${f.name} gone`,
      );
      t.equal(left.length, families.length - 1, `${c.name}: the others stay`);
      checked++;
    }
  }
  t.ok(checked > 20, `${checked} drops checked`);
});

t.test('with the sanitizer: the kept families, renamed, and nothing else touched', async (t) => {
  const w = new SanitizingWriter({ maxBytes: 1 << 20, families: { keep: ['vllm:*'], drop: [] } });
  const out: Buffer[] = [];
  const input = Buffer.from(VLLM, 'latin1');
  for (let i = 0; i < input.length; i += 13) w.write(Buffer.from(input.subarray(i, i + 13)), out);
  w.end(out);
  const text = Buffer.concat(out).toString();
  t.equal(text, reference(VLLM, { keep: ['vllm:*'], drop: [] }).replace(/vllm:/g, 'vllm_'));
  t.equal(w.filter!.droppedLines, 8, 'the HELP, TYPE and sample lines of python_gc_* and process_*, and two untyped samples');
});

t.test('serve --keep and --drop: /metrics as promtool reads it, only what was asked for', async (t) => {
  const sim = await startSimulator({ engines: 2, tickMs: 0 }, { host: '127.0.0.1', port: 0 });
  const proxy = spawnCli(['serve', '--port', '0', '--host', '127.0.0.1', '--upstream', `${sim.url}/metrics`, '--keep', 'vllm:*', '--drop', '*_created']);
  t.teardown(async () => {
    proxy.child.kill();
    await proxy.exited;
    await sim.close();
  });
  const url = String((await proxy.waitFor((l) => l.event === 'listening')).url);
  const body = await (await request(`${url}/metrics`)).body.text();
  const names = new Set(parseExposition(body, 'prometheus').map((f) => f.name));
  t.ok(names.has('vllm_num_requests_running'));
  t.notOk(
    [...names].some((n) => !n.startsWith('vllm_')),
    'only vLLM families',
  );
  t.notOk(
    [...names].some((n) => n.endsWith('_created')),
    'no _created',
  );
  const checked = promtoolCheck(body);
  t.same(
    checked.problems,
    ['vllm_iteration_tokens_total non-counter metrics should not have "_total" suffix'],
    "promtool reads it, and says only what it says of vLLM's own naming",
  );
});

t.test('fleet mode: each target filtered before the merge', async (t) => {
  const sims = await Promise.all([1, 2].map(() => startSimulator({ engines: 1, tickMs: 0 }, { host: '127.0.0.1', port: 0 })));
  const proxy = spawnCli([
    'serve',
    '--port',
    '0',
    '--host',
    '127.0.0.1',
    '--upstream',
    `a=${sims[0]!.url}/metrics`,
    '--upstream',
    `b=${sims[1]!.url}/metrics`,
    '--keep',
    'vllm:*',
  ]);
  t.teardown(async () => {
    proxy.child.kill();
    await proxy.exited;
    await Promise.all(sims.map((s) => s.close()));
  });
  const url = String((await proxy.waitFor((l) => l.event === 'listening')).url);
  const families = parseExposition(await (await request(`${url}/metrics`)).body.text(), 'prometheus');
  t.same(
    families.filter((f) => !f.name.startsWith('vllm_')).map((f) => f.name),
    [],
    'only vLLM families, merged',
  );
  const running = families.find((f) => f.name === 'vllm_num_requests_running')!;
  t.same([...new Set(running.samples.map((s) => s.labels.instance))].sort(), ['a', 'b'], 'from both targets');
});

/**
 * `vllm-metrics-proxy parseable setup` as a user runs it, against the Parseable stand-in's
 * management API (test/helpers/parseable-api.ts, strict to the v2.9.5 source): it creates the
 * streams, their retention and the project's saved queries; a second run changes nothing; an
 * upgrade's changed query is updated in place; and every refusal is one line saying what to
 * do, exit 1, with nothing changed.
 */
import t, { type Test } from 'tap';
import { runCliAsync } from '../helpers/cli.js';
import { ParseableStandIn } from '../helpers/parseable.js';
import { projectQueries } from '../../src/parseable/queries.js';
import { filterName } from '../../src/parseable/setup.js';

const PASSWORD = 'setup-test-pw';

async function standIn(t: Test) {
  const p = await new ParseableStandIn({ username: 'admin', password: PASSWORD }).start();
  t.teardown(() => p.stop());
  return p;
}

const setup = (p: ParseableStandIn, args: string[] = [], env: Record<string, string> = { P_PASSWORD: PASSWORD }) =>
  runCliAsync(['parseable', 'setup', '--parseable-url', `http://127.0.0.1:${p.port}`, ...args], env);

const queries = projectQueries();

t.test('a fresh Parseable: streams for their log sources, a retention, every saved query; a second run changes nothing', async (t) => {
  const p = await standIn(t);
  const first = await setup(p);
  t.equal(first.status, 0, first.stderr);
  t.equal(p.streams.get('vLLMmetrics')?.logSource, 'otel-metrics', 'the metrics stream takes OTLP metrics');
  t.equal(p.streams.get('vLLMrequests')?.logSource, 'json', 'the requests stream takes JSON');
  for (const s of ['vLLMmetrics', 'vLLMrequests']) t.match(p.streams.get(s)?.retention, [{ action: 'delete', duration: '7d' }], `${s}: kept 7 days`);
  const saved = [...p.api.filters.values()] as Array<{ filter_name: string; stream_name: string; query: { filter_type: string; filter_query: string } }>;
  t.equal(saved.length, queries.length, `${queries.length} saved queries`);
  for (const q of queries) {
    const f = saved.find((x) => x.filter_name === filterName(q))!;
    t.ok(f, `saved: ${filterName(q)}`);
    t.same([f.stream_name, f.query.filter_type, f.query.filter_query], [q.stream, 'sql', q.sql], `${q.name}: its SQL on ${q.stream}`);
  }
  t.ok(
    ['kv_cache_usage', 'latency_percentiles', 'token_throughput', 'slowest_requests', 'request_errors'].every((n) => queries.some((q) => q.name === n)),
    'the queries answer what an operator asks first',
  );
  t.match(first.stdout, /stream vLLMmetrics: created \(otel-metrics\)/);
  t.match(first.stdout, new RegExp(`${queries.length + 5} created, 0 updated, 0 unchanged`));

  const boards = [...p.api.dashboards.values()] as Array<{ title: string; tags: string[]; tiles: Array<Record<string, unknown>> }>;
  t.equal(boards.length, 1, 'one dashboard');
  t.same([boards[0]!.title, boards[0]!.tags], ['vLLM', ['vllm-metrics-proxy']], 'titled vLLM, tagged as the project’s');
  t.ok(boards[0]!.tiles.length >= 4, `${boards[0]!.tiles.length} tiles (created, then the tiles put in: a create drops them)`);
  for (const tile of boards[0]!.tiles)
    t.match(tile, {
      tile_id: /^[0-7][0-9A-HJKMNP-TV-Z]{25}$/,
      chartQuery: { x: { fields: [{ name: 'p_timestamp', type: 'time' }] }, y: { fields: [{ aggregate: 'COUNT' }] } },
    });
  t.match(first.stdout, /The dashboard: http:\/\/127\.0\.0\.1:\d+\/dashboards \(vLLM, id [0-9A-Z]{26}\)/);
  const ids = saved.map((f) => (f as unknown as { filter_id: string }).filter_id).sort();
  const again = await setup(p);
  t.equal(again.status, 0, again.stderr);
  t.match(again.stdout, new RegExp(`0 created, 0 updated, ${queries.length + 5} unchanged`), 'the second run changes nothing');
  t.same([...p.api.filters.keys()].sort(), ids, 'no saved query twice, the same ids');
  t.equal(p.api.dashboards.size, 1, 'no dashboard twice');
});

t.test('after an upgrade: a query the project changed and a new retention are updated in place', async (t) => {
  const p = await standIn(t);
  t.equal((await setup(p)).status, 0);
  const [id, old] = [...p.api.filters.entries()].find(([, f]) => f.filter_name === filterName(queries[0]!))!;
  p.api.filters.set(id, { ...old, query: { filter_type: 'sql', filter_query: 'SELECT 1 FROM "vLLMmetrics"' } });
  const r = await setup(p, ['--retention', '30d']);
  t.equal(r.status, 0, r.stderr);
  t.match(r.stdout, new RegExp(`saved query ${filterName(queries[0]!)}: updated`));
  t.match(r.stdout, /retention vLLMmetrics: updated \(30d \(was 7d\)\)/);
  t.equal((p.api.filters.get(id)!.query as { filter_query: string }).filter_query, queries[0]!.sql, 'the same saved query, its SQL current again');
  t.equal(p.api.filters.size, queries.length);
});

t.test('refusals: one line saying what to do, exit 1, nothing changed', async (t) => {
  const p = await standIn(t);
  const wrong = await setup(p, [], { P_PASSWORD: 'not-it' });
  t.equal(wrong.status, 1);
  t.match(wrong.stderr, /^error: cannot read the server version: wrong credentials, or this user may not: setup needs an admin or editor account\n$/);
  t.notMatch(wrong.stderr + wrong.stdout, /not-it/, 'the password is never printed');

  p.streams.set('vLLMmetrics', { logSource: 'json', rows: [] });
  const other = await setup(p);
  t.equal(other.status, 1);
  t.match(
    other.stderr,
    /stream vLLMmetrics exists for log source json, and Parseable refuses otel-metrics data there: delete it, or name another stream \(--metrics-stream\)/,
  );
  t.same([...p.streams.keys()], ['vLLMmetrics'], 'no other stream created');
  t.equal(p.api.filters.size, 0, 'no query saved');
  t.equal(p.streams.get('vLLMmetrics')!.retention, undefined, 'no retention set');
  p.streams.clear();

  p.api.dashboards.set('01J00000000000000000000000', {
    dashboardId: '01J00000000000000000000000',
    title: 'vLLM',
    tags: ['mine'],
    tiles: [{ tile_id: '01J00000000000000000000001', title: 'my tile' }],
  });
  const mine = await setup(p);
  t.equal(mine.status, 1);
  t.match(mine.stderr, /a dashboard titled "vLLM" exists that setup did not make .*run again with --force/);
  t.equal(p.streams.size, 0, 'nothing created beside a dashboard it may not touch');
  const forced = await setup(p, ['--force']);
  t.equal(forced.status, 0, forced.stderr);
  t.match(forced.stdout, /dashboard vLLM: updated/);
  const replaced = p.api.dashboards.get('01J00000000000000000000000')! as { tags: string[]; tiles: Array<{ title: string }> };
  t.same(replaced.tags, ['mine', 'vllm-metrics-proxy'], 'with --force: its tags kept, the project’s added');
  t.notOk(
    replaced.tiles.some((x) => x.title === 'my tile'),
    'its tiles replaced',
  );
  p.streams.clear();
  p.api.filters.clear();
  p.api.dashboards.clear();

  p.api.withoutDashboards = true;
  const noBoards = await setup(p);
  t.equal(noBoards.status, 1);
  t.match(noBoards.stderr, /cannot list the dashboards: this Parseable has no \/api\/v1\/dashboards/);
  t.equal(p.streams.size, 0, 'nothing created');
  p.api.withoutDashboards = false;

  p.api.withoutFilters = true;
  const older = await setup(p);
  t.equal(older.status, 1);
  t.match(older.stderr, /cannot list the saved queries: this Parseable has no \/api\/v1\/filters .*older than the API setup uses/);
  t.equal(p.streams.size, 0, 'nothing created on a Parseable it cannot finish on');

  await p.stop();
  const down = await setup(p);
  t.equal(down.status, 1);
  t.match(down.stderr, /cannot reach Parseable at http:\/\/127\.0\.0\.1:\d+ .*check --parseable-url and that it is up/);
});

t.test('bad flags: exit 2 naming the flag', async (t) => {
  const p = await standIn(t);
  for (const [args, env, re] of [
    [['--retention', '0'], { P_PASSWORD: PASSWORD }, /--retention: "0" is not a number of days/],
    [['--retention', '2w'], { P_PASSWORD: PASSWORD }, /--retention: "2w" is not a number of days/],
    [[], {}, /--password-file: no password: set P_PASSWORD or --password-file/],
  ] as Array<[string[], Record<string, string>, RegExp]>) {
    const r = await setup(p, args, env);
    t.equal(r.status, 2, `${args.join(' ')}: exit 2`);
    t.match(r.stderr, re);
  }
  const noUrl = await runCliAsync(['parseable', 'setup'], { P_PASSWORD: PASSWORD });
  t.equal(noUrl.status, 2);
  t.match(noUrl.stderr, /--parseable-url: is required/);
  t.equal(p.streams.size, 0);
});

t.test('--wait: a Parseable that comes up a moment later is waited for', async (t) => {
  const p = new ParseableStandIn({ username: 'admin', password: PASSWORD });
  await p.start();
  const port = p.port;
  await p.stop();
  const running = runCliAsync(['parseable', 'setup', '--parseable-url', `http://127.0.0.1:${port}`, '--wait', '20s'], { P_PASSWORD: PASSWORD });
  await p.start(port);
  t.teardown(() => p.stop());
  const r = await running;
  t.equal(r.status, 0, r.stderr);
  t.ok(p.streams.has('vLLMmetrics'));
});

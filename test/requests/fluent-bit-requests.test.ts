/**
 * The request log to Parseable the way compose ships it: the real Fluent Bit with
 * the project's fluent-bit.conf tails the file and posts the records to the
 * stand-in's JSON log ingest (stream vLLMrequests). Its offsets are kept in its DB:
 * a restart neither repeats nor loses a line, and a rotation is followed.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { buildRecord } from '../../src/requests/record.js';
import { RequestLog } from '../../src/requests/request-log.js';
import { dashboardTiles } from '../../src/parseable/dashboard.js';
import { projectQueries } from '../../src/parseable/queries.js';
import { startFluentBit } from '../helpers/fluent-bit.js';
import { ParseableStandIn } from '../helpers/parseable.js';
import { eventually } from '../helpers/wait.js';

// Every tenth a 5xx, every tenth another one a client that gave up; the end-to-end time grows with i.
const record = (i: number) =>
  buildRecord({
    startedAt: 0,
    startTime: new Date(),
    endedAt: 12.5 + i,
    endpoint: '/v1/chat/completions',
    model: 'm',
    stream: true,
    status: i % 10 === 3 ? 502 : 200,
    errorKind: i % 10 === 3 ? 'upstream_unreachable' : undefined,
    generatedId: `req-${i}`,
    clientAbort: i % 10 === 7,
  });

t.test('real Fluent Bit ships the request log to vLLMrequests: none lost or repeated across a restart and a rotation', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'vmp-fb-requests-'));
  const parseable = await new ParseableStandIn().start();
  // Small files, so the log rotates while Fluent Bit follows it.
  const log = new RequestLog({ path: join(dir, 'requests.jsonl'), maxBytes: 8 * 1024, keep: 5 });
  const env = { P_USERNAME: parseable.username, P_PASSWORD: parseable.password };
  const fbOptions = { proxy: '127.0.0.1:9', parseable: `127.0.0.1:${parseable.port}`, env, dataDir: dir };
  let fb = await startFluentBit(fbOptions);
  t.teardown(async () => {
    await fb.stop();
    log.close();
    await parseable.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  const ids = () => parseable.rows('vLLMrequests').map((r) => String(r.id));
  const arrived = (n: number) =>
    eventually(
      `${n} records in vLLMrequests`,
      async () => {
        const refused = parseable.requests.find((r) => r.status !== 200);
        if (refused) throw new Error(`refused: ${refused.status} ${refused.answer}`);
        return ids().length >= n ? ids() : undefined;
      },
      30_000,
      100,
    );

  for (let i = 0; i < 10; i++) log.append(record(i));
  await arrived(10);
  // Fluent Bit goes away; requests go on, and the log rotates meanwhile.
  await fb.stop();
  for (let i = 10; i < 25; i++) log.append(record(i));
  fb = await startFluentBit(fbOptions);
  for (let i = 25; i < 40; i++) log.append(record(i));
  const got = await arrived(40);
  t.same([...got].sort(), Array.from({ length: 40 }, (_, i) => `req-${i}`).sort(), 'every record once');
  const req = parseable.requests.find((r) => r.headers['x-p-stream'] === 'vLLMrequests')!;
  t.equal(req.headers['content-type'], 'application/json');
  t.equal(req.headers['x-p-log-source'], undefined, 'no log source: plain JSON');
  const row = parseable.rows('vLLMrequests')[0]!;
  t.equal(row.endpoint, '/v1/chat/completions', 'the record fields are columns');
  t.equal(row.e2e_ms, 12.5);
  t.notOk('date' in row, 'no extra date field');

  // parseable/requests.sql on what arrived, with DuckDB standing in for Parseable's SQL.
  const file = join(dir, 'delivered.jsonl');
  writeFileSync(
    file,
    parseable
      .rows('vLLMrequests')
      .map((r) => JSON.stringify(r))
      .join('\n'),
  );
  const { DuckDBInstance } = await import('@duckdb/node-api');
  const c = await (await DuckDBInstance.create(':memory:')).connect();
  await c.run(`CREATE TABLE "vLLMrequests" AS SELECT now()::TIMESTAMP AS p_timestamp, start_time, id, model, endpoint, stream, status::BIGINT AS status,
    e2e_ms::DOUBLE AS e2e_ms, ttft_ms::DOUBLE AS ttft_ms, prompt_tokens::BIGINT AS prompt_tokens, completion_tokens::BIGINT AS completion_tokens,
    finish_reason::VARCHAR AS finish_reason, error_kind::VARCHAR AS error_kind, client_abort::BOOLEAN AS client_abort
    FROM read_json_auto('${file}')`);
  const answers = new Map<string, Array<Record<string, unknown>>>();
  for (const q of projectQueries().filter((x) => x.stream === 'vLLMrequests')) answers.set(q.name, (await c.runAndReadAll(q.sql)).getRowObjects());
  t.same([...answers.keys()], ['slowest_requests', 'request_ttft_distribution', 'request_errors'], 'every query of requests.sql runs');
  t.same(
    answers
      .get('slowest_requests')!
      .slice(0, 3)
      .map((r) => r.id),
    ['req-39', 'req-38', 'req-37'],
    'slowest first',
  );
  const errors = answers.get('request_errors')!.map((r) => [Number(r.status), r.error_kind, r.client_abort, Number(r.requests)]);
  t.same(
    errors.sort(),
    [
      [200, null, true, 4],
      [502, 'upstream_unreachable', false, 4],
    ],
    'the failures and the client aborts, counted',
  );
  // The dashboard's tiles on this stream, as the SQL their chartQuery stands for: their columns are in the rows.
  for (const tile of dashboardTiles('vLLMmetrics', 'vLLMrequests').filter((x) => x.dbName === 'vLLMrequests')) {
    const q = tile.chartQuery as { y: { fields: Array<{ name: string }>; groupBy: string[] } };
    const sql = `SELECT time_bucket(INTERVAL '1 minute', p_timestamp) AS time_bucket, "${q.y.groupBy[0]}", COUNT("${q.y.fields[0]!.name}") FROM "vLLMrequests" GROUP BY 1, 2`;
    t.ok((await c.runAndReadAll(sql)).getRowObjects().length > 0, `tile "${String(tile.title)}" has rows to count`);
  }
});

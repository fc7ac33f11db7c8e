import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { buildRecord } from '../../src/requests/record.js';
import { RequestLog } from '../../src/requests/request-log.js';
import { spawnCli } from '../helpers/cli.js';

const record = (i: number) =>
  buildRecord({
    startedAt: 0,
    startTime: new Date(1_800_000_000_000 + i),
    endedAt: 10 + i,
    endpoint: '/v1/completions',
    status: 200,
    generatedId: `r-${i}`,
    clientAbort: false,
  });

t.test('rotation by size keeps whole lines, FILE.1 ... FILE.keep, newest in FILE', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'vmp-reqlog-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'requests.jsonl');
  const lineBytes = Buffer.byteLength(`${JSON.stringify(record(0))}\n`);
  const log = new RequestLog({ path, maxBytes: lineBytes * 3, keep: 2 });
  for (let i = 0; i < 10; i++) log.append(record(i));
  log.close();
  t.same(readdirSync(dir).sort(), ['requests.jsonl', 'requests.jsonl.1', 'requests.jsonl.2']);
  const ids = (file: string) =>
    readFileSync(join(dir, file), 'utf8')
      .trim()
      .split('\n')
      .map((l) => (JSON.parse(l) as { id: string }).id);
  t.same(ids('requests.jsonl'), ['r-9']);
  t.same(ids('requests.jsonl.1'), ['r-6', 'r-7', 'r-8']);
  t.same(ids('requests.jsonl.2'), ['r-3', 'r-4', 'r-5'], 'older files beyond keep are gone');
  const reopened = new RequestLog({ path, maxBytes: lineBytes * 3, keep: 2 });
  reopened.append(record(10));
  reopened.close();
  t.same(ids('requests.jsonl'), ['r-9', 'r-10'], 'a restart appends to the file it finds');
});

t.test('rotation counts bytes, not characters: records of a model named in three-byte characters', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'vmp-reqlog-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'requests.jsonl');
  const wide = (i: number) => ({ ...record(i), model: '€'.repeat(400) });
  const lineBytes = Buffer.byteLength(`${JSON.stringify(wide(0))}\n`);
  const log = new RequestLog({ path, maxBytes: lineBytes * 2, keep: 1 });
  for (let i = 0; i < 3; i++) log.append(wide(i));
  log.close();
  const lines = (file: string) => readFileSync(join(dir, file), 'utf8').trim().split('\n').length;
  t.equal(lines('requests.jsonl.1'), 2, 'two records fill the file');
  t.equal(lines('requests.jsonl'), 1, 'the third starts the next');
});

t.test('the CLI refuses --request-log without the API passthrough, naming the flag', async (t) => {
  const p = spawnCli(['serve', '--request-log', '/tmp/x.jsonl', '--port', '0']);
  t.equal(await p.exited, 2);
});

t.test("a record's id: vLLM's, else the X-Request-Id, else one made for it (a UUID, different each time)", async (t) => {
  const base = { startedAt: 0, startTime: new Date(0), endedAt: 1, endpoint: '/v1/chat/completions', status: 200, clientAbort: false };
  const observation = { id: 'chatcmpl-9', gapsMs: [], contentChunks: 0 };
  t.match(buildRecord({ ...base, observation, requestId: 'req-1' }), { id: 'chatcmpl-9', id_source: 'response' });
  t.match(buildRecord({ ...base, requestId: 'req-1' }), { id: 'req-1', id_source: 'x-request-id' });
  const [a, b] = [buildRecord(base), buildRecord(base)];
  t.equal(a.id_source, 'generated');
  t.match(a.id, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  t.not(a.id, b.id);
});

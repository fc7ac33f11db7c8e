import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { buildRecord, type RequestRecord } from '../../src/requests/record.js';
import { summarize } from '../../src/requests/summary.js';
import { runCli } from '../helpers/cli.js';

/** Four requests, one second apart, hand-made so every figure below can be worked out by hand. */
function records(): RequestRecord[] {
  return [10, 20, 30, 40].map((ttft, i) => ({
    ...buildRecord({
      startedAt: 0,
      startTime: new Date(Date.UTC(2026, 11, 1, 0, 0, i)),
      endedAt: 100 * (i + 1),
      endpoint: '/v1/chat/completions',
      status: i === 3 ? 502 : 200,
      generatedId: `r${i}`,
      clientAbort: i === 2,
    }),
    ttft_ms: ttft,
    prompt_tokens: 10,
    completion_tokens: i === 3 ? null : 5 * (i + 1),
    server_attribution: i < 2 ? ('exact' as const) : ('shared' as const),
    server_overlap: i < 2 ? 0 : 1,
    server_prefill_s: 0.001 * (i + 1),
    error_kind: i === 3 ? 'unreachable' : null,
  }));
}

t.test('summary: counts, tokens, throughput over the span, nearest-rank percentiles', async (t) => {
  const s = summarize(records());
  t.match(s, { requests: 4, ok: 2, errors: 1, client_aborts: 1, exact: 2, shared: 2, prompt_tokens: 40, completion_tokens: 30 });
  // First start 0 s, last end 3 s + 400 ms.
  t.equal(s.span_s, 3.4);
  t.equal(s.requests_per_second, 4 / 3.4);
  t.equal(s.completion_tokens_per_second, 30 / 3.4);
  t.same(s.ttft_ms, { n: 4, mean: 25, p50: 20, p90: 40, p99: 40 });
  t.same(s.e2e_ms, { n: 4, mean: 250, p50: 200, p90: 400, p99: 400 });
  t.same(s.server_prefill_ms.n, 4);
  t.equal(s.server_prefill_ms.p50, 2);
  t.same(s.server_decode_ms, { n: 0, mean: null, p50: null, p90: null, p99: null }, 'no data is not zero');
});

t.test('requests FILE: the table and the summary; --json; a broken line is named', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'vmp-requests-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'requests.jsonl');
  writeFileSync(
    file,
    records()
      .map((r) => `${JSON.stringify(r)}\n`)
      .join(''),
  );
  const human = runCli(['requests', file]);
  t.equal(human.status, 0, human.stderr);
  t.match(human.stdout, /4 requests: 2 ok, 1 errors, 1 aborted by the client; server view 2 exact, 2 shared/);
  t.match(human.stdout, /throughput over 3\.40 s: 1\.18 requests\/s, 8\.8 output tokens\/s/);
  t.match(human.stdout, /TTFT \(proxy\)\s+4\s+25\.0\s+20\.0\s+40\.0\s+40\.0/);
  t.match(human.stdout, /shared\/1/);
  t.equal(human.stdout.split('\n').filter((l) => l.includes('chat/completions')).length, 4, 'one row per request');
  const json = JSON.parse(runCli(['requests', file, '--json']).stdout);
  t.same(json.summary, JSON.parse(JSON.stringify(summarize(records()))));
  t.equal(json.requests.length, 4);
  writeFileSync(file, `${JSON.stringify(records()[0])}\n{"broken"\n`);
  const bad = runCli(['requests', file]);
  t.equal(bad.status, 1);
  t.match(bad.stderr, /requests\.jsonl: line 2: not JSON/);
  t.equal(runCli(['requests', join(dir, 'missing.jsonl')]).status, 1);
});

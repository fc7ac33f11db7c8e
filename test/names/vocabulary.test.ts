/**
 * The names table (src/names/known.ts) and the vocabulary the readers ask: every spelling
 * has a source, a deprecated name always has its replacement before it, a name means one
 * family, and an extra prefix (KServe's) adds vLLM's names under it.
 */
import t from 'tap';
import { ENGINE_PREFIX, KNOWN, SOURCES } from '../../src/names/known.js';
import { useEnginePrefixes, Vocabulary, vocabulary } from '../../src/names/vocabulary.js';

t.test('the table: sources, order, and one current vLLM name first', async (t) => {
  for (const f of KNOWN) {
    t.equal(f.spellings[0]!.status, 'current', `${f.canonical}: its current vLLM name comes first`);
    t.equal(f.spellings[0]!.name, f.canonical, `${f.canonical}: keyed by that name`);
    for (const s of f.spellings) {
      t.ok(s.sources.length > 0, `${f.canonical} / ${s.engine}:${s.name}: a source`);
      for (const k of s.sources) t.ok(Object.hasOwn(SOURCES, k), `${k} is a listed source`);
      t.ok(s.versions.length > 0, `${s.engine}:${s.name}: the versions it comes from`);
    }
    const firstOther = f.spellings.findIndex((s) => s.status === 'other-engine');
    const lastVllm = f.spellings.map((s) => s.engine).lastIndexOf('vllm');
    t.ok(firstOther === -1 || firstOther > lastVllm, `${f.canonical}: vLLM's spellings before other engines'`);
  }
  t.equal(new Set(KNOWN.map((f) => f.canonical)).size, KNOWN.length, 'one entry per family');
  t.same(
    Object.values(SOURCES).filter((u) => !/^https:\/\/github\.com\//.test(u)),
    [],
    'every source is a public URL',
  );
});

t.test('spellings: preferred first, sanitized; the names as written for PromQL', async (t) => {
  const v = new Vocabulary();
  t.same(v.spellings('kv_cache_usage_perc'), ['vllm_kv_cache_usage_perc', 'vllm_gpu_cache_usage_perc', 'sglang_token_usage']);
  t.same(v.rawSpellings('kv_cache_usage_perc'), ['vllm:kv_cache_usage_perc', 'vllm:gpu_cache_usage_perc', 'sglang:token_usage']);
  t.same(v.spellings('inter_token_latency_seconds'), [
    'vllm_inter_token_latency_seconds',
    'vllm_time_per_output_token_seconds',
    'sglang_inter_token_latency_seconds',
    'sglang_time_per_output_token_seconds',
  ]);
  t.throws(() => v.spellings('gpu_cache_usage_perc'), /not in the names table/, 'keyed by the current name only');
});

t.test('resolve: a name, colons or not, is one family', async (t) => {
  const v = new Vocabulary();
  t.match(v.resolve('vllm:gpu_cache_usage_perc'), { family: { canonical: 'kv_cache_usage_perc' }, spelling: { status: 'deprecated' }, prefix: 'vllm_' });
  t.match(v.resolve('sglang_num_queue_reqs'), { family: { canonical: 'num_requests_waiting' }, spelling: { engine: 'sglang' } });
  t.match(
    v.resolve('sglang:prompt_tokens_total'),
    { family: { canonical: 'prompt_tokens_total' } },
    "SGLang's prompt tokens are its prompt tokens first (and stand for the prefix-cache queries only in that family's spellings)",
  );
  t.equal(v.resolve('vllm_num_requests_swapped'), undefined, 'a name the table does not know');
  const all = [...v.allSpellings()];
  t.equal(new Set(all).size, all.length);
});

t.test('an extra prefix: vLLM names under it, after the plain vLLM ones', async (t) => {
  const v = new Vocabulary(['kserve_vllm:']);
  t.same(v.spellings('num_requests_running'), ['vllm_num_requests_running', 'kserve_vllm_num_requests_running', 'sglang_num_running_reqs']);
  t.same(v.prefixes, ['vllm:', 'kserve_vllm:', ENGINE_PREFIX.sglang]);
  t.match(v.resolve('kserve_vllm:kv_cache_usage_perc'), { family: { canonical: 'kv_cache_usage_perc' }, prefix: 'kserve_vllm_' });
  t.throws(() => new Vocabulary(['kserve vllm']), /"kserve vllm" is not a metric name prefix/);
  t.teardown(() => useEnginePrefixes([]));
  const active = useEnginePrefixes(['kserve_vllm:']);
  t.equal(vocabulary(), active, 'the process-wide vocabulary is the one set at start');
});

import t, { type Test } from 'tap';
import { buckets125, SPEC_DECODE_FAMILIES, vllmFamilies } from '../../src/simulator/families.js';
import { pyFloat } from '../../src/simulator/render.js';
import { Simulator } from '../../src/simulator/simulator.js';
import { parseSamples, seriesKey, type Sample } from '../helpers/samples.js';

const T0 = 1_760_000_000;

function text(sim: Simulator, format: 'text' | 'openmetrics' = 'text'): string {
  return sim.exposition(format).toString('utf8');
}

/** Family name of a sample, using the TYPE lines of the exposition. */
function typesOf(exposition: string): Map<string, string> {
  const types = new Map<string, string>();
  for (const m of exposition.matchAll(/^# TYPE (\S+) (\S+)$/gm)) types.set(m[1], m[2]);
  return types;
}

t.test('1-2-5 buckets stop at max_model_len', async (t) => {
  t.same(buckets125(100), [1, 2, 5, 10, 20, 50, 100]);
  t.same(buckets125(32768).slice(-3), [5000, 10000, 20000]);
});

t.test('pyFloat prints like Python repr', async (t) => {
  t.equal(pyFloat(3), '3.0');
  t.equal(pyFloat(0.25), '0.25');
  t.equal(pyFloat(1e-5), '1e-05');
  t.equal(pyFloat(3.4359738368e10), '34359738368.0');
  t.equal(pyFloat(Infinity), '+Inf');
  t.equal(pyFloat(NaN), 'NaN');
});

t.test('every vLLM v1 family is served, with model_name and engine on each series', async (t) => {
  const sim = new Simulator({ engines: 3, models: 2, specDecode: true, tickMs: 0 }, T0);
  const exposition = text(sim);
  const types = typesOf(exposition);
  for (const f of [...vllmFamilies(32768), ...SPEC_DECODE_FAMILIES]) {
    const typed = f.type === 'counter' ? `${f.name}_total` : f.name;
    t.equal(types.get(typed), f.type, `${f.name} declared as ${f.type}`);
  }
  t.equal(types.get('vllm:cache_config_info'), 'gauge');
  const samples = parseSamples(exposition).filter((s) => s.name.startsWith('vllm:') && !s.name.startsWith('vllm:cache_config'));
  const pairs = new Set(samples.map((s) => `${s.labels.model_name}/${s.labels.engine}`));
  t.equal(pairs.size, 6, '2 models x 3 engines');
  t.ok(
    samples.every((s) => s.labels.model_name && s.labels.engine !== undefined),
    'model_name and engine everywhere',
  );
  const reasons = new Set(samples.filter((s) => s.name === 'vllm:request_success_total').map((s) => s.labels.finished_reason));
  t.same([...reasons].sort(), ['abort', 'length', 'stop']);
  t.match(exposition, /^python_gc_objects_collected_total\{generation="0"\} /m);
  t.match(exposition, /^process_resident_memory_bytes /m);
  t.match(exposition, /^http_requests_total\{handler="\/v1\/chat\/completions"/m);
});

t.test('one engine is about the size vLLM serves', async (t) => {
  const size = new Simulator({ tickMs: 0 }, T0).exposition('text').length;
  t.ok(size > 35_000 && size < 60_000, `${size} bytes`);
});

function checkHistograms(t: Test, samples: Sample[]): void {
  const groups = new Map<string, { buckets: Array<[number, number]>; count?: number; sum?: number }>();
  for (const s of samples) {
    const m = /^(.*)_(bucket|count|sum)$/.exec(s.name);
    if (!m || !s.name.startsWith('vllm:')) continue;
    const key = seriesKey({ ...s, name: m[1] }, ['le']);
    const g = groups.get(key) ?? { buckets: [] };
    groups.set(key, g);
    if (m[2] === 'bucket') g.buckets.push([s.labels.le === '+Inf' ? Infinity : Number(s.labels.le), s.value]);
    else if (m[2] === 'count') g.count = s.value;
    else g.sum = s.value;
  }
  let checked = 0;
  for (const [key, g] of groups) {
    if (g.buckets.length === 0) continue;
    checked++;
    const sorted = [...g.buckets].sort((a, b) => a[0] - b[0]);
    const cumulative = sorted.every(([, v], i) => i === 0 || v >= sorted[i - 1][1]);
    if (!cumulative) t.fail(`${key}: buckets not cumulative`);
    if (sorted.at(-1)![0] !== Infinity) t.fail(`${key}: no +Inf bucket`);
    if (sorted.at(-1)![1] !== g.count) t.fail(`${key}: +Inf ${sorted.at(-1)![1]} != count ${g.count}`);
    if (!(g.sum! >= 0)) t.fail(`${key}: sum ${g.sum}`);
  }
  t.ok(checked > 0, `${checked} histogram series consistent`);
}

t.test('under load counters only grow, histograms stay consistent, gauges move', async (t) => {
  const sim = new Simulator({ engines: 2, tickMs: 0, rate: 8 }, T0);
  let prev = parseSamples(text(sim));
  checkHistograms(t, prev);
  const gaugesSeen = new Set<string>();
  for (let step = 1; step <= 30; step++) {
    sim.advance(T0 + step, 1);
    const next = parseSamples(text(sim));
    checkHistograms(t, next);
    const before = new Map(prev.map((s) => [seriesKey(s), s]));
    for (const s of next) {
      const p = before.get(seriesKey(s));
      if (!p) continue;
      if (/_total$|_bucket$|_count$|_sum$/.test(s.name) && s.name.startsWith('vllm:') && s.value < p.value)
        t.fail(`${seriesKey(s)} went down: ${p.value} -> ${s.value}`);
      if (/num_requests_running|num_requests_waiting|kv_cache_usage_perc/.test(s.name) && s.value !== p.value) gaugesSeen.add(s.name);
    }
    prev = next;
  }
  t.same([...gaugesSeen].sort(), ['vllm:kv_cache_usage_perc', 'vllm:num_requests_running', 'vllm:num_requests_waiting'], 'the main gauges moved');
  const kv = prev.filter((s) => s.name === 'vllm:kv_cache_usage_perc').map((s) => s.value);
  t.ok(
    kv.every((v) => v >= 0 && v <= 1),
    'kv cache usage within 0..1',
  );
  const success = prev.filter((s) => s.name === 'vllm:request_success_total').reduce((a, s) => a + s.value, 0);
  const e2e = prev.filter((s) => s.name === 'vllm:e2e_request_latency_seconds_count').reduce((a, s) => a + s.value, 0);
  t.ok(success > 0, `${success} requests finished`);
  t.equal(e2e, success, 'e2e latency observations match finished requests');
});

t.test('the same seed gives the same exposition', async (t) => {
  const a = new Simulator({ seed: 7, tickMs: 0 }, T0);
  const b = new Simulator({ seed: 7, tickMs: 0 }, T0);
  const c = new Simulator({ seed: 8, tickMs: 0 }, T0);
  t.equal(text(a), text(b));
  t.not(text(a), text(c));
});

t.test('multiprocess rendering: no _created, _sum before _bucket, le first', async (t) => {
  const exposition = text(new Simulator({ multiprocess: true, tickMs: 0 }, T0));
  t.notMatch(exposition, /_created/);
  const lines = exposition.split('\n');
  const sum = lines.findIndex((l) => l.startsWith('vllm:e2e_request_latency_seconds_sum{'));
  const bucket = lines.findIndex((l) => l.startsWith('vllm:e2e_request_latency_seconds_bucket{'));
  t.ok(sum >= 0 && sum < bucket, '_sum precedes _bucket');
  t.match(lines[bucket], /_bucket\{le="/);
  t.notMatch(exposition, /^python_gc/m, 'multiprocess collectors do not serve gc metrics');
});

t.test('default rendering has _created gauges; OpenMetrics ends with # EOF', async (t) => {
  const sim = new Simulator({ tickMs: 0 }, T0);
  const prom = text(sim);
  t.match(prom, /^# TYPE vllm:prompt_tokens_created gauge$/m);
  t.match(prom, /^vllm:e2e_request_latency_seconds_bucket\{model_name="[^"]+",engine="0",le="0.3"\} /m);
  const om = text(sim, 'openmetrics');
  t.ok(om.endsWith('# EOF\n'));
  t.match(om, /^# TYPE vllm:prompt_tokens counter$/m);
  t.match(om, /^vllm:prompt_tokens_created\{/m);
});

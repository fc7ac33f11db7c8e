import t from 'tap';
import { extractParts } from '../../src/saturation/extract.js';
import { saturationFamilies, saturationTable } from '../../src/saturation/render.js';
import { SaturationWindow } from '../../src/saturation/window.js';
import { renderText } from '../../src/exposition/render.js';
import { parseExposition } from '../../src/exposition/parser.js';

interface Engine {
  engine: string;
  model?: string;
  kv: number;
  waiting: number;
  running: number;
  /** request_success_total by finished_reason */
  stop: number;
  length?: number;
  promptSum: number;
  promptCount: number;
  outSum: number;
  outCount: number;
  hits: number;
  queries: number;
}

/** One vLLM exposition (colon names, as vLLM serves it; `sep` '_' gives the proxy's). */
function exposition(engines: Engine[], sep = ':'): string {
  const lines: string[] = [];
  for (const e of engines) {
    const l = `model_name="${e.model ?? 'm1'}",engine="${e.engine}"`;
    lines.push(
      `vllm${sep}kv_cache_usage_perc{${l}} ${e.kv}`,
      `vllm${sep}num_requests_waiting{${l}} ${e.waiting}`,
      `vllm${sep}num_requests_running{${l}} ${e.running}`,
      `vllm${sep}request_success_total{${l},finished_reason="stop"} ${e.stop}`,
      `vllm${sep}request_success_total{${l},finished_reason="length"} ${e.length ?? 0}`,
      `vllm${sep}request_prompt_tokens_bucket{${l},le="+Inf"} ${e.promptCount}`,
      `vllm${sep}request_prompt_tokens_sum{${l}} ${e.promptSum}`,
      `vllm${sep}request_prompt_tokens_count{${l}} ${e.promptCount}`,
      `vllm${sep}request_generation_tokens_sum{${l}} ${e.outSum}`,
      `vllm${sep}request_generation_tokens_count{${l}} ${e.outCount}`,
      `vllm${sep}prefix_cache_hits_total{${l}} ${e.hits}`,
      `vllm${sep}prefix_cache_queries_total{${l}} ${e.queries}`,
      `vllm${sep}num_preemptions_total{${l}} 3`,
    );
  }
  return `# HELP vllm:num_requests_running Number of requests in model execution batches.\n${lines.join('\n')}\n`;
}

const base = (engine: string, o: Partial<Engine> = {}): Engine => ({
  engine,
  kv: 0.1,
  waiting: 0,
  running: 1,
  stop: 0,
  promptSum: 0,
  promptCount: 0,
  outSum: 0,
  outCount: 0,
  hits: 0,
  queries: 0,
  ...o,
});

function windowOf(windowMs = 60_000, maxStalenessMs = 15_000) {
  return new SaturationWindow({ windowMs, minSpacingMs: 0, maxStalenessMs });
}

t.test('signals of one target with two engines, computed by hand', async (t) => {
  const w = windowOf();
  w.setTargets(['a']);
  const T = 1_000_000;
  // t=0, 10 s, 20 s. Engine 0 peaks at t=10 (waiting 5), engine 1 at t=20 (waiting 3): the sum of maxima is 8.
  w.observe('a', extractParts(exposition([base('0', { kv: 0.2, waiting: 1, running: 4 }), base('1', { kv: 0.3, waiting: 0, running: 2 })]), 'prometheus'), T);
  w.observe(
    'a',
    extractParts(
      exposition([
        base('0', {
          kv: 0.7,
          waiting: 5,
          running: 6,
          stop: 10,
          length: 2,
          promptSum: 6000,
          promptCount: 12,
          outSum: 1200,
          outCount: 12,
          hits: 3000,
          queries: 6000,
        }),
        base('1', { kv: 0.4, waiting: 1, running: 3, stop: 4, promptSum: 2000, promptCount: 4, outSum: 400, outCount: 4, hits: 500, queries: 2000 }),
      ]),
      'prometheus',
    ),
    T + 10_000,
  );
  w.observe(
    'a',
    extractParts(
      exposition([
        base('0', {
          kv: 0.5,
          waiting: 2,
          running: 5,
          stop: 20,
          length: 4,
          promptSum: 12000,
          promptCount: 24,
          outSum: 2400,
          outCount: 24,
          hits: 6000,
          queries: 12000,
        }),
        base('1', { kv: 0.6, waiting: 3, running: 1, stop: 8, promptSum: 4000, promptCount: 8, outSum: 800, outCount: 8, hits: 1000, queries: 4000 }),
      ]),
      'prometheus',
    ),
    T + 20_000,
  );
  const r = w.report(T + 21_000);
  t.equal(r.status, 'ok');
  t.equal(r.source, 'window');
  t.equal(r.windowSeconds, 60);
  t.equal(r.targets.length, 1);
  const s = r.targets[0]!.signals;
  t.equal(r.targets[0]!.model, 'm1');
  t.same(s.kv_cache_usage, { value: 0.7, status: 'ok', ageSeconds: 1 }, 'the highest of any engine at any time');
  t.equal(s.requests_waiting.value, 5 + 3, 'engines summed, each at its own maximum');
  t.equal(s.requests_running.value, 6 + 3);
  t.equal(s.finished_requests_per_second.value, (24 + 8) / 20, 'every finished_reason, over the 20 s between first and last sample');
  t.equal(s.prompt_tokens_mean.value, (12000 + 4000) / (24 + 8), 'rate(_sum) / rate(_count), not a mean of means');
  t.equal(s.output_tokens_mean.value, 100);
  t.equal(s.prefix_cache_hit_ratio.value, 7000 / 16000);
  t.equal(s.finished_requests_per_second.ageSeconds, 1);
});

t.test('a counter reset (vLLM restarted) inside the window gives no negative rate', async (t) => {
  const w = windowOf();
  const T = 5_000_000;
  w.observe('a', extractParts(exposition([base('0', { stop: 1000, promptSum: 90000, promptCount: 1000, hits: 50, queries: 100 })]), 'prometheus'), T);
  w.observe('a', extractParts(exposition([base('0', { stop: 1010, promptSum: 91000, promptCount: 1010, hits: 60, queries: 120 })]), 'prometheus'), T + 10_000);
  // Restarted: counters from zero.
  w.observe('a', extractParts(exposition([base('0', { stop: 5, promptSum: 500, promptCount: 5, hits: 10, queries: 20 })]), 'prometheus'), T + 20_000);
  const s = w.report(T + 20_000).targets[0]!.signals;
  t.equal(s.finished_requests_per_second.value, (10 + 5) / 20, 'the increase before the restart plus the new count');
  t.equal(s.prompt_tokens_mean.value, (1000 + 500) / 15);
  t.equal(s.prefix_cache_hit_ratio.value, (10 + 10) / (20 + 20));
  for (const v of Object.values(s)) t.ok(v.value === null || v.value >= 0, 'nothing negative');
});

t.test('samples older than the window drop out of maxima and rates', async (t) => {
  const w = windowOf(10_000);
  const T = 0;
  w.observe('a', extractParts(exposition([base('0', { kv: 0.9, waiting: 50, stop: 0 })]), 'prometheus'), T);
  w.observe('a', extractParts(exposition([base('0', { kv: 0.2, waiting: 1, stop: 100 })]), 'prometheus'), T + 5_000);
  w.observe('a', extractParts(exposition([base('0', { kv: 0.3, waiting: 2, stop: 110 })]), 'prometheus'), T + 15_000);
  w.observe('a', extractParts(exposition([base('0', { kv: 0.1, waiting: 0, stop: 120 })]), 'prometheus'), T + 25_000);
  const s = w.report(T + 25_000).targets[0]!.signals;
  t.equal(s.kv_cache_usage.value, 0.3, 'the 0.9 of t=0 is out of the window');
  t.equal(s.requests_waiting.value, 2);
  t.equal(s.finished_requests_per_second.value, 10 / 10, 'rated over the window, t=15 s to t=25 s');
});

t.test('no data is never zero', async (t) => {
  const empty = windowOf().report(1_000);
  t.equal(empty.status, 'no_data', 'no targets: scale from zero');
  t.same(empty.targets, []);
  t.same(empty.models, []);
  t.same(saturationFamilies(empty, 'instance'), [], 'no gauge at all');
  t.match(saturationTable(empty), /no data/);

  const w = windowOf();
  w.setTargets(['a']);
  w.fail('a', 'upstream unreachable: ECONNREFUSED');
  const r = w.report(2_000);
  t.equal(r.status, 'no_data');
  t.equal(r.targets[0]!.model, null);
  t.equal(r.targets[0]!.error, 'upstream unreachable: ECONNREFUSED');
  for (const v of Object.values(r.targets[0]!.signals)) t.same([v.value, v.status], [null, 'no_data']);

  // One sample: maxima exist, rates need two.
  w.observe('a', extractParts(exposition([base('0', { kv: 0.5 })]), 'prometheus'), 3_000);
  const one = w.report(3_000).targets[0]!.signals;
  t.equal(one.kv_cache_usage.value, 0.5);
  t.equal(one.finished_requests_per_second.status, 'no_data');
  t.equal(one.finished_requests_per_second.value, null);

  // Idle: nothing finished, so there is no mean (not a mean of 0).
  w.observe('a', extractParts(exposition([base('0', { kv: 0.5 })]), 'prometheus'), 13_000);
  const idle = w.report(13_000).targets[0]!.signals;
  t.equal(idle.finished_requests_per_second.value, 0, 'a rate of zero is data');
  t.same(
    [idle.prompt_tokens_mean.value, idle.prompt_tokens_mean.status, idle.prompt_tokens_mean.reason],
    [null, 'no_data', 'no request finished in the window'],
  );
  t.equal(idle.prompt_tokens_mean.ageSeconds, 0, 'it still says how recent the knowledge is');
});

t.test('a target that stops answering keeps its last values, aging into stale', async (t) => {
  const w = windowOf(60_000, 15_000);
  w.observe('a', extractParts(exposition([base('0', { kv: 0.4, stop: 0 })]), 'prometheus'), 0);
  w.observe('a', extractParts(exposition([base('0', { kv: 0.4, stop: 10 })]), 'prometheus'), 10_000);
  w.fail('a', 'upstream did not answer within 5s');
  const fresh = w.report(20_000);
  t.equal(fresh.targets[0]!.signals.kv_cache_usage.status, 'ok');
  t.equal(fresh.targets[0]!.error, 'upstream did not answer within 5s');
  const old = w.report(40_000);
  const kv = old.targets[0]!.signals.kv_cache_usage;
  t.same([kv.value, kv.status, kv.ageSeconds], [0.4, 'stale', 30]);
  t.equal(old.models[0]!.signals.kv_cache_usage.status, 'stale', 'the fleet value says so too');
  t.notOk(renderText(saturationFamilies(old, 'instance')).includes('vllm_metrics_proxy_saturation_kv_cache_usage{'), 'a stale value is no gauge');
  t.match(
    renderText(saturationFamilies(old, 'instance')),
    /vllm_metrics_proxy_saturation_age_seconds\{signal="kv_cache_usage",instance="a",model_name="m1"\} 30/,
  );
});

t.test('out of range is reported, not passed on, and kept out of the fleet value', async (t) => {
  const w = windowOf();
  // A misbehaving exporter reporting percent (0..100), and a sane one.
  w.observe('bad', extractParts(exposition([base('0', { kv: 87 })]), 'prometheus'), 0);
  w.observe('good', extractParts(exposition([base('0', { kv: 0.25 })]), 'prometheus'), 0);
  const r = w.report(1_000);
  const bad = r.targets.find((x) => x.target === 'bad')!.signals.kv_cache_usage;
  t.same([bad.value, bad.status, bad.observed], [null, 'out_of_range', 87]);
  t.match(bad.reason, /outside 0\.\.1/);
  t.equal(r.models[0]!.signals.kv_cache_usage.value, 0.25);
  w.observe('neg', extractParts(exposition([base('0', { waiting: -1 })]), 'prometheus'), 0);
  t.equal(w.report(1_000).targets.find((x) => x.target === 'neg')!.signals.requests_waiting.status, 'out_of_range', 'counts are >= 0');
});

t.test('fleet per model: sums, maxima, and ratios of sums', async (t) => {
  const w = windowOf();
  const two = (target: string, k: number, model = 'm1') => {
    w.observe(target, extractParts(exposition([base('0', { model, kv: 0.1 * k, waiting: k, running: 2 * k })]), 'prometheus'), 0);
    w.observe(
      target,
      extractParts(
        exposition([
          base('0', { model, kv: 0.1 * k, waiting: k, running: 2 * k, stop: 10 * k, promptSum: 1000 * k * k, promptCount: 10 * k, hits: k, queries: 10 }),
        ]),
        'prometheus',
      ),
      10_000,
    );
  };
  two('a', 1);
  two('b', 3);
  two('c', 2, 'm2');
  const r = w.report(10_000);
  t.same(
    r.models.map((m) => [m.model, m.targets]),
    [
      ['m1', 2],
      ['m2', 1],
    ],
  );
  const m1 = r.models[0]!.signals;
  t.equal(m1.kv_cache_usage.value, 0.30000000000000004, 'max');
  t.equal(m1.requests_waiting.value, 4, 'sum');
  t.equal(m1.requests_running.value, 8);
  t.equal(m1.finished_requests_per_second.value, 4);
  t.equal(m1.prompt_tokens_mean.value, (1000 + 9000) / (10 + 30), 'Σ sum / Σ count');
  t.equal(m1.prefix_cache_hit_ratio.value, (1 + 3) / 20);
  t.equal(r.models[1]!.signals.requests_waiting.value, 2);
});

t.test('colon names, sanitized names and OpenMetrics give the same samples; deprecated names only as a fallback', async (t) => {
  const e = [base('0', { kv: 0.3, stop: 7, promptSum: 10, promptCount: 2 })];
  const colon = extractParts(exposition(e), 'prometheus');
  t.same(extractParts(exposition(e, '_'), 'prometheus'), colon);
  const om = `# TYPE vllm:kv_cache_usage_perc gauge\nvllm:kv_cache_usage_perc{model_name="m1",engine="0"} 0.3\n# TYPE vllm:request_success counter\nvllm:request_success_total{model_name="m1",engine="0",finished_reason="stop"} 7.0\n# EOF\n`;
  t.same(
    extractParts(om, 'openmetrics').map((s) => [s.part, s.value]),
    [
      ['kv', 0.3],
      ['finished', 7],
    ],
  );
  t.same(extractParts('# only comments\nother_metric 1\n', 'prometheus'), []);

  const w = windowOf();
  // Older vLLM: only gpu_cache_usage_perc. Newer: both, and the current name wins.
  w.observe('old', extractParts('vllm:gpu_cache_usage_perc{model_name="m"} 0.6\n', 'prometheus'), 0);
  w.observe('new', extractParts('vllm:gpu_cache_usage_perc{model_name="m"} 0.9\nvllm:kv_cache_usage_perc{model_name="m"} 0.2\n', 'prometheus'), 0);
  const r = w.report(0);
  t.equal(r.targets.find((x) => x.target === 'old')!.signals.kv_cache_usage.value, 0.6);
  t.equal(r.targets.find((x) => x.target === 'new')!.signals.kv_cache_usage.value, 0.2);
});

t.test('the gauges parse as Prometheus text and carry the target label chosen', async (t) => {
  const w = windowOf();
  w.observe('a', extractParts(exposition([base('0', { kv: 0.5 })]), 'prometheus'), 0);
  w.observe('a', extractParts(exposition([base('0', { kv: 0.5, stop: 5 })]), 'prometheus'), 5_000);
  const text = renderText(saturationFamilies(w.report(5_000), 'replica'));
  const families = parseExposition(text, 'prometheus');
  const kv = families.find((f) => f.name === 'vllm_metrics_proxy_saturation_kv_cache_usage')!;
  t.same(
    kv.samples.map((s) => [s.labels.replica, s.labels.model_name, s.value]),
    [['a', 'm1', 0.5]],
  );
  t.equal(families.find((f) => f.name === 'vllm_metrics_proxy_saturation_fleet_finished_requests_per_second')!.samples[0]!.value, 1);
  t.ok(families.every((f) => f.type === 'gauge'));
});

/**
 * The simulator's dialects serve the names the servers they stand for serve: vLLM's own test
 * lists the V1 names and which of them were deprecated (tests/entrypoints/openai/
 * test_metrics.py at 0419b117e532, copied here as data), its design document the V0 names
 * (docs/design/metrics.md, "v0 Metrics"), SGLang's collector.py its own. Each parses, and
 * is promtool-clean once sanitized but for vLLM's own naming.
 */
import t from 'tap';
import { parseExposition } from '../../src/exposition/parser.js';
import { sanitizeBuffer } from '../../src/exposition/sanitizer.js';
import { DIALECTS } from '../../src/simulator/dialects.js';
import { Simulator } from '../../src/simulator/simulator.js';
import { runCliAsync } from '../helpers/cli.js';
import { promtoolCheck } from '../helpers/prometheus.js';

/** vLLM's EXPECTED_METRICS_V1 (0419b117e532) as family names (a counter's without `_total`, a histogram's without its suffixes), without the multimodal ones. */
const VLLM_V1 = [
  'vllm:num_requests_running',
  'vllm:num_requests_waiting',
  'vllm:gpu_cache_usage_perc',
  'vllm:gpu_prefix_cache_queries',
  'vllm:gpu_prefix_cache_hits',
  'vllm:kv_cache_usage_perc',
  'vllm:prefix_cache_queries',
  'vllm:prefix_cache_hits',
  'vllm:num_preemptions',
  'vllm:prompt_tokens',
  'vllm:generation_tokens',
  'vllm:iteration_tokens_total',
  'vllm:cache_config_info',
  'vllm:request_success',
  'vllm:request_prompt_tokens',
  'vllm:request_generation_tokens',
  'vllm:request_params_n',
  'vllm:request_params_max_tokens',
  'vllm:time_per_output_token_seconds',
  'vllm:time_to_first_token_seconds',
  'vllm:inter_token_latency_seconds',
  'vllm:e2e_request_latency_seconds',
  'vllm:request_queue_time_seconds',
  'vllm:request_inference_time_seconds',
  'vllm:request_prefill_time_seconds',
  'vllm:request_decode_time_seconds',
];
/** HIDDEN_DEPRECATED_METRICS of the same file. */
const VLLM_HIDDEN = ['vllm:gpu_cache_usage_perc', 'vllm:gpu_prefix_cache_queries', 'vllm:gpu_prefix_cache_hits', 'vllm:time_per_output_token_seconds'];
/** The V0 names of vLLM's design document the simulator models (the others are LoRA, speculative decoding and model timing). */
const VLLM_V0 = [
  'vllm:num_requests_running',
  'vllm:num_requests_swapped',
  'vllm:num_requests_waiting',
  'vllm:gpu_cache_usage_perc',
  'vllm:cpu_cache_usage_perc',
  'vllm:gpu_prefix_cache_hit_rate',
  'vllm:cpu_prefix_cache_hit_rate',
  'vllm:prompt_tokens',
  'vllm:generation_tokens',
  'vllm:request_success',
  'vllm:request_prompt_tokens',
  'vllm:request_generation_tokens',
  'vllm:time_to_first_token_seconds',
  'vllm:time_per_output_token_seconds',
  'vllm:e2e_request_latency_seconds',
  'vllm:request_queue_time_seconds',
  'vllm:request_inference_time_seconds',
  'vllm:request_prefill_time_seconds',
  'vllm:request_decode_time_seconds',
  'vllm:request_max_num_generation_tokens',
  'vllm:num_preemptions',
  'vllm:cache_config_info',
  'vllm:iteration_tokens_total',
  'vllm:request_params_n',
  'vllm:request_params_max_tokens',
];
/** SGLang's collector.py names the readers use. */
const SGLANG = [
  'sglang:num_running_reqs',
  'sglang:num_queue_reqs',
  'sglang:token_usage',
  'sglang:cache_hit_rate',
  'sglang:prompt_tokens',
  'sglang:generation_tokens',
  'sglang:cached_tokens',
  'sglang:num_requests',
  'sglang:time_to_first_token_seconds',
  'sglang:e2e_request_latency_seconds',
  'sglang:inter_token_latency_seconds',
];

const families = (text: string) => parseExposition(text, 'prometheus').filter((f) => f.name.includes(':'));
/** Family names, a counter's without its `_total` (as the lists above write them). */
const names = (text: string) => new Set(families(text).map((f) => (f.type === 'counter' ? f.name.replace(/_total$/, '') : f.name)));
const render = (dialect: (typeof DIALECTS)[number], engines = 1) => new Simulator({ dialect, engines, tickMs: 0 }).exposition('text').toString();

t.test('vLLM 0.9: every V1 name of vLLM test list, the deprecated ones beside their replacements, but inter_token_latency_seconds (0.11)', async (t) => {
  const got = names(render('vllm-0.9', 2));
  t.same(
    VLLM_V1.filter((n) => !got.has(n)),
    ['vllm:inter_token_latency_seconds'],
  );
});

t.test('vLLM latest: the V1 names without any deprecated one', async (t) => {
  const got = names(render('vllm-latest', 2));
  t.same(
    VLLM_V1.filter((n) => !VLLM_HIDDEN.includes(n) && !got.has(n)),
    [],
    'every current name',
  );
  t.same(
    VLLM_HIDDEN.filter((n) => got.has(n)),
    [],
    'no removed name',
  );
});

t.test('vLLM 0.6: the V0 names, no V1-only name, no engine label, multiprocess rendering', async (t) => {
  const text = render('vllm-0.6');
  const got = names(text);
  t.same(
    VLLM_V0.filter((n) => !got.has(n)),
    [],
    'every V0 name modelled',
  );
  t.same(
    ['vllm:kv_cache_usage_perc', 'vllm:prefix_cache_queries', 'vllm:prefix_cache_hits', 'vllm:inter_token_latency_seconds'].filter((n) => got.has(n)),
    [],
  );
  t.notOk(/engine="/.test(text.replace(/^vllm:cache_config_info.*$/m, '')), 'no engine label');
  t.notOk(/_created/.test(text), 'no _created (multiprocess)');
  t.ok(text.indexOf('vllm:e2e_request_latency_seconds_sum') < text.indexOf('vllm:e2e_request_latency_seconds_bucket'), '_sum before the buckets');
  t.match(text, /^vllm:gpu_prefix_cache_hit_rate\{model_name="[^"]+"\} (-1\.0|0\.\d+)$/m, 'the hit-rate gauge, -1 while there is no data');
  t.throws(() => new Simulator({ dialect: 'vllm-0.6', engines: 2 }), /one engine per model/);
});

t.test('SGLang: its names, its labels, dp_rank with several engines', async (t) => {
  const text = render('sglang', 2);
  const got = names(text);
  t.same(
    SGLANG.filter((n) => !got.has(n)),
    [],
  );
  t.same(
    [...got].filter((n) => !n.startsWith('sglang:')),
    [],
    'nothing of vLLM',
  );
  t.match(text, /^sglang:num_running_reqs\{model_name="[^"]+",engine_type="unified",tp_rank="0",pp_rank="0",dp_rank="1"\} /m);
  t.match(text, /^sglang:num_requests_total\{model_name="[^"]+",engine_type="unified",tp_rank="0",pp_rank="0",dp_rank="0"\} \d/m, 'no finished_reason');
  t.notOk(/^http_/m.test(text), 'no HTTP families');
});

t.test('every dialect parses, and is promtool-clean once sanitized (but vLLM naming a histogram _total)', async (t) => {
  for (const d of DIALECTS) {
    const clean = sanitizeBuffer(Buffer.from(render(d, d === 'vllm-0.6' ? 1 : 2))).toString();
    const problems = promtoolCheck(clean).problems.filter((p) => !/^vllm_iteration_tokens_total non-counter metrics should not have "_total" suffix$/.test(p));
    t.same(problems, [], `${d}: promtool`);
    t.notOk(/^[a-z_]+:/m.test(clean), `${d}: no colon name left`);
  }
});

t.test('simulate: a dialect the flags cannot mean is refused, naming the flag', async (t) => {
  for (const [args, re] of [
    [['--engine', 'sglang', '--vllm-version', '0.6'], /--vllm-version: is a vLLM version: not with --engine sglang/],
    [['--vllm-version', '0.6', '--engines', '2'], /--engines: vLLM 0\.6 \(the V0 engine\) has one engine per model/],
    [['--vllm-version', '0.8'], /--vllm-version.*'0\.8' is invalid/],
  ] as const) {
    const r = await runCliAsync(['simulate', '--port', '0', ...args]);
    t.equal(r.status, 2, args.join(' '));
    t.match(r.stderr, re);
  }
});

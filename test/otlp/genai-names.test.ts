/**
 * --otlp-names genai: the three histograms the GenAI conventions name, renamed with their
 * attributes, on both OTLP shapes (the relay's, the direct push's SDK objects); nothing else
 * touched; SGLang's spellings too; refused without an OTLP path.
 */
import t from 'tap';
import { parseExposition } from '../../src/exposition/parser.js';
import { sanitizeBuffer } from '../../src/exposition/sanitizer.js';
import { StartTimes, toResourceMetrics } from '../../src/otlp/from-exposition.js';
import { applyGenaiNames, applyGenaiNamesSdk } from '../../src/otlp/genai-names.js';
import type { MetricsRequest } from '../../src/otlp/types.js';
import { Simulator } from '../../src/simulator/simulator.js';
import { runCliAsync } from '../helpers/cli.js';

const point = (model: string) => ({
  attributes: [
    { key: 'model_name', value: { stringValue: model } },
    { key: 'engine', value: { stringValue: '0' } },
  ],
});

t.test("the relay's shape: renamed where the conventions name it, the rest as it was", async (t) => {
  const req: MetricsRequest = {
    resourceMetrics: [
      {
        scopeMetrics: [
          {
            metrics: [
              { name: 'vllm_time_to_first_token_seconds', histogram: { dataPoints: [point('m')] } },
              { name: 'sglang_e2e_request_latency_seconds', histogram: { dataPoints: [point('m')] } },
              { name: 'vllm_request_time_per_output_token_seconds', histogram: { dataPoints: [point('m')] } },
              { name: 'vllm_inter_token_latency_seconds', histogram: { dataPoints: [point('m')] } },
              { name: 'vllm_num_requests_running', gauge: { dataPoints: [point('m')] } },
            ],
          },
        ],
      },
    ],
  };
  const ms = applyGenaiNames(req).resourceMetrics![0]!.scopeMetrics![0]!.metrics!;
  t.same(
    ms.map((m) => m.name),
    [
      'gen_ai.server.time_to_first_token',
      'gen_ai.server.request.duration',
      'gen_ai.server.time_per_output_token',
      'vllm_inter_token_latency_seconds',
      'vllm_num_requests_running',
    ],
    'only what matches: inter-token gaps are not time per output token',
  );
  t.same(ms[0]!.histogram!.dataPoints![0]!.attributes, [
    { key: 'gen_ai.request.model', value: { stringValue: 'm' } },
    { key: 'engine', value: { stringValue: '0' } },
    { key: 'gen_ai.provider.name', value: { stringValue: 'vllm' } },
  ]);
  t.equal(ms[0]!.unit, 's');
  t.same(ms[1]!.histogram!.dataPoints![0]!.attributes!.at(-1), { key: 'gen_ai.provider.name', value: { stringValue: 'sglang' } });
  t.same(ms[4]!.gauge!.dataPoints![0]!.attributes, point('m').attributes, 'a gauge keeps its attributes');
});

t.test("the direct push's SDK objects: the same names and attributes", async (t) => {
  const text = sanitizeBuffer(new Simulator({ tickMs: 0 }).exposition('text')).toString();
  const made = toResourceMetrics(parseExposition(text, 'prometheus'), Date.now(), new StartTimes(), { attributes: { 'service.name': 'vllm' } });
  const out = applyGenaiNamesSdk(made);
  const metrics = out.flatMap((r) => r.scopeMetrics.flatMap((s) => s.metrics));
  const ttft = metrics.find((m) => m.descriptor.name === 'gen_ai.server.time_to_first_token')!;
  t.ok(ttft, 'renamed');
  t.equal(ttft.descriptor.unit, 's');
  t.match(ttft.dataPoints[0]!.attributes, { 'gen_ai.request.model': 'meta-llama/Llama-3.1-8B-Instruct', 'gen_ai.provider.name': 'vllm' });
  t.notOk('model_name' in ttft.dataPoints[0]!.attributes);
  t.ok(
    metrics.some((m) => m.descriptor.name === 'vllm_num_requests_running'),
    'the rest keep their names',
  );
  t.notOk(
    made.flatMap((r) => r.scopeMetrics.flatMap((s) => s.metrics)).some((m) => m.descriptor.name.startsWith('gen_ai.')),
    'the input is left as it was',
  );
});

t.test('refused where it would do nothing', async (t) => {
  const r = await runCliAsync(['serve', '--otlp-names', 'genai']);
  t.equal(r.status, 2);
  t.match(r.stderr, /--otlp-names: only applies with --otlp-forward-url or --otlp-push-url/);
});

import t from 'tap';
import type { MetricFamily } from '../../src/exposition/model.js';
import { parseExposition } from '../../src/exposition/parser.js';
import { formatValue, renderText, toClassicFamilies } from '../../src/exposition/render.js';
import { Simulator } from '../../src/simulator/simulator.js';
import { promtoolCheck } from '../helpers/prometheus.js';

const plain = (f: MetricFamily[]) => JSON.parse(JSON.stringify(f)) as MetricFamily[];

t.test('values in the spelling every Prometheus parser reads', async (t) => {
  t.equal(formatValue(3), '3');
  t.equal(formatValue(0.25), '0.25');
  t.equal(formatValue(1e21), '1e+21');
  t.equal(formatValue(-0.5e-7), '-5e-8');
  t.equal(formatValue(Infinity), '+Inf');
  t.equal(formatValue(-Infinity), '-Inf');
  t.equal(formatValue(NaN), 'NaN');
});

t.test('classic text renders back to the same families', async (t) => {
  for (const multiprocess of [false, true]) {
    const sim = new Simulator({ engines: 2, models: 2, multiprocess }, 1_700_000_000);
    sim.advance(30);
    const families = parseExposition(sim.exposition('text').toString().replace(/vllm:/g, 'vllm_'), 'prometheus');
    const text = renderText(families);
    t.same(plain(parseExposition(text, 'prometheus')), plain(families), `multiprocess=${multiprocess}: parse(render(x)) = x`);
    // Only vLLM's own naming draws a lint remark; nothing fails to parse.
    t.same(
      promtoolCheck(renderText(parseExposition(sim.exposition('text').toString(), 'prometheus'))).problems,
      ['vllm_iteration_tokens_total non-counter metrics should not have "_total" suffix'],
      'promtool reads it',
    );
  }
});

t.test('escapes in label values and HELP, timestamps; quoted names come out legal', async (t) => {
  const text = '# HELP x a \\\\ b\\nc\n# TYPE x gauge\nx{a="q\\"uo\\\\te\\nnl"} 1 1700000000123\n{"y.z","a.b"="1"} 2\n';
  const out = renderText(parseExposition(text, 'prometheus'));
  t.equal(out, '# HELP x a \\\\ b\\nc\n# TYPE x gauge\nx{a="q\\"uo\\\\te\\nnl"} 1 1700000000123\n# TYPE y_z untyped\ny_z{a_b="1"} 2\n');
  t.same(promtoolCheck(out).problems, ['y_z no help text'], 'promtool parses it (and only lints the missing HELP)');
});

t.test('OpenMetrics families in the classic shape, as prometheus_client renders them', async (t) => {
  const sim = new Simulator({ engines: 1, models: 1 }, 1_700_000_000);
  sim.advance(30);
  const fromOm = parseExposition(sim.exposition('openmetrics').toString(), 'openmetrics').flatMap(toClassicFamilies);
  const fromText = parseExposition(sim.exposition('text').toString(), 'prometheus');
  // The classic rendering lists `_created` after its family; compare as sets of families.
  const byName = (fs: MetricFamily[]) => new Map(plain(fs).map((f) => [f.name, f]));
  const a = byName(fromOm);
  const b = byName(fromText);
  t.same([...a.keys()].sort(), [...b.keys()].sort(), 'the same family names');
  for (const [name, f] of b) {
    const g = a.get(name)!;
    t.equal(g.type, f.type === 'unknown' ? g.type : f.type, `${name}: type`);
    t.same(
      g.samples.map((s) => [s.name, s.labels]),
      f.samples.map((s) => [s.name, s.labels]),
      `${name}: series`,
    );
  }
  const info = toClassicFamilies({ name: 'build', type: 'info', samples: [{ name: 'build_info', labels: { v: '1' }, value: 1 }] });
  t.same(plain(info), [{ name: 'build_info', type: 'gauge', samples: [{ name: 'build_info', labels: { v: '1' }, value: 1 }] }]);
});

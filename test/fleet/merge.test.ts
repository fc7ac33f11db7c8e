import t from 'tap';
import type { MetricFamily } from '../../src/exposition/model.js';
import { parseExposition } from '../../src/exposition/parser.js';
import { renderText } from '../../src/exposition/render.js';
import { addTargetLabel, mergeTargets } from '../../src/fleet/merge.js';
import { Simulator } from '../../src/simulator/simulator.js';
import { promtoolCheck } from '../helpers/prometheus.js';
import { parseSamples, seriesKey } from '../helpers/samples.js';

const prom = (text: string) => parseExposition(text, 'prometheus');
const plain = <T>(x: T) => JSON.parse(JSON.stringify(x)) as T;

t.test('an existing target label moves to exported_<label>, as Prometheus does', async (t) => {
  t.same(plain(addTargetLabel({ a: '1' }, 'instance', 'gpu-a')), { labels: { instance: 'gpu-a', a: '1' } });
  t.same(plain(addTargetLabel({ instance: 'x', a: '1' }, 'instance', 'gpu-a')), { labels: { instance: 'gpu-a', exported_instance: 'x', a: '1' }, movedTo: 'exported_instance' });
  t.same(plain(addTargetLabel({ instance: 'x', exported_instance: 'y' }, 'instance', 'g')).labels, { instance: 'g', exported_exported_instance: 'x', exported_instance: 'y' });
});

t.test('two simulators of different sizes: each family once, every sample labelled, values unchanged', async (t) => {
  const a = new Simulator({ engines: 1, models: 1, seed: 1 }, 1_700_000_000);
  const b = new Simulator({ engines: 3, models: 2, seed: 2 }, 1_700_000_000);
  a.advance(20);
  b.advance(20);
  const textA = a.exposition('text').toString();
  const textB = b.exposition('text').toString();
  const { families, issues, samples } = mergeTargets(
    [
      { target: 'a', families: prom(textA) },
      { target: 'b', families: prom(textB) },
    ],
    'instance',
  );
  t.same(issues, []);
  const out = renderText(families);
  t.notMatch(out, /^(?:# TYPE )?vllm:/m, 'sanitized names (HELP text keeps its colons)');
  const names = families.map((f) => f.name);
  t.equal(new Set(names).size, names.length, 'no family twice');
  const types = out.split('\n').filter((l) => l.startsWith('# TYPE '));
  t.equal(new Set(types).size, types.length, 'one TYPE line per family');
  // The output parses, and its samples are exactly a's and b's with instance added.
  const expected = new Map<string, number>();
  for (const [inst, text] of [['a', textA], ['b', textB]] as const) {
    for (const s of parseSamples(text.replace(/vllm:/g, 'vllm_'))) expected.set(seriesKey({ ...s, labels: { ...s.labels, instance: inst } }), s.value);
  }
  const got = new Map(parseSamples(out).map((s) => [seriesKey(s), s.value]));
  t.equal(samples, expected.size);
  t.same(got, expected, 'every series of both, with its value');
  // Samples of one family are grouped: once a family's samples end, that name never comes back.
  const seen: string[] = [];
  for (const f of prom(out)) {
    t.notOk(seen.includes(f.name), `${f.name} is one block`);
    seen.push(f.name);
  }
  t.same(promtoolCheck(out).problems, ['vllm_iteration_tokens_total non-counter metrics should not have "_total" suffix'], 'promtool reads it');
});

t.test('conflicts: a family of another type is left out; collisions keep the first spelling; labels moved', async (t) => {
  const one: MetricFamily[] = prom('# TYPE vllm:x gauge\nvllm:x{instance="pod-1"} 1\n# TYPE up_total counter\nup_total 5\n');
  const two: MetricFamily[] = prom('# TYPE vllm:x counter\nvllm:x 2\n# TYPE a:b gauge\na:b 1\n# TYPE a_b gauge\na_b 2\n');
  const { families, issues } = mergeTargets(
    [
      { target: 'one', families: one },
      { target: 'two', families: two },
    ],
    'instance',
  );
  t.same(plain(issues), [
    { kind: 'label_renamed', target: 'one', family: 'vllm_x', from: 'instance', to: 'exported_instance' },
    { kind: 'type_conflict', target: 'two', family: 'vllm_x', type: 'counter', kept: 'gauge (from one)' },
    { kind: 'name_collision', target: 'two', family: 'a_b', original: 'a_b', kept: 'a:b' },
  ]);
  t.equal(
    renderText(families),
    ['# TYPE vllm_x gauge', 'vllm_x{instance="one",exported_instance="pod-1"} 1', '# TYPE up_total counter', 'up_total{instance="one"} 5', '# TYPE a_b gauge', 'a_b{instance="two"} 1', ''].join('\n'),
  );
});

t.test('OpenMetrics answers merge in the classic shape with classic ones', async (t) => {
  const sim = new Simulator({ engines: 1, models: 1, seed: 3 }, 1_700_000_000);
  sim.advance(10);
  const viaOm = mergeTargets([{ target: 'x', families: parseExposition(sim.exposition('openmetrics').toString(), 'openmetrics') }], 'instance');
  const viaText = mergeTargets([{ target: 'x', families: prom(sim.exposition('text').toString()) }], 'instance');
  const key = (fs: MetricFamily[]) => new Map(parseSamples(renderText(fs)).map((s) => [seriesKey(s), s.value]));
  t.same(key(viaOm.families), key(viaText.families), 'the same series and values');
});

t.test('without a label (a Pushgateway group): only sanitized', async (t) => {
  const { families } = mergeTargets([{ target: 'x', families: prom('# TYPE vllm:y gauge\nvllm:y{engine="0"} 1\n') }], undefined);
  t.equal(renderText(families), '# TYPE vllm_y gauge\nvllm_y{engine="0"} 1\n');
});

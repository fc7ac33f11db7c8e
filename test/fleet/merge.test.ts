import t from 'tap';
import type { MetricFamily } from '../../src/exposition/model.js';
import { ExpositionParseError, parseExposition } from '../../src/exposition/parser.js';
import { renderText, toClassicFamilies } from '../../src/exposition/render.js';
import { TextMerge, type TextMergeOptions } from '../../src/fleet/text-merge.js';
import { Simulator } from '../../src/simulator/simulator.js';
import { loadConformance } from '../helpers/conformance.js';
import { promtoolCheck } from '../helpers/prometheus.js';
import { parseSamples, seriesKey } from '../helpers/samples.js';

const prom = (text: string) => parseExposition(text, 'prometheus');
const plain = <T>(x: T) => JSON.parse(JSON.stringify(x)) as T;
const VLLM_LINT = ['vllm_iteration_tokens_total non-counter metrics should not have "_total" suffix'];

function merge(targets: Record<string, string>, options: TextMergeOptions = { label: 'instance' }): TextMerge {
  const m = new TextMerge(options);
  for (const [name, text] of Object.entries(targets)) m.add(name, text);
  return m;
}

t.test('two simulators of different sizes: each family once, every sample labelled, values as written', async (t) => {
  for (const multiprocess of [false, true]) {
    const a = new Simulator({ engines: 1, models: 1, seed: 1, multiprocess }, 1_700_000_000);
    const b = new Simulator({ engines: 3, models: 2, seed: 2, multiprocess }, 1_700_000_000);
    a.advance(20);
    b.advance(20);
    const textA = a.exposition('text').toString();
    const textB = b.exposition('text').toString();
    const m = merge({ a: textA, b: textB });
    t.same(m.issues, []);
    const out = m.render();
    t.notMatch(out, /^(?:# TYPE )?vllm:/m, 'sanitized names (HELP text keeps its colons)');
    const families: MetricFamily[] = prom(out);
    const names = families.map((f) => f.name);
    t.equal(new Set(names).size, names.length, `multiprocess=${multiprocess}: each family once, its samples in one block`);
    const types = out.split('\n').filter((l) => l.startsWith('# TYPE '));
    t.equal(new Set(types).size, types.length, 'one TYPE line per family');
    // Exactly a's and b's sample lines, with instance added and nothing else changed.
    const expected: string[] = [];
    for (const [inst, text] of [
      ['a', textA],
      ['b', textB],
    ] as const) {
      for (const line of text.split('\n')) {
        if (line === '' || line.startsWith('#')) continue;
        const sane = line.replace(/^vllm:/, 'vllm_');
        const brace = sane.indexOf('{');
        expected.push(brace >= 0 ? `${sane.slice(0, brace)}{instance="${inst}",${sane.slice(brace + 1)}` : sane.replace(' ', `{instance="${inst}"} `));
      }
    }
    t.same(
      out
        .split('\n')
        .filter((l) => l !== '' && !l.startsWith('#'))
        .sort(),
      expected.sort(),
      'every sample line, byte for byte but for the name and the label',
    );
    t.same(
      [...m.samples],
      [
        ['a', textA.split('\n').filter((l) => l && !l.startsWith('#')).length],
        ['b', textB.split('\n').filter((l) => l && !l.startsWith('#')).length],
      ],
    );
    t.same(promtoolCheck(out).problems, VLLM_LINT, 'promtool reads it');
  }
});

t.test('the same series and values as the parsed model gives', async (t) => {
  const sim = new Simulator({ engines: 2, models: 2, seed: 3 }, 1_700_000_000);
  sim.advance(10);
  const text = sim.exposition('text').toString();
  const fromMerge = new Map(parseSamples(merge({ x: text }).render()).map((s) => [seriesKey(s), s.value]));
  const fromModel = new Map(
    parseSamples(renderText(prom(text.replaceAll('vllm:', 'vllm_')))).map((s) => [seriesKey({ ...s, labels: { ...s.labels, instance: 'x' } }), s.value]),
  );
  t.same(fromMerge, fromModel);
});

t.test('an existing target label moves to exported_<label>, as Prometheus does', async (t) => {
  const m = merge({ one: '# TYPE x gauge\nx{instance="pod-1",a="1"} 1\nx{exported_instance="e",instance="pod-2"} 2\n' });
  t.equal(
    m.render(),
    '# TYPE x gauge\nx{instance="one",exported_instance="pod-1",a="1"} 1\nx{instance="one",exported_instance="e",exported_exported_instance="pod-2"} 2\n',
  );
  t.same(plain(m.issues), [{ kind: 'label_renamed', target: 'one', family: 'x', from: 'instance', to: 'exported_instance' }], 'reported once per target');
  const gw = merge({ t: 'x{job="j",instance="i",b="2"} 1\n' }, { reserved: ['job', 'instance'] });
  t.equal(gw.render(), '# TYPE x untyped\nx{exported_job="j",exported_instance="i",b="2"} 1\n', "a Pushgateway's grouping labels move aside too");
});

t.test('conflicts: a family of another type is left out; collisions keep the first spelling', async (t) => {
  const m = merge({
    one: '# TYPE vllm:x gauge\nvllm:x 1\n# TYPE up_total counter\nup_total 5\n',
    two: '# TYPE vllm:x counter\nvllm:x 2\n# TYPE a:b gauge\na:b 1\n# TYPE a_b gauge\na_b 2\na_b{z="1"} 3\n',
  });
  t.same(plain(m.issues), [
    { kind: 'name_collision', target: 'two', family: 'a_b', original: 'a_b', kept: 'a:b' },
    { kind: 'type_conflict', target: 'two', family: 'vllm_x', type: 'counter', kept: 'gauge (from one)' },
  ]);
  t.equal(
    m.render(),
    [
      '# TYPE vllm_x gauge',
      'vllm_x{instance="one"} 1',
      '# TYPE up_total counter',
      'up_total{instance="one"} 5',
      '# TYPE a_b gauge',
      'a_b{instance="two"} 1',
      '',
    ].join('\n'),
  );
});

t.test('a family split across a target, HELP once, quoted names, odd spacing, CRLF, comments', async (t) => {
  const text = [
    '# HELP vllm:x Help: with \\\\ and \\n.',
    '# TYPE vllm:x gauge',
    'vllm:x{a="1"} 1',
    '# a plain comment',
    '# TYPE other gauge',
    'other 3',
    'vllm:x{a="2"} 2',
    '{"vllm:q", "b.c"="v\\"q"} 4 1700000000000',
    '   padded{a="x"}\t5\r',
    '',
    'h_bucket{le="+Inf"} 1',
  ].join('\n');
  const m = merge({ t: text });
  t.equal(
    m.render(),
    [
      '# HELP vllm_x Help: with \\\\ and \\n.',
      '# TYPE vllm_x gauge',
      'vllm_x{instance="t",a="1"} 1',
      'vllm_x{instance="t",a="2"} 2',
      '# TYPE other gauge',
      'other{instance="t"} 3',
      '# TYPE vllm_q untyped',
      'vllm_q{instance="t",b_c="v\\"q"} 4 1700000000000',
      '# TYPE padded untyped',
      'padded{instance="t",a="x"}\t5',
      '# TYPE h_bucket untyped',
      'h_bucket{instance="t",le="+Inf"} 1',
      '',
    ].join('\n'),
  );
  t.equal(promtoolCheck(m.render()).status === 0 || promtoolCheck(m.render()).problems.every((p) => /no help text/.test(p)), true, 'promtool parses it');
});

t.test('garbage is an error with a line number, and nothing of that target is kept', async (t) => {
  const bad: Array<[string, RegExp]> = [
    ['x 1\ny{a="1" 2\n', /^line 2: expected , or \} in label set/],
    ['x one\n', /^line 1: invalid value "one"/],
    ['x\n', /^line 1: missing value for x/],
    ['x 1 2 3\n', /^line 1: unexpected text after the timestamp/],
    ['x 1 1.5\n', /^line 1: invalid timestamp "1.5"/],
    ['x{a=1} 1\n', /label value of a must be quoted/],
    ['x{a="1",a="2"} 1\n', /duplicate label a/],
    ['x{a="unterminated} 1\n', /unterminated quoted string/],
    ['1x 1\n', /invalid metric name "1"/],
    ['# TYPE x gauge\n# TYPE x counter\nx 1\n', /^line 2: second TYPE for x/],
    ['# TYPE x kind\n', /invalid metric type "kind"/],
    ['<html>\n', /invalid metric name "<"/],
  ];
  for (const [text, re] of bad) {
    const m = new TextMerge({ label: 'instance' });
    m.add('good', 'g 1\n');
    const err = t.throws(() => m.add('bad', text), re, JSON.stringify(text)) as ExpositionParseError;
    t.type(err, ExpositionParseError);
    t.equal(m.render(), '# TYPE g untyped\ng{instance="good"} 1\n', 'the good target alone');
  }
});

t.test('lines whose label sets begin with the same bytes as the line before: the same merge as lines that do not', async (t) => {
  // The merge reuses the checked labels of the line before when the next set begins with the
  // same bytes; what follows them is checked in full, against them too.
  const text = [
    '# TYPE h histogram',
    'h_bucket{engine="0",model_name="m",le="0.1"} 1',
    'h_bucket{engine="0",model_name="m",le="+Inf"} 2',
    'h_bucket{engine="0",model_name="m",instance="moved",le="2"} 2',
    'h_bucket{engine="0",model_name="m" , le="1"} 2',
    'h_bucket{engine="0",model_name="m",le="3",} 2',
    'h_bucket{engine="0",model_name="m",} 2',
    'h_bucket{engine="0",model_name="n",le="4"} 3',
    'h_sum{engine="0",model_name="n"} 3',
    'h_count{engine="0",model_name="n"} 3',
    '',
  ].join('\n');
  const fromMerge = new Map(parseSamples(merge({ x: text }).render()).map((s) => [seriesKey(s), s.value]));
  const fromModel = new Map(
    parseSamples(renderText(prom(text.replace('instance="moved"', 'exported_instance="moved"')))).map((s) => [
      seriesKey({ ...s, labels: { ...s.labels, instance: 'x' } }),
      s.value,
    ]),
  );
  t.same(fromMerge, fromModel);
  const collected = merge({ x: text }, { label: 'instance', collect: new Set(['h']) }).collected()[0]!.samples;
  t.same(
    collected.map((c) => plain(c.labels)),
    prom(text)[0]!.samples.map((c) => ({ ...(c.labels.instance ? { exported_instance: 'moved' } : {}), ...plain(c.labels), instance: 'x' })),
    'and the labels it collects',
  );
  for (const [bad, re] of [
    ['x{a="1",b="2",c="3"} 1\nx{a="1",b="2",a="3"} 1\n', /^line 2: duplicate label a/],
    ['x{a="1",b="2",c="3"} 1\nx{a="1",b="2",b="3"} 1\n', /^line 2: duplicate label b/],
    ['x{a="1",b="2",c="3"} 1\nx{a="1",b="2",c=3} 1\n', /^line 2: label value of c must be quoted/],
    ['x{a="1",b="2",c="3"} 1\nx{a="1",b="2",c="3 1\n', /^line 2: unterminated quoted string/],
  ] as const) {
    t.throws(() => merge({ bad }), re, JSON.stringify(bad));
  }
});

t.test('conformance: what the parser reads in the classic shape, the merge reads to the same series', async (t) => {
  let compared = 0;
  for (const c of loadConformance().filter((c) => c.shouldParse)) {
    const classic = renderText(parseExposition(c.input.toString('utf8'), 'openmetrics').flatMap(toClassicFamilies));
    const m = merge({ t: classic });
    const got = new Map(parseSamples(m.render()).map((s) => [seriesKey(s), s.value]));
    const labelled = (l: Record<string, string>) => {
      const { instance, ...rest } = l;
      return instance === undefined ? { ...rest, instance: 't' } : { ...rest, exported_instance: instance, instance: 't' };
    };
    const want = new Map(parseSamples(renderText(prom(classic))).map((s) => [seriesKey({ ...s, labels: labelled(s.labels) }), s.value]));
    if (JSON.stringify([...got].sort()) !== JSON.stringify([...want].sort())) t.fail(`${c.name}: series differ`);
    compared++;
  }
  t.ok(compared > 40, `${compared} conformance inputs merged like the parser reads them`);
});

t.test('collect: the aggregated families as samples, labelled', async (t) => {
  const m = merge(
    { a: '# TYPE vllm:num_requests_running gauge\nvllm:num_requests_running{model_name="m"} 3\nother 1\n' },
    { label: 'instance', collect: new Set(['vllm_num_requests_running']) },
  );
  t.same(plain(m.collected()), [
    {
      name: 'vllm_num_requests_running',
      type: 'unknown',
      samples: [{ name: 'vllm_num_requests_running', labels: { instance: 'a', model_name: 'm' }, value: 3 }],
    },
  ]);
});

t.test('replicas line for line (recognised by likeness to the target before): the same series as reading each in full', async (t) => {
  const sim = new Simulator({ engines: 2, models: 1, seed: 4 }, 1_700_000_000);
  sim.advance(10);
  const a = `${sim.exposition('text').toString()}# TYPE empty_set gauge\nempty_set{} 1\nempty_set{} 2\n`;
  sim.advance(10);
  // b: the same series, other values; c: one line gone from the middle, so every line after it sits one place earlier.
  const b = `${sim.exposition('text').toString()}# TYPE empty_set gauge\nempty_set{} 3\nempty_set{} 4\n`;
  const lines = a.split('\n');
  const gone = lines.findIndex((l) => l.startsWith('vllm:e2e_request_latency_seconds_bucket'));
  const c = [...lines.slice(0, gone), ...lines.slice(gone + 1)].join('\n');
  const targets = { a, b, c, d: b };
  const want = new Map(
    Object.entries(targets).flatMap(([name, text]) =>
      parseSamples(renderText(prom(text.replaceAll('vllm:', 'vllm_')))).map(
        (s) => [seriesKey({ ...s, labels: { ...s.labels, instance: name } }), s.value] as const,
      ),
    ),
  );
  const collect = new Set(['vllm_e2e_request_latency_seconds']);
  const m = merge(targets, { label: 'instance', collect });
  const out = m.render();
  t.same(new Map(parseSamples(out).map((s) => [seriesKey(s), s.value])), want, 'every series of every target, with its value');
  t.match(out, /\nempty_set\{instance="b"\} 3\n/, 'an empty label set is the target label alone');
  const collected = m.collected()[0]!.samples;
  t.same(
    collected.map((s) => seriesKey(s)).sort(),
    [...want.keys()].filter((k) => /^vllm_e2e_request_latency_seconds_(bucket|sum|count)\{/.test(k)).sort(),
    'a collected family is read in full on every target',
  );
});

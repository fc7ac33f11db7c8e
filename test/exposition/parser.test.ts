import t from 'tap';
import { ExpositionParser, ExpositionParseError, parseExposition } from '../../src/exposition/parser.js';
import type { ExpositionFormat, MetricFamily } from '../../src/exposition/model.js';
import { vllmFamilies } from '../../src/simulator/families.js';
import { Simulator } from '../../src/simulator/simulator.js';
import { loadConformance } from '../helpers/conformance.js';

const om = (text: string) => parseExposition(text, 'openmetrics');
const prom = (text: string) => parseExposition(text, 'prometheus');

/** Plain objects, so deep equality does not trip over null-prototype label maps. */
const plain = (families: MetricFamily[]) => JSON.parse(JSON.stringify(families)) as MetricFamily[];

function parseError(fn: () => unknown): ExpositionParseError {
  try {
    fn();
  } catch (err) {
    if (err instanceof ExpositionParseError) return err;
    throw err;
  }
  throw new Error('expected a parse error');
}

t.test('OpenMetrics conformance suite: every shouldParse verdict is matched', async (t) => {
  const cases = loadConformance();
  t.ok(cases.length > 200, `${cases.length} cases`);
  for (const c of cases) {
    let parsed = true;
    let reason = '';
    try {
      om(c.input.toString('utf8'));
    } catch (err) {
      if (!(err instanceof ExpositionParseError)) throw err;
      parsed = false;
      reason = err.message;
    }
    t.equal(parsed, c.shouldParse, `${c.name}${reason ? `: ${reason}` : ''}`);
  }
});

t.test('conformance inputs that parse are also read the same in chunks split at every byte', async (t) => {
  const picks = ['exemplars_wide_chars', 'escaping', 'histogram_exemplars', 'label_escaping', 'null_byte', 'no_newline_after_eof'];
  for (const c of loadConformance().filter((c) => picks.includes(c.name))) {
    const whole = plain(om(c.input.toString('utf8')));
    for (let cut = 1; cut < c.input.length; cut++) {
      const got: MetricFamily[] = [];
      const parser = new ExpositionParser({ format: 'openmetrics', onFamily: (f) => got.push(f) });
      parser.write(c.input.subarray(0, cut));
      parser.write(c.input.subarray(cut));
      parser.end();
      if (JSON.stringify(got) !== JSON.stringify(whole)) {
        t.fail(`${c.name} split at ${cut}`);
        return;
      }
    }
    t.pass(`${c.name}: ${c.input.length - 1} splits`);
  }
});

t.test('OpenMetrics families: types, suffixes, labels, help, unit, exemplars, timestamps', async (t) => {
  // `# UNIT a_seconds` names another family, so it splits `a` from its samples: invalid in OpenMetrics.
  t.match(parseError(() => om('# TYPE a counter\n# UNIT a_seconds seconds\na_total 1\n# EOF\n')).message, /line 3: metric family a_total clashes/);

  const raw = om(
    [
      '# TYPE a_seconds counter',
      '# HELP a_seconds he\\n\\\\l\\"p',
      '# UNIT a_seconds seconds',
      'a_seconds_total{foo="b\\"a\\nr",x="\\z"} 1 1.5 # {trace_id="t1"} 0.25 2.5',
      'a_seconds_created{foo="b\\"a\\nr",x="\\z"} 1700000000.5',
      '# TYPE h histogram',
      'h_bucket{le="0.5"} 1',
      'h_bucket{le="+Inf"} 3',
      'h_count 3',
      'h_sum 2.5',
      '# TYPE s summary',
      's{quantile="0.9"} NaN',
      's_count 7',
      's_sum 1e3',
      'g -Inf',
      '# EOF',
    ].join('\n'),
  );
  const ok = plain(raw);
  t.same(ok[0], {
    name: 'a_seconds',
    type: 'counter',
    help: 'he\n\\l"p',
    unit: 'seconds',
    samples: [
      {
        name: 'a_seconds_total',
        labels: { foo: 'b"a\nr', x: '\\z' },
        value: 1,
        timestampMs: 1500,
        exemplar: { labels: { trace_id: 't1' }, value: 0.25, timestampMs: 2500 },
      },
      { name: 'a_seconds_created', labels: { foo: 'b"a\nr', x: '\\z' }, value: 1700000000.5 },
    ],
  });
  t.same(
    ok.slice(1).map((f) => [f.name, f.type, f.samples.map((s) => s.name)]),
    [
      ['h', 'histogram', ['h_bucket', 'h_bucket', 'h_count', 'h_sum']],
      ['s', 'summary', ['s', 's_count', 's_sum']],
      ['g', 'unknown', ['g']],
    ],
  );
  t.ok(Number.isNaN(raw[2]!.samples[0]!.value), 'NaN quantile value');
  t.equal(raw[3]!.samples[0]!.value, -Infinity);
});

t.test('OpenMetrics errors name the line and the reason', async (t) => {
  const cases: Array<[string, RegExp]> = [
    ['a 1\n\n# EOF\n', /line 2: blank line/],
    ['a 1\n', /missing # EOF/],
    ['a 1\n# EOF\nb 1\n', /line 3: text after # EOF/],
    ['# TYPE a histogram\na_bucket{le="1"} 2\na_bucket{le="+Inf"} 1\n# EOF\n', /line 3: buckets of a are not cumulative/],
    ['# TYPE a counter\na_total -1\n# EOF\n', /line 2: counter value of a must be a non-negative number/],
    ['a{b="1",b="2"} 1\n# EOF\n', /duplicate label b/],
    ['a 0x1\n# EOF\n', /invalid value "0x1"/],
    ['# some comment\n# EOF\n', /comment lines other than/],
    ['a 1\r\n# EOF\n', /invalid value "1\\r"/],
  ];
  for (const [input, expected] of cases) t.match(parseError(() => om(input)).message, expected, JSON.stringify(input));
});

t.test('Prometheus text: as lenient as Prometheus', async (t) => {
  const families = plain(
    prom(
      [
        '# A plain comment',
        '',
        '   # HELP vllm:x_total Help with a: colon and \\\\ backslash',
        '# TYPE vllm:x_total counter',
        'vllm:x_total{model_name="m",}   3.0   1700000000000',
        '# TYPE u untyped',
        'u\t2\r',
        '# HELP h A histogram',
        '# TYPE h histogram',
        'h_sum{le_first="no"} 2.5',
        'h_bucket{le="1.0"} 1',
        'h_bucket{le="+Inf"} 3',
        'h_count 3',
        '# TYPE h_created gauge',
        'h_created 1.7e9',
        '{"vllm:quoted", model_name="m"} +inf',
        'no_newline_at_end 1',
      ].join('\n'),
    ),
  );
  t.same(
    families.map((f) => [f.name, f.type, f.samples.map((s) => [s.name, s.value, s.timestampMs])]),
    [
      ['vllm:x_total', 'counter', [['vllm:x_total', 3, 1700000000000]]],
      ['u', 'unknown', [['u', 2, undefined]]],
      [
        'h',
        'histogram',
        [
          ['h_sum', 2.5, undefined],
          ['h_bucket', 1, undefined],
          ['h_bucket', 3, undefined],
          ['h_count', 3, undefined],
        ],
      ],
      ['h_created', 'gauge', [['h_created', 1.7e9, undefined]]],
      ['vllm:quoted', 'unknown', [['vllm:quoted', Infinity, undefined]]],
      ['no_newline_at_end', 'unknown', [['no_newline_at_end', 1, undefined]]],
    ].map(([n, ty, s]) => [n, ty, JSON.parse(JSON.stringify(s))]),
  );
  t.equal(families[0]!.help, 'Help with a: colon and \\ backslash');
  t.same(families[0]!.samples[0]!.labels, { model_name: 'm' });
});

t.test('Prometheus text errors: malformed lines are rejected with their line number', async (t) => {
  const cases: Array<[string, RegExp]> = [
    ['a{b="1"\n', /line 1: unterminated|expected , or \}/],
    ['a{b=1} 1\n', /label value of b must be quoted/],
    ['a 1 2 3\n', /unexpected text after the timestamp/],
    ['a 1 1.5\n', /invalid timestamp "1.5"/],
    ['ok 1\na-b 1\n', /line 2: invalid character after metric name "a"/],
    ['# TYPE a sometype\n', /invalid metric type/],
    ['# TYPE a counter\n# TYPE a gauge\n', /second TYPE for a/],
    ['a\n', /missing value/],
  ];
  for (const [input, expected] of cases) t.match(parseError(() => prom(input)).message, expected, JSON.stringify(input));
});

t.test('bounded memory: a line longer than maxLineBytes is an error, not a buffer', async (t) => {
  const parser = new ExpositionParser({ format: 'prometheus', onFamily: () => {}, maxLineBytes: 1024 });
  parser.write('ok 1\n');
  t.throws(() => parser.write(`a{b="${'x'.repeat(2000)}`), /line 2: line longer than 1024 bytes/);
});

t.test('invalid UTF-8 is an error', async (t) => {
  t.throws(() => prom(Buffer.from([0x61, 0x20, 0x31, 0xff, 0x0a]) as unknown as string), /invalid UTF-8/);
  const parser = new ExpositionParser({ format: 'prometheus', onFamily: () => {} });
  t.throws(() => {
    parser.write(Buffer.from([0x61, 0x7b, 0x62, 0x3d, 0x22, 0xe2]));
    parser.end();
  }, /invalid UTF-8/);
});

t.test('families are handed over as soon as they end', async (t) => {
  const seen: string[] = [];
  const parser = new ExpositionParser({ format: 'prometheus', onFamily: (f) => seen.push(f.name) });
  parser.write('# TYPE a gauge\na 1\n# TYPE b gauge\n');
  t.same(seen, ['a']);
  parser.write('b 2\n');
  t.same(seen, ['a']);
  parser.end();
  t.same(seen, ['a', 'b']);
});

t.test('the simulator parses in both formats and both renderings, with every vLLM family', async (t) => {
  for (const multiprocess of [false, true]) {
    const sim = new Simulator({ engines: 2, models: 2, multiprocess, tickMs: 0 }, 1_760_000_000);
    for (const [format, wire] of [
      ['prometheus', 'text'],
      ['openmetrics', 'openmetrics'],
    ] as Array<[ExpositionFormat, 'text' | 'openmetrics']>) {
      const families = parseExposition(sim.exposition(wire), format);
      const byName = new Map(families.map((f) => [f.name, f]));
      for (const def of vllmFamilies(32768)) {
        const name = def.type === 'counter' && format === 'prometheus' ? `${def.name}_total` : def.name;
        const family = byName.get(name);
        t.equal(family?.type, def.type, `${multiprocess ? 'multiprocess' : 'default'} ${format}: ${name} is a ${def.type}`);
        t.ok(family!.samples.every((s) => s.labels.model_name !== undefined && s.labels.engine !== undefined));
      }
      const ttft = byName.get('vllm:time_to_first_token_seconds')!;
      t.equal(ttft.samples.filter((s) => s.name.endsWith('_count')).length, 4, `${format}: one histogram per engine and model`);
    }
  }
});

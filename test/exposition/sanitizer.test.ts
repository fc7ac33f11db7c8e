import t, { type Test } from 'tap';
import { NameSanitizer, sanitizeBuffer, sanitizeName, toLegacyName, type Collision } from '../../src/exposition/sanitizer.js';
import { loadConformance } from '../helpers/conformance.js';
import { renameNames, underscore } from '../helpers/oracle.js';
import { throughChunks } from '../helpers/chunks.js';

/** Run the sanitizer over `input` cut into the given pieces (each a fresh buffer, as sockets deliver). */
function run(input: string | Buffer, cuts: number[] = [], collisions?: Collision[]): string {
  const src = Buffer.isBuffer(input) ? input : Buffer.from(input, 'utf8');
  return throughChunks(new NameSanitizer({ onCollision: (c) => collisions?.push(c) }), src, cuts).toString('utf8');
}

/** Assert the result for every single split point and for byte-by-byte delivery. */
function everySplit(t: Test, input: string, expected: string): void {
  const whole = run(input);
  t.equal(whole, expected, 'one chunk');
  const len = Buffer.byteLength(input);
  let bad = -1;
  for (let cut = 1; cut < len && bad === -1; cut++) if (run(input, [cut]) !== expected) bad = cut;
  t.equal(bad, -1, 'every two-chunk split gives the same output');
  const bytewise = Array.from({ length: Math.max(0, len - 1) }, (_, i) => i + 1);
  t.equal(run(input, bytewise), expected, 'one byte per chunk');
}

const cases: Array<[string, string, string]> = [
  ['plain vLLM lines', 'vllm:num_requests_running{engine="0",model_name="m"} 3.0\n', 'vllm_num_requests_running{engine="0",model_name="m"} 3.0\n'],
  [
    'HELP and TYPE lines, HELP text with colons untouched',
    '# HELP vllm:e2e Histogram: latency a:b {x} # y\n# TYPE vllm:e2e histogram\n',
    '# HELP vllm_e2e Histogram: latency a:b {x} # y\n# TYPE vllm_e2e histogram\n',
  ],
  ['UNIT line', '# UNIT vllm:x_seconds seconds\n', '# UNIT vllm_x_seconds seconds\n'],
  [
    'escaped quotes and backslashes in label values',
    'vllm:x{a="q\\"u:o{t}e\\\\",b="#c d:e",c="}"} 1 # {trace:id="a:b"} 2 3\n',
    'vllm_x{a="q\\"u:o{t}e\\\\",b="#c d:e",c="}"} 1 # {trace:id="a:b"} 2 3\n',
  ],
  ['label names are not metric names', 'x:y{a:b="c:d"} 1\n', 'x_y{a:b="c:d"} 1\n'],
  [
    'exemplar and timestamp',
    'vllm:t_bucket{le="0.5"} 2 1700000000.5 # {trace_id="ab:cd"} 0.3 1700000000.1\n',
    'vllm_t_bucket{le="0.5"} 2 1700000000.5 # {trace_id="ab:cd"} 0.3 1700000000.1\n',
  ],
  ['OpenMetrics EOF kept', 'a:b_total 1\n# EOF\n', 'a_b_total 1\n# EOF\n'],
  ['CRLF line endings', '# TYPE a:b gauge\r\na:b 1\r\n', '# TYPE a_b gauge\r\na_b 1\r\n'],
  ['no trailing newline', 'a:b 1', 'a_b 1'],
  ['name only, no newline', 'a:b', 'a_b'],
  ['blank lines', '\n\na:b 1\n\n\n', '\n\na_b 1\n\n\n'],
  [
    'comments that are neither HELP nor TYPE',
    '# just a:comment\n#TYPE a:b gauge\n# TYPEX a:b gauge\n# type a:b gauge\n#\n',
    '# just a:comment\n#TYPE a:b gauge\n# TYPEX a:b gauge\n# type a:b gauge\n#\n',
  ],
  ['leading whitespace and tabs', '  a:b 1\n#\tTYPE\t\tc:d counter\n', '  a_b 1\n#\tTYPE\t\tc_d counter\n'],
  ['values containing colons are not touched', 'a 1:2\nb{x="1"} a:b\n', 'a 1:2\nb{x="1"} a:b\n'],
  ['garbage lines pass through', '!!:: ::\n9a:b 1\n{garbage\n', '!!:: ::\n9a:b 1\n{garbage\n'],
  ['leading colon name', ':a:b 1\n', '_a_b 1\n'],
  ['quoted name with labels', '{"vllm:x",a="b"} 1\n', 'vllm_x{a="b"} 1\n'],
  ['quoted name alone', '{"vllm:x"} 1\n', 'vllm_x 1\n'],
  ['quoted name, spaces and trailing comma', '{ "vllm:x" , a="b:c"} 1\n{"y:z",} 2\n', 'vllm_x{a="b:c"} 1\ny_z 2\n'],
  ['quoted name in TYPE and HELP', '# TYPE "vllm:x" gauge\n# HELP "vllm:x" text: here\n', '# TYPE vllm_x gauge\n# HELP vllm_x text: here\n'],
  ['quoted UTF-8 and dotted names go to the legacy charset', '{"my.metric:ü"} 1\n{"9lives"} 2\n{"a\\"b"} 3\n', 'my_metric__ 1\n_9lives 2\na_b 3\n'],
  ['quoted name not first is left alone', '{a="b","vllm:x"} 1\n', '{a="b","vllm:x"} 1\n'],
];

t.test('sanitizer cases, split at every byte', async (t) => {
  for (const [name, input, expected] of cases) await t.test(name, async (t) => everySplit(t, input, expected));
});

t.test('the regex oracle agrees on the unquoted cases', async (t) => {
  for (const [name, input, expected] of cases) {
    if (input.includes('"vllm') || input.includes('{"')) continue;
    t.equal(renameNames(input, underscore), expected, name);
  }
});

t.test('collisions: first spelling wins, later lines dropped, reported once', async (t) => {
  const input = [
    '# HELP a:b first',
    '# TYPE a:b gauge',
    'a:b{x="1"} 1',
    'a:b{x="2"} 2',
    '# HELP a_b second',
    '# TYPE a_b gauge',
    'a_b{x="1"} 3',
    'a_b{x="2"} 4',
    'c 5',
    '',
  ].join('\n');
  const expected = '# HELP a_b first\n# TYPE a_b gauge\na_b{x="1"} 1\na_b{x="2"} 2\nc 5\n';
  everySplit(t, input, expected);
  const seen: Collision[] = [];
  run(input, [], seen);
  t.same(seen, [{ original: 'a_b', sanitized: 'a_b', kept: 'a:b' }]);

  const reversed = 'a_b 1\na:b 2\n{"a:b"} 3\nd 4\n';
  everySplit(t, reversed, 'a_b 1\nd 4\n');
  const s = new NameSanitizer();
  const out: Buffer[] = [];
  s.write(Buffer.from(reversed), out);
  s.end(out);
  t.equal(s.droppedLines, 2);
  t.equal(s.collidingNames, 1, 'quoted and unquoted spellings of one name count once');
});

t.test('collisions are decided per exposition, also when scrapes interleave', async (t) => {
  // The name table is shared by the process; ownership must not be.
  const one = new NameSanitizer();
  const two = new NameSanitizer();
  const outOne: Buffer[] = [];
  const outTwo: Buffer[] = [];
  const lines = (n: number, a: string, b: string) => Array.from({ length: n }, (_, i) => `${i % 2 ? a : b}{i="${i}"} ${i}\n`);
  const first = lines(6, 'p:q', 'p:q');
  const second = lines(6, 'p_q', 'p_q');
  for (let i = 0; i < 6; i++) {
    one.write(Buffer.from(first[i]), outOne);
    two.write(Buffer.from(second[i]), outTwo);
  }
  one.write(Buffer.from('p_q 9\n'), outOne);
  two.write(Buffer.from('p:q 9\n'), outTwo);
  one.end(outOne);
  two.end(outTwo);
  t.equal(Buffer.concat(outOne).toString(), first.join('').replaceAll('p:q', 'p_q'), 'p:q came first in one: p_q dropped');
  t.equal(Buffer.concat(outTwo).toString(), second.join(''), 'p_q came first in two: p:q dropped');
  t.equal(one.droppedLines, 1);
  t.equal(two.droppedLines, 1);
  // A fresh exposition starts from nothing: the spelling first in it wins.
  t.equal(run('p_q 1\np:q 2\n'), 'p_q 1\n');
  t.equal(run('p:q 1\np_q 2\n'), 'p_q 1\n');
});

t.test('a quoted name outside the legacy charset collides with its legacy spelling', async (t) => {
  everySplit(t, '{"r.s",a="1"} 1\nr_s 2\nr:s 3\nt 4\n', 'r_s{a="1"} 1\nt 4\n');
  everySplit(t, 'r_s 2\n{"r.s"} 1\nt 4\n', 'r_s 2\nt 4\n');
});

t.test('collision dropping a line whose head spans chunks', async (t) => {
  const input = 'x_y 1\n' + 'x:y{a="' + 'v'.repeat(100) + '"} 2\nz 3\n';
  for (let cut = 6; cut < 20; cut++) t.equal(run(input, [cut, cut + 3]), 'x_y 1\nz 3\n', `cut ${cut}`);
});

t.test('long names (beyond the scratch) are sanitized', async (t) => {
  const long = 'a:'.repeat(40_000);
  const out = run(`${long} 1\n${long} 2\n`, [1000, 50_000]);
  t.equal(out, `${'a_'.repeat(40_000)} 1\n${'a_'.repeat(40_000)} 2\n`);
});

t.test('sanitizeName and toLegacyName', async (t) => {
  t.equal(sanitizeName('vllm:x'), 'vllm_x');
  t.equal(sanitizeName('ok_name'), 'ok_name');
  t.equal(sanitizeName('a.b-c'), 'a_b_c');
  t.equal(toLegacyName('1x'), '_1x');
  t.equal(toLegacyName(''), '_');
  t.equal(toLegacyName('温度'), '__', 'one underscore per character');
});

t.test('in-place: a chunk without quoted names is emitted as the same memory', async (t) => {
  const chunk = Buffer.from('vllm:a 1\nvllm:b 2\n');
  const s = new NameSanitizer();
  const out: Buffer[] = [];
  s.write(chunk, out);
  t.equal(out.length, 1);
  t.equal(out[0].buffer, chunk.buffer, 'no copy');
  t.equal(chunk.toString(), 'vllm_a 1\nvllm_b 2\n');
});

t.test('OpenMetrics conformance suite', async (t) => {
  const suite = loadConformance();
  t.ok(suite.length > 100, `loaded ${suite.length} cases`);
  for (const c of suite) {
    const text = c.input.toString('utf8');
    if (c.shouldParse) {
      // Without colons nothing may change, byte for byte.
      t.equal(sanitizeBuffer(Buffer.from(c.input)).toString('utf8'), text, `${c.name}: unchanged`);
      // With every name given a namespace, only the names change.
      const colon = renameNames(text, (n) => `vllm:${n}`);
      const expected = renameNames(text, (n) => `vllm_${n}`);
      const bytes = Buffer.byteLength(colon);
      const step = Math.max(1, Math.floor(bytes / 200));
      let bad = -1;
      for (let cut = 0; cut <= bytes && bad === -1; cut += step) if (run(colon, cut > 0 && cut < bytes ? [cut] : []) !== expected) bad = cut;
      t.equal(bad, -1, `${c.name}: namespaced names rewritten at every split`);
    } else {
      t.doesNotThrow(() => {
        run(c.input);
        run(c.input, [1, 7, 13]);
      }, `${c.name}: invalid input never throws`);
    }
  }
});

t.test('random expositions agree with the oracle under random chunking', async (t) => {
  let seed = 42;
  const rnd = (n: number) => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return seed % n;
  };
  const names = ['vllm:a', 'vllm:b_total', 'c', ':d:e', 'f_g:h', 'vllm:hist_bucket'];
  const values = ['1', '2.5e3', 'NaN', '+Inf', '-1 1700000000'];
  const labelValues = ['x', 'a:b', '{}', '# q', 'q\\"u', 'back\\\\slash', ' sp ace '];
  for (let round = 0; round < 300; round++) {
    const lines: string[] = [];
    const used = new Set<string>();
    for (let l = 0; l < 12; l++) {
      const name = names[rnd(names.length)];
      // Avoid generating collisions: the oracle does not model them.
      if ([...used].some((u) => u !== name && underscore(u) === underscore(name))) continue;
      used.add(name);
      const kind = rnd(6);
      if (kind === 0) lines.push(`# HELP ${name} help: ${labelValues[rnd(labelValues.length)]}`);
      else if (kind === 1) lines.push(`# TYPE ${name} gauge`);
      else if (kind === 2) lines.push(`${name} ${values[rnd(values.length)]}`);
      else if (kind === 3) lines.push('# comment: x');
      else lines.push(`${name}{l="${labelValues[rnd(labelValues.length)]}",m="${labelValues[rnd(labelValues.length)]}"} ${values[rnd(values.length)]}`);
    }
    const input = lines.join(rnd(2) ? '\n' : '\r\n') + (rnd(2) ? '\n' : '');
    const cuts: number[] = [];
    const len = Buffer.byteLength(input);
    for (let c = rnd(7) + 1; c < len; c += rnd(9) + 1) cuts.push(c);
    const got = run(input, cuts);
    const want = renameNames(input, underscore);
    if (got !== want) {
      t.equal(got, want, `round ${round}`);
      return;
    }
  }
  t.pass('300 random expositions agree');
});

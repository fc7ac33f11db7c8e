/**
 * The TYPE-line scanner beside the sanitizer: the same names at every chunk cut as a whole
 * read (what fleet mode does with each target's body), and as the parser's families, on the simulator
 * and on SGLang's real capture; quoted names, a last line without its newline, and a TYPE
 * that is not at a line start.
 */
import { readFileSync } from 'node:fs';
import t from 'tap';
import { parseExposition } from '../../src/exposition/parser.js';
import { TypeNameScanner, typeNamesOf } from '../../src/exposition/type-names.js';
import { Simulator } from '../../src/simulator/simulator.js';

const CAPTURE = readFileSync(new URL('../fixtures/captures/sglang-production-metrics.txt', import.meta.url), 'utf8');

const scan = (parts: Buffer[]) => {
  const s = new TypeNameScanner();
  for (const p of parts) s.write(p);
  s.end();
  return [...s.names].sort();
};

t.test('every cut of a real capture: the parser’s family names', async (t) => {
  const whole = Buffer.from(CAPTURE);
  const expected = parseExposition(CAPTURE, 'prometheus')
    .map((f) => f.name)
    .sort();
  t.same(scan([whole]), expected, 'whole');
  t.same([...typeNamesOf(whole)].sort(), expected, 'a whole body at once');
  let bad = 0;
  for (let cut = 1; cut < whole.length; cut++) {
    const got = scan([whole.subarray(0, cut), whole.subarray(cut)]);
    if (got.join() !== expected.join()) bad++;
  }
  t.equal(bad, 0, `all ${whole.length - 1} two-piece cuts`);
});

t.test('random three-piece cuts of the simulator, and one byte at a time', async (t) => {
  const text = new Simulator({ engines: 2, tickMs: 0 }).exposition('text');
  const expected = parseExposition(text.toString(), 'prometheus')
    .map((f) => f.name)
    .sort();
  t.ok(expected.includes('vllm:kv_cache_usage_perc') && expected.includes('vllm:prompt_tokens_total'));
  let seed = 7;
  const rnd = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) % n) + 1;
  for (let i = 0; i < 300; i++) {
    const a = rnd(text.length - 2);
    const b = a + rnd(text.length - a - 1);
    t.same(scan([text.subarray(0, a), text.subarray(a, b), text.subarray(b)]), expected, `cuts at ${a}, ${b}`);
  }
  const bytes = [...text.subarray(0, 4000)].map((b) => Buffer.from([b]));
  t.same(scan(bytes), [...typeNamesOf(text.subarray(0, 4000))].sort(), 'one byte per chunk');
});

t.test('quoted names, no final newline, TYPE not at a line start, an overlong line', async (t) => {
  const text = `# HELP a x\n# TYPE a gauge\na 1\n# TYPE "vllm:x" gauge\nx # TYPE not_me gauge\n# TYPE ${'y'.repeat(600)} gauge\n# TYPE last counter`;
  t.same(scan([Buffer.from(text)]), ['a', 'last', 'vllm:x']);
  t.same([...typeNamesOf(Buffer.from(text))].sort(), ['a', 'last', 'vllm:x'], 'a whole body, the same: an overlong line names no family the table knows');
  t.same(scan([Buffer.from('# TYPE a gauge\n')]), ['a'], 'at the very start');
});

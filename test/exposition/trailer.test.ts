import t from 'tap';
import { parseExposition } from '../../src/exposition/parser.js';
import { SanitizingWriter } from '../../src/exposition/sanitize-stream.js';
import { withTrailer } from '../../src/exposition/trailer.js';
import { loadConformance } from '../helpers/conformance.js';
import { throughChunks } from '../helpers/chunks.js';

const LINES = '# TYPE vllm_metrics_proxy_saturation_x gauge\nvllm_metrics_proxy_saturation_x 1\n';

/** The body through the sanitizer with a trailer, cut into chunks at the given points. */
function relay(body: Buffer, cuts: number[], lines = LINES): Buffer {
  return throughChunks(new SanitizingWriter({ maxBytes: 1 << 30, trailer: () => lines }), body, cuts);
}

t.test('OpenMetrics: the lines go before # EOF, wherever the chunks are cut', async (t) => {
  const body = Buffer.from('# TYPE a:b gauge\na:b 1\n# EOF\n');
  const want = `# TYPE a_b gauge\na_b 1\n${LINES}# EOF\n`;
  for (let i = 0; i <= body.length; i++) {
    for (let j = i; j <= body.length; j += 3) t.equal(relay(body, [i, j]).toString(), want, `cut at ${i} and ${j}`);
  }
  t.equal(relay(Buffer.from('a 1\n# EOF'), [7]).toString(), `a 1\n${LINES}# EOF`, '# EOF without a final newline');
  t.equal(relay(Buffer.from('# EOF\n'), [2]).toString(), `${LINES}# EOF\n`, 'an empty exposition');
});

t.test('classic text: the lines are appended, on a line of their own', async (t) => {
  t.equal(relay(Buffer.from('a 1\nb 2\n'), [5]).toString(), `a 1\nb 2\n${LINES}`);
  t.equal(relay(Buffer.from('a 1\nb 2'), [3]).toString(), `a 1\nb 2\n${LINES}`, 'no final newline');
  t.equal(
    relay(Buffer.from('a 1\n# EOF is not here\n'), [6, 9]).toString(),
    `a 1\n# EOF is not here\n${LINES}`,
    'a comment that starts like # EOF is just a comment',
  );
  t.equal(relay(Buffer.from('a 1\n# EOF\nb 2\n'), [7]).toString(), `a 1\n# EOF\nb 2\n${LINES}`, 'only a last # EOF ends the exposition');
  t.equal(relay(Buffer.from('a 1\n'), [2], '').toString(), 'a 1\n', 'nothing to add, nothing added');
});

t.test('every valid OpenMetrics conformance case stays valid with the lines added', async (t) => {
  let n = 0;
  for (const c of loadConformance()) {
    if (!c.shouldParse) continue;
    const before = parseExposition(c.input, 'openmetrics');
    const cut = Math.floor(c.input.length / 2);
    for (const out of [withTrailer(c.input, LINES), relay(Buffer.from(c.input), [cut, cut + 1])]) {
      const after = parseExposition(out, 'openmetrics');
      t.equal(after.length, before.length + 1, c.name);
      t.equal(after[after.length - 1]!.name, 'vllm_metrics_proxy_saturation_x');
    }
    n++;
  }
  t.ok(n >= 40, `${n} cases`);
});

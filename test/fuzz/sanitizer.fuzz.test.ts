/**
 * The sanitizer under inputs nobody chose (fast-check; test/helpers/fuzz.ts says how to
 * replay a seed or run longer): on generated valid expositions, classic and OpenMetrics,
 * LF and CRLF, with every label-value escape and exemplars, the output at random chunk cuts
 * is the line-by-line regex rewrite of test/helpers/oracle.ts; on arbitrary bytes and on
 * damaged expositions it never throws, never gives more bytes than it got, and gives the
 * same output however the input is cut.
 */
import fc from 'fast-check';
import t from 'tap';
import { NameSanitizer } from '../../src/exposition/sanitizer.js';
import { cutsOf, families, fuzz, hostileExposition, renderExposition } from '../helpers/fuzz.js';
import { renameNames, underscore } from '../helpers/oracle.js';
import { throughChunks } from '../helpers/chunks.js';

const run = (input: Buffer, cuts: number[]): Buffer => throughChunks(new NameSanitizer(), input, cuts);

const cutSeeds = fc.array(fc.nat(), { maxLength: 12 });

t.test('valid expositions at random cuts: the oracle’s rewrite, byte for byte', async (t) => {
  fc.assert(
    fc.property(families, fc.boolean(), fc.boolean(), cutSeeds, (fams, openMetrics, crlf, seeds) => {
      const text = renderExposition(fams, { openMetrics, crlf });
      const input = Buffer.from(text);
      const got = run(input, cutsOf(seeds, input.length)).toString();
      return got === renameNames(text, underscore);
    }),
    fuzz(t, 400),
  );
  t.pass('agrees');
});

/** Arbitrary bytes, and valid expositions damaged: truncated, a byte changed, bytes inserted. */
const hostile = hostileExposition(600);

t.test('hostile bytes: no exception, no growth, the same output at every cut', async (t) => {
  fc.assert(
    fc.property(hostile, cutSeeds, (input, seeds) => {
      const whole = run(input, []);
      const cut = run(input, cutsOf(seeds, input.length));
      return whole.length <= input.length && whole.equals(cut);
    }),
    fuzz(t, 600),
  );
  t.pass('held');
});

t.test('one byte at a time is the same as all at once', async (t) => {
  fc.assert(
    fc.property(hostile, (input) =>
      run(input, []).equals(
        run(
          input,
          Array.from({ length: Math.max(0, input.length - 1) }, (_, i) => i + 1),
        ),
      ),
    ),
    fuzz(t, 150),
  );
  t.pass('held');
});

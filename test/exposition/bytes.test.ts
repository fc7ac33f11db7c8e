import t from 'tap';
import { sameBytes, sameWords } from '../../src/exposition/bytes.js';

const view = (b: Buffer) => new DataView(b.buffer, b.byteOffset, b.byteLength);

t.test('sameWords agrees with a byte loop, at every length and offset, where doubles would not', async (t) => {
  // Eight-byte words that are equal as doubles but not as bytes (+0, -0), and equal as bytes but not as doubles (NaN).
  const plusZero = Buffer.alloc(8);
  const minusZero = Buffer.from([0, 0, 0, 0, 0, 0, 0, 0x80]);
  const nan = Buffer.from([1, 0, 0, 0, 0, 0, 0xf8, 0x7f]);
  const words = [plusZero, minusZero, nan, Buffer.from('vllm:e2e'), Buffer.from('vllm:e2f')];
  let checked = 0;
  for (const x of words)
    for (const y of words)
      for (const pad of [0, 1, 3]) {
        const a = Buffer.concat([Buffer.alloc(pad, 7), x, Buffer.from('_request{le="0.1"}')]);
        const b = Buffer.concat([Buffer.alloc(pad + 2, 9), y, Buffer.from('_request{le="0.1"}')]);
        for (let length = 0; length <= a.length - pad; length++) {
          const want = sameBytes(a, pad, b, pad + 2, length);
          if (sameWords(view(a), pad, view(b), pad + 2, length) !== want) t.fail(`${x.toString('hex')} / ${y.toString('hex')}, length ${length}: ${!want}`);
          checked++;
        }
      }
  t.ok(checked > 1000, `${checked} comparisons agree`);
  t.equal(sameWords(view(plusZero), 0, view(minusZero), 0, 8), false, '+0 and -0 are different bytes');
  t.equal(sameWords(view(nan), 0, view(Buffer.from(nan)), 0, 8), true, 'the same NaN is the same bytes');
});

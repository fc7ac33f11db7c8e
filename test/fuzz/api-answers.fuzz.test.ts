/**
 * The response observer reads a streamed answer as vLLM frames it (one `data:` event per
 * chunk, LF), and as any SSE writer may (CRLF, comments, a payload over several `data:`
 * lines, events cut anywhere across chunks): the observation is the same however the bytes
 * are cut, and with `stripUsageChunk` the client gets every byte but the usage-only event's.
 */
import fc from 'fast-check';
import t from 'tap';
import { ResponseObserver, type Observation } from '../../src/requests/response-observer.js';
import { cutsOf, fuzz } from '../helpers/fuzz.js';

interface Answer {
  body: Buffer;
  /** The body without the usage-only event, as the client must see it when it did not ask for usage. */
  stripped: Buffer;
  content: string[];
}

/** A streamed chat answer of `tokens`, with the usage-only chunk the proxy asks for. */
function answer(tokens: string[], how: { crlf?: boolean; comments?: boolean; split?: boolean } = {}): Answer {
  const nl = how.crlf ? '\r\n' : '\n';
  const ev = (obj: unknown) => {
    const json = JSON.stringify(obj);
    // A payload over two data: lines, split after its first comma (the SSE rule joins them
    // with a newline, which JSON takes as whitespace there).
    const at = json.indexOf(',') + 1;
    const data = how.split && at > 0 ? `data: ${json.slice(0, at)}${nl}data:${json.slice(at)}` : `data: ${json}`;
    return `${how.comments ? `: keep-alive${nl}` : ''}${data}${nl}${nl}`;
  };
  const base = { id: 'chatcmpl-1', object: 'chat.completion.chunk', model: 'm' };
  const events = [
    ev({ ...base, choices: [{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null }] }),
    ...tokens.map((c) => ev({ ...base, choices: [{ index: 0, delta: { content: c }, finish_reason: null }] })),
    ev({ ...base, choices: [{ index: 0, delta: {}, finish_reason: 'length' }] }),
  ];
  const usage = ev({ ...base, choices: [], usage: { prompt_tokens: 5, completion_tokens: tokens.length, total_tokens: 5 + tokens.length } });
  const done = `data: [DONE]${nl}${nl}`;
  return { body: Buffer.from(events.join('') + usage + done), stripped: Buffer.from(events.join('') + done), content: tokens.filter(Boolean) };
}

function observe(body: Buffer, cuts: number[], strip: boolean): { seen: Observation; out: Buffer } {
  const o = new ResponseObserver({ sse: true, stripUsageChunk: strip });
  const out: Buffer[] = [];
  let from = 0;
  for (const cut of [...cuts, body.length]) {
    const pass = o.see(Buffer.from(body.subarray(from, cut)));
    if (pass) out.push(pass);
    from = cut;
  }
  const tail = o.end();
  if (tail) out.push(tail);
  return { seen: o.observation, out: Buffer.concat(out) };
}

const what = (o: Observation) => ({
  id: o.id,
  model: o.model,
  finishReason: o.finishReason,
  usage: o.usage,
  contentChunks: o.contentChunks,
  contentChars: o.contentChars,
  gaps: o.gapsMs.length,
});

t.test('vLLM’s framing, whole: what the answer says', async (t) => {
  const a = answer(['Hel', 'lo', ' wor', 'ld']);
  const { seen, out } = observe(a.body, [], false);
  t.same(what(seen), {
    id: 'chatcmpl-1',
    model: 'm',
    finishReason: 'length',
    usage: { prompt_tokens: 5, completion_tokens: 4, total_tokens: 9 },
    contentChunks: 4,
    contentChars: 11,
    gaps: 3,
  });
  t.ok(out.equals(a.body), 'passed on untouched');
  const stripped = observe(a.body, [], true);
  t.ok(stripped.out.equals(a.stripped), 'stripping: everything but the usage-only event, byte for byte');
  t.same(stripped.seen.usage, { prompt_tokens: 5, completion_tokens: 4, total_tokens: 9 }, 'and its usage read');
});

t.test('any framing, cut anywhere: the same observation, and stripping takes out only the usage-only event', async (t) => {
  fc.assert(
    fc.property(
      fc.array(fc.string({ maxLength: 6 }), { maxLength: 12 }),
      fc.record({ crlf: fc.boolean(), comments: fc.boolean(), split: fc.boolean() }),
      fc.array(fc.nat(), { maxLength: 10 }),
      fc.boolean(),
      (tokens, how, seeds, strip) => {
        const a = answer(tokens, how);
        const whole = observe(a.body, [], strip);
        const cut = observe(a.body, cutsOf(seeds, a.body.length), strip);
        const want = {
          contentChunks: a.content.length,
          contentChars: a.content.join('').length,
          usage: { prompt_tokens: 5, completion_tokens: tokens.length, total_tokens: 5 + tokens.length },
        };
        const got = what(cut.seen);
        return (
          got.contentChunks === want.contentChunks &&
          got.contentChars === want.contentChars &&
          JSON.stringify(got.usage) === JSON.stringify(want.usage) &&
          got.finishReason === 'length' &&
          JSON.stringify(what(whole.seen)) === JSON.stringify(got) &&
          cut.out.equals(strip ? a.stripped : a.body)
        );
      },
    ),
    fuzz(t, 300),
  );
  t.pass('held');
});

t.test('an answer cut off mid-event, or an event without end: nothing lost, nothing held forever', async (t) => {
  const a = answer(['x', 'y']);
  const cutShort = a.body.subarray(0, a.body.length - 9); // inside "data: [DONE]"
  for (const strip of [false, true]) {
    const { out } = observe(cutShort, [7, 40], strip);
    t.ok(out.equals(strip ? Buffer.from(a.stripped.subarray(0, a.stripped.length - 9)) : cutShort), `strip=${strip}: what came, passed on`);
  }
  // 5 MiB without a blank line: past the bound the observer stops reading and holds nothing back.
  const o = new ResponseObserver({ sse: true, stripUsageChunk: true });
  let passed = 0;
  const piece = Buffer.alloc(1024 * 1024, 0x61);
  for (let i = 0; i < 5; i++) passed += o.see(Buffer.from(piece))?.length ?? 0;
  passed += o.end()?.length ?? 0;
  t.equal(passed, 5 * piece.length, 'all 5 MiB passed on');
});

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
          usage: { prompt_tokens: 5, completion_tokens: tokens.length, total_tokens: 5 + tokens.length },
        };
        const got = what(cut.seen);
        return (
          got.contentChunks === want.contentChunks &&
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

/** One streamed chunk of each kind the observer reads differently, with what it must count. */
type Kind =
  | { kind: 'content'; text: string }
  | { kind: 'empty' }
  | { kind: 'reasoning'; text: string }
  | { kind: 'finish'; text: string; reason: string }
  | { kind: 'running-usage'; text: string; tokens: number }
  | { kind: 'created'; text: string; created: number }
  | { kind: 'completion'; text: string }
  | { kind: 'logprobs'; text: string }
  | { kind: 'hostile'; payload: string }
  | { kind: 'forged'; raw: string };

/** An escaped backslash in the content: a chunk with content. */
const WELL_FORMED = String.raw`{"choices":[{"delta":{"content":"a\\q"}}]}`;

const kinds: fc.Arbitrary<Kind> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ kind: fc.constant('content' as const), text: fc.string({ maxLength: 8, unit: 'grapheme' }) }) },
  fc.record({ kind: fc.constant('empty' as const) }),
  fc.record({ kind: fc.constant('reasoning' as const), text: fc.string({ maxLength: 4 }) }),
  fc.record({ kind: fc.constant('finish' as const), text: fc.string({ maxLength: 4 }), reason: fc.constantFrom('stop', 'length') }),
  fc.record({ kind: fc.constant('running-usage' as const), text: fc.string({ maxLength: 4 }), tokens: fc.nat(99) }),
  fc.record({ kind: fc.constant('created' as const), text: fc.string({ maxLength: 4 }), created: fc.nat(9) }),
  fc.record({ kind: fc.constant('completion' as const), text: fc.string({ maxLength: 4 }) }),
  fc.record({ kind: fc.constant('logprobs' as const), text: fc.string({ maxLength: 4 }) }),
  // A content chunk's own bytes around a text that is not a JSON string's inside (a bare
  // quote, a dangling escape, a cut \u, a raw tab) or is one (an escaped é).
  fc.record({ kind: fc.constant('forged' as const), raw: fc.constantFrom('a"', 'a\\', String.raw`\u12`, 'a\tb', String.raw`\u00e9`) }),
  fc.record({
    kind: fc.constant('hostile' as const),
    // Valid JSON that is no chunk, chunks with no object where one is read, broken escapes, a
    // bare tab, a cut document: none is counted, none throws. WELL_FORMED is the one that is.
    payload: fc.constantFrom(
      'null',
      '1',
      '[1]',
      '"content"',
      '{"choices":[null]}',
      '{"choices":[1,{"delta":"x"}]}',
      WELL_FORMED,
      String.raw`{"choices":[{"delta":{"content":"a\q"}}]}`,
      String.raw`{"choices":[{"delta":{"content":"\u00e"}}]}`,
      '{"choices":[{"delta":{"content":"tab\tin"}}]}',
      '{"choices":[{"delta":{"content":"x"',
    ),
  }),
);

/** The chunk's JSON as vLLM writes it (compact, one key order), and what reading it must add up to. */
function chunk(k: Kind): { json: string; content: boolean; reason?: string; usage?: number } {
  const base = { id: 'chatcmpl-2', object: 'chat.completion.chunk', created: 1, model: 'm' };
  const choice = (delta: unknown, finish: string | null = null) => ({ ...base, choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }] });
  switch (k.kind) {
    case 'content':
      return { json: JSON.stringify(choice({ content: k.text })), content: k.text !== '' };
    case 'empty':
      return { json: JSON.stringify(choice({})), content: false };
    case 'reasoning':
      return { json: JSON.stringify(choice({ reasoning_content: k.text })), content: k.text !== '' };
    case 'finish':
      return { json: JSON.stringify(choice({ content: k.text }, k.reason)), content: k.text !== '', reason: k.reason };
    case 'running-usage':
      return {
        json: JSON.stringify({ ...choice({ content: k.text }), usage: { prompt_tokens: 1, completion_tokens: k.tokens, total_tokens: 1 + k.tokens } }),
        content: k.text !== '',
        usage: k.tokens,
      };
    case 'created':
      return { json: JSON.stringify({ ...choice({ content: k.text }), created: k.created }), content: k.text !== '' };
    case 'completion':
      return {
        json: JSON.stringify({ ...base, object: 'text_completion', choices: [{ index: 0, text: k.text, logprobs: null, finish_reason: null }] }),
        content: k.text !== '',
      };
    case 'logprobs':
      return {
        json: JSON.stringify({
          ...base,
          choices: [{ index: 0, delta: { content: k.text }, logprobs: { content: [{ token: k.text, logprob: -0.1 }] }, finish_reason: null }],
        }),
        content: k.text !== '',
      };
    case 'forged':
      return { json: JSON.stringify(choice({ content: 'PLACEHOLDER' })).replace('PLACEHOLDER', k.raw), content: k.raw === String.raw`\u00e9` };
    case 'hostile': {
      // What JSON.parse and the chunk rules make of it, worked out here by hand.
      const content = k.payload === WELL_FORMED;
      return { json: k.payload, content };
    }
  }
}

t.test('chunks read by their likeness to the one before give what reading each would: any mix of kinds, cut anywhere', async (t) => {
  fc.assert(
    fc.property(fc.array(kinds, { maxLength: 24 }), fc.array(fc.nat(), { maxLength: 10 }), fc.boolean(), (list, seeds, strip) => {
      const chunks = list.map(chunk);
      const body = Buffer.from(chunks.map((c) => `data: ${c.json}\n\n`).join('') + 'data: [DONE]\n\n');
      const got = observe(body, cutsOf(seeds, body.length), strip);
      const reasons = chunks.flatMap((c) => (c.reason ? [c.reason] : []));
      const usages = chunks.flatMap((c) => (c.usage !== undefined ? [c.usage] : []));
      const content = chunks.filter((c) => c.content).length;
      return (
        got.seen.contentChunks === content &&
        got.seen.gapsMs.length === Math.max(0, content - 1) &&
        got.seen.finishReason === reasons.at(-1) &&
        got.seen.usage?.completion_tokens === usages.at(-1) &&
        got.out.equals(body)
      );
    }),
    fuzz(t, 500),
  );
  t.pass('held');
});

t.test('a long answer of plain chunks is read without parsing each: the first content chunk is parsed, the rest matched', async (t) => {
  const a = answer(Array.from({ length: 100 }, (_, i) => `tok${i} "q" \\ é`));
  const parse = JSON.parse;
  let parsed = 0;
  JSON.parse = (...args: Parameters<typeof JSON.parse>) => {
    parsed++;
    return parse(...args) as unknown;
  };
  let seen: Observation;
  try {
    seen = observe(a.body, [], false).seen;
  } finally {
    JSON.parse = parse;
  }
  t.equal(seen.contentChunks, 100);
  t.equal(seen.gapsMs.length, 99);
  t.ok(parsed <= 6, `${parsed} JSON.parse calls for 104 events (the role, the first content chunk and its text, the finish, the usage)`);
});

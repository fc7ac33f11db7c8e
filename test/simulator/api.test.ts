/**
 * The simulator's OpenAI API: vLLM-shaped answers, streaming as SSE, and /metrics
 * that count exactly what it served (the ground truth the per-request accounting is
 * tested against).
 */
import t, { type Test } from 'tap';
import { request } from 'undici';
import { parseExposition } from '../../src/exposition/parser.js';
import type { ServedRequest } from '../../src/simulator/api.js';
import { startSimulator, type RunningSimulator } from '../../src/simulator/start.js';
import { eventually } from '../helpers/wait.js';

/** No simulated load (rate 0, frozen): /metrics moves only with the API's requests. */
async function quietSimulator(t: Test, api: Parameters<typeof startSimulator>[3] = {}): Promise<RunningSimulator> {
  const sim = await startSimulator({ tickMs: 0, rate: 0, engines: 2 }, { host: '127.0.0.1', port: 0 }, undefined, {
    decodeTokensPerSecond: 400,
    prefillTokensPerSecond: 20_000,
    ...api,
  });
  t.teardown(() => sim.close());
  return sim;
}

async function post(url: string, body: unknown) {
  const res = await request(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: res.statusCode, headers: res.headers, text: await res.body.text() };
}

/** Sum of a family's samples by sample name, over every engine. */
async function totals(sim: RunningSimulator): Promise<Map<string, number>> {
  const text = await (await request(`${sim.url}/metrics`)).body.text();
  const out = new Map<string, number>();
  for (const f of parseExposition(text, 'prometheus')) {
    for (const s of f.samples) {
      if (s.labels.le !== undefined) continue;
      const key = s.name === 'vllm:request_success_total' ? `${s.name}{${s.labels.finished_reason}}` : s.name;
      out.set(key, (out.get(key) ?? 0) + s.value);
    }
  }
  return out;
}

const sseEvents = (text: string) =>
  text
    .split('\n\n')
    .filter((e) => e.startsWith('data: '))
    .map((e) => e.slice(6));

t.test('non-streaming chat: an OpenAI answer with usage; /metrics counts exactly that request', async (t) => {
  const sim = await quietSimulator(t);
  const model = sim.api.models[0]!;
  const before = await totals(sim);
  const res = await post(`${sim.url}/v1/chat/completions`, {
    model,
    messages: [{ role: 'user', content: 'Tell me about KV caches, briefly.' }],
    max_tokens: 12,
  });
  t.equal(res.status, 200);
  const body = JSON.parse(res.text);
  t.match(body, { object: 'chat.completion', model, choices: [{ index: 0, message: { role: 'assistant' } }] });
  t.match(body.id, /^chatcmpl-/);
  const truth = sim.api.served.get(body.id)!;
  t.ok(truth, 'the simulator recorded it under the answer id');
  t.same(body.usage, {
    prompt_tokens: truth.promptTokens,
    completion_tokens: truth.completionTokens,
    total_tokens: truth.promptTokens + truth.completionTokens,
  });
  t.equal(body.choices[0].finish_reason, truth.finishReason);
  t.notOk('metrics' in body, 'no per-request metrics unless vLLM was started with them');

  const after = await totals(sim);
  const delta = (name: string) => (after.get(name) ?? 0) - (before.get(name) ?? 0);
  t.equal(delta('vllm:e2e_request_latency_seconds_count'), 1);
  t.equal(delta(`vllm:request_success_total{${truth.finishReason}}`), 1);
  t.equal(delta('vllm:prompt_tokens_total'), truth.promptTokens);
  t.equal(delta('vllm:generation_tokens_total'), truth.completionTokens);
  // The exposition writes floats with Python's repr: compare to 1 µs.
  for (const [metric, value] of [
    ['vllm:request_queue_time_seconds_sum', truth.queue],
    ['vllm:request_prefill_time_seconds_sum', truth.prefill],
    ['vllm:request_decode_time_seconds_sum', truth.decode],
    ['vllm:time_to_first_token_seconds_sum', truth.ttft],
    ['vllm:e2e_request_latency_seconds_sum', truth.queue + truth.prefill + truth.decode],
  ] as const) {
    t.ok(Math.abs(delta(metric) - value) < 1e-6, `${metric}: ${delta(metric)} = ${value}`);
  }
  t.ok(truth.decode >= (truth.completionTokens - 1) / 400 - 0.005, 'decode takes its time per token');
});

t.test("streaming chat: SSE chunks, a usage chunk with include_usage, vLLM's own metrics in the last chunk when enabled", async (t) => {
  const sim = await quietSimulator(t, { perRequestMetrics: true });
  const model = sim.api.models[0]!;
  const res = await post(`${sim.url}/v1/chat/completions`, {
    model,
    messages: [{ role: 'user', content: 'Stream me something.' }],
    max_tokens: 8,
    stream: true,
    stream_options: { include_usage: true },
    include_metrics: true,
  });
  t.equal(res.status, 200);
  t.match(res.headers['content-type'], /^text\/event-stream/);
  const events = sseEvents(res.text);
  t.equal(events.at(-1), '[DONE]');
  const chunks = events.slice(0, -1).map((e) => JSON.parse(e));
  const id = chunks[0].id;
  t.ok(
    chunks.every((c) => c.id === id && c.object === 'chat.completion.chunk'),
    'one id on every chunk',
  );
  const truth = sim.api.served.get(id)!;
  const content = chunks.filter((c) => c.choices[0]?.delta?.content).length;
  t.equal(content, truth.completionTokens, 'one content chunk per token');
  const usage = chunks.at(-1);
  t.same(usage.choices, [], 'the usage chunk has no choices');
  t.same(usage.usage, {
    prompt_tokens: truth.promptTokens,
    completion_tokens: truth.completionTokens,
    total_tokens: truth.promptTokens + truth.completionTokens,
  });
  t.ok(Math.abs(usage.metrics.time_to_first_token_ms - truth.ttft * 1000) < 1e-6, 'metrics.time_to_first_token_ms');
  t.ok(Math.abs(usage.metrics.generation_time_ms - truth.decode * 1000) < 1e-6, 'metrics.generation_time_ms');
  t.ok(Math.abs(usage.metrics.queue_time_ms - truth.queue * 1000) < 1e-6, 'metrics.queue_time_ms');
  t.equal(chunks.at(-2).choices[0].finish_reason, truth.finishReason);

  const plain = await post(`${sim.url}/v1/completions`, { model, prompt: 'Once upon a time', max_tokens: 3, stream: true });
  const plainChunks = sseEvents(plain.text)
    .slice(0, -1)
    .map((e) => JSON.parse(e));
  t.notOk(
    plainChunks.some((c) => 'usage' in c || 'metrics' in c),
    'no usage or metrics unless asked',
  );
  t.ok(plainChunks.every((c) => c.object === 'text_completion'));
  const nMany = JSON.parse((await post(`${sim.url}/v1/completions`, { model, prompt: 'x', max_tokens: 2, n: 2, include_metrics: true })).text);
  t.notOk('metrics' in nMany, 'left out where n > 1, as vLLM does');
});

t.test('a client that goes away mid-stream aborts the request: recorded as cancelled and counted as abort', async (t) => {
  const sim = await quietSimulator(t, { decodeTokensPerSecond: 50 });
  const before = await totals(sim);
  const controller = new AbortController();
  const res = await request(`${sim.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      model: sim.api.models[0],
      messages: [{ role: 'user', content: 'A long answer please, as long as you can make it.' }],
      max_tokens: 100,
      stream: true,
    }),
    signal: controller.signal,
  });
  // Read until the first token arrives, then hang up.
  for await (const chunk of res.body) {
    if (String(chunk).includes('tok0')) break;
  }
  controller.abort();
  const truth = await eventually('the cancel seen by the simulator', async () => [...sim.api.served.values()].find((r: ServedRequest) => r.cancelled));
  t.equal(truth.finishReason, 'abort');
  t.ok(truth.completionTokens < 100);
  const after = await totals(sim);
  t.equal((after.get('vllm:request_success_total{abort}') ?? 0) - (before.get('vllm:request_success_total{abort}') ?? 0), 1);
});

t.test('concurrency beyond --max-num-seqs waits in the queue, and its queue time shows it', async (t) => {
  const sim = await quietSimulator(t, { maxNumSeqs: 1, decodeTokensPerSecond: 100 });
  const model = sim.api.models[0]!;
  // Two engines, one sequence each: the third request waits for a slot.
  const answers = await Promise.all(
    [1, 2, 3].map((i) => post(`${sim.url}/v1/completions`, { model, prompt: `request ${i} with the same length`, max_tokens: 10 })),
  );
  const truths = answers.map((a) => sim.api.served.get(JSON.parse(a.text).id)!);
  const queued = truths.filter((r) => r.queue > 0.05);
  t.equal(queued.length, 1, 'one request waited');
  t.ok(
    queued[0]!.queue >= truths.find((r) => r.engine === queued[0]!.engine && r !== queued[0])!.e2e - 0.02,
    'for the whole of the other request on its engine',
  );
});

t.test('errors are OpenAI-shaped', async (t) => {
  const sim = await quietSimulator(t);
  const unknown = await post(`${sim.url}/v1/chat/completions`, { model: 'no-such-model', messages: [{ role: 'user', content: 'hi' }] });
  t.equal(unknown.status, 404);
  t.match(JSON.parse(unknown.text), { object: 'error', type: 'NotFoundError', code: 404 });
  const bad = await post(`${sim.url}/v1/chat/completions`, { model: sim.api.models[0], messages: [] });
  t.equal(bad.status, 400);
  t.match(JSON.parse(bad.text), { object: 'error', message: /messages/ });
});

/**
 * The official `openai` npm client against the API passthrough, as an application uses it
 * (`OPENAI_BASE_URL=http://proxy:9090/v1`): what the client gets is what vLLM (the simulator)
 * sent, streams included, and each call becomes one record that agrees with the client's view.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import t, { type Test } from 'tap';
import type { RequestRecord } from '../../src/requests/record.js';
import { startSimulator } from '../../src/simulator/start.js';
import { testProxy } from '../helpers/proxy.js';
import { eventually } from '../helpers/wait.js';

const API_KEY = 'sk-test-not-a-real-key';

async function setup(t: Test) {
  const sim = await startSimulator({ tickMs: 0, rate: 0, engines: 1 }, { host: '127.0.0.1', port: 0 }, undefined, {
    decodeTokensPerSecond: 300,
    prefillTokensPerSecond: 20_000,
  });
  const dir = mkdtempSync(join(tmpdir(), 'vmp-openai-'));
  const log = join(dir, 'requests.jsonl');
  const proxy = await testProxy(
    { url: `${sim.url}/metrics` },
    { api: { upstream: sim.url, timeoutMs: 10_000, requestUsage: false, requestLog: { path: log, maxBytes: 64 * 1024 * 1024 } } },
  );
  t.teardown(async () => {
    await proxy.close();
    await sim.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const records = () => {
    try {
      return readFileSync(log, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as RequestRecord);
    } catch {
      return [];
    }
  };
  const client = new OpenAI({ baseURL: `${proxy.url}/v1`, apiKey: API_KEY, maxRetries: 0 });
  return { sim, proxy, client, records, model: sim.api.models[0]!, log };
}

const recordOf = (records: () => RequestRecord[], id: string) => eventually(`the record of ${id}`, async () => records().find((r) => r.id === id));

t.test('models, a chat completion and a completion: the client gets vLLM’s answers, each call one record', async (t) => {
  const { client, records, model, sim, log } = await setup(t);
  const models = await client.models.list();
  t.same(
    models.data.map((m) => m.id),
    sim.api.models,
    'models.list through the proxy',
  );

  const chat = await client.chat.completions.create({ model, messages: [{ role: 'user', content: 'Hello through the proxy' }], max_tokens: 8 });
  t.equal(chat.object, 'chat.completion');
  t.ok(chat.choices[0]!.message.content, 'an answer');
  const truth = sim.api.served.get(chat.id)!;
  t.ok(truth, 'the simulator served exactly this request');
  t.equal(chat.usage!.completion_tokens, truth.completionTokens);
  const r = await recordOf(records, chat.id);
  t.match(r, {
    endpoint: '/v1/chat/completions',
    model,
    stream: false,
    status: 200,
    prompt_tokens: chat.usage!.prompt_tokens,
    completion_tokens: chat.usage!.completion_tokens,
  });

  const completion = await client.completions.create({ model, prompt: 'Once upon a time', max_tokens: 5 });
  t.equal(completion.object, 'text_completion');
  const rc = await recordOf(records, completion.id);
  t.match(rc, { endpoint: '/v1/completions', completion_tokens: completion.usage!.completion_tokens });
  t.notOk(readFileSync(log, 'utf8').includes(API_KEY), 'the API key is in no record');
});

t.test('a stream with include_usage: every chunk reaches the client, the record has its TTFT and the usage', async (t) => {
  const { client, records, model } = await setup(t);
  const stream = await client.chat.completions.create({
    model,
    messages: [{ role: 'user', content: 'Stream through the proxy' }],
    max_tokens: 12,
    stream: true,
    stream_options: { include_usage: true },
  });
  let text = '';
  let id = '';
  let usage: OpenAI.CompletionUsage | undefined;
  for await (const chunk of stream) {
    id = chunk.id;
    text += chunk.choices[0]?.delta.content ?? '';
    if (chunk.usage) usage = chunk.usage;
  }
  t.ok(text.length > 0, 'content arrived');
  t.ok(usage, 'the usage chunk arrived');
  const r = await recordOf(records, id);
  t.match(r, { stream: true, status: 200, completion_tokens: usage!.completion_tokens, tokens_source: 'usage' });
  t.ok(typeof r.ttft_ms === 'number' && r.ttft_ms >= 0, `TTFT ${r.ttft_ms} ms`);
});

t.test('an error reaches the client as vLLM sent it, and is recorded', async (t) => {
  const { client, records, sim } = await setup(t);
  const ask = (c: OpenAI) => c.chat.completions.create({ model: 'no/such-model', messages: [{ role: 'user', content: 'x' }] }).catch((e: unknown) => e);
  const through = await ask(client);
  const direct = await ask(new OpenAI({ baseURL: `${sim.url}/v1`, apiKey: API_KEY, maxRetries: 0 }));
  t.ok(through instanceof OpenAI.NotFoundError, 'the client raises NotFoundError');
  t.equal((through as InstanceType<typeof OpenAI.APIError>).status, 404);
  // vLLM's error body is {"object": "error", "message": ...}, which this client does not read
  // (it looks for {"error": {...}}): through the proxy it sees exactly what it sees directly.
  t.equal((through as Error).message, (direct as Error).message, 'the same error as from vLLM directly');
  await eventually('the error record', async () => records().find((r) => r.status === 404));
});

t.test('a client that stops reading mid-stream: the request is cancelled at vLLM and recorded as a client abort', async (t) => {
  const { client, records, model, sim } = await setup(t);
  const controller = new AbortController();
  const stream = await client.chat.completions.create(
    { model, messages: [{ role: 'user', content: 'A long answer, please' }], max_tokens: 2000, stream: true },
    { signal: controller.signal },
  );
  let id = '';
  let chunks = 0;
  // The client ends the iteration quietly once its signal aborts.
  for await (const chunk of stream) {
    id = chunk.id;
    if (++chunks === 2) controller.abort();
  }
  t.ok(chunks >= 2, `${chunks} chunks read before it stopped`);
  const r = await recordOf(records, id);
  t.equal(r.client_abort, true);
  t.ok(r.completion_tokens! < 2000, `cut short at ${r.completion_tokens} tokens`);
  await eventually('vLLM saw the cancel', async () => (sim.api.served.get(id)?.cancelled ? true : undefined));
});

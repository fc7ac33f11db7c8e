import t from 'tap';
import { parseExposition } from '../../src/exposition/parser.js';
import { renameNames, underscore } from '../helpers/oracle.js';
import { SERVER_HISTOGRAMS, SHARED_GAP_MS, ServerView, Snapshots, totalsByModel, type Totals } from '../../src/requests/server-view.js';
import { Simulator } from '../../src/simulator/simulator.js';

/** The same totals from the full parser, the slow and sure way. */
function parsed(text: string, format: 'prometheus' | 'openmetrics'): Map<string, Totals> {
  const out = new Map<string, Totals>();
  for (const f of parseExposition(text, format)) {
    const phase = Object.entries(SERVER_HISTOGRAMS).find(([, n]) => f.name === `vllm:${n}` || f.name === `vllm_${n}`)?.[0] as keyof Totals | undefined;
    if (!phase) continue;
    for (const s of f.samples) {
      const field = s.name.endsWith('_sum') ? 'sum' : s.name.endsWith('_count') ? 'count' : undefined;
      if (!field) continue;
      const model = s.labels.model_name ?? '';
      if (!out.has(model)) out.set(model, Object.fromEntries(Object.keys(SERVER_HISTOGRAMS).map((p) => [p, { sum: 0, count: 0 }])) as Totals);
      out.get(model)![phase][field] += s.value;
    }
  }
  return out;
}

t.test('the line scan finds what the parser finds: both formats, colon and sanitized names, many models and engines', async (t) => {
  const sim = new Simulator({ tickMs: 0, engines: 3, models: 2 }, 1_760_000_000);
  for (const [format, name] of [
    ['text', 'prometheus'],
    ['openmetrics', 'openmetrics'],
  ] as const) {
    const text = sim.exposition(format).toString();
    t.same(totalsByModel(text), parsed(text, name), `${format}`);
    const sanitized = renameNames(text, underscore);
    t.same(totalsByModel(sanitized), parsed(sanitized, name), `${format}, sanitized names`);
  }
  t.equal(totalsByModel(sim.exposition('text').toString()).size, 2, 'one entry per model');
});

t.test('the line scan on awkward lines: only the ten names, whole; labels, escapes, tabs, CRLF, no final newline', async (t) => {
  const text = [
    '# HELP vllm:e2e_request_latency_seconds_sum a comment naming a wanted series 99',
    'vllm:e2e_request_latency_seconds_bucket{le="+Inf",model_name="m"} 1000',
    'vllm:e2e_request_latency_seconds_sum_extra{model_name="m"} 1000',
    'xvllm:e2e_request_latency_seconds_sum{model_name="m"} 1000',
    'vllm:e2e_request_latency_seconds_sum{engine="0",model_name="m"} 1.5',
    'vllm:e2e_request_latency_seconds_sum{model_name="m",engine="1"}\t2.5\r',
    'vllm:e2e_request_latency_seconds_count{model_name="m",odd="} _sum{ 7"} 3 1760000000000',
    'vllm:time_to_first_token_seconds_count{model_name="quote \\" and \\\\ and \\n"} 4',
    'vllm_request_queue_time_seconds_sum 0.25',
    'vllm:request_decode_time_seconds_count{model_name="m"} NaN',
    'vllm:request_prefill_time_seconds_count{model_name="m"} 5',
  ].join('\n');
  const totals = totalsByModel(text);
  const of = (model: string) => totals.get(model);
  t.same(of('m')!.e2e, { sum: 4, count: 3 }, 'two engines added up; buckets, longer names, other prefixes and comments left alone');
  t.same(of('m')!.prefill, { sum: 0, count: 5 }, 'the last line, without a newline');
  t.same(of('m')!.decode, { sum: 0, count: 0 }, 'a value that is not a number adds nothing');
  t.same(of('quote " and \\ and \n')!.ttft, { sum: 0, count: 4 }, 'an escaped model name, unescaped');
  t.same(of('')!.queue, { sum: 0.25, count: 0 }, 'no labels: the model is ""');
  t.same(totalsByModel(Buffer.from(text)), totals, 'the same from the bytes');
  t.same(totalsByModel(new Uint8Array(Buffer.from(`padding\n${text}`)).subarray(8)), totals, 'and from a view into a larger buffer');
});

t.test('snapshots: concurrent callers share one fetch; a fetch started before a caller is not used for it', async (t) => {
  let release!: () => void;
  let fetches = 0;
  const snapshots = new Snapshots(async () => {
    fetches++;
    await new Promise<void>((r) => (release = r));
    return new Map();
  });
  const now = performance.now();
  const first = Array.from({ length: 50 }, () => snapshots.after(now));
  t.equal(fetches, 1, '50 callers, one fetch');
  const late = snapshots.after(performance.now() + 1);
  release();
  await Promise.all(first);
  await new Promise((r) => setImmediate(r));
  t.equal(fetches, 2, 'a caller later than the fetch in flight waits for a fresh one');
  release();
  await late;
  t.equal(snapshots.fetches, 2);
});

/** What a server that finished `finished` requests of model m, half a second each phase, reports. */
const totalsAfter = (finished: number) =>
  new Map([['m', Object.fromEntries(Object.keys(SERVER_HISTOGRAMS).map((p) => [p, { sum: finished * 0.5, count: finished }])) as Totals]]);

/** A server that counts finished requests as told, read through Snapshots. */
function countingServer() {
  let finished = 0;
  const snapshots = new Snapshots(async () => totalsAfter(finished));
  return { view: new ServerView(snapshots), snapshots, finish: () => finished++ };
}

t.test('one request after another: the next starts from the snapshot that settled the last, and each is still exact', async (t) => {
  const s = countingServer();
  for (let i = 0; i < 5; i++) {
    const a = s.view.begin();
    s.finish();
    const side = await s.view.end(a, 'm');
    t.equal(side.attribution, 'exact', `request ${i}`);
    t.equal(side.requests, 1);
  }
  t.equal(s.snapshots.fetches, 6, 'one fetch a request, and the first one’s before');
});

t.test('a request the server finished in the gap (past the proxy) makes the next one shared, not a wrong exact', async (t) => {
  const s = countingServer();
  const a = s.view.begin();
  s.finish();
  t.equal((await s.view.end(a, 'm')).attribution, 'exact');
  s.finish(); // someone else's, straight to vLLM
  const b = s.view.begin();
  s.finish();
  const side = await s.view.end(b, 'm');
  t.equal(side.attribution, 'shared');
  t.equal(side.requests, 2);
});

t.test('a request that ended beside another is not a starting point: the next one fetches its own', async (t) => {
  const s = countingServer();
  const [a, c] = [s.view.begin(), s.view.begin()];
  await new Promise((r) => setImmediate(r)); // both "before" snapshots read (the second waits for the first)
  s.finish();
  const endA = s.view.end(a, 'm');
  s.finish();
  const endC = s.view.end(c, 'm');
  await Promise.all([endA, endC]);
  const before = s.snapshots.fetches;
  const b = s.view.begin();
  t.equal(s.snapshots.fetches, before + 1, 'its own before');
  s.finish();
  t.equal((await s.view.end(b, 'm')).attribution, 'exact');
});

t.test('requests that overlap share snapshots: the "before" of one that starts beside another is the latest, its "after" waits out the gap', async (t) => {
  let finished = 0;
  const starts: number[] = [];
  const snapshots = new Snapshots(async () => {
    starts.push(performance.now());
    return totalsAfter(finished);
  });
  const view = new ServerView(snapshots);
  const a = view.begin();
  const others = Array.from({ length: 20 }, () => view.begin());
  t.equal(snapshots.fetches, 1, 'twenty requests beside the first start from its snapshot');
  for (let i = 0; i < 21; i++) finished++;
  const sides = await Promise.all([a, ...others].map((r) => view.end(r, 'm')));
  t.equal(snapshots.fetches, 2, 'and all twenty-one end on one more');
  // Less a millisecond: the gap is counted from just before the first fetch was called, these from inside it.
  t.ok(starts[1]! - starts[0]! >= SHARED_GAP_MS - 1, `the second fetch began ${SHARED_GAP_MS} ms or more after the first`);
  for (const side of sides) {
    t.equal(side.attribution, 'shared');
    t.equal(side.overlap, 20);
    t.equal(side.requests, 21, 'its window holds every request it overlapped, its own included');
  }
  // One that runs alone afterwards fetches at once, before and after, and is exact.
  const lone = view.begin();
  finished++;
  t.equal((await view.end(lone, 'm')).attribution, 'exact');
  t.equal(snapshots.fetches, 4);
});

t.test('a request beside another whose latest snapshot failed takes a fresh one', async (t) => {
  let fail = true;
  let finished = 0;
  const snapshots = new Snapshots(async () => {
    if (fail) throw new Error('refused');
    return totalsAfter(finished);
  });
  const view = new ServerView(snapshots);
  const b = view.begin(); // its "before" fetch fails
  fail = false;
  const c = view.begin(); // beside b: the latest snapshot is b's, which failed
  await new Promise((r) => setImmediate(r)); // c's own "before" read
  finished += 2;
  const [sideB, sideC] = await Promise.all([view.end(b, 'm'), view.end(c, 'm')]);
  t.match(sideB, { attribution: 'unavailable', error: 'refused' });
  t.match(sideC, { attribution: 'shared', requests: 2 }, 'c started from a fresh snapshot, not the failure');
});

t.test('overlap counts each other request whose time crossed this one, however they were staggered', async (t) => {
  const s = countingServer();
  const a = s.view.begin();
  const b = s.view.begin();
  s.finish();
  const endA = s.view.end(a, 'm'); // a saw b
  const c = s.view.begin(); // b sees a and c; c sees b
  s.finish();
  const endB = s.view.end(b, 'm');
  s.finish();
  const endC = s.view.end(c, 'm');
  const sides = await Promise.all([endA, endB, endC]);
  t.same(
    sides.map((x) => x.overlap),
    [1, 2, 1],
  );
});

/**
 * The merged answer's buffer is reused from round to round (fleet/answer-pool.ts), and
 * never while someone still reads it: a caller that has not said done, or a client whose
 * response is still being written.
 */
import { once } from 'node:events';
import { connect } from 'node:net';
import { Gauge, Registry, Counter } from 'prom-client';
import t from 'tap';
import { AnswerPool } from '../../src/fleet/answer-pool.js';
import { Fleet } from '../../src/fleet/fleet.js';
import { MergeIssueLog } from '../../src/fleet/issue-log.js';
import { TargetHealth } from '../../src/fleet/targets-scrape.js';
import { createLogger } from '../../src/logger.js';
import { TargetSet } from '../../src/targets/target-set.js';
import { fleetProxy } from '../helpers/fleet.js';
import { get, rawServer, type RawServer } from '../helpers/net.js';

t.test('the pool: a buffer given back is the next one taken, if it fits and is not far too large', async (t) => {
  const pool = new AnswerPool();
  const a = pool.take(1000);
  t.equal(a.length, 1000);
  const b = pool.take(1000);
  t.not(b.buffer, a.buffer, 'nothing given back: a fresh buffer');
  pool.give(a);
  const c = pool.take(1010);
  t.equal(c.buffer, a.buffer, 'given back: reused, with room for a slightly larger answer');
  t.equal(c.length, 1010);
  t.not(pool.take(1010).buffer, a.buffer, 'taken: not handed out twice');
  pool.give(c);
  t.not(pool.take(100_000).buffer, a.buffer, 'too small for the answer: a fresh one');
  const big = pool.take(1_000_000);
  pool.give(big);
  t.not(pool.take(10).buffer, big.buffer, 'far larger than needed: let go');
  const foreign = Buffer.from('shares the small-buffer pool').subarray(1);
  pool.give(foreign);
  t.not(pool.take(5).buffer, foreign.buffer, 'a view into memory that is not its own is never kept');
});

/** Targets whose every answer is `lines` samples of the round it is for (the target's hit count). */
async function countingTargets(n: number, lines: number): Promise<RawServer[]> {
  return Promise.all(
    Array.from({ length: n }, async () => {
      const server: RawServer = await rawServer((_req, res) => {
        const round = server.hits;
        const body = Buffer.from(`# TYPE round gauge\n${Array.from({ length: lines }, (_, i) => `round{i="${i}"} ${round}\n`).join('')}`);
        res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4', 'content-length': body.length });
        res.end(body);
      });
      return server;
    }),
  );
}

/** The `round` samples of a merged answer, by value (a line scan: the large answer has a million). */
function rounds(text: string): Map<number, number> {
  const out = new Map<number, number>();
  for (const line of text.split('\n')) {
    if (!line.startsWith('round{')) continue;
    const value = Number(line.slice(line.lastIndexOf(' ') + 1));
    out.set(value, (out.get(value) ?? 0) + 1);
  }
  return out;
}

t.test('the fleet: the last round answer is reused once every caller is done with it, not before', async (t) => {
  const servers = await countingTargets(2, 200);
  t.teardown(() => Promise.all(servers.map((s) => s.close())));
  const log = createLogger('silent');
  const registry = new Registry();
  const targets = new TargetSet({
    static: servers.map((s, i) => ({ name: `t${i}`, url: `${s.url}/metrics` })),
    upstream: { timeoutMs: 2_000, maxBodyBytes: 1024 * 1024 },
    log,
  });
  await targets.start();
  t.teardown(() => targets.close());
  const fleet = new Fleet({
    targets,
    label: 'instance',
    log,
    metrics: { targets: new Gauge({ name: 'targets', help: 'h', labelNames: ['state'], registers: [registry] }) },
    health: new TargetHealth(log),
    issues: new MergeIssueLog(log, { mergeIssues: new Counter({ name: 'issues', help: 'h', labelNames: ['kind'], registers: [registry] }) }),
  });

  // Two callers share round 1.
  const [first, second] = await Promise.all([fleet.scrape(2_000), fleet.scrape(2_000)]);
  t.equal(first.snapshot, second.snapshot, 'one round for both');
  const answer1 = Buffer.from(first.snapshot.body);
  t.same(rounds(answer1.toString()), new Map([[1, 400]]));
  first.done();
  first.done(); // twice: still one caller's hold
  const round2 = await fleet.scrape(2_000);
  t.not(round2.snapshot.body.buffer, first.snapshot.body.buffer, 'round 1 is still read by its second caller: not reused');
  t.same(second.snapshot.body, answer1, "round 1's answer unchanged under its reader");
  second.done();
  round2.done();
  const round3 = await fleet.scrape(2_000);
  t.ok(
    round3.snapshot.body.buffer === first.snapshot.body.buffer || round3.snapshot.body.buffer === round2.snapshot.body.buffer,
    'every caller done: an earlier answer buffer is reused',
  );
  t.same(rounds(round3.snapshot.body.toString()), new Map([[3, 400]]), 'and holds the new round, whole');
  // A caller that never says done (the poller keeps its latest) only costs fresh buffers.
  const round4 = await fleet.scrape(2_000);
  t.not(round4.snapshot.body.buffer, round3.snapshot.body.buffer);
  t.same(rounds(round3.snapshot.body.toString()), new Map([[3, 400]]), 'a kept answer is never overwritten');
});

t.test('over HTTP: a client still reading a large answer keeps it while later rounds run', async (t) => {
  // ~40 MB merged: more than loopback's socket buffers hold, so its write is still going on.
  const servers = await countingTargets(4, 300_000);
  t.teardown(() => Promise.all(servers.map((s) => s.close())));
  const proxy = await fleetProxy({ static: servers.map((s, i) => ({ name: `t${i}`, url: `${s.url}/metrics` })) }, {}, 30_000, {
    maxBodyBytes: 64 * 1024 * 1024,
  });
  t.teardown(() => proxy.close());

  // A slow client: asks, reads the first bytes, then stops reading.
  const { port, hostname } = new URL(proxy.url);
  const slow = connect(Number(port), hostname);
  await once(slow, 'connect');
  slow.write(`GET /metrics HTTP/1.1\r\nHost: ${hostname}\r\nConnection: close\r\n\r\n`);
  const chunks: Buffer[] = [await once(slow, 'data').then(([c]) => c as Buffer)];
  slow.pause();

  // Two more rounds, each read whole, while the slow client's answer is still being written.
  for (const round of [2, 3]) {
    const text = (await get(`${proxy.url}/metrics`)).body.toString();
    t.same(rounds(text), new Map([[round, 1_200_000]]), `round ${round}: its own values`);
  }
  const head = chunks[0]!.toString('latin1');
  const length = Number(/content-length: (\d+)/i.exec(head)?.[1]);
  const received = chunks[0]!.length - (head.indexOf('\r\n\r\n') + 4);
  t.ok(received < length, `the slow client had ${received} of ${length} bytes when the later rounds ended`);

  slow.on('data', (c: Buffer) => chunks.push(c));
  slow.resume();
  await once(slow, 'end');
  const whole = Buffer.concat(chunks).toString();
  const body = whole.slice(whole.indexOf('\r\n\r\n') + 4);
  t.equal(Buffer.byteLength(body), length, 'all of it');
  t.same(rounds(body), new Map([[1, 1_200_000]]), "round 1's answer, not a later round's written over it");
});

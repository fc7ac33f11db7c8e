/**
 * Scrape protection: concurrent client scrapes share one upstream fetch, in
 * the streaming single-upstream mode and in fleet mode; poll mode serves any
 * number of clients from memory.
 */
import type { ServerResponse } from 'node:http';
import { gunzipSync } from 'node:zlib';
import t from 'tap';
import { request } from 'undici';
import { fleetProxy, selfMetric } from '../helpers/fleet.js';
import { get, rawServer } from '../helpers/net.js';
import { JOIN_WINDOW_BYTES } from '../../src/server/routes/metrics.js';
import { testProxy } from '../helpers/proxy.js';
import { eventually } from '../helpers/wait.js';

/** A body of a few chunks, with names to sanitize in every part. */
const PART1 = '# HELP vllm:a first: part\n# TYPE vllm:a gauge\n' + Array.from({ length: 200 }, (_, i) => `vllm:a{engine="${i}"} ${i}\n`).join('');
const PART2 = '# TYPE vllm:b counter\n' + Array.from({ length: 200 }, (_, i) => `vllm:b{engine="${i}"} ${i * 2}\n`).join('');
const SANITIZED = (PART1 + PART2).replace(/^vllm:/gm, 'vllm_').replace(/^# (HELP|TYPE) vllm:/gm, '# $1 vllm_');

/** An upstream that sends the first part at once and the rest when the test says. */
async function heldUpstream() {
  const held: ServerResponse[] = [];
  const up = await rawServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' });
    res.write(PART1);
    held.push(res);
  });
  return {
    up,
    held,
    release() {
      for (const res of held.splice(0)) res.end(PART2);
    },
  };
}

t.test('50 concurrent scrapes of one upstream: one upstream request, 50 whole answers', async (t) => {
  const { up, held, release } = await heldUpstream();
  t.teardown(() => up.close());
  const proxy = await testProxy({ url: `${up.url}/metrics` });
  t.teardown(() => proxy.close());

  // A proxy that saw no overlap yet keeps no output for late joiners (a lone scraper's
  // case): of a first storm, those arriving after the first byte share a second fetch.
  const storm = async (first: boolean) => {
    const before = up.hits;
    const fetchesBefore = await selfMetric(proxy, 'vllm_metrics_proxy_upstream_fetches_total');
    const coalescedBefore = await selfMetric(proxy, 'vllm_metrics_proxy_coalesced_scrapes_total');
    const answers = Promise.all(Array.from({ length: 50 }, (_, i) => get(`${proxy.url}/metrics`, i % 2 ? { 'accept-encoding': 'gzip' } : {})));
    // Every client is waiting on the proxy.
    await eventually('50 scrapes in flight', async () => ((await selfMetric(proxy, 'vllm_metrics_proxy_scrapes_in_flight')) === 50 ? true : undefined));
    // Each scrape joined a fetch or opened one before it counted as in flight; the upstream
    // may not have seen the requests yet.
    const fetches = (await selfMetric(proxy, 'vllm_metrics_proxy_upstream_fetches_total')) - fetchesBefore;
    await eventually('the upstream requests arrived', async () => (up.hits - before === fetches ? true : undefined));
    if (first) t.ok(fetches >= 1 && fetches <= 2, `a first storm: ${fetches} upstream request(s)`);
    else t.equal(fetches, 1, 'once scrapes overlapped: one upstream request for all 50');
    t.equal(held.length, fetches);
    release();
    const done = await answers;
    for (const [i, res] of done.entries()) {
      t.equal(res.status, 200);
      const body = i % 2 ? gunzipSync(res.body).toString() : res.body.toString();
      if (body !== SANITIZED) t.fail(`answer ${i} differs from the sanitized body`);
    }
    t.pass('every answer is the whole sanitized body, joined early or late');
    t.equal(up.hits - before, fetches, 'no more upstream requests than that');
    t.equal((await selfMetric(proxy, 'vllm_metrics_proxy_coalesced_scrapes_total')) - coalescedBefore, 50 - fetches, 'the others shared them');
  };
  await storm(true);
  await storm(false);
  t.equal(await selfMetric(proxy, 'vllm_metrics_proxy_scrapes_total', 'outcome="ok"'), 100);

  // The fetch is over: the next scrape makes a fresh one.
  const hits = up.hits;
  const next = get(`${proxy.url}/metrics`);
  await eventually('another upstream request', async () => (up.hits === hits + 1 ? true : undefined));
  release();
  t.equal((await next).body.toString(), SANITIZED);
});

t.test('a client leaving a shared fetch does not cut the others; the last one leaving aborts it', async (t) => {
  const { up, release } = await heldUpstream();
  t.teardown(() => up.close());
  const proxy = await testProxy({ url: `${up.url}/metrics` });
  t.teardown(() => proxy.close());

  const quitter = new AbortController();
  const leaving = request(`${proxy.url}/metrics`, { signal: quitter.signal });
  const staying = get(`${proxy.url}/metrics`);
  await eventually('both in flight', async () => ((await selfMetric(proxy, 'vllm_metrics_proxy_scrapes_in_flight')) === 2 ? true : undefined));
  const res = await leaving;
  res.body.on('error', () => {});
  quitter.abort();
  await proxy.logs.waitFor((l) => l.event === 'client_abort');
  t.equal(up.aborted, 0, 'the upstream request goes on for the client still there');
  release();
  t.equal((await staying).body.toString(), SANITIZED, 'the other client gets the whole answer');

  // Now everyone leaves: the upstream request is aborted.
  const alone = new AbortController();
  const lone = await request(`${proxy.url}/metrics`, { signal: alone.signal });
  lone.body.on('error', () => {});
  alone.abort();
  await eventually('the upstream request aborted', async () => (up.aborted === 1 ? true : undefined));
  t.equal(await selfMetric(proxy, 'vllm_metrics_proxy_upstream_errors_total'), 0, 'clients leaving is not an upstream error');
});

t.test('an upstream failure reaches every client of the shared fetch once', async (t) => {
  const held: ServerResponse[] = [];
  const up = await rawServer((_req, res) => held.push(res));
  t.teardown(() => up.close());
  const proxy = await testProxy({ url: `${up.url}/metrics` });
  t.teardown(() => proxy.close());
  const answers = Promise.all(Array.from({ length: 10 }, () => get(`${proxy.url}/metrics`)));
  await eventually('10 in flight', async () => ((await selfMetric(proxy, 'vllm_metrics_proxy_scrapes_in_flight')) === 10 ? true : undefined));
  for (const res of held.splice(0)) res.writeHead(500).end('boom');
  for (const res of await answers) {
    t.equal(res.status, 502);
    t.equal(res.body.toString(), 'upstream answered HTTP 500\n');
  }
  t.equal(up.hits, 1);
  t.equal(proxy.logs.lines().filter((l) => l.event === 'scrape_failed').length, 1, 'one log line for the one failed fetch');
  t.equal(await selfMetric(proxy, 'vllm_metrics_proxy_upstream_errors_total', 'kind="status"'), 1);
  t.equal(await selfMetric(proxy, 'vllm_metrics_proxy_scrapes_total', 'outcome="error"'), 10, 'but every client scrape counted as failed');
});

t.test('--no-coalesce: every scrape its own upstream request', async (t) => {
  const { up, release } = await heldUpstream();
  t.teardown(() => up.close());
  const proxy = await testProxy({ url: `${up.url}/metrics` }, { coalesce: false });
  t.teardown(() => proxy.close());
  const answers = Promise.all(Array.from({ length: 10 }, () => get(`${proxy.url}/metrics`)));
  await eventually('10 upstream requests', async () => (up.hits === 10 ? true : undefined));
  release();
  for (const res of await answers) t.equal(res.body.toString(), SANITIZED);
  t.equal(await selfMetric(proxy, 'vllm_metrics_proxy_coalesced_scrapes_total'), 0);
});

t.test('fleet mode: 50 concurrent merged scrapes, one request per target', async (t) => {
  const a = await heldUpstream();
  const b = await heldUpstream();
  t.teardown(() => Promise.all([a.up.close(), b.up.close()]));
  const proxy = await fleetProxy({
    static: [
      { name: 'a', url: `${a.up.url}/metrics` },
      { name: 'b', url: `${b.up.url}/metrics` },
    ],
  });
  t.teardown(() => proxy.close());
  const answers = Promise.all(Array.from({ length: 50 }, () => get(`${proxy.url}/metrics`)));
  await eventually('50 scrapes in flight', async () => ((await selfMetric(proxy, 'vllm_metrics_proxy_scrapes_in_flight')) === 50 ? true : undefined));
  a.release();
  b.release();
  const bodies = new Set((await answers).map((r) => r.body.toString()));
  t.equal(bodies.size, 1, 'all 50 got the same merged answer');
  t.match([...bodies][0], /vllm_b\{instance="b",engine="199"\} 398\n/);
  t.same([a.up.hits, b.up.hits], [1, 1], 'each target was asked once');
});

t.test('a scrape arriving after the join window of a fetch has gone by starts its own (the replay is bounded)', async (t) => {
  const line = (i: number) => `vllm:big{i="${i}"} ${i}\n`;
  const head = Array.from({ length: Math.ceil((JOIN_WINDOW_BYTES * 1.5) / 20) }, (_, i) => line(i)).join('');
  const held: ServerResponse[] = [];
  const up = await rawServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
    res.write(head);
    held.push(res);
  });
  t.teardown(() => up.close());
  const proxy = await testProxy({ url: `${up.url}/metrics` });
  t.teardown(() => proxy.close());

  const first = await request(`${proxy.url}/metrics`);
  let got = 0;
  const firstBody = (async () => {
    const parts: Buffer[] = [];
    for await (const c of first.body) {
      parts.push(c as Buffer);
      got += (c as Buffer).length;
    }
    return Buffer.concat(parts).toString();
  })();
  await eventually('the first client past the window', async () => (got > JOIN_WINDOW_BYTES + 64 * 1024 ? true : undefined));
  const second = get(`${proxy.url}/metrics`);
  await eventually('a second upstream request', async () => (up.hits === 2 ? true : undefined));
  for (const res of held.splice(0)) res.end('vllm:end 1\n');
  const want = (head + 'vllm:end 1\n').replace(/^vllm:/gm, 'vllm_');
  t.equal(await firstBody, want);
  t.equal((await second).body.toString(), want);
  t.equal(await selfMetric(proxy, 'vllm_metrics_proxy_coalesced_scrapes_total'), 0);
});

t.test('a lone scraper’s fetch keeps no output: a scrape after its first byte opens its own, and the next ones share that', async (t) => {
  const { up, release } = await heldUpstream();
  t.teardown(() => up.close());
  const proxy = await testProxy({ url: `${up.url}/metrics` });
  t.teardown(() => proxy.close());
  const first = await request(`${proxy.url}/metrics`);
  const firstBody = first.body.text();
  await eventually('the first upstream request', async () => (up.hits === 1 ? true : undefined));
  // The first client has its first bytes (the status came with them): past the first output.
  const second = get(`${proxy.url}/metrics`);
  await eventually('a second upstream request: nothing was kept to replay', async () => (up.hits === 2 ? true : undefined));
  const third = get(`${proxy.url}/metrics`);
  await eventually('three in flight', async () => ((await selfMetric(proxy, 'vllm_metrics_proxy_scrapes_in_flight')) === 3 ? true : undefined));
  t.equal(up.hits, 2, 'the third shares the second fetch: scrapes overlapped, so it keeps its output');
  t.equal(await selfMetric(proxy, 'vllm_metrics_proxy_coalesced_scrapes_total'), 1);
  release();
  t.equal(await firstBody, SANITIZED);
  t.equal((await second).body.toString(), SANITIZED);
  t.equal((await third).body.toString(), SANITIZED);
});

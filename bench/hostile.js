// A normal scraper's latency while the proxy is attacked (docs/reliability.md): one client
// scraping the 8-engine simulator through the proxy for BENCH_SECONDS, alone, then with
// 1,000 slowloris connections dripping headers, 1,000 connections that never send a byte and
// 20 clients that never read their answer. Prints JSON: p50/p99 in ms, and the connections
// the proxy holds at the end of the attack. Defaults of serve throughout.
import { spawn } from 'node:child_process';
import { connect } from 'node:net';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { request } from 'undici';
import { loops } from './load.js';

const here = fileURLToPath(new URL('.', import.meta.url));
const CLI = join(here, '../dist/cli.js');
const SECONDS = Number(process.env.BENCH_SECONDS ?? 3) * 2;

function start(args) {
  const c = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve) => {
    let buf = '';
    c.stdout.on('data', (d) => {
      buf += d;
      const lines = buf.split('\n');
      buf = lines.pop();
      for (const l of lines) if (l.includes('"listening"')) resolve({ c, url: JSON.parse(l).url });
    });
  });
}

const sim = await start(['simulate', '--host', '127.0.0.1', '--port', '0', '--engines', '8', '--log-level', 'info']);
const proxy = await start(['serve', '--host', '127.0.0.1', '--port', '0', '--upstream', `${sim.url}/metrics`, '--log-level', 'info']);
const port = Number(new URL(proxy.url).port);
const scrape = async () => {
  const res = await request(`${proxy.url}/metrics`);
  await res.body.text();
  return res.statusCode === 200;
};
for (let i = 0; i < 50; i++) await scrape();
const alone = await loops(scrape, { seconds: SECONDS, connections: 1 });

const sockets = [];
const open = () => {
  const s = connect(port, '127.0.0.1');
  s.on('error', () => {});
  sockets.push(s);
  return s;
};
for (let i = 0; i < 1000; i++) open().write('GET /metrics HTTP/1.1\r\nHost: x\r\n');
const drip = setInterval(() => {
  for (let i = 0; i < 1000; i++) if (sockets[i].writable) sockets[i].write('x');
}, 1000);
for (let i = 0; i < 1000; i++) open();
for (let i = 0; i < 20; i++) {
  const s = open();
  s.pause();
  s.write('GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n');
}
const attacked = await loops(scrape, { seconds: SECONDS, connections: 1 });
const stillOpen = sockets.filter((s) => !s.destroyed && s.readyState === 'open').length;
clearInterval(drip);
for (const s of sockets) s.destroy();
proxy.c.kill('SIGKILL');
sim.c.kill('SIGKILL');
process.stdout.write(JSON.stringify({ seconds: SECONDS, alone, attacked, attackers: sockets.length, stillOpenAfter: stillOpen }));

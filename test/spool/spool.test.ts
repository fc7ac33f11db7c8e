/**
 * The spool on a real file system: order and headers kept across a reopen, a
 * writer killed with SIGKILL mid-run, files cut short or damaged, and a disk
 * that is full (a real tmpfs of 64 KiB, mounted for the test: root, as CI runs).
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import t from 'tap';
import { SpoolError } from '../../src/errors.js';
import { Spool } from '../../src/spool/spool.js';
import { captureLog } from '../helpers/net.js';
import { smallDisk } from '../helpers/tmpfs.js';

const dir = mkdtempSync(join(tmpdir(), 'vmp-spool-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

t.test('batches come back in order, with their headers, after a reopen; sequence numbers go on', async (t) => {
  const at = join(dir, 'order');
  const logs = captureLog('debug');
  const spool = await Spool.open({ dir: at, log: logs.log, what: 'test' });
  for (let i = 0; i < 5; i++) await spool.append(Buffer.from(`{"batch":${i}}`), i + 1, i % 2 ? { 'x-p-stream': `s${i}` } : {});
  await spool.remove(spool.index[1]!);
  await spool.close();
  const again = await Spool.open({ dir: at, log: logs.log, what: 'test' });
  t.same(
    again.index.map((b) => [b.points, b.headers]),
    [
      [1, {}],
      [3, {}],
      [4, { 'x-p-stream': 's3' }],
      [5, {}],
    ],
  );
  t.same(await Promise.all(again.index.map(async (b) => (await again.read(b)).toString())), ['{"batch":0}', '{"batch":2}', '{"batch":3}', '{"batch":4}']);
  t.equal(again.bytes, spool.bytes, 'the same bytes counted');
  const next = await again.append(Buffer.from('x'), 1, {});
  t.ok(next.seq > again.index[again.index.length - 2]!.seq, 'a new batch sorts after the old ones');
  t.same(logs.lines(), [], 'nothing to say');
  await again.close();
});

t.test('SIGKILL mid-run: every batch whose write was acknowledged is there and whole, and nothing else is left', async (t) => {
  const at = join(dir, 'killed');
  // A writer in a process of its own, appending as fast as it can and saying each acknowledged sequence number.
  const script = `
    import { Spool } from ${JSON.stringify(new URL('../../dist/spool/spool.js', import.meta.url).href)};
    import pino from 'pino';
    const spool = await Spool.open({ dir: ${JSON.stringify(at)}, log: pino({ level: 'silent' }), what: 'kill', lockStaleMs: 2000 });
    const body = Buffer.alloc(32 * 1024, 'x');
    for (;;) { const b = await spool.append(body, 1, {}); process.stdout.write(b.seq + '\\n'); }
  `;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
    stdio: ['ignore', 'pipe', 'inherit'],
    cwd: new URL('../..', import.meta.url),
  });
  const acked: number[] = [];
  const lines = createInterface({ input: child.stdout });
  await new Promise<void>((resolve) =>
    lines.on('line', (l) => {
      acked.push(Number(l));
      if (acked.length === 40) {
        child.kill('SIGKILL');
        resolve();
      }
    }),
  );
  await new Promise((resolve) => child.once('exit', resolve));
  const logs = captureLog('debug');
  // The killed writer's lock is left behind; it goes stale, and this open takes it over.
  t.ok(existsSync(`${at}.lock`), 'the killed writer left its lock');
  const spool = await Spool.open({ dir: at, log: logs.log, what: 'kill', lockStaleMs: 2000 });
  t.teardown(() => spool.close());
  const kept = new Set(spool.index.map((b) => b.seq));
  for (const seq of acked) t.ok(kept.has(seq), `batch ${seq} kept`);
  for (const b of spool.index) t.equal((await spool.read(b)).length, 32 * 1024, `batch ${b.seq} whole`);
  t.ok(spool.batches <= acked.length + 1, 'at most the batch being written besides');
  t.same(
    readdirSync(at).filter((f) => !f.endsWith('.batch')),
    [],
    'no temporary file left',
  );
});

t.test('a file cut short, or not a batch at all, is named once and skipped; the rest is kept', async (t) => {
  const at = join(dir, 'damaged');
  const logs = captureLog('debug');
  const spool = await Spool.open({ dir: at, log: logs.log, what: 'test' });
  for (let i = 0; i < 4; i++) await spool.append(Buffer.from(`body ${i} `.repeat(100)), 1, {});
  const [a, b, c, d] = spool.index.map((x) => x.file);
  truncateSync(join(at, b!), 50);
  writeFileSync(join(at, c!), 'garbage\n');
  await spool.close();
  const reopened = captureLog('debug');
  const again = await Spool.open({ dir: at, log: reopened.log, what: 'test' });
  t.teardown(() => again.close());
  t.same(
    again.index.map((x) => x.file),
    [a, d],
  );
  const skipped = reopened.lines().filter((l) => l.event === 'spool_file_skipped');
  t.same(
    skipped.map((l) => l.file),
    [b, c],
    'one line each, naming the file',
  );
  t.match(skipped[0]!.reason, /cut short/);
  t.match(skipped[1]!.reason, /not a spool batch/);
  t.same(readdirSync(at).sort(), [a, d], 'and they are gone, so the next start says nothing');

  // A body damaged in place (same size): found when it is read back.
  const file = join(at, d!);
  const bytes = readFileSync(file);
  bytes[bytes.length - 3] ^= 0xff;
  writeFileSync(file, bytes);
  await t.rejects(again.read(again.index[1]!), { code: 'VMP_SPOOL', message: /checksum/ });
  t.equal((await again.read(again.index[0]!)).toString(), 'body 0 '.repeat(100));
});

t.test('a full disk: the write fails with diskFull, leaves nothing behind, and what was written stays readable', async (t) => {
  const at = join(dir, 'full');
  smallDisk(t, at, '64k');
  const logs = captureLog('debug');
  const spool = await Spool.open({ dir: at, log: logs.log, what: 'test' });
  const body = Buffer.alloc(20 * 1024, 'y');
  let error: unknown;
  for (let i = 0; i < 10 && !error; i++) await spool.append(body, 1, {}).catch((e: unknown) => (error = e));
  t.ok(error instanceof SpoolError, 'a SpoolError');
  t.equal((error as SpoolError).diskFull, true);
  t.match((error as Error).message, /the disk is full/);
  t.ok(spool.batches >= 1, `${spool.batches} batches written before`);
  t.same(
    readdirSync(at).filter((f) => !f.endsWith('.batch')),
    [],
    'no partial file',
  );
  await spool.close();
  const again = await Spool.open({ dir: at, log: logs.log, what: 'test' });
  t.teardown(() => again.close());
  t.equal(again.batches, spool.batches);
  for (const b of again.index) t.equal((await again.read(b)).length, body.length);
});

t.test('one process at a time: a second open is refused, naming the directory; once the first lets go it opens', async (t) => {
  const at = join(dir, 'locked');
  const logs = captureLog('debug');
  const first = await Spool.open({ dir: at, log: logs.log, what: 'test', lockStaleMs: 2000 });
  await first.append(Buffer.from('kept'), 1, {});
  // In another process, as a second proxy on the same --spool-dir would be.
  const script = `
    import { Spool } from ${JSON.stringify(new URL('../../dist/spool/spool.js', import.meta.url).href)};
    import pino from 'pino';
    try { await Spool.open({ dir: ${JSON.stringify(at)}, log: pino({ level: 'silent' }), what: 'second', lockStaleMs: 2000 }); console.log('opened'); }
    catch (err) { console.log(err.message); }
  `;
  const second = () =>
    new Promise<string>((resolve) => {
      const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
        stdio: ['ignore', 'pipe', 'inherit'],
        cwd: new URL('../..', import.meta.url),
      });
      let out = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      child.once('exit', () => resolve(out.trim()));
    });
  const refused = await second();
  t.match(
    refused,
    new RegExp(`^${at.replace(/[/.]/g, '\\$&')}: in use by another process \\(it holds .*locked\\.lock\\); give each proxy its own --spool-dir$`),
    refused,
  );
  t.equal(first.batches, 1, 'the holder is untouched');
  t.equal((await first.read(first.index[0]!)).toString(), 'kept');
  await first.close();
  t.notOk(existsSync(`${at}.lock`), 'closing lets go of the lock');
  t.equal(await second(), 'opened', 'then another process opens it');
});

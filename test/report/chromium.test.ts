/**
 * The report as a user opens it: written by the command, loaded in headless
 * Chromium (Debian's), with no network, no console errors, every chart drawn,
 * and both runs drawn in compare mode; a screenshot is kept of each.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { postprocessFile } from '../../src/collect/postprocess-file.js';
import { CHARTS } from '../../src/report/run.js';
import { buildRecord } from '../../src/requests/record.js';
import { JsonlStore } from '../../src/store/jsonl.js';
import { SqliteStore } from '../../src/store/sqlite.js';
import type { Store } from '../../src/store/store.js';
import { launchChromium, openReport, pixelsOfColor } from '../helpers/chromium.js';
import { runCliAsync } from '../helpers/cli.js';
import { rounds } from '../helpers/rounds.js';

const dir = mkdtempSync(join(tmpdir(), 'vmp-report-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

async function write(store: Store, seed: number, rate: number): Promise<string> {
  for (const r of rounds(8, seed, rate)) await store.write(r);
  await store.close();
  return store.location;
}

const BLUE: [number, number, number] = [0x1f, 0x77, 0xb4];
const RED: [number, number, number] = [0xd6, 0x27, 0x28];
const PNG = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

t.test('report and compare, opened in Chromium', async (t) => {
  // Run A raw, run B at three times the load and post-processed already: the report takes either.
  const a = await write(new JsonlStore(join(dir, 'baseline.jsonl')), 1, 2);
  const b = await write(new SqliteStore(join(dir, 'busy.sqlite')), 5, 6);
  await postprocessFile(b);

  const single = await runCliAsync(['report', a]);
  t.equal(single.status, 0, single.stderr);
  t.match(single.stdout, /report written to .*baseline\.html/);
  const compared = join(dir, 'compare.html');
  const both = await runCliAsync(['report', a, '--compare', b, '--output', compared]);
  t.equal(both.status, 0, both.stderr);

  const missing = await runCliAsync(['report', a, '--compare', join(dir, 'gone.sqlite')]);
  t.equal(missing.status, 1, 'a second run that is not there: exit 1');
  t.match(missing.stderr, /error: .*gone\.sqlite: no such file/);
  t.notOk(existsSync(join(dir, 'baseline-vs-gone.html')), 'and no half report');

  const browser = await launchChromium();
  t.teardown(() => browser.close());
  const one = await openReport(browser, join(dir, 'baseline.html'));
  const two = await openReport(browser, compared);
  for (const [name, p] of [
    ['single', one],
    ['compare', two],
  ] as const) {
    t.same(p.problems, [], `${name}: no console errors or exceptions`);
    t.same(
      p.requests.filter((u) => !u.startsWith('file:')),
      [],
      `${name}: nothing fetched beyond the file`,
    );
    t.equal(p.charts, CHARTS.length, `${name}: every chart drawn (the simulator serves every signal)`);
    const shot = join(dir, `${name}.png`);
    await p.page.screenshot({ path: shot, fullPage: true });
    const png = readFileSync(shot);
    t.same(png.subarray(0, 8), PNG, `${name}: screenshot taken`);
    t.ok(png.length > 50_000, `${name}: and it is not blank (${png.length} bytes)`);
  }

  for (const c of CHARTS) t.ok((await pixelsOfColor(one.page, c.id, BLUE)) > 200, `${c.id}: its first series is drawn`);
  const legend = await two.page.$$eval('#chart-tokens .u-legend .u-series th', (ths) => ths.map((th) => th.textContent));
  t.same(legend, ['seconds since start', 'A: prompt', 'A: generation', 'B: prompt', 'B: generation'], 'compare mode: both runs in the legend');
  const drawnOne = await pixelsOfColor(one.page, 'tokens', BLUE);
  const drawnTwo = await pixelsOfColor(two.page, 'tokens', BLUE);
  t.ok(drawnTwo > drawnOne * 1.3, `compare mode draws both runs' lines (${drawnTwo} pixels of the first series' colour against ${drawnOne} for one run)`);
  const table = await two.page.$$eval('table.summary tr', (trs) => trs.map((tr) => [...tr.children].map((c) => c.textContent)));
  t.same(table[0], ['', 'A', 'B', 'B vs A']);
  const generation = table.find((r) => r[0] === 'Generation tokens')!;
  t.match(generation[3], /^\+\d/, 'three times the load generates more tokens, and the table says by how much');
});

t.test('report --requests: a per-request section, the scatter and the histogram drawn in Chromium', async (t) => {
  const a = await write(new JsonlStore(join(dir, 'with-requests.jsonl')), 2, 2);
  const log = join(dir, 'requests.jsonl');
  const t0 = Date.UTC(2026, 11, 1, 12, 0, 0);
  const records = Array.from({ length: 60 }, (_, i) => ({
    ...buildRecord({
      startedAt: 0,
      startTime: new Date(t0 + i * 500),
      endedAt: 200 + (i % 10) * 40,
      endpoint: '/v1/chat/completions',
      stream: true,
      status: 200,
      generatedId: `r${i}`,
      clientAbort: false,
    }),
    ttft_ms: 20 + (i % 7) * 5,
    completion_tokens: 32,
  }));
  writeFileSync(log, records.map((r) => `${JSON.stringify(r)}\n`).join(''));
  const out = join(dir, 'with-requests.html');
  const r = await runCliAsync(['report', a, '--requests', log, '--output', out]);
  t.equal(r.status, 0, r.stderr);
  const browser = await launchChromium();
  t.teardown(() => browser.close());
  const p = await openReport(browser, out);
  t.same(p.problems, [], 'no console errors or exceptions');
  t.equal(p.charts, CHARTS.length + 2, 'the two request charts drawn beside the others');
  t.ok((await pixelsOfColor(p.page, 'requests-scatter', BLUE)) > 100, 'TTFT points drawn');
  t.ok((await pixelsOfColor(p.page, 'requests-histogram', RED)) > 300, 'the e2e histogram drawn');
  const rows = await p.page.$$eval('#requests + p + table tr', (trs) => trs.map((tr) => [...tr.children].map((c) => c.textContent)));
  t.same(rows[0], ['requests', '60 (60 ok, 0 errors, 0 aborted by the client)']);
  t.match(rows.find((x) => x[0]!.startsWith('TTFT'))![1], /^\d+\.\d ms \/ \d+\.\d ms \/ \d+\.\d ms$/);
  const shot = process.env.REPORT_SHOT ?? join(dir, 'requests.png');
  await p.page.screenshot({ path: shot, fullPage: true });
  t.same(readFileSync(shot).subarray(0, 8), PNG);
});

import t from 'tap';
import { formatDuration, parseBytes, parseDuration } from '../src/units.js';

t.test('durations take Prometheus units and bare seconds', async (t) => {
  const cases: Array<[string, number]> = [
    ['500ms', 500],
    ['2s', 2000],
    ['1m', 60_000],
    ['1m30s', 90_000],
    ['1h', 3_600_000],
    ['10', 10_000],
    ['0.5', 500],
    ['1.5s', 1500],
    [' 2s ', 2000],
  ];
  for (const [text, ms] of cases) t.equal(parseDuration(text), ms, text);
  for (const bad of ['', 'abc', '10x', '1 m', 's', '-1s', '1m-5s']) t.throws(() => parseDuration(bad), /duration/, JSON.stringify(bad));
});

t.test('durations format back to the shortest unit', async (t) => {
  t.equal(formatDuration(500), '500ms');
  t.equal(formatDuration(2000), '2s');
  t.equal(formatDuration(90_000), '90s');
  t.equal(formatDuration(120_000), '2m');
  t.equal(formatDuration(1500), '1500ms');
});

t.test('sizes take bytes and binary or decimal units', async (t) => {
  t.equal(parseBytes('65536'), 65536);
  t.equal(parseBytes('64KiB'), 64 * 1024);
  t.equal(parseBytes('64MiB'), 64 * 1024 * 1024);
  t.equal(parseBytes('1GB'), 1e9);
  t.equal(parseBytes('1.5k'), 1500);
  t.equal(parseBytes('2mib'), 2 * 1024 * 1024);
  for (const bad of ['', 'MiB', '10 parsecs', '-5', '1e9']) t.throws(() => parseBytes(bad), /size/, JSON.stringify(bad));
});

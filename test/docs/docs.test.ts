/**
 * The docs that tests keep true: every error code, every `serve` flag and every
 * self-metric has its row; every relative link in the Markdown points to a file
 * (and heading) that exists; CONTRIBUTING.md's layers are the lint rule's.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import t from 'tap';
import { SelfMetrics, SELF_PREFIX } from '../../src/server/self-metrics.js';
import { CLI } from '../helpers/cli.js';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const read = (path: string) => readFileSync(join(REPO, path), 'utf8');

function files(dir: string, ending: string): string[] {
  return readdirSync(join(REPO, dir), { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return e.name === 'node_modules' || e.name === 'fixtures' ? [] : files(path, ending);
    return e.name.endsWith(ending) ? [path] : [];
  });
}

/** The lines of a Markdown section: from its heading to the next heading of the same or a higher level. */
function section(markdown: string, heading: string): string[] {
  const lines = markdown.split('\n');
  const start = lines.findIndex((l) => l.replace(/^#+ /, '') === heading);
  if (start < 0) throw new Error(`no heading "${heading}"`);
  const level = lines[start]!.match(/^#+/)![0].length;
  const end = lines.findIndex((l, i) => i > start && /^#+ /.test(l) && l.match(/^#+/)![0].length <= level);
  return lines.slice(start + 1, end < 0 ? undefined : end);
}

/** The backticked tokens of a table's first column. */
const firstColumns = (lines: string[]) =>
  lines.filter((l) => l.startsWith('| `')).flatMap((l) => [...l.split('|')[1]!.matchAll(/`([^`]+)`/g)].map((m) => m[1]!));

t.test('every error code in the source is in docs/errors.md', async (t) => {
  const codes = new Set(files('src', '.ts').flatMap((f) => [...read(f).matchAll(/'(VMP_[A-Z_]+)'/g)].map((m) => m[1]!)));
  t.ok(codes.size >= 15, `${codes.size} codes found`);
  const documented = new Set(firstColumns(read('docs/errors.md').split('\n')));
  for (const code of codes) t.ok(documented.has(code), `${code} has its row`);
  for (const code of documented) if (code.startsWith('VMP_')) t.ok(codes.has(code), `${code} (documented) exists`);
});

t.test('every flag of serve --help is in docs/serve.md, and every flag there exists', async (t) => {
  const help = spawnSync(process.execPath, [CLI, 'serve', '--help'], { encoding: 'utf8' });
  t.equal(help.status, 0);
  const flags = new Set([...help.stdout.matchAll(/^\s+(?:-\w, )?(--[a-z][a-z0-9-]*)/gm)].map((m) => m[1]!).filter((f) => f !== '--help'));
  t.ok(flags.size > 50, `${flags.size} flags in --help`);
  const documented = new Set(firstColumns(section(read('docs/serve.md'), 'Flags')).map((cell) => cell.split(' ')[0]!));
  for (const flag of flags) t.ok(documented.has(flag), `${flag} has its row`);
  for (const flag of documented) if (flag.startsWith('--')) t.ok(flags.has(flag), `${flag} (documented) is a flag of serve`);
});

t.test('every self-metric is in docs/self-metrics.md, and every one there exists', async (t) => {
  const metrics = new SelfMetrics({ processMetrics: false });
  const names = (await metrics.registry.getMetricsAsJSON()).map((m) => m.name.slice(SELF_PREFIX.length));
  t.ok(names.length > 30, `${names.length} self-metrics registered`);
  const documented = new Set(firstColumns(read('docs/self-metrics.md').split('\n')).map((cell) => cell.replace(/\{.*$/, '')));
  for (const name of names) t.ok(documented.has(name), `${name} has its row`);
  for (const name of documented) t.ok(names.includes(name), `${name} (documented) is registered`);
});

/** GitHub's heading anchors: lower case, punctuation out, spaces to hyphens. */
const slug = (heading: string) =>
  heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s-]/gu, '')
    .replace(/\s/g, '-');

function anchors(markdown: string): Set<string> {
  const out = new Set<string>();
  let fence = false;
  for (const line of markdown.split('\n')) {
    if (line.startsWith('```')) fence = !fence;
    else if (!fence && /^#+ /.test(line)) out.add(slug(line.replace(/^#+ /, '')));
  }
  return out;
}

t.test('every relative link in the Markdown points to a file and heading that exist', async (t) => {
  const docs = ['README.md', 'DESIGN.md', 'CONTRIBUTING.md', 'bench/README.md', ...files('docs', '.md')];
  let count = 0;
  for (const doc of docs) {
    const text = read(doc).replace(/```[\s\S]*?```/g, '');
    for (const [, target] of text.matchAll(/\]\(([^)\s]+)\)/g)) {
      if (/^[a-z]+:/.test(target!)) continue;
      count++;
      const [path, anchor] = target!.split('#') as [string, string | undefined];
      const file = path === '' ? join(REPO, doc) : resolve(dirname(join(REPO, doc)), path);
      const where = `${doc} → ${target}`;
      if (!existsSync(file)) {
        t.fail(`${where}: no such file`);
        continue;
      }
      if (anchor && statSync(file).isFile() && file.endsWith('.md')) t.ok(anchors(readFileSync(file, 'utf8')).has(anchor), `${where}: heading exists`);
      else t.pass(`${where} (${relative(REPO, file) || '.'})`);
    }
  }
  t.ok(count > 40, `${count} links checked`);
});

t.test("CONTRIBUTING.md's layers are the lint rule's", async (t) => {
  const config = (await import(pathToFileURL(join(REPO, 'eslint.config.js')).href)) as { LAYERS: string[][] };
  const rows = section(read('CONTRIBUTING.md'), 'Layers').filter((l) => /^\| \d+ \|/.test(l));
  const table = rows.map((l) => [...l.split('|')[2]!.matchAll(/`([^`]+)`/g)].map((m) => m[1]!));
  t.same(table, config.LAYERS);
  // Every folder of src/ is in some layer, so the rule covers the whole tree.
  const folders = readdirSync(join(REPO, 'src'), { withFileTypes: true })
    .filter((e) => e.isDirectory())
    .map((e) => e.name);
  for (const folder of folders) t.ok(config.LAYERS.flat().includes(folder), `src/${folder}/ has a layer`);
});

t.test('the README is a front door', async (t) => {
  const readme = read('README.md');
  t.ok(readme.split('\n').length <= 200, `${readme.split('\n').length} lines`);
  t.match(readme, /npm ci && npm run demo/);
  t.match(readme, /npm run setup && npm test/);
});

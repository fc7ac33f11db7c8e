import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { ConfigError } from '../../src/errors.js';
import { dnsResolver, parseDiscoverUrl, resolveTargets } from '../../src/targets/dns.js';
import { parseTargetsText, readTargetsFile } from '../../src/targets/file.js';
import { checkUniqueNames, parseTargetSpec } from '../../src/targets/spec.js';
import { startDns } from '../helpers/dns.js';

t.test('name=url or a bare url named by its host:port', async (t) => {
  t.same(parseTargetSpec('http://10.0.0.5:8000/metrics', '--upstream'), { name: '10.0.0.5:8000', url: 'http://10.0.0.5:8000/metrics' });
  t.same(parseTargetSpec(' gpu-a = http://10.0.0.5:8000/metrics ', '--upstream'), { name: 'gpu-a', url: 'http://10.0.0.5:8000/metrics' });
  t.same(parseTargetSpec('http://h:8000/metrics?x=1', '--upstream'), { name: 'h:8000', url: 'http://h:8000/metrics?x=1' }, 'an = in the query is not a name');
  t.same(parseTargetSpec('a=http://h/metrics?x=1', '--upstream'), { name: 'a', url: 'http://h/metrics?x=1' });
  t.throws(() => parseTargetSpec('=http://h/metrics', '--upstream'), /--upstream: .*not a URL|empty/);
  t.throws(() => parseTargetSpec('gpu=ftp://h/metrics', '--upstream'), /--upstream: unsupported scheme ftp:/);
  const err = t.throws(() => parseTargetSpec('a=http://user:secret@/metrics', '--upstream')) as Error;
  t.notMatch(err.message, /secret/, 'a password never reaches the message');
  t.throws(
    () =>
      checkUniqueNames(
        [
          { name: 'a', url: 'http://x' },
          { name: 'a', url: 'http://y' },
        ],
        '--upstream',
      ),
    /two targets are named "a"/,
  );
});

t.test('targets files: YAML or JSON, list or {targets}, strings or {name, url}', async (t) => {
  const yaml = `targets:\n  - http://10.0.0.5:8000/metrics\n  - gpu-b=http://10.0.0.6:8000/metrics\n  - { name: gpu-c, url: "http://10.0.0.7:8000/metrics" }\n`;
  t.same(parseTargetsText(yaml, 'f'), [
    { name: '10.0.0.5:8000', url: 'http://10.0.0.5:8000/metrics' },
    { name: 'gpu-b', url: 'http://10.0.0.6:8000/metrics' },
    { name: 'gpu-c', url: 'http://10.0.0.7:8000/metrics' },
  ]);
  t.same(parseTargetsText('[{"url": "http://a:1/metrics"}, "b=http://b:2/metrics"]', 'f'), [
    { name: 'a:1', url: 'http://a:1/metrics' },
    { name: 'b', url: 'http://b:2/metrics' },
  ]);
  t.same(parseTargetsText('', 'f'), [], 'an empty file: no targets');
  t.same(parseTargetsText('targets: []', 'f'), []);
  t.same(parseTargetsText('targets:', 'f'), []);
  const bad: Array<[string, RegExp]> = [
    ['targets: [', /f: not YAML or JSON/],
    ['target: []', /expected a list of targets/],
    ['42', /expected a list of targets/],
    ['- 42', /f \(entry 1\): expected "name=url", a URL, or \{name, url\}/],
    ['- {name: 3, url: "http://a/metrics"}', /entry 1\): "name" must be a string/],
    ['- a=http://x/metrics\n- a=http://y/metrics', /two targets are named "a"/],
    ['- http://x/metrics\n- vllm:8000', /entry 2\): unsupported scheme vllm:/],
  ];
  for (const [text, re] of bad) {
    const err = t.throws(() => parseTargetsText(text, 'f'), re, JSON.stringify(text));
    t.type(err, ConfigError);
  }
  const dir = await mkdtemp(join(tmpdir(), 'vmp-targets-'));
  await writeFile(join(dir, 't.json'), '["http://a:1/metrics"]');
  t.same(await readTargetsFile(join(dir, 't.json')), [{ name: 'a:1', url: 'http://a:1/metrics' }]);
  await t.rejects(readTargetsFile(join(dir, 'missing.yaml')), /--targets-file: cannot read .*missing.yaml/);
});

t.test('discovery URLs', async (t) => {
  t.same(parseDiscoverUrl('dns://vllm.ns.svc:8001/metrics'), { host: 'vllm.ns.svc', port: 8001, path: '/metrics', display: 'dns://vllm.ns.svc:8001/metrics' });
  t.same(parseDiscoverUrl('dns://vllm'), { host: 'vllm', port: 8000, path: '/metrics', display: 'dns://vllm/metrics' }, "vLLM's port and path by default");
  t.throws(() => parseDiscoverUrl('http://vllm:8000/metrics'), /--discover: unsupported scheme http:/);
  t.throws(() => parseDiscoverUrl('dns://u:p@vllm/metrics'), /--discover: credentials do not belong/);
  t.throws(() => parseDiscoverUrl('vllm'), /--discover: "vllm" is not a URL/);
});

t.test('DNS: every A and AAAA record, sorted; empty names are empty; resolver failures reject', async (t) => {
  const dns = await startDns();
  t.teardown(() => dns.close());
  const resolver = dnsResolver(dns.server);
  const d = parseDiscoverUrl('dns://vllm.test:8000/metrics');
  dns.records.set('vllm.test', { a: ['10.0.0.9', '10.0.0.2'], aaaa: ['fd00::1'] });
  t.same(await resolveTargets(d, resolver), [
    { name: '10.0.0.2:8000', url: 'http://10.0.0.2:8000/metrics' },
    { name: '10.0.0.9:8000', url: 'http://10.0.0.9:8000/metrics' },
    { name: '[fd00::1]:8000', url: 'http://[fd00::1]:8000/metrics' },
  ]);
  dns.records.set('vllm.test', { a: ['10.0.0.2'] });
  t.same(await resolveTargets(d, resolver), [{ name: '10.0.0.2:8000', url: 'http://10.0.0.2:8000/metrics' }], 'no AAAA records: only the A ones');
  dns.records.delete('vllm.test');
  t.same(await resolveTargets(d, resolver), [], 'NXDOMAIN: no targets');
  dns.failing = true;
  await t.rejects(resolveTargets(d, resolver), { code: 'ESERVFAIL' }, 'a failing resolver is an error, not an empty fleet');
  t.same(
    await resolveTargets(parseDiscoverUrl('dns://127.0.0.1:9/m'), resolver),
    [{ name: '127.0.0.1:9', url: 'http://127.0.0.1:9/m' }],
    'an address needs no lookup',
  );
});

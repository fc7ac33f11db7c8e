import t from 'tap';
import { ConfigError } from '../../src/errors.js';
import { parseUpstream } from '../../src/upstream/target.js';

t.test('plain URL: no authorization', async (t) => {
  const u = parseUpstream('http://vllm:8000/metrics');
  t.equal(u.url.href, 'http://vllm:8000/metrics');
  t.equal(u.display, 'http://vllm:8000/metrics');
  t.equal(u.authorization, undefined);
});

t.test('user info becomes basic auth and leaves the URL and its display', async (t) => {
  const u = parseUpstream('https://ops:s%3Acret@vllm:8443/metrics?x=1');
  t.equal(u.url.href, 'https://vllm:8443/metrics?x=1');
  t.equal(u.authorization, `Basic ${Buffer.from('ops:s:cret').toString('base64')}`);
  t.notMatch(u.display, /s%3Acret|s:cret|ops/);
  t.match(u.display, /\*\*\*@vllm:8443/);
});

t.test('a token becomes a bearer header', async (t) => {
  t.equal(parseUpstream('http://vllm:8000/metrics', 'tok').authorization, 'Bearer tok');
});

t.test('bad input names the flag and never echoes a password', async (t) => {
  const errorOf = (fn: () => unknown) => {
    try {
      fn();
    } catch (err) {
      return err as ConfigError;
    }
    throw new Error('did not throw');
  };
  const notUrl = errorOf(() => parseUpstream('http//user:hunter2@vllm', undefined, '--upstream'));
  t.type(notUrl, ConfigError);
  t.match(notUrl.message, /^--upstream: /);
  t.notMatch(notUrl.message, /hunter2/);
  t.match(errorOf(() => parseUpstream('ftp://vllm/metrics')).message, /unsupported scheme ftp:/);
  const both = errorOf(() => parseUpstream('http://a:b@vllm/metrics', 'tok'));
  t.match(both.message, /exclusive/);
});

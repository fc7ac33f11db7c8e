import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { get } from '../helpers/net.js';
import { selfSigned } from '../helpers/tls.js';
import { testProxy } from '../helpers/proxy.js';

t.test('upstream TLS: verified by default, --ca-file trusts, --insecure is explicit and logged', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'vmp-tls-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const { key, cert, certFile } = selfSigned(dir);
  const server = createServer({ key, cert }, (_req, res) => res.writeHead(200, { 'content-type': 'text/plain' }).end('vllm:x 1\n'));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.teardown(() => server.close());
  const url = `https://127.0.0.1:${(server.address() as AddressInfo).port}/metrics`;

  const strict = await testProxy({ url });
  t.teardown(() => strict.close());
  const refused = await get(`${strict.url}/metrics`);
  t.equal(refused.status, 502);
  t.match(refused.body.toString(), /^upstream TLS verification failed: (DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN)/);
  await strict.logs.waitFor((l) => l.event === 'scrape_failed' && l.kind === 'tls');
  t.notOk(strict.logs.lines().some((l) => l.event === 'tls_verification_off'));

  const trusted = await testProxy({ url, caFile: certFile });
  t.teardown(() => trusted.close());
  const ok = await get(`${trusted.url}/metrics`);
  t.equal(ok.status, 200);
  t.equal(ok.body.toString(), 'vllm_x 1\n');

  const insecure = await testProxy({ url, insecure: true });
  t.teardown(() => insecure.close());
  t.equal((await get(`${insecure.url}/metrics`)).status, 200);
  t.match(
    insecure.logs.lines().find((l) => l.event === 'tls_verification_off'),
    { level: 40 },
  );
});

t.test('an unreadable --ca-file is a configuration error naming the flag', async (t) => {
  await t.rejects(testProxy({ url: 'https://127.0.0.1:1/metrics', caFile: '/nonexistent/ca.pem' }), {
    message: /^--ca-file: cannot read \/nonexistent\/ca.pem/,
  });
});

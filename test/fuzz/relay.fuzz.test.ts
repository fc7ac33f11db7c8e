/**
 * The OTLP relay's decoding under inputs nobody chose (fast-check; test/helpers/fuzz.ts
 * says how to replay a seed or run longer), over HTTP against the proxy: arbitrary bytes,
 * valid requests truncated or with a byte changed, wrong wire types, lengths past the end,
 * arbitrary JSON and OTLP/JSON with wrong types, counts past 64 bits, and nesting thousands
 * deep. Every answer is 200 or a 4xx with a reason, never a 5xx or a dropped connection;
 * what is refused is never forwarded; the proxy answers its health check after each one.
 */
import fc from 'fast-check';
import t, { type Test } from 'tap';
import { request } from 'undici';
import { decodeJson, decodeProtobuf, encodeProtobuf } from '../../src/otlp/proto.js';
import type { MetricsRequest } from '../../src/otlp/types.js';
import { fuzz } from '../helpers/fuzz.js';
import { ParseableStandIn } from '../helpers/parseable.js';
import { relayConfig } from '../helpers/relay.js';
import { testProxy } from '../helpers/proxy.js';
import { eventually } from '../helpers/wait.js';

const T_NS = '1760000000123456789';
const PB = { 'content-type': 'application/x-protobuf' };
const JSON_TYPE = { 'content-type': 'application/json' };

const valid = (name: string, points = 3): MetricsRequest => ({
  resourceMetrics: [
    {
      resource: { attributes: [{ key: 'host.name', value: { stringValue: 'fuzz' } }] },
      scopeMetrics: [
        {
          metrics: [
            {
              name,
              gauge: {
                dataPoints: Array.from({ length: points }, (_, i) => ({
                  attributes: [{ key: 'i', value: { stringValue: String(i) } }],
                  timeUnixNano: T_NS,
                  asDouble: i,
                })),
              },
            },
            {
              name: `${name}_seconds`,
              histogram: {
                aggregationTemporality: 2,
                dataPoints: [{ timeUnixNano: T_NS, count: '3', sum: 1.5, bucketCounts: ['1', '2'], explicitBounds: [0.5] }],
              },
            },
          ],
        },
      ],
    },
  ],
});

const VALID_PB = encodeProtobuf(valid('fuzz_gauge'));
const VALID_JSON = JSON.stringify(valid('fuzz_gauge'));

const decodes = (f: () => unknown) => {
  try {
    f();
    return true;
  } catch {
    return false;
  }
};

/** A varint, for hand-made protobuf. */
function varint(n: number): number[] {
  const out: number[] = [];
  while (n > 0x7f) {
    out.push((n & 0x7f) | 0x80);
    n = Math.floor(n / 128);
  }
  out.push(n);
  return out;
}

/**
 * A request whose one resource attribute is an AnyValue nested `depth` kvlists deep, written
 * from the outside in with every length known first (no recursion, no quadratic copying).
 */
function nestedProtobuf(depth: number): Buffer {
  // Sizes from the inside out: the innermost AnyValue is string_value "x".
  const value = [3];
  for (let d = 1; d <= depth; d++) {
    const kv = 3 + 1 + varint(value[d - 1]!).length + value[d - 1]!; // key "k", then value
    const kvl = 1 + varint(kv).length + kv; // KeyValueList.values
    value.push(1 + varint(kvl).length + kvl); // AnyValue.kvlist_value (field 6)
  }
  const attr = 3 + 1 + varint(value[depth]!).length + value[depth]!;
  const resource = 1 + varint(attr).length + attr;
  const rm = 1 + varint(resource).length + resource;
  const out: number[] = [0x0a, ...varint(rm), 0x0a, ...varint(resource), 0x0a, ...varint(attr), 0x0a, 0x01, 0x6b, 0x12, ...varint(value[depth]!)];
  for (let d = depth; d >= 1; d--) {
    const kv = 3 + 1 + varint(value[d - 1]!).length + value[d - 1]!;
    const kvl = 1 + varint(kv).length + kv;
    out.push(0x32, ...varint(kvl), 0x0a, ...varint(kv), 0x0a, 0x01, 0x6b, 0x12, ...varint(value[d - 1]!));
  }
  out.push(0x0a, 0x01, 0x78);
  return Buffer.from(out);
}

/** The same nesting in OTLP/JSON. */
function nestedJson(depth: number): string {
  const open = '{"kvlistValue":{"values":[{"key":"k","value":';
  const close = '}]}}';
  return `{"resourceMetrics":[{"resource":{"attributes":[{"key":"k","value":${open.repeat(depth)}{"stringValue":"x"}${close.repeat(depth)}}]},"scopeMetrics":[]}]}`;
}

const protobufBodies = fc.oneof(
  fc.uint8Array({ maxLength: 512 }).map((a) => Buffer.from(a)),
  fc.nat().map((at) => VALID_PB.subarray(0, at % VALID_PB.length)),
  fc.tuple(fc.nat(), fc.nat(255)).map(([at, byte]) => {
    const b = Buffer.from(VALID_PB);
    b[at % b.length] = byte;
    return b;
  }),
  // A field of the request with each wire type and a length (or value) from anywhere.
  fc
    .tuple(fc.integer({ min: 1, max: 20 }), fc.integer({ min: 0, max: 7 }), fc.nat(), fc.uint8Array({ maxLength: 32 }))
    .map(([field, wire, n, rest]) => Buffer.from([...varint(field * 8 + wire), ...varint(n), ...rest])),
  // Past-the-end lengths inside a valid prefix.
  fc.nat(0xffffffff).map((len) => Buffer.concat([VALID_PB.subarray(0, 6), Buffer.from([0x0a, ...varint(len)]), Buffer.from('xyz')])),
);

const wrongTypes = fc.oneof(
  fc.json(),
  fc.constantFrom(
    '{"resourceMetrics":"x"}',
    '{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"name":1,"gauge":{"dataPoints":[{"asDouble":"abc"}]}}]}]}]}',
    '{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"name":"h","histogram":{"dataPoints":[{"count":"18446744073709551616","bucketCounts":["99999999999999999999999"],"explicitBounds":[]}]}}]}]}]}',
    '{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"name":"s","sum":{"dataPoints":[{"asInt":"-9223372036854775809","timeUnixNano":"-1"}]}}]}]}]}',
    '{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"name":"g","gauge":{"dataPoints":[{"asDouble":1,"exemplars":[{"traceId":"zz","spanId":12}]}]}}]}]}]}',
    '[]',
    'null',
    '"\\ud800"',
  ),
  fc.tuple(fc.nat(), fc.nat(255)).map(([at, byte]) => {
    const b = Buffer.from(VALID_JSON);
    b[at % b.length] = byte;
    return b.toString('latin1');
  }),
);

async function relay(t: Test) {
  const parseable = await new ParseableStandIn().start();
  const proxy = await testProxy({ url: 'http://127.0.0.1:9/metrics' }, { otlp: relayConfig(parseable) });
  t.teardown(async () => {
    await proxy.close();
    await parseable.stop();
  });
  const post = async (body: Buffer | string, headers: Record<string, string>) => {
    const res = await request(`${proxy.url}/v1/metrics`, { method: 'POST', body, headers });
    return { status: res.statusCode, text: await res.body.text() };
  };
  const healthy = async () => {
    const res = await request(`${proxy.url}/proxy/health`);
    await res.body.text();
    return res.statusCode === 200;
  };
  return { parseable, proxy, post, healthy };
}

const fine = (status: number, text: string) => status === 200 || (status >= 400 && status < 500 && text.trim().length > 0);

/** Every body `bodies` makes, posted as `headers` says: 200 or a 4xx with a reason, and the proxy healthy after it. */
async function answersEach(t: Test, bodies: fc.Arbitrary<Buffer | string>, headers: Record<string, string>) {
  const { post, healthy } = await relay(t);
  await fc.assert(
    fc.asyncProperty(bodies, async (body) => {
      const { status, text } = await post(body, headers);
      return fine(status, text) && (await healthy());
    }),
    fuzz(t, 200),
  );
  t.pass('held');
}

t.test('protobuf: 200 or a 4xx with a reason, never a 5xx, and the proxy stays up', (t) => answersEach(t, protobufBodies, PB));

t.test('OTLP/JSON: arbitrary JSON, wrong types, counts past 64 bits, damaged bytes', (t) => answersEach(t, wrongTypes, JSON_TYPE));

t.test('nesting: ten levels taken; a hundred to fifty thousand refused with a reason that says so, in both encodings', async (t) => {
  const { post, healthy } = await relay(t);
  for (const depth of [10, 100, 5_000, 50_000]) {
    const pb = await post(nestedProtobuf(depth), PB);
    t.ok(fine(pb.status, pb.text), `protobuf, ${depth} deep: ${pb.status} ${pb.text.trim().slice(0, 120)}`);
    const js = await post(nestedJson(depth), JSON_TYPE);
    t.ok(fine(js.status, js.text), `JSON, ${depth} deep: ${js.status} ${js.text.trim().slice(0, 120)}`);
    if (depth === 10) {
      t.equal(pb.status, 200, 'ten levels of nested attribute values are taken (protobuf)');
      t.equal(js.status, 200, 'and in JSON');
    } else {
      t.equal(pb.status, 400, 'protobuf past the depth limit is refused');
      t.match(pb.text, /nested deeper than/, 'and says why');
      t.equal(js.status, 400, 'JSON past the depth limit is refused');
      t.match(js.text, /nested deeper than/, 'and says why');
    }
  }
  t.ok(await healthy(), 'still serving');
});

t.test('what is refused is never forwarded: refused bodies, then one marker, and only the marker arrives', async (t) => {
  const { post, parseable } = await relay(t);
  const refused: number[] = [];
  await fc.assert(
    fc.asyncProperty(
      protobufBodies.filter((b) => !decodes(() => decodeProtobuf(b))),
      wrongTypes.filter((s) => !decodes(() => decodeJson(s))),
      async (pb, js) => {
        refused.push((await post(pb, PB)).status, (await post(js, JSON_TYPE)).status);
        return true;
      },
    ),
    fuzz(t, 60),
  );
  t.ok(
    refused.every((s) => s === 400),
    `every one refused with 400 (${refused.length})`,
  );
  const marker = await post(encodeProtobuf(valid('fuzz_marker', 1)), PB);
  t.equal(marker.status, 200);
  await eventually('the marker', async () => (parseable.rows().length > 0 ? true : undefined));
  const names = new Set(parseable.rows().map((r) => String(r.metric_name)));
  t.same([...names].sort(), ['fuzz_marker', 'fuzz_marker_seconds'], 'only the marker’s series');
});

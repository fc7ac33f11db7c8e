import { createSocket, type Socket } from 'node:dgram';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';

/**
 * A DNS server over UDP on loopback, answering A and AAAA questions from a
 * table the test changes. Node's resolver talks to it like to any other (it is
 * what a Kubernetes headless Service looks like from a pod).
 */
export interface TestDns {
  /** host:port, for --dns-server. */
  server: string;
  records: Map<string, { a?: string[]; aaaa?: string[] }>;
  /** Answer SERVFAIL to everything (a resolver outage). */
  failing: boolean;
  queries: number;
  close(): Promise<void>;
}

function ipv6Bytes(addr: string): Buffer {
  const [head, tail] = addr.includes('::') ? addr.split('::') : [addr, undefined];
  const h = head ? head.split(':') : [];
  const t = tail !== undefined && tail !== '' ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...Array(8 - h.length - t.length).fill('0'), ...t];
  const out = Buffer.alloc(16);
  groups.forEach((g, i) => out.writeUInt16BE(parseInt(g, 16), i * 2));
  return out;
}

/** On loopback by default; `host` for a server that containers reach (the podman bridge's gateway). */
export async function startDns(host = '127.0.0.1'): Promise<TestDns> {
  const socket: Socket = createSocket('udp4');
  const state: TestDns = {
    server: '',
    records: new Map(),
    failing: false,
    queries: 0,
    close: async () => {
      socket.close();
      await once(socket, 'close');
    },
  };
  socket.on('message', (msg, rinfo) => {
    state.queries++;
    // Question: labels from byte 12, then type and class.
    let at = 12;
    const labels: string[] = [];
    while (msg[at] !== 0) {
      const len = msg[at]!;
      labels.push(msg.subarray(at + 1, at + 1 + len).toString('ascii'));
      at += len + 1;
    }
    const qEnd = at + 5;
    const qtype = msg.readUInt16BE(at + 1);
    const name = labels.join('.').toLowerCase();
    const entry = state.records.get(name);
    const rcode = state.failing ? 2 : entry ? 0 : 3;
    const addrs = entry && !state.failing ? ((qtype === 1 ? entry.a : qtype === 28 ? entry.aaaa : undefined) ?? []) : [];
    const header = Buffer.alloc(12);
    msg.copy(header, 0, 0, 2); // id
    header.writeUInt16BE(0x8400 | (msg.readUInt16BE(2) & 0x0100) | rcode, 2); // QR, AA, RD echoed
    header.writeUInt16BE(1, 4);
    header.writeUInt16BE(addrs.length, 6);
    const answers = addrs.map((a) => {
      const rdata = qtype === 1 ? Buffer.from(a.split('.').map(Number)) : ipv6Bytes(a);
      const rr = Buffer.alloc(12);
      rr.writeUInt16BE(0xc00c, 0); // name: pointer to the question
      rr.writeUInt16BE(qtype, 2);
      rr.writeUInt16BE(1, 4); // IN
      rr.writeUInt32BE(0, 6); // TTL
      rr.writeUInt16BE(rdata.length, 10);
      return Buffer.concat([rr, rdata]);
    });
    socket.send(Buffer.concat([header, msg.subarray(12, qEnd), ...answers]), rinfo.port, rinfo.address);
  });
  socket.bind(0, host);
  await once(socket, 'listening');
  state.server = `${host}:${(socket.address() as AddressInfo).port}`;
  return state;
}

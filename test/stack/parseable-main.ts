/**
 * The Parseable stand-in as a program, for the stand-in image the container stack
 * test builds (tagged quay.io/parseablehq/parseable:v2.9.5; Parseable itself
 * cannot run here). It reads Parseable's own settings: `parseable local-store`,
 * P_ADDR, P_USERNAME/P_PASSWORD (admin/admin when unset, as Parseable), and keeps
 * its rows under P_FS_DIR so a restart loses nothing, as Parseable's disk does.
 */
import { ParseableStandIn } from '../helpers/parseable.js';

const [, , mode] = process.argv;
if (mode !== 'local-store') {
  process.stderr.write(`error: the stand-in runs as \`parseable local-store\` (got ${mode ?? 'nothing'})\n`);
  process.exit(2);
}
const addr = process.env.P_ADDR ?? '0.0.0.0:8000';
const colon = addr.lastIndexOf(':');
const standIn = new ParseableStandIn({
  username: process.env.P_USERNAME ?? 'admin',
  password: process.env.P_PASSWORD ?? 'admin',
  dataDir: process.env.P_FS_DIR ?? '/parseable/data',
  host: addr.slice(0, colon) || '0.0.0.0',
});
await standIn.start(Number(addr.slice(colon + 1)));
process.stdout.write(`Parseable stand-in listening on ${addr}, ${standIn.streams.size} stream(s) on disk\n`);
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, () => {
    void standIn.stop().then(() => process.exit(0));
  });
}

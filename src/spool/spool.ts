/**
 * A directory of batches waiting for delivery, kept across restarts.
 *
 * One file per batch, named by a sequence number so the directory lists in the
 * order the batches were accepted. A batch is written to a temporary name,
 * fsynced, renamed into place, and the directory fsynced: a crash mid-write
 * leaves at most that temporary file (removed at the next start), never a
 * half-written batch under a real name, and never touches another batch. Each
 * file starts with one header line (sizes, a CRC-32 of the body, the batch's
 * headers), so a file cut short or damaged is found, named in one log line and
 * skipped, and the rest is delivered.
 *
 * Only the index (names, sizes, points, times) is kept in memory; bodies are
 * read back one at a time when their turn comes, so memory stays bounded
 * however much the spool holds. The bound in bytes is the caller's to enforce
 * (it chooses what to drop: the oldest).
 *
 * One process at a time: two proxies on one spool would each send the other's
 * batches and remove files under it. The spool holds a lock beside it
 * (`<dir>.lock`, proper-lockfile: a directory whose mtime it renews every 5 s),
 * which a second process finds fresh and is refused, naming the directory. A
 * holder that was killed stops renewing it: after 10 s it counts as stale and
 * is taken over, and a start waits that long and 2 s more before refusing, so a
 * restarted pod or container gets its spool back on its own.
 */
import { mkdir, open, readdir, readFile, rename, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { lock } from 'proper-lockfile';
import { SpoolError } from '../errors.js';
import type { Logger } from '../logger.js';

/** One batch on disk. */
export interface SpooledBatch {
  readonly seq: number;
  readonly file: string;
  /** Size of the file (header included): what the bound counts. */
  readonly bytes: number;
  readonly points: number;
  /** When it was accepted (ms since the epoch). */
  readonly createdMs: number;
  readonly headers: Record<string, string>;
}

const MAGIC = 'vmp-spool 1';
const SUFFIX = '.batch';
const TMP_PREFIX = '.tmp-';
/** The header line is short; anything longer is not ours. */
const MAX_HEADER = 64 * 1024;

const fileName = (seq: number) => `${String(seq).padStart(16, '0')}${SUFFIX}`;

function header(points: number, createdMs: number, body: Buffer, headers: Record<string, string>): Buffer {
  const meta = Buffer.from(JSON.stringify(headers)).toString('base64url');
  return Buffer.from(`${MAGIC} ${points} ${createdMs} ${body.length} ${crc32(body)} ${meta || '-'}\n`);
}

interface Header {
  points: number;
  createdMs: number;
  bodyLength: number;
  crc: number;
  headers: Record<string, string>;
  length: number;
}

/** The header of a batch file, or why it is not one. */
function parseHeader(head: Buffer): Header | string {
  const nl = head.indexOf(10);
  if (nl < 0) return 'no header line';
  const parts = head.subarray(0, nl).toString('utf8').split(' ');
  if (parts.length !== 7 || `${parts[0]} ${parts[1]}` !== MAGIC) return 'not a spool batch';
  const [points, createdMs, bodyLength, crc] = parts.slice(2, 6).map(Number) as [number, number, number, number];
  if (![points, createdMs, bodyLength, crc].every((n) => Number.isSafeInteger(n) && n >= 0)) return 'a damaged header';
  let headers: Record<string, string> = {};
  try {
    if (parts[6] !== '-') headers = JSON.parse(Buffer.from(parts[6]!, 'base64url').toString('utf8')) as Record<string, string>;
  } catch {
    return 'a damaged header';
  }
  return { points, createdMs, bodyLength, crc, headers, length: nl + 1 };
}

export interface SpoolOptions {
  dir: string;
  log: Logger;
  /** Names the spool in log lines (`OTLP`, `request log`). */
  what: string;
  /** How old a lock must be to count as a killed holder's (proper-lockfile's minimum is 2 s); 10 s. */
  lockStaleMs?: number;
}

export class Spool {
  readonly dir: string;
  readonly #log: Logger;
  readonly #what: string;
  /** Oldest first. */
  readonly #index: SpooledBatch[] = [];
  #bytes = 0;
  #next = 1;
  #release: (() => Promise<void>) | undefined;

  private constructor(options: SpoolOptions) {
    this.dir = options.dir;
    this.#log = options.log;
    this.#what = options.what;
  }

  /**
   * Open (or create) the directory and index what it holds. Leftover temporary
   * files are removed; a file that is not a whole batch is named in one log line
   * and removed, so it can never stop a start.
   */
  static async open(options: SpoolOptions): Promise<Spool> {
    const spool = new Spool(options);
    try {
      await mkdir(options.dir, { recursive: true });
    } catch (err) {
      throw new SpoolError(options.dir, 'cannot create the spool directory', err);
    }
    spool.#release = await lockSpool(options);
    try {
      await spool.#load(options);
    } catch (err) {
      await spool.close();
      throw err;
    }
    return spool;
  }

  /** Index what the directory holds (see open). */
  async #load(options: SpoolOptions): Promise<void> {
    const names = (await readdir(options.dir)).sort();
    for (const name of names) {
      const path = join(options.dir, name);
      if (name.startsWith(TMP_PREFIX)) {
        await unlink(path).catch(() => {});
        continue;
      }
      if (!name.endsWith(SUFFIX)) continue;
      const seq = Number(name.slice(0, -SUFFIX.length));
      if (!Number.isSafeInteger(seq)) continue;
      const why = await this.#indexFile(seq, name);
      if (why) {
        options.log.warn(
          { event: 'spool_file_skipped', spool: options.dir, file: name, reason: why },
          `${options.what} spool: skipping ${path}: ${why}; the other batches are kept`,
        );
        await unlink(path).catch(() => {});
      }
      this.#next = Math.max(this.#next, seq + 1);
    }
  }

  /** Let go of the directory (its lock); the batches stay for the next start. */
  async close(): Promise<void> {
    const release = this.#release;
    this.#release = undefined;
    await release?.().catch(() => {});
  }

  async #indexFile(seq: number, name: string): Promise<string | undefined> {
    const path = join(this.dir, name);
    let fh;
    try {
      fh = await open(path, 'r');
      const size = (await fh.stat()).size;
      const head = Buffer.alloc(Math.min(size, MAX_HEADER));
      await fh.read(head, 0, head.length, 0);
      const h = parseHeader(head);
      if (typeof h === 'string') return h;
      if (size !== h.length + h.bodyLength) return `cut short (${size} of ${h.length + h.bodyLength} bytes)`;
      this.#index.push({ seq, file: name, bytes: size, points: h.points, createdMs: h.createdMs, headers: h.headers });
      this.#bytes += size;
      return undefined;
    } catch (err) {
      return `unreadable (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`;
    } finally {
      await fh?.close();
    }
  }

  get bytes(): number {
    return this.#bytes;
  }

  get batches(): number {
    return this.#index.length;
  }

  /** Oldest first; the caller must not change it. */
  get index(): readonly SpooledBatch[] {
    return this.#index;
  }

  /** Write a batch durably; resolves once it is on disk. A write that fails (disk full) leaves nothing behind. */
  async append(body: Buffer, points: number, headers: Record<string, string>, createdMs = Date.now()): Promise<SpooledBatch> {
    const seq = this.#next++;
    const name = fileName(seq);
    const tmp = join(this.dir, `${TMP_PREFIX}${name}`);
    const head = header(points, createdMs, body, headers);
    let fh;
    try {
      fh = await open(tmp, 'wx');
      // writeFile goes on until every byte is written or throws: a bare writev may write part of it on a full disk and say nothing.
      await fh.writeFile(Buffer.concat([head, body]));
      await fh.sync();
      await fh.close();
      fh = undefined;
      await rename(tmp, join(this.dir, name));
      await this.#syncDir();
    } catch (err) {
      await fh?.close().catch(() => {});
      await unlink(tmp).catch(() => {});
      throw new SpoolError(this.dir, `cannot write a batch`, err);
    }
    const batch: SpooledBatch = { seq, file: name, bytes: head.length + body.length, points, createdMs, headers };
    this.#index.push(batch);
    this.#bytes += batch.bytes;
    return batch;
  }

  /** The body of a batch, checked against its CRC; a damaged one throws SpoolError (the caller drops it). */
  async read(batch: SpooledBatch): Promise<Buffer> {
    let data: Buffer;
    try {
      data = await readFile(join(this.dir, batch.file));
    } catch (err) {
      throw new SpoolError(join(this.dir, batch.file), 'cannot read the batch', err);
    }
    const h = parseHeader(data.subarray(0, MAX_HEADER));
    if (typeof h === 'string') throw new SpoolError(join(this.dir, batch.file), h);
    const body = data.subarray(h.length);
    if (body.length !== h.bodyLength || crc32(body) !== h.crc) throw new SpoolError(join(this.dir, batch.file), 'damaged (its checksum does not match)');
    return body;
  }

  /** Forget a batch: delivered, rejected, damaged, or dropped to keep the bound. */
  async remove(batch: SpooledBatch): Promise<void> {
    const i = this.#index.indexOf(batch);
    if (i < 0) return;
    this.#index.splice(i, 1);
    this.#bytes -= batch.bytes;
    await unlink(join(this.dir, batch.file)).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT')
        this.#log.warn({ event: 'spool_remove_failed', file: batch.file, code: err.code }, `${this.#what} spool: cannot remove ${batch.file}: ${err.message}`);
    });
  }

  /** A rename is durable once the directory is synced. */
  async #syncDir(): Promise<void> {
    const dir = await open(this.dir, 'r');
    try {
      await dir.sync();
    } finally {
      await dir.close();
    }
  }

  /** Disk use of the directory as the file system counts it (for the bench and tests). */
  static async size(dir: string): Promise<number> {
    let total = 0;
    for (const name of await readdir(dir)) total += (await stat(join(dir, name))).size;
    return total;
  }
}

/** The spool's lock, or a SpoolError saying who has it. */
async function lockSpool(options: SpoolOptions): Promise<() => Promise<void>> {
  const lockPath = `${options.dir}.lock`;
  const stale = Math.max(2_000, options.lockStaleMs ?? 10_000);
  try {
    return await lock(options.dir, {
      lockfilePath: lockPath,
      stale,
      // A killed holder's lock goes stale within `stale`: wait that long, and a little, before refusing.
      retries: { retries: Math.ceil(stale / 1_000) + 2, factor: 1, minTimeout: 1_000, maxTimeout: 1_000 },
      onCompromised: (err) =>
        // Renewing failed (the disk went away, or another process took it over): say so, keep
        // going; what is on disk stays checksummed, at worst a batch goes twice.
        options.log.error(
          { event: 'spool_lock_lost', spool: options.dir, err: err.message },
          `${options.what} spool: lost the lock ${lockPath}: ${err.message}; another process may be using ${options.dir}`,
        ),
    });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ELOCKED')
      throw new SpoolError(options.dir, `in use by another process (it holds ${lockPath}); give each proxy its own --spool-dir`);
    throw new SpoolError(options.dir, `cannot lock the spool (${lockPath})`, err);
  }
}

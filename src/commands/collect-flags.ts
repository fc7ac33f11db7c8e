/**
 * `collect`'s flags resolved into what to do: the older Python vLLM metrics collector's flags
 * (`--endpoint`, `--storage-type`, `--pushgateway-url`, `--job-name`, `--instance`,
 * `--postprocess`, `--output-processed`, `--verbose`) read with their old meaning onto ours,
 * and the stores planned from `--store`, `--storage-type` or the extension of `--output`.
 * Pure: the command gives the parsed flags and which of them the user set.
 */
import { extname } from 'node:path';
import { ConfigError } from '../errors.js';
import { parseTargetSpec } from '../targets/spec.js';
import { DEFAULT_UPSTREAM as DEFAULT_ENDPOINT } from './target-flags.js';
import { rowFormatOfPath, ROW_EXTENSIONS, type RowFormat } from '../store/row-formats.js';

/** The heading the old collector's flags are listed under in `collect --help`. */
export const OLD_FLAGS_HEADING = "The older Python vLLM metrics collector's flags (same meaning; each is one of ours):";

export type FileStoreKind = RowFormat | 'prom-file';
export type StoreKind = FileStoreKind | 'pushgateway';

export const FILE_STORE_EXTENSIONS: Readonly<Record<FileStoreKind, string>> = { ...ROW_EXTENSIONS, 'prom-file': '.prom' };
export const STORE_KINDS: readonly StoreKind[] = [...(Object.keys(FILE_STORE_EXTENSIONS) as FileStoreKind[]), 'pushgateway'];

/** The old `--storage-type` values: our store, under the file name the old collector gave it. */
export const STORAGE_TYPES = ['json', 'csv', 'sqlite', 'prometheus', 'prometheus-file'] as const;
export type StorageType = (typeof STORAGE_TYPES)[number];
const OLD_STORES: Record<StorageType, Array<{ kind: FileStoreKind; ext: string }>> = {
  json: [{ kind: 'jsonl', ext: '.json' }],
  csv: [{ kind: 'csv', ext: '.csv' }],
  sqlite: [{ kind: 'sqlite', ext: '.db' }],
  // The old `prometheus` wrote <output>.prom and pushed when a Pushgateway was named.
  prometheus: [{ kind: 'prom-file', ext: '.prom' }],
  'prometheus-file': [{ kind: 'prom-file', ext: '.prom' }],
};

export interface OldCollectorFlags {
  endpoint?: string;
  storageType?: StorageType;
  pushgatewayUrl?: string;
  jobName?: string;
  instance?: string;
  postprocess?: string;
  outputProcessed?: string;
  verbose?: boolean;
}

/** The flags of ours the old ones land on. */
export interface CollectTargetFlags {
  upstream?: string[];
  targetsFile?: string;
  discover?: string;
  store?: string[];
  output?: string;
  pushUrl?: string;
  pushJob: string;
  logLevel: string;
  debug?: boolean;
}

/** What a run does: post-process one file and stop, or collect. */
export type CollectPlan<F> = { postprocess: { input: string; output?: string } } | { postprocess?: undefined; flags: F; storageType?: StorageType };

/**
 * The old flags onto ours. `given(key)` says whether the user set one of ours (on the command
 * line or through its variable): an old flag and the one of ours it stands for, both set, is a
 * conflict, refused with both named.
 */
export function resolveOldFlags<F extends CollectTargetFlags>(flags: F & OldCollectorFlags, given: (key: keyof CollectTargetFlags) => boolean): CollectPlan<F> {
  const both = (old: string, ours: string) => new ConfigError(old, `and ${ours} say the same thing: give one of them`);
  if (flags.outputProcessed !== undefined && flags.postprocess === undefined)
    throw new ConfigError('--output-processed', 'names where --postprocess writes: give --postprocess <file> too');
  if (flags.postprocess !== undefined) return { postprocess: { input: flags.postprocess, output: flags.outputProcessed } };

  const out: F = { ...flags };
  if (flags.endpoint !== undefined) {
    if (given('upstream')) throw both('--endpoint', '--upstream');
    out.upstream = [flags.endpoint];
  }
  if (flags.storageType !== undefined && given('store')) throw both('--storage-type', '--store');
  if (flags.pushgatewayUrl !== undefined) {
    if (given('pushUrl')) throw both('--pushgateway-url', '--push-url');
    out.pushUrl = flags.pushgatewayUrl;
  }
  if (flags.jobName !== undefined) {
    if (given('pushJob')) throw both('--job-name', '--push-job');
    out.pushJob = flags.jobName;
  }
  if (flags.verbose) {
    if (given('logLevel')) throw both('--verbose', '--log-level');
    out.logLevel = 'debug';
  }
  if (flags.instance !== undefined) {
    // The old collector scraped one endpoint and pushed it as job/<job>/instance/<instance>:
    // here that is the target's name, which is the instance of its pushed group and of its rows.
    if (flags.targetsFile !== undefined || flags.discover !== undefined || (out.upstream?.length ?? 0) > 1)
      throw new ConfigError('--instance', 'names one target: give one --endpoint (or --upstream), not a targets file, --discover or several');
    const raw = out.upstream?.[0] ?? DEFAULT_ENDPOINT;
    const spec = parseTargetSpec(raw, flags.endpoint !== undefined ? '--endpoint' : '--upstream');
    if (spec.url !== raw.trim()) throw both('--instance', 'a name= in --upstream');
    out.upstream = [`${flags.instance}=${spec.url}`];
  }
  return { flags: out, storageType: flags.storageType };
}

export interface StorePlan {
  files: Array<{ kind: FileStoreKind; path: string }>;
  pushgateway: boolean;
}

/** `--output run1` names run1.jsonl, run1.csv, ...; a name that already ends in the store's extension is kept. */
const withExt = (base: string, ext: string) => (base.endsWith(ext) ? base : `${base}${ext}`);

/** The store `--output`'s extension names, when it names one. */
function storeOfPath(path: string): FileStoreKind | undefined {
  return extname(path).toLowerCase() === '.prom' ? 'prom-file' : rowFormatOfPath(path);
}

/**
 * Which files and whether the Pushgateway: from `--store` (several allowed), else from the old
 * `--storage-type` (under the old collector's file names), else from `--output`'s extension
 * (`run.sqlite` is SQLite), else JSONL.
 */
export function planStores(o: { store?: string[]; storageType?: StorageType; output: string; pushUrl?: string }): StorePlan {
  if (o.storageType !== undefined) {
    const files = OLD_STORES[o.storageType].map((s) => ({ kind: s.kind, path: withExt(o.output, s.ext) }));
    return { files, pushgateway: o.storageType === 'prometheus' && o.pushUrl !== undefined };
  }
  const fromPath = storeOfPath(o.output);
  const kinds = [
    ...new Set(
      (o.store?.length ? o.store : [fromPath ?? 'jsonl'])
        .flatMap((s) => s.split(','))
        .map((s) => s.trim())
        .filter(Boolean),
    ),
  ];
  for (const k of kinds) if (!STORE_KINDS.includes(k as StoreKind)) throw new ConfigError('--store', `"${k}" is not a store (use ${STORE_KINDS.join(', ')})`);
  const pushgateway = kinds.includes('pushgateway');
  if (pushgateway && !o.pushUrl) throw new ConfigError('--store', 'pushgateway needs --push-url (or PUSHGATEWAY_URL)');
  const fileKinds = kinds.filter((k): k is FileStoreKind => k !== 'pushgateway');
  if (o.store?.length && fromPath !== undefined && fileKinds.length === 1 && fileKinds[0] !== fromPath)
    throw new ConfigError(
      '--store',
      `${fileKinds[0]} and --output ${o.output} (a ${fromPath} name) disagree: give one of them, or a name without that extension`,
    );
  // One file store and a name with an extension: the name as it is (`--store csv --output run.txt`).
  const single = fileKinds.length === 1 && extname(o.output) !== '';
  return { files: fileKinds.map((k) => ({ kind: k, path: single ? o.output : withExt(o.output, FILE_STORE_EXTENSIONS[k]) })), pushgateway };
}

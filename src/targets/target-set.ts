import { EventEmitter } from 'node:events';
import { watch, type FSWatcher } from 'node:fs';
import { basename, dirname } from 'node:path';
import type { Resolver } from 'node:dns/promises';
import type { Logger } from '../logger.js';
import { Upstream, type UpstreamOptions } from '../upstream/upstream.js';
import { dnsResolver, parseDiscoverUrl, resolveTargets, type DnsDiscovery } from './dns.js';
import { readTargetsFile } from './file.js';
import { checkUniqueNames, type TargetSpec } from './spec.js';

/** A target being scraped: its name (the target label's value) and its upstream. */
export interface Target {
  readonly name: string;
  readonly upstream: Upstream;
  /** Which source named it: `static`, `file` or `dns`. */
  readonly source: Source;
}

type Source = 'static' | 'file' | 'dns';

export interface TargetSetOptions {
  /** From --upstream, fixed for the life of the process. */
  static: TargetSpec[];
  targetsFile?: string;
  discover?: string;
  discoverIntervalMs?: number;
  /** host:port of a DNS server, instead of the system's. */
  dnsServer?: string;
  /** Options every target's upstream shares (the URL is the target's). */
  upstream: Omit<UpstreamOptions, 'url'>;
  log: Logger;
}

/** Re-reads of the file are spread over this long (editors write in several steps). */
const FILE_SETTLE_MS = 100;

/**
 * The targets to scrape, from three sources: --upstream (static), a targets file
 * (re-read when it changes or on SIGHUP) and DNS discovery (re-resolved on an
 * interval). The union is served; a name taken by an earlier source wins.
 * A source that fails to refresh keeps its last good answer: a typo in the
 * file or a DNS hiccup never empties the fleet.
 *
 * Emits `change` with (added, removed) targets. A removed target's upstream is
 * closed once its in-flight requests end.
 */
export class TargetSet extends EventEmitter {
  private readonly targets = new Map<string, Target>();
  private readonly bySource: Record<Source, TargetSpec[]>;
  private readonly log: Logger;
  private readonly discovery: DnsDiscovery | undefined;
  private readonly resolver: Resolver | undefined;
  private timer: NodeJS.Timeout | undefined;
  private watcher: FSWatcher | undefined;
  private settleTimer: NodeJS.Timeout | undefined;
  private closed = false;
  private wasEmpty = false;

  constructor(private readonly options: TargetSetOptions) {
    super();
    this.log = options.log;
    this.bySource = { static: checkUniqueNames(options.static, '--upstream'), file: [], dns: [] };
    this.discovery = options.discover ? parseDiscoverUrl(options.discover) : undefined;
    this.resolver = this.discovery ? dnsResolver(options.dnsServer) : undefined;
  }

  /** Whether targets can come and go (a file or discovery is configured). */
  get dynamic(): boolean {
    return Boolean(this.options.targetsFile || this.discovery);
  }

  /**
   * First load. A targets file that cannot be read or parsed stops the start
   * (the flag is named); DNS that does not answer yet only logs, since pods of
   * a headless Service may come up after the proxy.
   */
  async start(): Promise<void> {
    if (this.options.targetsFile) {
      this.bySource.file = await readTargetsFile(this.options.targetsFile);
      this.watchFile(this.options.targetsFile);
    }
    if (this.discovery) {
      await this.resolve();
      this.timer = setInterval(() => void this.resolve(), this.options.discoverIntervalMs ?? 30_000);
      this.timer.unref();
    }
    this.apply();
  }

  list(): Target[] {
    return [...this.targets.values()];
  }

  /** The target of this name, if it is being scraped. */
  get(name: string): Target | undefined {
    return this.targets.get(name);
  }

  get size(): number {
    return this.targets.size;
  }

  /** Re-read the targets file now (SIGHUP). Resolves once applied; a bad file is logged and changes nothing. */
  async reload(): Promise<void> {
    const file = this.options.targetsFile;
    if (!file || this.closed) return;
    try {
      this.bySource.file = await readTargetsFile(file);
    } catch (err) {
      this.log.error(
        { event: 'targets_file_invalid', file, err: (err as Error).message },
        `targets file not applied, keeping ${this.bySource.file.length} target(s) from it: ${(err as Error).message}`,
      );
      return;
    }
    this.log.info({ event: 'targets_file_loaded', file, count: this.bySource.file.length }, `targets file read: ${this.bySource.file.length} target(s)`);
    this.apply();
  }

  /** Re-resolve the discovery name now. */
  async resolve(): Promise<void> {
    const d = this.discovery;
    if (!d || this.closed) return;
    try {
      this.bySource.dns = await resolveTargets(d, this.resolver!);
    } catch (err) {
      this.log.warn(
        { event: 'discovery_failed', discover: d.display, err: (err as Error).message },
        `DNS discovery of ${d.host} failed, keeping ${this.bySource.dns.length} target(s): ${(err as Error).message}`,
      );
      return;
    }
    this.apply();
  }

  private watchFile(file: string): void {
    // The directory, not the file: editors and Kubernetes ConfigMaps replace
    // the file (rename, symlink swap), which ends a watch on the file itself.
    const name = basename(file);
    try {
      this.watcher = watch(dirname(file), (_event, changed) => {
        if (changed !== null && changed !== name && !changed.startsWith('..')) return;
        clearTimeout(this.settleTimer);
        this.settleTimer = setTimeout(() => void this.reload(), FILE_SETTLE_MS);
      });
      this.watcher.on('error', (err) =>
        this.log.warn({ event: 'targets_file_watch_failed', err: err.message }, `not watching ${file} any more (SIGHUP still reloads it): ${err.message}`),
      );
      this.watcher.unref();
    } catch (err) {
      this.log.warn({ event: 'targets_file_watch_failed', err: (err as Error).message }, `cannot watch ${file} (SIGHUP reloads it): ${(err as Error).message}`);
    }
  }

  private apply(): void {
    if (this.closed) return;
    const wanted = new Map<string, { spec: TargetSpec; source: Source }>();
    for (const source of ['static', 'file', 'dns'] as const) {
      for (const spec of this.bySource[source]) {
        const have = wanted.get(spec.name);
        if (have) {
          if (have.spec.url !== spec.url)
            this.log.warn(
              { event: 'target_name_taken', name: spec.name, source, kept: have.source },
              `target "${spec.name}" from ${source} ignored: the name is taken by a ${have.source} target`,
            );
          continue;
        }
        wanted.set(spec.name, { spec, source });
      }
    }
    const added: Target[] = [];
    const removed: Target[] = [];
    for (const [name, t] of this.targets) {
      const w = wanted.get(name);
      if (w && w.spec.url === t.upstream.options.url) continue;
      this.targets.delete(name);
      removed.push(t);
    }
    for (const [name, { spec, source }] of wanted) {
      if (this.targets.has(name)) continue;
      const t: Target = { name, source, upstream: new Upstream({ ...this.options.upstream, url: spec.url }) };
      this.targets.set(name, t);
      added.push(t);
    }
    for (const t of removed) {
      this.log.info({ event: 'target_removed', target: t.name, upstream: t.upstream.target.display, source: t.source }, `target ${t.name} removed`);
      void t.upstream.close();
    }
    for (const t of added) {
      this.log.info(
        { event: 'target_added', target: t.name, upstream: t.upstream.target.display, source: t.source },
        `target ${t.name} added: ${t.upstream.target.display} (${t.source})`,
      );
    }
    const empty = this.targets.size === 0;
    // Said once when the set becomes empty (or starts empty), not on every re-resolve.
    if (empty && !this.wasEmpty) {
      this.log.warn(
        { event: 'no_targets', file: this.options.targetsFile, discover: this.discovery?.display },
        "no targets found: /metrics serves only the proxy's own target gauges until one appears",
      );
    }
    this.wasEmpty = empty;
    if (added.length || removed.length) this.emit('change', added, removed);
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.timer);
    clearTimeout(this.settleTimer);
    this.watcher?.close();
    await Promise.all(this.list().map((t) => t.upstream.close()));
    this.targets.clear();
  }
}

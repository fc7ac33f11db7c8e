import { EventEmitter } from 'node:events';
import { watch } from 'node:fs';
import { basename, dirname } from 'node:path';
import { Upstream } from '../upstream/upstream.js';
import { dnsResolver, parseDiscoverUrl, resolveTargets } from './dns.js';
import { readTargetsFile } from './file.js';
import { checkUniqueNames } from './spec.js';
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
    options;
    targets = new Map();
    bySource;
    log;
    discovery;
    resolver;
    timer;
    watcher;
    settleTimer;
    closed = false;
    wasEmpty = false;
    constructor(options) {
        super();
        this.options = options;
        this.log = options.log;
        this.bySource = { static: checkUniqueNames(options.static, '--upstream'), file: [], dns: [] };
        this.discovery = options.discover ? parseDiscoverUrl(options.discover) : undefined;
        this.resolver = this.discovery ? dnsResolver(options.dnsServer) : undefined;
    }
    /** Whether targets can come and go (a file or discovery is configured). */
    get dynamic() {
        return Boolean(this.options.targetsFile || this.discovery);
    }
    /**
     * First load. A targets file that cannot be read or parsed stops the start
     * (the flag is named); DNS that does not answer yet only logs, since pods of
     * a headless Service may come up after the proxy.
     */
    async start() {
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
    list() {
        return [...this.targets.values()];
    }
    /** The target of this name, if it is being scraped. */
    get(name) {
        return this.targets.get(name);
    }
    get size() {
        return this.targets.size;
    }
    /** Re-read the targets file now (SIGHUP). Resolves once applied; a bad file is logged and changes nothing. */
    async reload() {
        const file = this.options.targetsFile;
        if (!file || this.closed)
            return;
        try {
            this.bySource.file = await readTargetsFile(file);
        }
        catch (err) {
            this.log.error({ event: 'targets_file_invalid', file, err: err.message }, `targets file not applied, keeping ${this.bySource.file.length} target(s) from it: ${err.message}`);
            return;
        }
        this.log.info({ event: 'targets_file_loaded', file, count: this.bySource.file.length }, `targets file read: ${this.bySource.file.length} target(s)`);
        this.apply();
    }
    /** Re-resolve the discovery name now. */
    async resolve() {
        const d = this.discovery;
        if (!d || this.closed)
            return;
        try {
            this.bySource.dns = await resolveTargets(d, this.resolver);
        }
        catch (err) {
            this.log.warn({ event: 'discovery_failed', discover: d.display, err: err.message }, `DNS discovery of ${d.host} failed, keeping ${this.bySource.dns.length} target(s): ${err.message}`);
            return;
        }
        this.apply();
    }
    watchFile(file) {
        // The directory, not the file: editors and Kubernetes ConfigMaps replace
        // the file (rename, symlink swap), which ends a watch on the file itself.
        const name = basename(file);
        try {
            this.watcher = watch(dirname(file), (_event, changed) => {
                if (changed !== null && changed !== name && !changed.startsWith('..'))
                    return;
                clearTimeout(this.settleTimer);
                this.settleTimer = setTimeout(() => void this.reload(), FILE_SETTLE_MS);
            });
            this.watcher.on('error', (err) => this.log.warn({ event: 'targets_file_watch_failed', err: err.message }, `not watching ${file} any more (SIGHUP still reloads it): ${err.message}`));
            this.watcher.unref();
        }
        catch (err) {
            this.log.warn({ event: 'targets_file_watch_failed', err: err.message }, `cannot watch ${file} (SIGHUP reloads it): ${err.message}`);
        }
    }
    apply() {
        if (this.closed)
            return;
        const wanted = new Map();
        for (const source of ['static', 'file', 'dns']) {
            for (const spec of this.bySource[source]) {
                const have = wanted.get(spec.name);
                if (have) {
                    if (have.spec.url !== spec.url)
                        this.log.warn({ event: 'target_name_taken', name: spec.name, source, kept: have.source }, `target "${spec.name}" from ${source} ignored: the name is taken by a ${have.source} target`);
                    continue;
                }
                wanted.set(spec.name, { spec, source });
            }
        }
        const added = [];
        const removed = [];
        for (const [name, t] of this.targets) {
            const w = wanted.get(name);
            if (w && w.spec.url === t.upstream.options.url)
                continue;
            this.targets.delete(name);
            removed.push(t);
        }
        for (const [name, { spec, source }] of wanted) {
            if (this.targets.has(name))
                continue;
            const t = { name, source, upstream: new Upstream({ ...this.options.upstream, url: spec.url }) };
            this.targets.set(name, t);
            added.push(t);
        }
        for (const t of removed) {
            this.log.info({ event: 'target_removed', target: t.name, upstream: t.upstream.target.display, source: t.source }, `target ${t.name} removed`);
            void t.upstream.close();
        }
        for (const t of added) {
            this.log.info({ event: 'target_added', target: t.name, upstream: t.upstream.target.display, source: t.source }, `target ${t.name} added: ${t.upstream.target.display} (${t.source})`);
        }
        const empty = this.targets.size === 0;
        // Said once when the set becomes empty (or starts empty), not on every re-resolve.
        if (empty && !this.wasEmpty) {
            this.log.warn({ event: 'no_targets', file: this.options.targetsFile, discover: this.discovery?.display }, 'no targets found: /metrics serves only the proxy\'s own target gauges until one appears');
        }
        this.wasEmpty = empty;
        if (added.length || removed.length)
            this.emit('change', added, removed);
    }
    async close() {
        this.closed = true;
        clearInterval(this.timer);
        clearTimeout(this.settleTimer);
        this.watcher?.close();
        await Promise.all(this.list().map((t) => t.upstream.close()));
        this.targets.clear();
    }
}

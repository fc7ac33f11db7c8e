import type { FastifyInstance } from 'fastify';
import { GatewayPusher } from '../export/gateway-pusher.js';
import { PushgatewayClient } from '../export/pushgateway.js';
import { Fleet } from '../fleet/fleet.js';
import { MergeIssueLog } from '../fleet/issue-log.js';
import { TargetHealth } from '../fleet/targets-scrape.js';
import { createLogger, type Logger } from '../logger.js';
import { resolveDestination } from '../otlp/destination.js';
import { JsonForwarder } from '../export/json-forwarder.js';
import { apiPassthrough } from '../api/wiring.js';
import { saturationService, type SaturationService } from '../saturation/wiring.js';
import { OtlpPusher } from '../otlp/push.js';
import { RelayRepair } from '../otlp/relay-repair.js';
import { SERVICE_NAME, targetAttributes, type ResourceAttributes } from '../otlp/resource.js';
import { TargetSet, type Target } from '../targets/target-set.js';
import { fetchSanitized } from '../upstream/sanitized-body.js';
import { Upstream, type UpstreamOptions } from '../upstream/upstream.js';
import { RenameWatch } from '../names/renames.js';
import { checkProxyConfig, type ProxyConfig, type SpoolConfig } from './proxy-config.js';
import { Spool } from '../spool/spool.js';
import { ConfigError, SpoolError } from '../errors.js';
import { join } from 'node:path';
import { buildApp, buildRelayApp } from './app.js';
import { DEFAULT_CLIENT_LIMITS } from '../http/fastify.js';
import type { MetricsSource } from './metrics-source.js';
import { Poller } from './poller.js';
import { collisionReporter } from './collision-reporter.js';
import { SelfMetrics } from './self-metrics.js';
import { BearerToken } from './bearer-token.js';

export type { ApiPassthroughConfig, FleetConfig, OtlpConfig, ProxyConfig, PushgatewayConfig, SaturationConfig, SpoolConfig } from './proxy-config.js';

export interface RunningProxy {
  app: FastifyInstance;
  /** Single-upstream mode's upstream. */
  upstream?: Upstream;
  /** Fleet mode's targets. */
  targets?: TargetSet;
  metrics: SelfMetrics;
  /** The direct OTLP push, when on. */
  pusher?: OtlpPusher;
  gateway?: GatewayPusher;
  poller?: Poller;
  saturation?: SaturationService;
  /** Where the relay takes OTLP (its own address with --otlp-relay-listen), when it is on. */
  relayUrl?: string;
  /** http://host:port of the listening server. */
  url: string;
  /** Stop accepting, let in-flight scrapes finish, release upstream connections. */
  close(): Promise<void>;
}

/** Build and start the sanitizing proxy. A config that cannot work is refused first (ConfigError naming the option), before anything listens. */
export async function startProxy(config: ProxyConfig, log?: Logger): Promise<RunningProxy> {
  checkProxyConfig(config);
  log ??= createLogger(config.logLevel);
  const otlp = config.otlp;
  // Resolve every destination first, so a bad one stops the start before anything listens (named by its option path, as the config check does).
  const forwardTo = otlp?.forwardUrl ? resolveDestination({ ...otlp.destination, url: otlp.forwardUrl }, 'otlp.forwardUrl') : undefined;
  const pushTo = otlp?.pushUrl ? resolveDestination({ ...otlp.destination, url: otlp.pushUrl }, 'otlp.pushUrl') : undefined;
  const gatewayClient = config.pushgateway ? new PushgatewayClient({ url: config.pushgateway.url, timeoutMs: config.pushgateway.timeoutMs }) : undefined;

  const metrics = new SelfMetrics({ processMetrics: config.processMetrics });
  const renames = new RenameWatch();
  const upstreamOptions: UpstreamOptions = {
    ...config.upstream,
    onFetch: () => metrics.upstreamFetches.inc(),
    onFailure: (err) => metrics.upstreamErrors.inc({ kind: err.kind }),
    onFamilies: (u, names) => {
      for (const r of renames.observe(u.target.display, names)) {
        metrics.familyRenames.inc({ target: r.target, from: r.from, to: r.to });
        log.warn(
          { event: 'family_renamed', target: r.target, family: r.family, from: r.from, to: r.to },
          `${r.target} now serves ${r.to} in place of ${r.from} (an upgrade?): dashboards, queries and alerts on ${r.from} read nothing from now on (docs/names.md)`,
        );
      }
    },
  };
  const health = new TargetHealth(log);
  const issues = new MergeIssueLog(log, metrics);

  let upstream: Upstream | undefined;
  let targets: TargetSet | undefined;
  let fleet: Fleet | undefined;
  let listTargets: () => Target[];
  // Bound below, once the targets are known; the fleet's hooks reach it late.
  let saturation: SaturationService | undefined;
  if (config.fleet) {
    const f = config.fleet;
    targets = new TargetSet({
      static: f.static,
      targetsFile: f.targetsFile,
      discover: f.discover,
      discoverIntervalMs: f.discoverIntervalMs,
      dnsServer: f.dnsServer,
      upstream: upstreamOptions,
      log,
    });
    await targets.start();
    fleet = new Fleet({
      targets,
      label: f.label,
      families: config.upstream.families,
      names: config.upstream.names,
      aggregateWindowMs: f.aggregateWindowMs,
      log,
      metrics,
      health,
      issues,
      onRound: (outcomes, timeMs) => saturation?.observeOutcomes?.(outcomes, timeMs),
      trailer: () => saturation?.trailer?.() ?? '',
    });
    listTargets = () => targets!.list();
    targets.on('change', (_added: Target[], removed: Target[]) => {
      for (const t of removed) health.forget(t.name);
    });
  } else {
    upstream = new Upstream(upstreamOptions);
    const single: Target[] = [{ name: upstream.target.url.host, upstream, source: 'static' }];
    listTargets = () => single;
  }

  if (config.saturation) {
    saturation = saturationService(config.saturation, {
      log,
      metrics,
      targets: listTargets,
      targetLabel: config.fleet?.label ?? 'instance',
      timeoutMs: config.upstream.timeoutMs,
      pollIntervalMs: config.poll?.intervalMs,
    });
  }

  let poller: Poller | undefined;
  if (config.poll) {
    const timeoutMs = Math.min(config.upstream.timeoutMs, config.poll.intervalMs);
    const onCollision = collisionReporter({ metrics, log });
    const produce = fleet
      ? () => fleet!.scrape(timeoutMs).then((r) => r.snapshot)
      : () => fetchSanitized(upstream!, onCollision).then((snap) => saturation?.polled?.(listTargets()[0]!.name, snap) ?? snap);
    poller = new Poller(produce, config.poll.intervalMs, log, metrics);
  }

  const relaySpool = forwardTo && config.spool ? await openSpool(config.spool, 'relay', 'OTLP', log) : undefined;
  const pushSpool = pushTo && config.spool ? await openSpool(config.spool, 'push', 'OTLP push', log) : undefined;
  const forwarder =
    otlp && forwardTo
      ? new JsonForwarder({
          destination: forwardTo,
          spool: relaySpool,
          drainPerSecond: config.spool?.drainPerSecond,
          maxQueueBytes: relaySpool ? config.spool!.maxBytes : otlp.maxQueueBytes,
          timeoutMs: otlp.timeoutMs,
          retryBaseMs: otlp.retryBaseMs,
          retryMaxMs: otlp.retryMaxMs,
          log,
          metrics: metrics.relayForwarder(),
        })
      : undefined;
  const relay =
    otlp && forwarder
      ? {
          forwarder,
          maxRequestBytes: otlp.maxRequestBytes,
          token: otlp.relayToken ? new BearerToken(otlp.relayToken) : undefined,
          repair: new RelayRepair({ sourceOf: scrapeSource(listTargets, targets, config.fleet?.label), extra: otlp.resource, names: otlp.names, log }),
        }
      : undefined;
  const requestSpool = config.api?.ship && config.spool ? await openSpool(config.spool, 'requests', 'request log', log) : undefined;
  const api = config.api
    ? apiPassthrough(config.api, {
        log,
        metrics,
        upstream,
        spool: requestSpool && { spool: requestSpool, maxBytes: config.spool!.maxBytes, drainPerSecond: config.spool!.drainPerSecond },
      })
    : undefined;
  const source: MetricsSource = poller
    ? { mode: 'poll', poller, maxStalenessMs: config.poll!.maxStalenessMs }
    : fleet
      ? { mode: 'fleet', fleet, targets: targets! }
      : { mode: 'stream', upstream: upstream! };
  const limits = config.clientLimits ?? DEFAULT_CLIENT_LIMITS;
  const app = await buildApp({
    source,
    coalesce: config.coalesce ?? true,
    timeoutMs: config.upstream.timeoutMs,
    readyMaxAgeMs: config.readyMaxAgeMs,
    metrics,
    log,
    relay: otlp?.relayListen ? undefined : relay,
    api: api && { config: config.api!, context: api.context, idleTimeoutMs: limits.idleTimeoutMs },
    saturation,
    limits,
  });
  if (config.upstream.insecure) {
    log.warn({ event: 'tls_verification_off' }, 'upstream TLS certificates are NOT verified (--insecure)');
  }
  if (poller) await poller.start();
  // Not awaited: a Prometheus that is down must not hold up the start (/saturation says so).
  void saturation?.start();
  const relayApp = relay && otlp?.relayListen ? await buildRelayApp(relay, metrics, log, limits) : undefined;
  if (relayApp) await relayApp.listen(otlp!.relayListen!);
  const spools = [relaySpool, pushSpool, requestSpool];
  await app.listen({ host: config.host, port: config.port }).catch(async (err: unknown) => {
    await relayApp?.close();
    await Promise.all(spools.map((s) => s?.close()));
    throw err;
  });
  const url = listeningUrl(app, config.host);
  const relayHost = otlp?.relayListen?.host ?? config.host;
  const relayUrl = `${relayApp ? listeningUrl(relayApp, relayHost) : url}/v1/metrics`;
  const mode = poller ? `, polled every ${config.poll!.intervalMs} ms` : '';
  if (upstream) {
    log.info(
      { event: 'listening', url, upstream: upstream.target.display, timeoutMs: config.upstream.timeoutMs, pollMs: config.poll?.intervalMs },
      `sanitizing ${upstream.target.display} on ${url}/metrics${mode}`,
    );
  } else {
    log.info(
      { event: 'listening', url, targets: targets!.size, label: config.fleet!.label, timeoutMs: config.upstream.timeoutMs, pollMs: config.poll?.intervalMs },
      `merging ${targets!.size} target(s) on ${url}/metrics${mode}`,
    );
  }
  if (forwardTo) {
    log.info(
      { event: 'otlp_relay', url: relayUrl, destination: forwardTo.display, tokenRequired: Boolean(relay?.token) },
      `relaying OTLP from ${relayUrl} to ${forwardTo.display}`,
    );
    if (!relay?.token && !isLoopback(relayHost)) {
      log.warn(
        { event: 'otlp_relay_open', host: relayHost },
        `the OTLP relay listens on ${relayHost} without a token: anyone who reaches ${new URL(relayUrl).host} can write into ${forwardTo.display} with the proxy's credentials. Set OTLP_RELAY_TOKEN (or --otlp-relay-token-file) here and in Fluent Bit's environment, or --otlp-relay-listen 127.0.0.1:4318`,
      );
    }
  }
  const pushForwarder =
    otlp && pushTo && pushSpool
      ? new JsonForwarder({
          destination: pushTo,
          spool: pushSpool,
          drainPerSecond: config.spool!.drainPerSecond,
          maxQueueBytes: config.spool!.maxBytes,
          timeoutMs: otlp.timeoutMs,
          retryBaseMs: otlp.retryBaseMs,
          retryMaxMs: otlp.retryMaxMs,
          log,
          metrics: metrics.pushForwarder(),
          what: 'OTLP push',
        })
      : undefined;
  const pusher =
    otlp && pushTo
      ? new OtlpPusher({
          targets: listTargets,
          families: config.upstream.families,
          names: config.upstream.names,
          destination: pushTo,
          resource: otlp.resource,
          otlpNames: otlp.names,
          intervalMs: otlp.pushIntervalMs,
          timeoutMs: otlp.timeoutMs,
          log,
          metrics,
          forwarder: pushForwarder,
        })
      : undefined;
  if (pusher && pushTo) {
    log.info(
      { event: 'otlp_push', destination: pushTo.display, intervalMs: otlp!.pushIntervalMs },
      `pushing OTLP to ${pushTo.display} every ${otlp!.pushIntervalMs} ms`,
    );
    pusher.start();
  }
  let gateway: GatewayPusher | undefined;
  if (gatewayClient) {
    const g = config.pushgateway!;
    gateway = new GatewayPusher({
      client: gatewayClient,
      families: config.upstream.families,
      names: config.upstream.names,
      job: g.job,
      targets: listTargets,
      intervalMs: g.intervalMs,
      scrapeTimeoutMs: Math.min(config.upstream.timeoutMs, g.intervalMs),
      deleteOnShutdown: g.deleteOnShutdown,
      attempts: g.attempts,
      retryBaseMs: g.retryBaseMs,
      log,
      metrics,
      health,
      issues,
    });
    targets?.on('change', (_added: Target[], removed: Target[]) => {
      for (const t of removed) void gateway!.forget(t.name);
    });
    log.info(
      { event: 'pushgateway_push', pushgateway: gatewayClient.target.display, job: g.job, intervalMs: g.intervalMs },
      `pushing to the Pushgateway ${gatewayClient.target.display} every ${g.intervalMs} ms as job "${g.job}"`,
    );
    gateway.start();
  }
  let closing: Promise<void> | undefined;
  return {
    app,
    upstream,
    targets,
    metrics,
    pusher,
    gateway,
    poller,
    saturation,
    url,
    relayUrl: forwardTo ? relayUrl : undefined,
    close() {
      closing ??= (async () => {
        await Promise.all([pusher?.close(), gateway?.close(), poller?.close(), saturation?.close()]);
        await Promise.all([app.close(), relayApp?.close()]);
        await forwarder?.close(otlp!.timeoutMs);
        await api?.close();
        await upstream?.close();
        await targets?.close();
        // Last: the senders above have written what they still held.
        await Promise.all(spools.map((s) => s?.close()));
      })();
      return closing;
    },
  };
}

/** http://host:port of a listening app; a wildcard address is reached on loopback. */
function listeningUrl(app: FastifyInstance, listenHost: string): string {
  const addr = app.server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  const host = listenHost === '0.0.0.0' || listenHost === '::' ? '127.0.0.1' : listenHost;
  return `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
}

/**
 * Where a scrape of this proxy came from, for the relay: the one upstream, or in
 * fleet mode the target a sample's target label names.
 */
function scrapeSource(listTargets: () => Target[], targets: TargetSet | undefined, targetLabel: string | undefined) {
  return (label: (key: string) => string | undefined): ResourceAttributes => {
    if (!targets) return targetAttributes(listTargets()[0]!);
    const name = targetLabel ? label(targetLabel) : undefined;
    const target = name === undefined ? undefined : targets.get(name);
    if (target) return targetAttributes(target);
    return name === undefined ? { 'service.name': SERVICE_NAME } : { 'service.name': SERVICE_NAME, 'service.instance.id': name };
  };
}

const isLoopback = (host: string) => host === 'localhost' || host === '::1' || /^127\./.test(host);

/** One sender's spool, in its own subdirectory; one that cannot be opened stops the start, naming the option. */
async function openSpool(config: SpoolConfig, sub: string, what: string, log: Logger): Promise<Spool> {
  try {
    return await Spool.open({ dir: join(config.dir, sub), log, what });
  } catch (err) {
    if (err instanceof SpoolError) throw new ConfigError('spool.dir', err.message);
    throw err;
  }
}

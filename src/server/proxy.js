import { GatewayPusher } from '../export/gateway-pusher.js';
import { PushgatewayClient } from '../export/pushgateway.js';
import { Fleet } from '../fleet/fleet.js';
import { MergeIssueLog } from '../fleet/issue-log.js';
import { TargetHealth } from '../fleet/targets-scrape.js';
import { createLogger } from '../logger.js';
import { resolveDestination } from '../otlp/destination.js';
import { JsonForwarder, relayMetrics, requestShipperMetrics } from '../export/json-forwarder.js';
import { RequestShipper } from '../requests/shipper.js';
import { OtlpPusher } from '../otlp/push.js';
import { RelayRepair } from '../otlp/relay-repair.js';
import { SERVICE_NAME, targetAttributes } from '../otlp/resource.js';
import { TargetSet } from '../targets/target-set.js';
import { fetchSanitized } from '../upstream/sanitized-body.js';
import { Upstream } from '../upstream/upstream.js';
import { buildApp } from './app.js';
import { RequestLog } from '../requests/request-log.js';
import { ServerView, Snapshots, totalsByModel } from '../requests/server-view.js';
import { fetchText } from '../upstream/scrape.js';
import { Poller } from './poller.js';
import { collisionReporter } from './routes/metrics.js';
import { SelfMetrics } from './self-metrics.js';
import { BearerToken } from './bearer-token.js';
/** Build and start the sanitizing proxy. */
export async function startProxy(config, log = createLogger(config.logLevel)) {
    const otlp = config.otlp;
    // Resolve every destination first, so a bad flag stops the start before anything listens.
    const forwardTo = otlp?.forwardUrl ? resolveDestination({ ...otlp.destination, url: otlp.forwardUrl }, '--otlp-forward-url') : undefined;
    const pushTo = otlp?.pushUrl ? resolveDestination({ ...otlp.destination, url: otlp.pushUrl }, '--otlp-push-url') : undefined;
    const gatewayClient = config.pushgateway ? new PushgatewayClient({ url: config.pushgateway.url, timeoutMs: config.pushgateway.timeoutMs }) : undefined;
    const metrics = new SelfMetrics({ processMetrics: config.processMetrics });
    const upstreamOptions = {
        ...config.upstream,
        onFetch: () => metrics.upstreamFetches.inc(),
        onFailure: (err) => metrics.upstreamErrors.inc({ kind: err.kind }),
    };
    const health = new TargetHealth(log);
    const issues = new MergeIssueLog(log, metrics);
    let upstream;
    let targets;
    let fleet;
    let listTargets;
    if (config.fleet) {
        const f = config.fleet;
        targets = new TargetSet({ static: f.static, targetsFile: f.targetsFile, discover: f.discover, discoverIntervalMs: f.discoverIntervalMs, dnsServer: f.dnsServer, upstream: upstreamOptions, log });
        await targets.start();
        fleet = new Fleet({ targets, label: f.label, aggregateWindowMs: f.aggregateWindowMs, log, metrics, health, issues });
        listTargets = () => targets.list();
        targets.on('change', (_added, removed) => {
            for (const t of removed)
                health.forget(t.name);
        });
    }
    else {
        upstream = new Upstream(upstreamOptions);
        const single = [{ name: upstream.target.url.host, upstream, source: 'static' }];
        listTargets = () => single;
    }
    let poller;
    if (config.poll) {
        const timeoutMs = Math.min(config.upstream.timeoutMs, config.poll.intervalMs);
        const onCollision = collisionReporter({ metrics, log });
        const produce = fleet ? () => fleet.scrape(timeoutMs).then((r) => r.snapshot) : () => fetchSanitized(upstream, onCollision);
        poller = new Poller(produce, config.poll.intervalMs, log, metrics);
    }
    const forwarder = otlp && forwardTo
        ? new JsonForwarder({ destination: forwardTo, maxQueueBytes: otlp.maxQueueBytes, timeoutMs: otlp.timeoutMs, retryBaseMs: otlp.retryBaseMs, retryMaxMs: otlp.retryMaxMs, log, metrics: relayMetrics(metrics) })
        : undefined;
    const relay = otlp && forwarder
        ? {
            forwarder,
            maxRequestBytes: otlp.maxRequestBytes,
            token: otlp.relayToken ? new BearerToken(otlp.relayToken) : undefined,
            repair: new RelayRepair({ sourceOf: scrapeSource(listTargets, targets, config.fleet?.label), extra: otlp.resource, log }),
        }
        : undefined;
    let requestLog;
    let shipper;
    let api;
    if (config.api) {
        requestLog = config.api.requestLog ? new RequestLog(config.api.requestLog) : undefined;
        const ship = config.api.ship;
        shipper = ship
            ? new RequestShipper(new JsonForwarder({
                destination: resolveDestination(ship.destination, '--request-log-url'),
                maxQueueBytes: ship.maxQueueBytes,
                timeoutMs: ship.timeoutMs,
                retryBaseMs: ship.retryBaseMs,
                retryMaxMs: ship.retryMaxMs,
                log,
                metrics: requestShipperMetrics(metrics),
                what: 'request log',
            }), { maxWaitMs: ship.maxWaitMs })
            : undefined;
        // The server-side view reads the one upstream's /metrics; in fleet mode a request's vLLM is not known here.
        const serverView = config.api.serverView !== false && upstream
            ? new ServerView(new Snapshots(async () => {
                const t = await fetchText(upstream);
                return totalsByModel(t.text, t.format === 'openmetrics');
            }))
            : undefined;
        api = {
            config: config.api,
            context: {
                log,
                serverView,
                onRecord: (record) => {
                    metrics.apiRequests.inc({ endpoint: record.endpoint, status: String(record.status) });
                    requestLog?.append(record);
                    shipper?.add(record);
                },
            },
        };
    }
    const ctx = {
        upstream,
        fleet,
        targets,
        poll: poller ? { poller, maxStalenessMs: config.poll.maxStalenessMs } : undefined,
        coalesce: config.coalesce ?? true,
        upstreamTimeoutMs: config.upstream.timeoutMs,
        metrics,
        log,
        readyMaxAgeMs: config.readyMaxAgeMs,
        relay,
        api,
    };
    const app = await buildApp(ctx);
    if (config.upstream.insecure) {
        log.warn({ event: 'tls_verification_off' }, 'upstream TLS certificates are NOT verified (--insecure)');
    }
    if (poller)
        await poller.start();
    await app.listen({ host: config.host, port: config.port });
    const addr = app.server.address();
    const port = typeof addr === 'object' && addr ? addr.port : config.port;
    const host = config.host === '0.0.0.0' || config.host === '::' ? '127.0.0.1' : config.host;
    const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
    const mode = poller ? `, polled every ${config.poll.intervalMs} ms` : '';
    if (upstream) {
        log.info({ event: 'listening', url, upstream: upstream.target.display, timeoutMs: config.upstream.timeoutMs, pollMs: config.poll?.intervalMs }, `sanitizing ${upstream.target.display} on ${url}/metrics${mode}`);
    }
    else {
        log.info({ event: 'listening', url, targets: targets.size, label: config.fleet.label, timeoutMs: config.upstream.timeoutMs, pollMs: config.poll?.intervalMs }, `merging ${targets.size} target(s) on ${url}/metrics${mode}`);
    }
    if (forwardTo) {
        log.info({ event: 'otlp_relay', url: `${url}/v1/metrics`, destination: forwardTo.display, tokenRequired: Boolean(relay?.token) }, `relaying OTLP from ${url}/v1/metrics to ${forwardTo.display}`);
        if (!relay?.token && !isLoopback(config.host)) {
            log.warn({ event: 'otlp_relay_open', host: config.host }, `the OTLP relay listens on ${config.host} without a token: anyone who reaches port ${port} can write into ${forwardTo.display} with the proxy's credentials. Set OTLP_RELAY_TOKEN (or --otlp-relay-token-file) here and in Fluent Bit's environment`);
        }
    }
    const pusher = otlp && pushTo ? new OtlpPusher({ targets: listTargets, destination: pushTo, resource: otlp.resource, intervalMs: otlp.pushIntervalMs, timeoutMs: otlp.timeoutMs, log, metrics }) : undefined;
    if (pusher && pushTo) {
        log.info({ event: 'otlp_push', destination: pushTo.display, intervalMs: otlp.pushIntervalMs }, `pushing OTLP to ${pushTo.display} every ${otlp.pushIntervalMs} ms`);
        pusher.start();
    }
    let gateway;
    if (gatewayClient) {
        const g = config.pushgateway;
        gateway = new GatewayPusher({
            client: gatewayClient,
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
        targets?.on('change', (_added, removed) => {
            for (const t of removed)
                void gateway.forget(t.name);
        });
        log.info({ event: 'pushgateway_push', pushgateway: gatewayClient.target.display, job: g.job, intervalMs: g.intervalMs }, `pushing to the Pushgateway ${gatewayClient.target.display} every ${g.intervalMs} ms as job "${g.job}"`);
        gateway.start();
    }
    let closing;
    return {
        app,
        upstream,
        targets,
        metrics,
        pusher,
        gateway,
        poller,
        url,
        close() {
            closing ??= (async () => {
                await Promise.all([pusher?.close(), gateway?.close(), poller?.close()]);
                await app.close();
                await forwarder?.close(otlp.timeoutMs);
                await shipper?.close(config.api.ship.timeoutMs);
                requestLog?.close();
                await upstream?.close();
                await targets?.close();
            })();
            return closing;
        },
    };
}
/**
 * Where a scrape of this proxy came from, for the relay: the one upstream, or in
 * fleet mode the target a sample's target label names.
 */
function scrapeSource(listTargets, targets, targetLabel) {
    return (label) => {
        if (!targets)
            return targetAttributes(listTargets()[0]);
        const name = targetLabel ? label(targetLabel) : undefined;
        const target = name === undefined ? undefined : targets.get(name);
        if (target)
            return targetAttributes(target);
        return name === undefined ? { 'service.name': SERVICE_NAME } : { 'service.name': SERVICE_NAME, 'service.instance.id': name };
    };
}
const isLoopback = (host) => host === 'localhost' || host === '::1' || /^127\./.test(host);

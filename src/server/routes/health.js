const text = (reply, code, body) => reply.code(code).type('text/plain; charset=utf-8').send(`${body}\n`);
export function healthRoutes(app, ctx) {
    // Liveness: the process serves HTTP. Never touches the upstream, so a slow
    // vLLM cannot get the proxy restarted.
    // With vLLM's API passed through, /health is vLLM's (api/passthrough.ts): /proxy/health is always the proxy's.
    app.get('/proxy/health', async (_request, reply) => text(reply, 200, 'ok'));
    if (!ctx.api)
        app.get('/health', async (_request, reply) => text(reply, 200, 'ok'));
    // Readiness: /metrics would serve upstream data now. A recent success counts;
    // otherwise one probe is made (shared by concurrent callers).
    app.get('/ready', async (_request, reply) => {
        if (ctx.poll) {
            const age = ctx.poll.poller.age();
            if (age !== undefined && age <= ctx.poll.maxStalenessMs)
                return text(reply, 200, `ready: data polled ${(age / 1000).toFixed(1)}s ago`);
            const why = ctx.poll.poller.lastError?.message ?? 'no poll has succeeded yet';
            return text(reply, 503, `not ready: ${age === undefined ? why : `data is ${(age / 1000).toFixed(1)}s old: ${why}`}`);
        }
        if (ctx.fleet) {
            const targets = ctx.targets.list();
            if (targets.length === 0)
                return text(reply, 503, 'not ready: no targets');
            const now = Date.now();
            const fresh = targets.filter((t) => t.upstream.lastSuccessAt > 0 && now - t.upstream.lastSuccessAt <= ctx.readyMaxAgeMs).length;
            if (fresh > 0)
                return text(reply, 200, `ready: ${fresh} of ${targets.length} targets answered recently`);
            const { outcomes } = await ctx.fleet.scrape(ctx.upstreamTimeoutMs);
            const up = outcomes.filter((o) => !o.error).length;
            if (up > 0)
                return text(reply, 200, `ready: ${up} of ${outcomes.length} targets answered`);
            return text(reply, 503, `not ready: no target answered (${outcomes[0]?.error?.message ?? 'no targets'})`);
        }
        const upstream = ctx.upstream;
        const age = Date.now() - upstream.lastSuccessAt;
        if (upstream.lastSuccessAt > 0 && age <= ctx.readyMaxAgeMs)
            return text(reply, 200, `ready: upstream answered ${(age / 1000).toFixed(1)}s ago`);
        try {
            await upstream.probe();
            ctx.metrics.upstreamUp.set(1);
            ctx.metrics.lastSuccess.set(Date.now() / 1000);
            return text(reply, 200, 'ready: upstream answered');
        }
        catch (err) {
            ctx.metrics.upstreamUp.set(0);
            return text(reply, 503, `not ready: ${err.message}`);
        }
    });
    app.get('/proxy/metrics', async (_request, reply) => {
        const body = await ctx.metrics.registry.metrics();
        return reply.type(ctx.metrics.registry.contentType).send(body);
    });
}

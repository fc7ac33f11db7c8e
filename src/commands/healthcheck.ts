/**
 * `vllm-metrics-proxy healthcheck [--url URL]`: a container healthcheck that
 * needs no shell, no curl and no quoting (podman-compose re-quotes an exec-form
 * test into a shell line; plain words pass through). Exit 0 or 1, and one line
 * saying why.
 */
import type { Command } from 'commander';
import { request } from 'undici';
import { durationArg, envOption } from './options.js';

export interface HealthResult {
  healthy: boolean;
  line: string;
}

/** GET `url`: healthy on a 2xx answer within `timeoutMs`. */
export async function checkHealth(url: string, timeoutMs: number): Promise<HealthResult> {
  const started = performance.now();
  try {
    const res = await request(url, { method: 'GET', headersTimeout: timeoutMs, bodyTimeout: timeoutMs, signal: AbortSignal.timeout(timeoutMs) });
    await res.body.dump();
    const ms = Math.round(performance.now() - started);
    if (res.statusCode >= 200 && res.statusCode < 300) return { healthy: true, line: `healthy: ${url} answered ${res.statusCode} in ${ms} ms` };
    return { healthy: false, line: `unhealthy: ${url} answered ${res.statusCode} in ${ms} ms` };
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    const why =
      e.name === 'TimeoutError' || e.name === 'AbortError' || e.code === 'UND_ERR_HEADERS_TIMEOUT' ? `no answer within ${timeoutMs} ms` : (e.code ?? e.message);
    return { healthy: false, line: `unhealthy: ${url}: ${why}` };
  }
}

export function healthcheckCommand(program: Command): void {
  program
    .command('healthcheck')
    .description('exit 0 if the proxy (or --url) answers 2xx, else 1; one line says why (for container healthchecks)')
    .option('--url <url>', "what to check (default: this container's proxy, http://127.0.0.1:$PORT/proxy/health)")
    .addOption(envOption('--timeout <duration>', 'how long to wait for the answer', 'HEALTHCHECK_TIMEOUT', durationArg, 3_000, '3s'))
    .action(async (flags: { url?: string; timeout: number }) => {
      const url = flags.url ?? `http://127.0.0.1:${process.env.PORT || 9090}/proxy/health`;
      let parsed: URL;
      try {
        parsed = new URL(url);
      } catch {
        process.stdout.write(`unhealthy: --url "${url}" is not a URL\n`);
        process.exit(1);
      }
      const result = await checkHealth(parsed.href, flags.timeout);
      process.stdout.write(`${result.line}\n`);
      process.exit(result.healthy ? 0 : 1);
    });
}

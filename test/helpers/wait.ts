import { setTimeout as delay } from 'node:timers/promises';

/**
 * Poll `check` until it returns a value other than undefined, or fail after
 * `timeoutMs` with the last reason. For waiting on another process's state
 * (a Prometheus scrape), where there is no event to await.
 */
export async function eventually<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 30_000, everyMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
    await delay(everyMs);
  }
}

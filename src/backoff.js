/** Capped exponential backoff with full jitter: uniform in [0, min(max, base * 2^attempt)). */
export function backoffDelay(attempt, baseMs, maxMs, random = Math.random) {
    return random() * Math.min(maxMs, baseMs * 2 ** Math.min(attempt, 30));
}

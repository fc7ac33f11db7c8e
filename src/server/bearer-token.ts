import { createHash, timingSafeEqual } from 'node:crypto';

/**
 * A bearer token checked in constant time: both sides are hashed first, so
 * neither the content nor the length of the token leaks through timing. The
 * token itself is never exposed (not even to a logger that serializes this).
 */
export class BearerToken {
  readonly #digest: Buffer;

  constructor(token: string) {
    this.#digest = createHash('sha256').update(token).digest();
  }

  /** True when `header` is `Bearer <the token>`. */
  accepts(header: string | undefined): boolean {
    const m = /^Bearer +(.*)$/i.exec(header ?? '');
    const given = createHash('sha256')
      .update(m ? m[1]!.trim() : '\u0000no token')
      .digest();
    return timingSafeEqual(given, this.#digest) && m !== null;
  }

  toJSON(): string {
    return '[redacted]';
  }
}

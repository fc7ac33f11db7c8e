import { readFileSync } from 'node:fs';
import { ConfigError } from './errors.js';

/** A secret from a flag, a variable, or a file (for mounted Kubernetes secrets). */
export function readSecret(value: string | undefined, file: string | undefined, flag: string): string | undefined {
  if (value && file) throw new ConfigError(flag, `give the token or ${flag}-file, not both`);
  if (!file) return value || undefined;
  try {
    const token = readFileSync(file, 'utf8').trim();
    if (!token) throw new Error('file is empty');
    return token;
  } catch (err) {
    throw new ConfigError(`${flag}-file`, `cannot read ${file}: ${(err as Error).message}`);
  }
}

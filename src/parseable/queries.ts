/**
 * The project's saved queries, as `parseable/*.sql` writes them: blocks that start with a
 * `-- name: <name>` line, then comment lines saying what the query answers, then the SQL.
 * One parser for `parseable setup` (which saves them in Parseable) and for the tests (which
 * run them on rows the real Fluent Bit delivered).
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ConfigError } from '../errors.js';

export interface SavedQuery {
  /** The block's `-- name:`. */
  name: string;
  /** Its comment lines, joined. */
  description: string;
  /** The SQL, without its comments and final semicolon. */
  sql: string;
  /** The stream its FROM reads. */
  stream: string;
}

export function parseQueries(text: string, file: string): SavedQuery[] {
  return text
    .split(/^-- name: /m)
    .slice(1)
    .map((block) => {
      const [head, ...lines] = block.split('\n');
      const name = head!.trim();
      const comments = lines.filter((l) => l.startsWith('--')).map((l) => l.replace(/^--\s?/, ''));
      const sql = lines
        .filter((l) => !l.startsWith('--'))
        .join('\n')
        .trim()
        .replace(/;\s*$/, '');
      const stream = /\bFROM\s+"([^"]+)"/i.exec(sql)?.[1];
      if (!/^[a-z][a-z0-9_]*$/.test(name)) throw new ConfigError(file, `query name "${name}" is not snake_case`);
      if (!stream) throw new ConfigError(file, `query ${name} reads no FROM "<stream>"`);
      return { name, description: comments.join(' ').trim(), sql, stream };
    });
}

/** The queries shipped with the project (parseable/*.sql beside dist/ and src/). */
export const QUERY_FILES = ['queries.sql', 'requests.sql'].map((f) => fileURLToPath(new URL(`../../parseable/${f}`, import.meta.url)));

export function projectQueries(files = QUERY_FILES): SavedQuery[] {
  return files.flatMap((f) => parseQueries(readFileSync(f, 'utf8'), f));
}

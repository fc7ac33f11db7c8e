import { existsSync, statSync } from 'node:fs';
import Database from 'better-sqlite3';
import { rowsOf, StoreError, type Round, type Row, type RowStore } from './store.js';

/**
 * The schema (version 1). Series are stored once and points refer to them,
 * which keeps the file small (bench/README.md gives the size per million
 * samples); the `samples` view gives one row per sample with every column.
 */
export const SQLITE_SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS series (
  id INTEGER PRIMARY KEY,
  target TEXT NOT NULL,
  family TEXT NOT NULL,
  type TEXT NOT NULL,
  name TEXT NOT NULL,
  labels TEXT NOT NULL,            -- JSON object, keys sorted
  UNIQUE (target, name, labels)
);
CREATE INDEX IF NOT EXISTS series_family ON series (family);
CREATE TABLE IF NOT EXISTS points (
  series_id INTEGER NOT NULL REFERENCES series (id),
  ts INTEGER NOT NULL,             -- ms since the epoch
  value REAL,                      -- NULL for NaN (SQLite has none); +-Inf kept
  PRIMARY KEY (series_id, ts)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS points_ts ON points (ts);
CREATE VIEW IF NOT EXISTS samples AS
  SELECT p.ts AS ts, s.target, s.family, s.type, s.name, s.labels, p.value
  FROM points p JOIN series s ON s.id = p.series_id;
`;

const sortedJson = (labels: Record<string, string>) =>
  JSON.stringify(
    Object.fromEntries(
      Object.keys(labels)
        .sort()
        .map((k) => [k, labels[k]]),
    ),
  );

/** The files of WAL mode beside a database: the write-ahead log and its shared memory. */
export const walSidecars = (path: string): string[] => [`${path}-wal`, `${path}-shm`];

/** Every file SQLite may keep beside a database: the WAL pair and a rollback journal. */
export const sqliteSidecars = (path: string): string[] => [...walSidecars(path), `${path}-journal`];

/** Rounds sit in the write-ahead log that are not in the file yet: a writer is at work, or was killed. */
export function walHasContent(path: string): boolean {
  const wal = `${path}-wal`;
  return existsSync(wal) && statSync(wal).size > 0;
}

/**
 * SQLite through better-sqlite3, in WAL mode: each round is one transaction,
 * committed before `write` resolves, so a killed collector leaves every
 * finished round readable and the file consistent.
 */
export class SqliteStore implements RowStore {
  readonly name = 'sqlite';
  private readonly db: Database.Database;
  private readonly ids = new Map<string, number>();
  private readonly insertSeries: Database.Statement;
  private readonly findSeries: Database.Statement;
  private readonly insertPoint: Database.Statement;
  private readonly insertRows: (rows: readonly Row[]) => void;

  constructor(readonly location: string) {
    try {
      this.db = new Database(location);
      this.db.pragma('journal_mode = WAL');
      this.db.pragma('synchronous = NORMAL');
      this.db.exec(SQLITE_SCHEMA);
      this.db.prepare("INSERT OR IGNORE INTO meta (key, value) VALUES ('schema_version', '1')").run();
    } catch (err) {
      throw new StoreError(this.name, location, err);
    }
    this.insertSeries = this.db.prepare('INSERT OR IGNORE INTO series (target, family, type, name, labels) VALUES (?, ?, ?, ?, ?)');
    this.findSeries = this.db.prepare('SELECT id FROM series WHERE target = ? AND name = ? AND labels = ?');
    this.insertPoint = this.db.prepare('INSERT OR REPLACE INTO points (series_id, ts, value) VALUES (?, ?, ?)');
    this.insertRows = this.db.transaction((rows: readonly Row[]) => {
      for (const r of rows) {
        const labels = sortedJson(r.labels);
        const key = `${r.target}\u0000${r.name}\u0000${labels}`;
        let id = this.ids.get(key);
        if (id === undefined) {
          this.insertSeries.run(r.target, r.family, r.type, r.name, labels);
          id = (this.findSeries.get(r.target, r.name, labels) as { id: number }).id;
          this.ids.set(key, id);
        }
        this.insertPoint.run(id, r.timeMs, Number.isNaN(r.value) ? null : r.value);
      }
    });
  }

  async write(round: Round): Promise<void> {
    return this.writeRows(rowsOf(round));
  }

  /** One transaction for the whole batch. */
  async writeRows(rows: readonly Row[]): Promise<void> {
    try {
      this.insertRows(rows);
    } catch (err) {
      throw new StoreError(this.name, this.location, err);
    }
  }

  async close(): Promise<void> {
    if (!this.db.open) return;
    // Fold the WAL back into the file, so a copied .sqlite is complete on its own.
    this.db.pragma('wal_checkpoint(TRUNCATE)');
    this.db.close();
  }
}

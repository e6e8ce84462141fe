// The ProfileObject's SQLite schema: append-only migrations, never edited once applied.
import type { Migration } from "../sql";

/** Tables that hold personal data: emptied by a merge hand-over and by erasure. */
export const PERSONAL_TABLES = [
  "identifiers",
  "events",
  "event_ids",
  "traits",
  "consent_history",
  "merges",
  "conflicts",
] as const;

export const profileMigrations: readonly Migration[] = [
  {
    id: 1,
    up: `
      CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
      CREATE TABLE identifiers (
        type TEXT NOT NULL, hash TEXT NOT NULL, value TEXT NOT NULL,
        verified INTEGER NOT NULL, added_at INTEGER NOT NULL,
        PRIMARY KEY (type, hash)
      );
      CREATE TABLE events (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        event_id TEXT NOT NULL UNIQUE,
        ts INTEGER NOT NULL,
        body TEXT NOT NULL
      );
      CREATE INDEX events_by_time ON events (ts DESC, seq DESC);
      CREATE TABLE event_ids (event_id TEXT PRIMARY KEY, n INTEGER NOT NULL);
      CREATE INDEX event_ids_by_n ON event_ids (n);
      CREATE TABLE traits (key TEXT PRIMARY KEY, value TEXT NOT NULL, updated_at INTEGER NOT NULL);
      CREATE TABLE consent_history (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        purpose TEXT NOT NULL, status TEXT NOT NULL, channel TEXT NOT NULL,
        source TEXT NOT NULL, at INTEGER NOT NULL
      );
      CREATE TABLE merges (
        profile_id TEXT PRIMARY KEY, via TEXT NOT NULL, event_id TEXT NOT NULL,
        channel TEXT NOT NULL, at INTEGER NOT NULL
      );
      CREATE TABLE conflicts (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        type TEXT NOT NULL, reason TEXT NOT NULL, profile_id TEXT,
        event_id TEXT NOT NULL, at INTEGER NOT NULL
      );
    `,
  },
];

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

/** Events keyed by time: an insert writes one B-tree page, and the timeline reads in key order. */
const events = `
  CREATE TABLE events (
    ts INTEGER NOT NULL, seq INTEGER NOT NULL, event_id TEXT NOT NULL, body TEXT NOT NULL,
    PRIMARY KEY (ts, seq)
  ) WITHOUT ROWID`;

/**
 * Ids of events that left the window, still answered as duplicates; `n` orders them, oldest
 * first. `digest` is the event's content's (null when unknown): a merge tells by it whether an
 * event of the same id is the same one.
 */
const eventIds =
  "CREATE TABLE event_ids (n INTEGER PRIMARY KEY, event_id TEXT NOT NULL, digest TEXT)";

const meta = "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)";
const identifiers = `
  CREATE TABLE identifiers (
    type TEXT NOT NULL, hash TEXT NOT NULL, value TEXT NOT NULL,
    verified INTEGER NOT NULL, added_at INTEGER NOT NULL,
    PRIMARY KEY (type, hash)
  )`;
const traits =
  "CREATE TABLE traits (key TEXT PRIMARY KEY, value TEXT NOT NULL, updated_at INTEGER NOT NULL)";
const consentHistory = `
  CREATE TABLE consent_history (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    purpose TEXT NOT NULL, status TEXT NOT NULL, channel TEXT NOT NULL,
    source TEXT NOT NULL, at INTEGER NOT NULL
  )`;
const merges = `
  CREATE TABLE merges (
    profile_id TEXT PRIMARY KEY, via TEXT NOT NULL, event_id TEXT NOT NULL,
    channel TEXT NOT NULL, at INTEGER NOT NULL
  )`;
const conflicts = `
  CREATE TABLE conflicts (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    type TEXT NOT NULL, reason TEXT NOT NULL, profile_id TEXT,
    event_id TEXT NOT NULL, at INTEGER NOT NULL
  )`;

/** Choices of one consent purpose a profile keeps. */
export const MAX_CONSENT_CHANGES = 1_000;

/**
 * Holds each purpose to its newest MAX_CONSENT_CHANGES choices, so an export always fits in one
 * answer (a banner or a back end may send the same state on every page). Repeats of the choice
 * before them go first, oldest first, then the oldest changes; the newest choice always stays, as
 * it is the current one however late an older choice arrives. A data step, not a table's shape:
 * migration 4 runs it on profiles stored before the bound, the object after each change.
 */
export const trimConsentHistory = `
  DELETE FROM consent_history WHERE seq IN (
    SELECT seq FROM (
      SELECT seq, row_number() OVER (
        PARTITION BY purpose ORDER BY status IS before AND NOT newest, at DESC, seq DESC) AS rank
      FROM (
        SELECT seq, purpose, status, at,
          lag(status) OVER (PARTITION BY purpose ORDER BY at, seq) AS before,
          row_number() OVER (PARTITION BY purpose ORDER BY at DESC, seq DESC) = 1 AS newest
        FROM consent_history))
    WHERE rank > ${MAX_CONSENT_CHANGES})`;

// Migrations are frozen text: what an old database ran, word for word. The schema a new profile
// gets is `profileSchema` below, built from the table definitions above; migration.test.ts holds a
// migrated profile to the same tables.
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
  {
    // An ingest wrote eight B-tree pages (events, its two indexes, sqlite_sequence, event_ids and
    // its index, meta), and committing them was a quarter of its CPU: now two (events, meta).
    // Duplicates are found in memory; the counters move to meta; ids of events still in the
    // window are no longer kept twice, and older ones are renumbered below every event's seq.
    id: 2,
    up: `
      INSERT INTO meta (key, value)
        VALUES ('seq', coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'events'), 0)),
               ('event_count', (SELECT count(*) FROM events))
        ON CONFLICT (key) DO UPDATE SET value = excluded.value;
      CREATE TABLE events_v2 (
        ts INTEGER NOT NULL, seq INTEGER NOT NULL, event_id TEXT NOT NULL, body TEXT NOT NULL,
        PRIMARY KEY (ts, seq)
      ) WITHOUT ROWID;
      INSERT INTO events_v2 (ts, seq, event_id, body) SELECT ts, seq, event_id, body FROM events;
      CREATE TABLE event_ids_v2 (n INTEGER PRIMARY KEY, event_id TEXT NOT NULL);
      INSERT INTO event_ids_v2 (n, event_id)
        SELECT n - (SELECT max(n) FROM event_ids), event_id FROM event_ids
        WHERE event_id NOT IN (SELECT event_id FROM events);
      DROP TABLE events;
      DROP TABLE event_ids;
      ALTER TABLE events_v2 RENAME TO events;
      ALTER TABLE event_ids_v2 RENAME TO event_ids;
    `,
  },
  {
    // A merge dropped a loser's event whose id the survivor knew only as one that left its
    // window, although the two could be two people's events: the content's digest tells.
    id: 3,
    up: "ALTER TABLE event_ids ADD COLUMN digest TEXT",
  },
  {
    // The consent history had no bound: a banner's state sent with every page grew it past what
    // an export or a merge hand-over can carry. Held to the bound every profile keeps since.
    id: 4,
    up: trimConsentHistory,
  },
];

/** The schema the migrations above end in, for a new profile: one batch instead of every step. */
export const profileSchema = [
  meta,
  identifiers,
  events,
  eventIds,
  traits,
  consentHistory,
  merges,
  conflicts,
].join(";\n");

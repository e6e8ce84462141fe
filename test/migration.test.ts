// Schema migrations: an object written under an older schema keeps every row and behaves as before.

import { evictDurableObject, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { expect, it } from "vitest";
import { profileMigrations, profileSchema } from "../src/profile/schema";
import { migrate } from "../src/sql";
import { ADMIN, call, createKey, event, unique } from "./helpers";

const LATEST = profileMigrations.at(-1)?.id;

/** Tables and indexes as SQLite keeps them, without the quotes a rename adds. */
function schemaOf(storage: DurableObjectStorage): string[] {
  return storage.sql
    .exec<{ type: string; name: string; sql: string | null }>(
      "SELECT type, name, sql FROM sqlite_master WHERE name NOT LIKE '\\_cf%' ESCAPE '\\' ORDER BY name",
    )
    .toArray()
    .map((r) => `${r.type} ${r.name} ${(r.sql ?? "").replace(/"/g, "").replace(/\s+/g, " ")}`);
}

it("re-running the migrator on a profile with data changes nothing and keeps its rows", async () => {
  const server = await createKey("server");
  const email = `${unique()}@example.com`;
  const res = await event(server, { type: "visit", channel: "web", identifiers: { email } });
  const stub = env.PROFILES.getByName(res.json.profile_id);
  const counts = await runInDurableObject(stub, (_instance, state) => {
    const again = migrate(state.storage, profileMigrations, profileSchema);
    const rows = state.storage.sql.exec("SELECT max(id) AS n FROM schema_migrations").one().n;
    const events = state.storage.sql.exec("SELECT count(*) AS n FROM events").one().n;
    return { again, rows, events };
  });
  expect(counts).toEqual({ again: LATEST, rows: LATEST, events: 1 });
  const full = await call(`/v1/profiles/${res.json.profile_id}`, { key: ADMIN });
  expect(full.json.identifiers.email).toEqual([email]);
});

it("a profile written under schema 1 keeps its events, duplicates and counts after migrating", async () => {
  const server = await createKey("server");
  const email = `${unique()}@example.com`;
  const first = await event(server, {
    id: "e1",
    type: "visit",
    channel: "web",
    timestamp: "2026-01-01T10:00:00Z",
    identifiers: { email },
  });
  const profileId: string = first.json.profile_id;
  const stub = env.PROFILES.getByName(profileId);
  const body = (id: string, timestamp: string) =>
    JSON.stringify({ event_id: id, type: "visit", channel: "store", timestamp });

  // Rewrite its storage as schema 1 left it: e1–e3 in the window (e2 arrived late, with the oldest
  // time), e0 pruned long ago, and the newest sequence number used by an event since deleted.
  const migrated = await runInDurableObject(stub, async (_instance, state) => {
    const sql = state.storage.sql;
    const keep = (query: string) => sql.exec(query).toArray();
    const meta = keep("SELECT key, value FROM meta WHERE key IN ('profile_id', 'created_at')");
    const identifiers = keep("SELECT * FROM identifiers");
    await state.storage.deleteAll();
    migrate(state.storage, profileMigrations.slice(0, 1));
    for (const row of meta) sql.exec("INSERT INTO meta VALUES (?, ?)", row.key, row.value);
    for (const r of identifiers) {
      sql.exec(
        "INSERT INTO identifiers VALUES (?, ?, ?, ?, ?)",
        r.type,
        r.hash,
        r.value,
        r.verified,
        r.added_at,
      );
    }
    const events: [string, string][] = [
      ["e1", "2026-01-01T10:00:00Z"],
      ["e2", "2025-12-01T10:00:00Z"],
      ["e3", "2026-01-02T10:00:00Z"],
      ["e4", "2026-01-03T10:00:00Z"],
    ];
    for (const [id, at] of events) {
      sql.exec(
        "INSERT INTO events (event_id, ts, body) VALUES (?, ?, ?)",
        id,
        Date.parse(at),
        body(id, at),
      );
    }
    sql.exec("DELETE FROM events WHERE event_id = 'e4'");
    for (const [n, id] of ["e0", "e1", "e2", "e3"].entries()) {
      sql.exec("INSERT INTO event_ids (event_id, n) VALUES (?, ?)", id, n + 1);
    }
    migrate(state.storage, profileMigrations, profileSchema);
    const read = (query: string) => sql.exec(query).toArray();
    return {
      events: read("SELECT seq, event_id FROM events ORDER BY ts, seq"),
      eventIds: read("SELECT n, event_id FROM event_ids ORDER BY n"),
      counters: read(
        "SELECT key, value FROM meta WHERE key IN ('seq', 'event_count') ORDER BY key",
      ),
      schema: schemaOf(state.storage),
    };
  });
  expect(migrated.events).toEqual([
    { seq: 2, event_id: "e2" },
    { seq: 1, event_id: "e1" },
    { seq: 3, event_id: "e3" },
  ]);
  expect(migrated.eventIds).toEqual([{ n: -3, event_id: "e0" }]);
  expect(migrated.counters).toEqual([
    { key: "event_count", value: "3" },
    { key: "seq", value: "4" },
  ]);

  const fresh = await event(server, {
    type: "visit",
    channel: "web",
    identifiers: { email: `${unique()}@example.com` },
  });
  const newcomer = env.PROFILES.getByName(fresh.json.profile_id);
  const freshSchema = await runInDurableObject(newcomer, (_instance, state) =>
    schemaOf(state.storage),
  );
  expect(migrated.schema).toEqual(freshSchema);

  // Restart the object so it wakes on the migrated rows, then use it as a client would.
  await evictDurableObject(stub);
  for (const id of ["e0", "e2"]) {
    const again = await event(server, {
      id,
      type: "visit",
      channel: "web",
      identifiers: { email },
    });
    expect(again.json).toMatchObject({ status: "duplicate", profile_id: profileId });
  }
  const next = await event(server, {
    id: "e5",
    type: "visit",
    channel: "web",
    timestamp: "2026-01-04T10:00:00Z",
    identifiers: { email },
  });
  expect(next.json.status).toBe("recorded");
  const timeline = await call(`/v1/profiles/${profileId}/timeline?limit=10`, { key: ADMIN });
  expect(timeline.json.events.map((e: { event_id: string }) => e.event_id)).toEqual([
    "e5",
    "e3",
    "e1",
    "e2",
  ]);
  const stored = await runInDurableObject(stub, (_instance, state) =>
    state.storage.sql.exec("SELECT seq FROM events WHERE event_id = 'e5'").one(),
  );
  expect(stored.seq).toBe(5);
});

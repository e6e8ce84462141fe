// Schema migrations: applying them again on a profile with data keeps every row.

import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { expect, it } from "vitest";
import { profileMigrations } from "../src/profile/schema";
import { migrate } from "../src/sql";
import { ADMIN, call, createKey, event, unique } from "./helpers";

it("re-running the migrator on a profile with data changes nothing and keeps its rows", async () => {
  const server = await createKey("server");
  const email = `${unique()}@example.com`;
  const res = await event(server, { type: "visit", channel: "web", identifiers: { email } });
  const stub = env.PROFILES.getByName(res.json.profile_id);
  const counts = await runInDurableObject(stub, (_instance, state) => {
    const applied = migrate(state.storage, profileMigrations);
    const again = migrate(state.storage, profileMigrations);
    const rows = state.storage.sql.exec("SELECT count(*) AS n FROM schema_migrations").one().n;
    const events = state.storage.sql.exec("SELECT count(*) AS n FROM events").one().n;
    return { applied, again, rows, events };
  });
  expect(counts).toEqual({
    applied: profileMigrations.length,
    again: profileMigrations.length,
    rows: profileMigrations.length,
    events: 1,
  });
  const full = await call(`/v1/profiles/${res.json.profile_id}`, { key: ADMIN });
  expect(full.json.identifiers.email).toEqual([email]);
});

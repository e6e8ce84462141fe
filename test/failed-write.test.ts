// A write SQLite refuses part-way leaves the profile as it was, in storage and in the object's
// memory: the event is not half-recorded, and sending it again records it. A fault on our side
// answers 500, never a 4xx that sends the client looking for a mistake it did not make.

import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { ADMIN, call, createKey, event, unique } from "./helpers";

let server: string;
beforeAll(async () => {
  server = await createKey("server");
});

/** Runs one SQL statement in the profile's own storage, behind the service's back. */
function inStorage(profileId: string, statement: string) {
  return runInDurableObject(env.PROFILES.getByName(profileId), (_instance, state) => {
    state.storage.sql.exec(statement);
  });
}

/** Makes the profile's storage refuse any trait write (a failing disk, say); answers the undo. */
async function refuseTraits(profileId: string): Promise<() => Promise<void>> {
  await inStorage(
    profileId,
    "CREATE TRIGGER refuse_traits BEFORE UPDATE ON traits BEGIN SELECT RAISE(ABORT, 'refused'); END",
  );
  return () => inStorage(profileId, "DROP TRIGGER refuse_traits");
}

describe("a write that fails part-way", () => {
  it("records nothing, and the same event sent again is recorded, not a duplicate", async () => {
    const email = `${unique()}@example.com`;
    const first = await event(server, {
      type: "identify",
      channel: "web",
      identifiers: { email },
      traits: { first_name: "Jane" },
    });
    expect(first.status).toBe(200);
    const profileId: string = first.json.profile_id;
    const allowTraits = await refuseTraits(profileId);

    // The event row goes in before the trait update that SQLite refuses.
    const id = unique("evt");
    const renamed = {
      id,
      type: "identify",
      channel: "store",
      identifiers: { email },
      traits: { first_name: "Janet" },
    };
    const failed = await call("/v1/events", { key: server, body: renamed });
    expect(failed.status).toBe(500);
    expect(failed.headers.get("content-type")).toContain("application/problem+json");
    expect(failed.text).not.toContain("refused");

    const after = await call(`/v1/profiles/${profileId}`, { key: ADMIN });
    expect(after.json.traits.first_name).toBe("Jane");
    expect(after.json.computed).toEqual(first.json.profile.computed);
    const timeline = await call(`/v1/profiles/${profileId}/timeline`, { key: ADMIN });
    expect(timeline.json.events.map((e: { event_id: string }) => e.event_id)).not.toContain(id);

    await allowTraits();
    const retried = await call("/v1/events", { key: server, body: renamed });
    expect(retried.json).toMatchObject({ status: "recorded", profile_id: profileId });
    expect(retried.json.profile.traits.first_name).toBe("Janet");
  });
});

describe("a stored record the service cannot read", () => {
  it("answers 500, not a 400 that blames the request", async () => {
    const first = await event(server, {
      type: "visit",
      channel: "web",
      identifiers: { email: `${unique()}@example.com` },
    });
    const profileId: string = first.json.profile_id;
    await inStorage(profileId, "UPDATE events SET body = '{not json'");

    const timeline = await call(`/v1/profiles/${profileId}/timeline`, { key: ADMIN });
    expect(timeline.status).toBe(500);
    expect(timeline.headers.get("content-type")).toContain("application/problem+json");
    expect(timeline.json.detail).not.toMatch(/json/i);
  });
});

// A fresh isolate knows no identifier → profile mapping: every event resolves through the index
// shards, and must end exactly where a warm isolate's would.
import { env } from "cloudflare:workers";
import { beforeAll, beforeEach, describe, expect, it } from "vitest";
import { hashIdentifier } from "../src/identity/hash";
import { forgetOwners } from "../src/identity/resolver";
import { shardOf } from "../src/identity/shards";
import { ADMIN, call, createKey, event, identify, newPhone, unique } from "./helpers";

let server: string;
beforeAll(async () => {
  server = await createKey("server");
});
// Every event of these tests starts cold, as in a fresh isolate.
beforeEach(() => forgetOwners());

async function indexOwner(type: "email" | "phone", value: string): Promise<string | null> {
  const { hash } = await hashIdentifier(env.IDENTITY_PEPPER, type, value);
  return env.IDENTITIES.getByName(shardOf(hash)).owner(hash);
}

describe("an isolate that knows nobody", () => {
  it("creates a new person, every identifier pointing at the profile in the index", async () => {
    const email = `${unique()}@example.com`;
    const phone = newPhone("646");
    const created = await event(server, {
      type: "identify",
      channel: "web",
      identifiers: { email, phone },
    });
    expect(created.status, created.text).toBe(200);
    const profileId = created.json.profile_id;
    expect(await indexOwner("email", email)).toBe(profileId);
    expect(await indexOwner("phone", phone)).toBe(profileId);
    forgetOwners();
    const found = await call("/v1/recognize", { key: ADMIN, body: { identifiers: { email } } });
    expect(found.json.profile_id).toBe(profileId);
  });

  it("gives a known person's new identifier to that person, not to a new profile", async () => {
    const phone = newPhone("646");
    const first = await event(server, { type: "visit", channel: "store", identifiers: { phone } });
    const profileId = first.json.profile_id;
    forgetOwners();
    const email = `${unique()}@example.com`;
    const second = await event(server, {
      type: "identify",
      channel: "web",
      identifiers: { email, phone },
    });
    expect(second.status, second.text).toBe(200);
    expect(second.json.profile_id).toBe(profileId);
    expect(second.json.profile.computed.visit_count).toBe(1);
    expect(second.json.profile.identifiers.email).toEqual([email]);
    expect(await indexOwner("email", email)).toBe(profileId);
  });

  it("keeps two people apart: a new user_id with a known person's email gets its own profile", async () => {
    const email = `${unique()}@example.com`;
    const first = await identify(server, { user_id: unique("u"), email });
    const profileId = first.json.profile_id;
    forgetOwners();
    const second = await identify(server, { user_id: unique("u"), email });
    expect(second.status, second.text).toBe(200);
    expect(second.json.profile_id).not.toBe(profileId);
    expect(second.json.profile.identifiers.email ?? []).toEqual([]);
    expect(second.json.profile.conflicts.map((c: { type: string }) => c.type)).toContain("email");
    expect(await indexOwner("email", email)).toBe(profileId);
  });
});

// Each role sees exactly the view it may: no raw contact data outside the full view.
import { beforeAll, describe, expect, it } from "vitest";
import { ADMIN, call, createKey, event, unique } from "./helpers";

const keys = { server: "", pos: "", kiosk: "" };
const person = {
  email: "",
  phone: "+14155550177",
  loyalty: "",
  userId: "",
  profileId: "",
};

beforeAll(async () => {
  keys.server = await createKey("server");
  keys.pos = await createKey("pos", { store_id: "store-9" });
  keys.kiosk = await createKey("kiosk", { store_id: "store-9" });
  person.email = `${unique("jane")}@example.com`;
  person.loyalty = unique("L");
  person.userId = unique("u");
  const res = await event(keys.server, {
    type: "identify",
    channel: "app",
    identifiers: {
      email: person.email,
      phone: person.phone,
      loyalty_id: person.loyalty,
      user_id: person.userId,
    },
    traits: {
      first_name: "Jane",
      last_name: "Doe",
      loyalty_tier: "gold",
      loyalty_points: 1200,
      birthday: "1990-04-01",
    },
  });
  person.profileId = res.json.profile_id;
  await event(keys.pos, {
    type: "purchase",
    identifiers: { loyalty_id: person.loyalty },
    traits: { shoe_size: 38 },
    properties: {
      order_id: "o-9",
      total: 80,
      currency: "USD",
      items: [{ sku: "a", category: "bags" }],
    },
  });
});

const rawPii = () => [
  person.email,
  person.phone,
  person.userId,
  "1990-04-01",
  person.phone.slice(1),
];

describe("views by role", () => {
  it("gives admin and server the full view", async () => {
    for (const key of [ADMIN, keys.server]) {
      const res = await call(`/v1/profiles/${person.profileId}`, { key });
      expect(res.json.view).toBe("full");
      expect(Object.keys(res.json).sort()).toEqual(
        [
          "view",
          "profile_id",
          "first_name",
          "identifiers",
          "claimed_identifiers",
          "traits",
          "computed",
          "segments",
          "consent",
          "conflicts",
          "merges",
          "created_at",
        ].sort(),
      );
      expect(res.json.identifiers).toMatchObject({
        email: [person.email],
        phone: [person.phone],
        loyalty_id: [person.loyalty],
        user_id: [person.userId],
      });
    }
  });

  it("gives a POS the staff view with masked contacts and no raw PII", async () => {
    const res = await call("/v1/recognize", {
      key: keys.pos,
      body: { identifiers: { email: person.email } },
    });
    expect(res.status).toBe(200);
    const view = res.json.profile;
    expect(Object.keys(view).sort()).toEqual(
      [
        "view",
        "profile_id",
        "first_name",
        "last_name",
        "contacts",
        "loyalty_id",
        "loyalty",
        "segments",
        "stats",
        "recent_events",
        "consent",
        "next_message",
      ].sort(),
    );
    expect(view.contacts.email).toEqual([`${person.email[0]}***@example.com`]);
    expect(view.contacts.phone).toEqual(["•••• 0177"]);
    expect(view.loyalty).toEqual({ tier: "gold", points: 1200 });
    expect(view.stats).toEqual({ visits: { store: 1 }, purchases: { store: 1 } });
    expect(view.recent_events).toHaveLength(2);
    expect(view.recent_events[0]).not.toHaveProperty("traits");
    expect(view.recent_events[0]).not.toHaveProperty("properties");
    for (const pii of rawPii()) expect(res.text).not.toContain(pii);
  });

  it("gives a kiosk only a first name, loyalty and the next message", async () => {
    const res = await call("/v1/recognize", {
      key: keys.kiosk,
      body: { identifiers: { loyalty_id: person.loyalty } },
    });
    expect(res.status).toBe(200);
    expect(res.json.profile).toEqual({
      view: "kiosk",
      profile_id: person.profileId,
      first_name: "Jane",
      loyalty: { tier: "gold", points: 1200 },
      next_message: null,
    });
    for (const pii of [...rawPii(), "Doe", "bags"]) expect(res.text).not.toContain(pii);
  });

  it("lets a kiosk look up by phone or loyalty id only", async () => {
    const byPhone = await call("/v1/recognize", {
      key: keys.kiosk,
      body: { identifiers: { phone: "(415) 555-0177" } },
    });
    expect(byPhone.json.profile_id).toBe(person.profileId);
    for (const identifiers of [
      { email: person.email },
      { user_id: person.userId },
      { loyalty_id: person.loyalty, email: person.email },
    ]) {
      const res = await call("/v1/recognize", { key: keys.kiosk, body: { identifiers } });
      expect(res.status).toBe(403);
    }
  });

  it("keeps a kiosk or a till from finding a person through an event by what it may not look up by", async () => {
    for (const identifiers of [{ email: person.email }, { user_id: person.userId }]) {
      const res = await event(keys.kiosk, { type: "visit", identifiers });
      expect(res.status, res.text).toBe(403);
      expect(res.text).not.toContain(person.profileId);
    }
    const till = await event(keys.pos, { type: "visit", identifiers: { anonymous_id: "a1" } });
    expect(till.status).toBe(403);
  });

  it("keeps a POS from looking up by device or anonymous ids", async () => {
    const res = await call("/v1/recognize", {
      key: keys.pos,
      body: { identifiers: { anonymous_id: "a1" } },
    });
    expect(res.status).toBe(403);
  });

  it("answers ingest with the caller's view too", async () => {
    const kiosk = await event(keys.kiosk, {
      type: "visit",
      identifiers: { loyalty_id: person.loyalty },
    });
    expect(kiosk.json.profile.view).toBe("kiosk");
    for (const pii of rawPii()) expect(kiosk.text).not.toContain(pii);
  });

  it("shows POS a timeline without traits or properties, and refuses it to a kiosk", async () => {
    const pos = await call(`/v1/profiles/${person.profileId}/timeline`, { key: keys.pos });
    expect(pos.status).toBe(200);
    for (const e of pos.json.events) {
      expect(e).not.toHaveProperty("traits");
      expect(e).not.toHaveProperty("properties");
    }
    for (const pii of rawPii()) expect(pos.text).not.toContain(pii);
    const kiosk = await call(`/v1/profiles/${person.profileId}/timeline`, { key: keys.kiosk });
    expect(kiosk.status).toBe(403);
  });

  it("forces a POS key's own store and refuses other channels", async () => {
    const res = await event(keys.pos, {
      type: "visit",
      store_id: "someone-elses",
      identifiers: { loyalty_id: person.loyalty },
    });
    expect(res.status).toBe(200);
    const timeline = await call(`/v1/profiles/${person.profileId}/timeline?limit=1`, {
      key: ADMIN,
    });
    expect(timeline.json.events[0].store_id).toBe("store-9");
    const web = await event(keys.pos, {
      type: "visit",
      channel: "web",
      identifiers: { loyalty_id: person.loyalty },
    });
    expect(web.status).toBe(403);
  });
});

// A profile keeps each view's text until it changes: every kind of change must show at once.
describe("views after a change", () => {
  const staff = async (loyalty: string) =>
    (await call("/v1/recognize", { key: keys.pos, body: { identifiers: { loyalty_id: loyalty } } }))
      .json.profile;
  const full = async (profileId: string) =>
    (await call(`/v1/profiles/${profileId}`, { key: ADMIN })).json;

  it("shows an event, a consent choice and a merge in the next read", async () => {
    const loyalty = unique("L");
    const email = `${unique("fresh")}@example.com`;
    const first = await event(keys.server, {
      type: "identify",
      channel: "web",
      identifiers: { loyalty_id: loyalty },
      traits: { first_name: "Ada" },
    });
    expect(first.status, first.text).toBe(200);
    const profileId = first.json.profile_id;
    expect((await staff(loyalty)).stats.visits).toEqual({});
    expect((await full(profileId)).traits).toEqual({ first_name: "Ada" });

    await event(keys.pos, { type: "visit", identifiers: { loyalty_id: loyalty } });
    expect((await staff(loyalty)).stats.visits).toEqual({ store: 1 });

    const consent = await call(`/v1/profiles/${profileId}/consent`, {
      method: "PUT",
      key: keys.server,
      body: { purposes: { marketing_email: "granted" }, channel: "web" },
    });
    expect(consent.status).toBe(200);
    expect((await staff(loyalty)).consent).toEqual({ marketing_email: "granted" });

    const other = await event(keys.server, {
      type: "identify",
      channel: "web",
      identifiers: { email },
      traits: { last_name: "Byron" },
    });
    expect(other.json.profile_id).not.toBe(profileId);
    await event(keys.server, {
      type: "identify",
      channel: "web",
      identifiers: { loyalty_id: loyalty, email },
    });
    const survivor = (await staff(loyalty)).profile_id;
    const merged = await full(survivor);
    expect(merged.identifiers).toMatchObject({ email: [email], loyalty_id: [loyalty] });
    expect(merged.traits).toMatchObject({ first_name: "Ada", last_name: "Byron" });
    expect((await staff(loyalty)).last_name).toBe("Byron");
  });
});

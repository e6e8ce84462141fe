// Merges: several profiles become one without losing or doubling anything, and never two people.

import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { hashIdentifier } from "../src/identity/hash";
import { forgetOwners, newProfileId } from "../src/identity/resolver";
import { chooseSurvivor } from "../src/identity/rules";
import { profileStub } from "../src/profile/protocol";
import {
  ADMIN,
  call,
  createKey,
  event,
  identify,
  newPhone,
  order,
  sendVisits,
  unique,
} from "./helpers";

let server: string;
beforeAll(async () => {
  server = await createKey("server");
});

const timelineIds = async (profileId: string) => {
  const res = await call(`/v1/profiles/${profileId}/timeline?limit=200`, { key: ADMIN });
  return (res.json.events as { event_id: string }[]).map((e) => e.event_id).sort();
};

/** A visit in store by someone with a loyalty card of their own (and so never merged with another). */
const cardholder = (email: string) =>
  event(server, {
    type: "visit",
    channel: "store",
    identifiers: { email, loyalty_id: unique("L") },
  });

describe("merging profiles", () => {
  it("collapses three profiles into one that holds every event once", async () => {
    const email = `${unique()}@example.com`;
    const phone = newPhone("212");
    const loyalty = unique("L");
    const a = await event(server, {
      id: unique("a"),
      type: "visit",
      channel: "web",
      identifiers: { email },
    });
    const b = await event(server, {
      id: unique("b"),
      type: "visit",
      channel: "app",
      identifiers: { phone },
    });
    const c = await event(server, {
      id: unique("c"),
      type: "visit",
      channel: "store",
      identifiers: { loyalty_id: loyalty },
    });
    const ids = new Set([a.json.profile_id, b.json.profile_id, c.json.profile_id]);
    expect(ids.size).toBe(3);

    const join = await event(server, {
      id: unique("join"),
      type: "identify",
      channel: "store",
      identifiers: { email, phone, loyalty_id: loyalty },
    });
    expect(join.status, join.text).toBe(200);
    const survivor = join.json.profile_id;
    expect(ids.has(survivor)).toBe(true);
    expect(join.json.merged_profile_ids.sort()).toEqual(
      [...ids].filter((id) => id !== survivor).sort(),
    );

    const events = await timelineIds(survivor);
    expect(events).toHaveLength(4);
    expect(new Set(events).size).toBe(4);

    for (const id of ids) {
      const res = await call(`/v1/profiles/${id}`, { key: ADMIN });
      expect(res.status).toBe(200);
      expect(res.json.profile_id).toBe(survivor);
    }
    const full = await call(`/v1/profiles/${survivor}`, { key: ADMIN });
    expect(full.json.computed.visit_count).toBe(3);
    expect(full.json.merges).toHaveLength(2);
    for (const identifiers of [{ email }, { phone }, { loyalty_id: loyalty }]) {
      const found = await call("/v1/recognize", { key: ADMIN, body: { identifiers } });
      expect(found.json.profile_id).toBe(survivor);
    }
  });

  it("never merges two profiles with different user_ids, and shows the conflict", async () => {
    const email = `${unique()}@example.com`;
    const jane = await identify(server, { user_id: unique("u"), email });
    const other = unique("u");
    const res = await event(server, {
      type: "identify",
      channel: "app",
      identifiers: { user_id: other, email },
    });
    expect(res.status).toBe(200);
    expect(res.json.profile_id).not.toBe(jane.json.profile_id);
    expect(res.json.merged_profile_ids).toEqual([]);
    // The email stays with the profile that held it first.
    const byEmail = await call("/v1/recognize", { key: ADMIN, body: { identifiers: { email } } });
    expect(byEmail.json.profile_id).toBe(jane.json.profile_id);
    expect(res.json.profile.identifiers.email).toBeUndefined();
    expect(res.json.profile.conflicts).toContainEqual(
      expect.objectContaining({
        type: "email",
        reason: "merge_protection",
        profile_id: jane.json.profile_id,
      }),
    );
  });

  it("never merges two profiles that hold different user_ids through a shared phone", async () => {
    const phone = newPhone("646");
    const a = await event(server, {
      type: "identify",
      channel: "app",
      identifiers: { user_id: unique("u") },
    });
    const b = await event(server, {
      type: "identify",
      channel: "app",
      identifiers: { user_id: unique("u") },
    });
    await event(server, {
      type: "visit",
      channel: "app",
      identifiers: { user_id: a.json.profile.identifiers.user_id[0], phone },
    });
    const res = await event(server, {
      type: "visit",
      channel: "app",
      identifiers: { user_id: b.json.profile.identifiers.user_id[0], phone },
    });
    expect(res.json.profile_id).toBe(b.json.profile_id);
    expect(res.json.merged_profile_ids).toEqual([]);
  });

  it("does not funnel strangers together through a store's placeholder email", async () => {
    const pos = await createKey("pos", { store_id: "store-7" });
    const profiles = new Set<string>();
    for (let i = 0; i < 4; i++) {
      const res = await event(pos, {
        type: "purchase",
        identifiers: { email: "noemail@store7.example", loyalty_id: unique("L") },
        properties: { order_id: unique("o"), total: 10, currency: "USD" },
      });
      expect(res.status, res.text).toBe(200);
      profiles.add(res.json.profile_id);
    }
    expect(profiles.size).toBe(4);
    const lookup = await call("/v1/recognize", {
      key: pos,
      body: { identifiers: { email: "noemail@store7.example" } },
    });
    expect(lookup.status).toBe(400);
  });

  it("merges strangers through an email typed for everyone only up to the phone limit", async () => {
    const pos = await createKey("pos", { store_id: "store-9" });
    const base = 1000 + Math.floor(Math.random() * 8000);
    const phones = Array.from(
      { length: 7 },
      (_, i) => `+1 415 555 ${String(base + i).padStart(4, "0")}`,
    );
    const strangers: string[] = [];
    for (const phone of phones) {
      const visit = await event(server, { type: "visit", channel: "web", identifiers: { phone } });
      strangers.push(visit.json.profile_id);
    }
    const placeholder = `${unique("orders")}@store9.example`;
    for (const phone of phones) {
      const sale = await event(pos, {
        type: "purchase",
        identifiers: { email: placeholder, phone },
        properties: { order_id: unique("o"), total: 10, currency: "USD" },
      });
      expect(sale.status, sale.text).toBe(200);
    }
    const found = await call("/v1/recognize", {
      key: ADMIN,
      body: { identifiers: { email: placeholder } },
    });
    expect(found.json.profile.identifiers.phone).toHaveLength(5);
    const last = await call(`/v1/profiles/${strangers[6]}`, { key: ADMIN });
    expect(last.json.profile_id).toBe(strangers[6]);
    expect(last.json.identifiers.email).toBeUndefined();
  });

  it("keeps a shared non-placeholder email with its first profile when loyalty ids differ", async () => {
    const shared = `${unique("front-desk")}@example.com`;
    const first = await cardholder(shared);
    const second = await cardholder(shared);
    expect(second.json.profile_id).not.toBe(first.json.profile_id);
    expect(second.json.merged_profile_ids).toEqual([]);
  });

  it("caps how many values of one type a profile takes", async () => {
    const userId = unique("u");
    for (let i = 0; i < 7; i++) {
      await event(server, {
        type: "visit",
        channel: "web",
        identifiers: { user_id: userId, email: `${unique()}@example.com` },
      });
    }
    const found = await call("/v1/recognize", {
      key: ADMIN,
      body: { identifiers: { user_id: userId } },
    });
    expect(found.json.profile.identifiers.email).toHaveLength(5);
    expect(
      found.json.profile.conflicts.filter((c: { reason: string }) => c.reason === "limit"),
    ).toHaveLength(2);
  });

  it("ends concurrent identify calls for one new person from web, app and POS in one profile", async () => {
    const pos = await createKey("pos", { store_id: "store-1" });
    const email = `${unique()}@example.com`;
    const userId = unique("u");
    const phone = newPhone("718");
    const anon = unique("anon");
    const sends = [
      event(server, {
        id: unique("web"),
        type: "identify",
        channel: "web",
        identifiers: { anonymous_id: anon, email },
      }),
      event(server, {
        id: unique("app"),
        type: "identify",
        channel: "app",
        identifiers: { user_id: userId, email },
      }),
      event(pos, { id: unique("pos"), type: "identify", identifiers: { phone, email } }),
      event(server, {
        id: unique("app2"),
        type: "visit",
        channel: "app",
        identifiers: { user_id: userId, phone },
      }),
    ];
    const results = await Promise.all(sends);
    for (const r of results) expect(r.status, r.text).toBe(200);
    const ids = new Set<string>();
    for (const identifiers of [{ email }, { user_id: userId }, { phone }, { anonymous_id: anon }]) {
      const found = await call("/v1/recognize", { key: ADMIN, body: { identifiers } });
      expect(found.status).toBe(200);
      ids.add(found.json.profile_id);
    }
    expect(ids.size).toBe(1);
    const [survivor] = [...ids];
    const events = await timelineIds(survivor as string);
    expect(events).toHaveLength(4);
    expect(new Set(events).size).toBe(4);
  });

  it("keeps both of two people's events that shared an id when the two turn out to be one", async () => {
    const id = unique("order");
    const email = `${unique()}@example.com`;
    const phone = newPhone();
    // Two tills that number orders alike, for two customers not yet known to be one.
    const purchase = (identifiers: Record<string, string>, total: number) =>
      order(server, id, identifiers, total);
    const first = await purchase({ email }, 10);
    const second = await purchase({ phone }, 20);
    expect([first.json.status, second.json.status]).toEqual(["recorded", "recorded"]);
    const join = await identify(server, { email, phone });
    expect(join.json.merged_profile_ids).toHaveLength(1);
    expect(join.json.profile.computed).toMatchObject({ purchase_count: 2, lifetime_value: 30 });
    expect((await timelineIds(join.json.profile_id)).filter((e) => e === id)).toHaveLength(2);
    // Sent again now, it is one person's repeat.
    expect((await purchase({ email }, 10)).json.status).toBe("duplicate");
  });

  it("keeps the other person's event when the survivor's of the same id has left its window", async () => {
    const id = unique("order");
    const email = `${unique()}@example.com`;
    const [phone, third] = [newPhone("929"), newPhone("929")];
    // The older person bought order `id` in 2020, then visited a thousand times: it left the window.
    const first = await order(server, id, { email }, 10, "2020-01-01T00:00:00.000Z");
    await sendVisits(server, email, 1000, Date.UTC(2021, 0, 1));
    // Another till numbering its orders alike sold a different order `id` to a phone.
    const second = await order(server, id, { phone }, 20);
    // And a third person bought the very same order again: a repeat of the first, re-sent.
    const repeat = await order(server, id, { phone: third }, 10, "2020-01-01T00:00:00.000Z");
    expect([second.json.status, repeat.json.status]).toEqual(["recorded", "recorded"]);
    const join = await identify(server, { email, phone });
    expect(join.json.profile_id).toBe(first.json.profile_id);
    expect(join.json.profile.computed).toMatchObject({ purchase_count: 2, lifetime_value: 30 });
    const exported = await call(`/v1/profiles/${join.json.profile_id}/export`, { key: ADMIN });
    const totals = (exported.json.events as { event_id: string; properties?: { total: number } }[])
      .filter((e) => e.event_id === id)
      .map((e) => e.properties?.total);
    expect(totals).toEqual([20]);
    // The first order's own repeat, merged in, is the same event: counted once.
    const again = await identify(server, { email, phone: third });
    expect(again.json.merged_profile_ids).toEqual([repeat.json.profile_id]);
    expect(again.json.profile.computed).toMatchObject({ purchase_count: 2, lifetime_value: 30 });
  }, 60_000);

  it("keeps telling two people's events of one id apart once the one that left a window was merged on", async () => {
    const id = unique("order");
    const [email, oldest, other] = [`${unique()}@example.com`, newPhone("929"), newPhone("929")];
    await event(server, { type: "visit", channel: "store", identifiers: { phone: oldest } });
    // Order `id` in 2020, then a thousand visits: it left this profile's window...
    await order(server, id, { email }, 10, "2020-01-01T00:00:00.000Z");
    await sendVisits(server, email, 1000, Date.UTC(2021, 0, 1));
    // ...which then merged into the oldest profile, carrying the order only as an id that left.
    expect((await identify(server, { phone: oldest, email })).json.merged_profile_ids).toHaveLength(
      1,
    );
    // Another till's different order `id`, for a third profile that turns out to be the same person.
    await order(server, id, { phone: other }, 20);
    const join = await identify(server, { email, phone: other });
    expect(join.json.profile.computed).toMatchObject({ purchase_count: 2, lifetime_value: 30 });
  }, 60_000);

  it("pages through both of two merged events that share an id and a moment", async () => {
    const id = unique("order");
    const email = `${unique()}@example.com`;
    const phone = newPhone();
    const timestamp = "2026-01-02T10:00:00.000Z";
    const purchase = (identifiers: Record<string, string>, total: number) =>
      order(server, id, identifiers, total, timestamp);
    await purchase({ email }, 10);
    await purchase({ phone }, 20);
    const join = await identify(server, { email, phone });
    const paged: string[] = [];
    let before: string | null = null;
    do {
      const query: string = before ? `&before=${encodeURIComponent(before)}` : "";
      const page = await call(`/v1/profiles/${join.json.profile_id}/timeline?limit=1${query}`, {
        key: ADMIN,
      });
      for (const e of page.json.events) paged.push(`${e.event_id}:${e.properties?.total ?? ""}`);
      before = page.json.next;
    } while (before && paged.length < 10);
    expect(paged).toHaveLength(3);
    expect(paged.filter((e) => e.startsWith(`${id}:`)).sort()).toEqual([`${id}:10`, `${id}:20`]);
  });

  it("goes on by a merged-away id after the last event shown before the merge, never showing it again", async () => {
    const email = `${unique()}@example.com`;
    const phone = newPhone();
    // The survivor: the older profile, with a single event (its arrival numbers stay low).
    const survivor = await identify(server, { phone });
    expect(survivor.status).toBe(200);
    // The loser: five events; the one a page ends on arrived fourth but is the second oldest.
    const at = (day: number) => `2025-01-${String(day).padStart(2, "0")}T00:00:00.000Z`;
    const sent: string[] = [];
    let loser = "";
    for (const day of [20, 19, 18, 15, 10]) {
      const id = unique(`d${day}`);
      const res = await event(server, {
        id,
        type: "visit",
        channel: "web",
        timestamp: at(day),
        identifiers: { email },
      });
      expect(res.status).toBe(200);
      loser = res.json.profile_id;
      sent.push(id);
    }
    const first = await call(`/v1/profiles/${loser}/timeline?limit=4`, { key: ADMIN });
    expect(first.json.events.map((e: { event_id: string }) => e.event_id)).toEqual(
      sent.slice(0, 4),
    );
    const next = first.json.next as string;
    expect(next).toBeTruthy();

    // The two turn out to be one person: the loser goes into the older profile.
    const join = await identify(server, { email, phone });
    expect(join.json.profile_id).toBe(survivor.json.profile_id);
    expect(join.json.merged_profile_ids).toEqual([loser]);

    const rest = await call(
      `/v1/profiles/${loser}/timeline?limit=10&before=${encodeURIComponent(next)}`,
      { key: ADMIN },
    );
    expect(rest.status).toBe(200);
    // Only the oldest event is left after the cursor; the fourth was shown on the first page.
    expect(rest.json.events.map((e: { event_id: string }) => e.event_id)).toEqual([sent[4]]);
  });

  it("goes on by a merged-away id through two events that share a moment and an id, as the survivor orders them", async () => {
    const id = unique("order");
    const email = `${unique()}@example.com`;
    const phone = newPhone();
    const timestamp = "2025-03-01T10:00:00.000Z";
    const purchase = (identifiers: Record<string, string>, total: number) =>
      order(server, id, identifiers, total, timestamp);
    // The survivor (older) holds one person's order; the loser another person's, same id and time.
    const survivor = await purchase({ phone }, 20);
    const loser = await purchase({ email }, 10);
    const older = unique("older");
    await event(server, {
      id: older,
      type: "visit",
      channel: "web",
      timestamp: "2025-02-01T10:00:00.000Z",
      identifiers: { email },
    });
    const first = await call(`/v1/profiles/${loser.json.profile_id}/timeline?limit=1`, {
      key: ADMIN,
    });
    expect(first.json.events[0].properties.total).toBe(10);
    const join = await identify(server, { email, phone });
    expect(join.json.profile_id).toBe(survivor.json.profile_id);

    // The survivor's whole timeline, in its own order.
    const whole = await call(`/v1/profiles/${survivor.json.profile_id}/timeline?limit=10`, {
      key: ADMIN,
    });
    const label = (e: { event_id: string; properties?: { total?: number } }) =>
      `${e.event_id}:${e.properties?.total ?? ""}`;
    const inSurvivor: string[] = whole.json.events.map(label);
    // What follows the event the page ended on, in the survivor's order (the other copy of the id
    // may come before it: then, like an event arriving ahead of a cursor, it is not on later pages).
    const after = inSurvivor.slice(inSurvivor.indexOf(`${id}:10`) + 1);
    expect(after).toContain(`${older}:`);

    const rest = await call(
      `/v1/profiles/${loser.json.profile_id}/timeline?limit=10&before=${encodeURIComponent(first.json.next)}`,
      { key: ADMIN },
    );
    expect(rest.json.events.map(label)).toEqual(after);
  });

  it("answers duplicate for a re-sent event, with the survivor's id after a merge", async () => {
    const email = `${unique()}@example.com`;
    const phone = newPhone("929");
    const id = unique("once");
    // The same purchase, sent again and again.
    const purchase = {
      id,
      type: "purchase",
      channel: "web",
      identifiers: { email },
      properties: { order_id: "o", total: 100, currency: "USD" },
    };
    const first = await event(server, purchase);
    const again = await event(server, purchase);
    expect(again.json.status).toBe("duplicate");
    expect(again.json.profile_id).toBe(first.json.profile_id);

    const other = await event(server, { type: "visit", channel: "app", identifiers: { phone } });
    const join = await event(server, {
      type: "identify",
      channel: "app",
      identifiers: { email, phone },
    });
    const survivor = join.json.profile_id;
    expect([first.json.profile_id, other.json.profile_id]).toContain(survivor);

    const afterMerge = await event(server, purchase);
    expect(afterMerge.json.status).toBe("duplicate");
    expect(afterMerge.json.profile_id).toBe(survivor);
    const full = await call(`/v1/profiles/${survivor}`, { key: ADMIN });
    expect(full.json.computed.purchase_count).toBe(1);
    expect(full.json.computed.lifetime_value).toBe(100);
  });

  it("records an id that a batch repeats once, wherever the repeat's identifiers lead", async () => {
    const id = unique("dup");
    const purchase = (email: string) => ({
      id,
      type: "purchase",
      channel: "web",
      identifiers: { email },
      properties: { order_id: "o1", total: 10, currency: "USD" },
    });
    const first = `${unique()}@example.com`;
    const res = await call("/v1/events", {
      key: server,
      body: { batch: [purchase(first), purchase(`${unique()}@example.com`)] },
    });
    const results = res.json.results as { status: string; profile_id: string }[];
    expect(results.map((r) => r.status)).toEqual(["recorded", "duplicate"]);
    expect(results[1]?.profile_id).toBe(results[0]?.profile_id);
    expect(await timelineIds(results[0]?.profile_id ?? "")).toEqual([id]);
  });

  it("checks a repeated id like any event: a repeat the credential may not send is refused", async () => {
    const pos = await createKey("pos", { store_id: "store-dup" });
    const id = unique("dup");
    const res = await call("/v1/events", {
      key: pos,
      body: {
        batch: [
          { id, type: "visit", identifiers: { phone: "+12125557714" } },
          { id, type: "visit", identifiers: { device_id: unique("till") } },
        ],
      },
    });
    const results = res.json.results as { status: string | number }[];
    expect(results.map((r) => r.status)).toEqual(["recorded", 403]);
  });

  it("links an identifier whose link a crash never made, on the next event that names it", async () => {
    const email = `${unique()}@example.com`;
    const phone = "+12125557713";
    const profileId = (
      await event(server, { type: "visit", channel: "web", identifiers: { email } })
    ).json.profile_id as string;
    const pepper = (env as unknown as { IDENTITY_PEPPER: string }).IDENTITY_PEPPER;
    const [e, p] = await Promise.all([
      hashIdentifier(pepper, "email", email),
      hashIdentifier(pepper, "phone", phone),
    ]);
    const eventId = unique("evt");
    // The resolver's first step: the profile records the event and accepts the phone. The Worker
    // then dies before it links the phone in the index, and the client sends the event again.
    const outcome = await profileStub(env, profileId).ingest({
      profileId,
      event: {
        event_id: eventId,
        type: "identify",
        channel: "web",
        timestamp: new Date().toISOString(),
      },
      held: [{ type: "email", hash: e.hash, value: email }],
      offered: [{ type: "phone", hash: p.hash, value: phone }],
      claimed: [],
      refused: [],
      source: "server",
      view: "full",
    });
    expect(outcome.status).toBe("ok");
    const retry = await call("/v1/events", {
      key: server,
      body: { id: eventId, type: "identify", channel: "web", identifiers: { email, phone } },
    });
    expect(retry.json.status).toBe("duplicate");
    forgetOwners();
    const byPhone = await event(server, {
      type: "visit",
      channel: "store",
      identifiers: { phone },
    });
    expect(byPhone.json.profile_id).toBe(profileId);
  });

  it("lists an identifier only where it resolves, when a loser is merged elsewhere meanwhile", async () => {
    const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));
    const astray: unknown[] = [];
    for (let round = 0; round < 3; round++) {
      const email = `${unique()}@example.com`;
      const anonymousId = unique("anon");
      const phone = `+1212555${String(1000 + round)}`;
      const oldest = await event(server, { type: "visit", channel: "web", identifiers: { email } });
      await pause(3);
      const x = await event(server, {
        type: "visit",
        channel: "web",
        identifiers: { anonymous_id: anonymousId },
      });
      await pause(3);
      await event(server, { type: "visit", channel: "store", identifiers: { phone } });
      // Both want the phone's profile: one merges it into the oldest, the other into x.
      await Promise.all([
        identify(server, { email, phone }, "app"),
        identify(server, { phone, anonymous_id: anonymousId }, "web"),
      ]);
      for (const id of [oldest.json.profile_id, x.json.profile_id]) {
        const profile = (await call(`/v1/profiles/${id}`, { key: ADMIN })).json;
        for (const value of profile.identifiers.phone ?? []) {
          const found = await call("/v1/recognize", {
            key: ADMIN,
            body: { identifiers: { phone: value } },
          });
          if (found.json.profile_id !== profile.profile_id)
            astray.push({ round, listedOn: profile.profile_id, resolvesTo: found.json.profile_id });
        }
      }
    }
    expect(astray).toEqual([]);
  });

  it("never joins two user_ids when one arrives while the merge is being planned", async () => {
    const joined: unknown[] = [];
    for (let round = 0; round < 3; round++) {
      const email = `${unique()}@example.com`;
      const phone = `+1212556${String(1000 + round)}`;
      const first = unique("u1");
      await event(server, {
        type: "visit",
        channel: "web",
        identifiers: { email, user_id: first },
      });
      await event(server, { type: "visit", channel: "app", identifiers: { phone } });
      // One request joins the two through email and phone; the other gives the phone's profile
      // a user_id of its own meanwhile.
      await Promise.all([
        identify(server, { email, phone }, "store"),
        identify(server, { phone, user_id: unique("u2") }, "app"),
      ]);
      const found = await call("/v1/recognize", {
        key: ADMIN,
        body: { identifiers: { user_id: first } },
      });
      const userIds = found.json.profile.identifiers.user_id ?? [];
      if (userIds.length > 1) joined.push({ round, userIds });
    }
    expect(joined).toEqual([]);
  });

  // Over HTTP this reaches the survivor's check as the merge starts (reserveMerge); the window
  // between that check and the import is driven by hand in "keeps a survivor's reserved key…".
  it("never joins two user_ids when one reaches the survivor while a merge into it is under way", async () => {
    const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));
    const joined: unknown[] = [];
    for (let round = 0; round < 6; round++) {
      const email = `${unique()}@example.com`;
      const phone = `+1212557${String(1000 + round)}`;
      const first = unique("u1");
      await event(server, { type: "visit", channel: "web", identifiers: { email } });
      await pause(3);
      await event(server, {
        type: "visit",
        channel: "app",
        identifiers: { phone, user_id: first },
      });
      // One request merges the phone's profile (and its user_id) into the email's, the older;
      // the other gives the email's profile a user_id of its own meanwhile.
      const second = unique("u2");
      const requests = [
        () => identify(server, { email, phone }, "store"),
        () => identify(server, { email, user_id: second }, "web"),
      ];
      if (round % 2) requests.reverse();
      await Promise.all(requests.map((send) => send()));
      // Each user_id finds a profile holding it alone.
      for (const userId of [first, second]) {
        const found = await call("/v1/recognize", {
          key: ADMIN,
          body: { identifiers: { user_id: userId } },
        });
        const userIds = found.json.profile.identifiers.user_id;
        if (userIds?.length !== 1) joined.push({ round, userId, userIds });
      }
    }
    expect(joined).toEqual([]);
  });

  it("keeps a survivor's reserved key until the merge is called off, then lets another in", async () => {
    const email = `${unique()}@example.com`;
    const survivor = (
      await event(server, { type: "visit", channel: "web", identifiers: { email } })
    ).json.profile_id as string;
    const pepper = (env as unknown as { IDENTITY_PEPPER: string }).IDENTITY_PEPPER;
    const planned = await hashIdentifier(pepper, "user_id", unique("u1"));
    const stub = profileStub(env, survivor);
    const reserved = await stub.reserveMerge(survivor, "pr_loser", { user_id: planned.hash });
    expect(reserved.status).toBe("ok");
    // While the merge is under way, another user_id cannot join the survivor.
    const during = await identify(server, { email, user_id: unique("u2") }, "web");
    expect(during.json.profile_id).not.toBe(survivor);
    await stub.releaseMerge("pr_loser");
    const third = unique("u3");
    const after = await identify(server, { email, user_id: third }, "web");
    expect(after.json.profile_id).toBe(survivor);
    const full = await call(`/v1/profiles/${survivor}`, { key: ADMIN });
    expect(full.json.identifiers.user_id).toEqual([third]);
  });

  it("records an event once when its new identifier is linked to another person meanwhile", async () => {
    const doubled: unknown[] = [];
    for (let round = 0; round < 3; round++) {
      const [e1, e2] = [`${unique()}@example.com`, `${unique()}@example.com`];
      const userId = unique("u");
      const [a, b] = [await cardholder(e1), await cardholder(e2)];
      // Two people, each said to be the same new user_id: only one of them can hold it.
      const [idA, idB] = [unique("ea"), unique("eb")];
      await Promise.all([
        identify(server, { email: e1, user_id: userId }, "app", idA),
        identify(server, { email: e2, user_id: userId }, "app", idB),
      ]);
      const holders = new Map<string, string[]>();
      for (const id of [a.json.profile_id, b.json.profile_id]) {
        for (const eventId of await timelineIds(id))
          holders.set(eventId, [...(holders.get(eventId) ?? []), id]);
      }
      for (const id of [idA, idB])
        if (holders.get(id)?.length !== 1) doubled.push({ round, id, holders: holders.get(id) });
    }
    expect(doubled).toEqual([]);
  });

  it("finds a person by an identifier or the id of a profile merged away nine merges ago, and erases them by it", async () => {
    const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));
    const n = 10;
    // Anonymous ids and devices: types whose limits (50, 20) let ten profiles become one.
    const anons = Array.from({ length: n }, () => unique("anon"));
    const devices = Array.from({ length: n }, () => unique("dev"));
    const ids: string[] = [];
    for (let i = 0; i < n; i++) {
      const first = await event(server, {
        type: "visit",
        channel: "web",
        identifiers: { anonymous_id: anons[i], device_id: devices[i] },
      });
      ids.push(first.json.profile_id);
      await pause(5); // the older profile survives each merge
    }
    // Joined newest pair first: each survivor is merged away again by the next join, so the
    // newest id forwards through every other one.
    for (let i = n - 1; i > 0; i--) {
      const join = await event(server, {
        type: "identify",
        channel: "app",
        identifiers: { anonymous_id: anons[i - 1], device_id: devices[i] },
      });
      expect(join.json.merged_profile_ids).toHaveLength(1);
    }
    forgetOwners();
    const found = await call("/v1/recognize", {
      key: ADMIN,
      body: { identifiers: { anonymous_id: anons[n - 1] } },
    });
    expect(found.status, found.text).toBe(200);
    expect(found.json.profile.identifiers.device_id).toHaveLength(n);
    const newest = ids[n - 1] as string;
    const byId = await call(`/v1/profiles/${newest}`, { key: ADMIN });
    expect(byId.status, byId.text).toBe(200);
    expect(byId.json.profile_id).toBe(ids[0]);
    // Followed once, the chain is one hop.
    const forward = () =>
      runInDurableObject(
        env.PROFILES.getByName(newest),
        (_, state) =>
          state.storage.sql
            .exec<{ value: string }>("SELECT value FROM meta WHERE key = 'merged_into'")
            .one().value,
      );
    for (let i = 0; i < 50 && (await forward()) !== ids[0]; i++) await pause(10);
    expect(await forward()).toBe(ids[0]);
    const erased = await call(`/v1/profiles/${newest}`, { key: ADMIN, method: "DELETE" });
    expect(erased.status, erased.text).toBe(204);
    expect((await call(`/v1/profiles/${ids[0]}`, { key: ADMIN })).status).toBe(404);
  });

  it("finishes a merge interrupted after its first step through the loser's alarm", async () => {
    const loserEmail = `${unique()}@example.com`;
    const survivorEmail = `${unique()}@example.com`;
    const s = await event(server, {
      type: "visit",
      channel: "web",
      identifiers: { email: survivorEmail },
      traits: { first_name: "Ana" },
    });
    const l = await event(server, {
      type: "purchase",
      channel: "store",
      identifiers: { email: loserEmail },
      properties: { order_id: "x", total: 30, currency: "USD" },
    });
    const survivor = s.json.profile_id as string;
    const loser = l.json.profile_id as string;
    const stub = profileStub(env, loser);

    // Step one only, as if the Worker crashed right after it.
    const begun = await stub.beginMerge(
      loser,
      survivor,
      { via: ["email"], eventId: "manual", channel: "web" },
      {},
    );
    expect(begun.status).toBe("ok");
    const forwarded = await call(`/v1/profiles/${loser}`, { key: ADMIN });
    expect(forwarded.json.profile_id).toBe(survivor);

    expect(await runDurableObjectAlarm(env.PROFILES.getByName(loser))).toBe(true);
    expect(await runDurableObjectAlarm(env.PROFILES.getByName(loser))).toBe(false);

    const events = await timelineIds(survivor);
    expect(events).toEqual([s.json.event_id, l.json.event_id].sort());
    const full = await call(`/v1/profiles/${survivor}`, { key: ADMIN });
    expect(full.json.computed.lifetime_value).toBe(30);
    expect(full.json.identifiers.email.sort()).toEqual([loserEmail, survivorEmail].sort());
    // The loser kept nothing but its forward.
    const left = await runInDurableObject(env.PROFILES.getByName(loser), (_instance, state) =>
      state.storage.sql.exec("SELECT count(*) AS n FROM events").one(),
    );
    expect(left.n).toBe(0);
    // Its identifier still points at the loser and is repaired on the way.
    const byLoserEmail = await call("/v1/recognize", {
      key: ADMIN,
      body: { identifiers: { email: loserEmail } },
    });
    expect(byLoserEmail.json.profile_id).toBe(survivor);
  });

  it("repeats an import safely: a second hand-over of the same loser adds nothing", async () => {
    const a = await event(server, {
      type: "visit",
      channel: "web",
      identifiers: { email: `${unique()}@example.com` },
    });
    const b = await event(server, {
      type: "visit",
      channel: "web",
      identifiers: { email: `${unique()}@example.com` },
    });
    const loser = profileStub(env, b.json.profile_id);
    const survivor = profileStub(env, a.json.profile_id);
    const info = { via: ["email" as const], eventId: "manual", channel: "web" };
    const snapshot = await loser.beginMerge(b.json.profile_id, a.json.profile_id, info, {});
    if (snapshot.status !== "ok") throw new Error("no snapshot");
    const { value } = snapshot;
    await survivor.importMerge(a.json.profile_id, value, info);
    await survivor.importMerge(a.json.profile_id, value, info);
    await runDurableObjectAlarm(env.PROFILES.getByName(b.json.profile_id));
    const full = await call(`/v1/profiles/${a.json.profile_id}`, { key: ADMIN });
    expect(full.json.computed.visit_count).toBe(2);
    expect(await timelineIds(a.json.profile_id)).toHaveLength(2);
  });

  it("picks one survivor of two new people, whether a planner looked before or after their first events", async () => {
    // A new person's id is claimed in the index before the first event creates the profile, so
    // one planner can read two profiles before they exist and another just after. Opposite
    // choices merge each into the other: two forwards in a loop, and both people unreachable.
    const ids = [newProfileId(), newProfileId()].sort();
    const survivor = async () => {
      const holdings = await Promise.all(
        ids.map(async (id) => {
          const found = await profileStub(env, id).holdings(id);
          if (found.status !== "ok") throw new Error(`no holdings: ${found.status}`);
          return found.value;
        }),
      );
      return chooseSurvivor(holdings).profileId;
    };
    const before = await survivor();
    // Their first events arrive in the opposite order of their ids, a moment apart.
    for (const id of [...ids].reverse()) {
      await profileStub(env, id).ingest({
        profileId: id,
        event: {
          event_id: unique("evt"),
          type: "visit",
          channel: "web",
          timestamp: new Date().toISOString(),
        },
        held: [],
        offered: [],
        claimed: [],
        refused: [],
        source: "server",
        view: "full",
      });
      await new Promise((r) => setTimeout(r, 5));
    }
    expect(await survivor()).toBe(before);
  });
});

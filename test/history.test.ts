// Long histories: the stored event list is bounded, computed traits keep counting, pages walk it all.

import { evictDurableObject, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { ADMIN, call, createKey, event, newPhone, order, sendVisits, unique } from "./helpers";

let server: string;
let pos: string;
beforeAll(async () => {
  server = await createKey("server");
  pos = await createKey("pos", { store_id: "s-history" });
});

/** Sends `count` visits a minute apart; answers their ids, oldest first. */
async function resend(email: string, id: string) {
  const res = await call("/v1/events", {
    key: server,
    body: { id, type: "visit", channel: "web", identifiers: { email } },
  });
  return res.json;
}

/** Stands in for `count` ids of events that left the window later, so a prune ages earlier ones. */
function idsLeftAfter(profileId: string, count: number) {
  return runInDurableObject(env.PROFILES.getByName(profileId), (_i, state) => {
    state.storage.sql.exec(
      `WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < ?)
       INSERT INTO event_ids (event_id) SELECT 'left-' || i FROM c`,
      count,
    );
  });
}

/**
 * Two people's orders under one id (the email's dated `emailAt`, the phone's `phoneAt`), then an
 * event that shows they are one: the merge keeps both.
 */
async function sharedOrder(emailAt?: string, phoneAt?: string) {
  const id = unique("order");
  const email = `${unique()}@example.com`;
  const phone = newPhone("929");
  await order(server, id, { email }, 10, emailAt);
  await order(server, id, { phone }, 20, phoneAt);
  const join = await event(server, {
    type: "identify",
    channel: "web",
    identifiers: { email, phone },
  });
  return { id, email, profileId: join.json.profile_id as string };
}

describe("history", () => {
  it("keeps the newest 1,000 events while computed traits count every one", async () => {
    const email = `${unique()}@example.com`;
    const start = Date.UTC(2024, 0, 1);
    const ids = await sendVisits(server, email, 1100, start);
    const found = await call("/v1/recognize", { key: ADMIN, body: { identifiers: { email } } });
    const { profile_id: id, profile } = found.json;
    expect(profile.computed.visit_count).toBe(1100);
    expect(profile.computed.first_seen_at).toBe(new Date(start).toISOString());
    expect(profile.computed.visits_by_channel).toEqual({ app: 550, web: 550 });
    const stored = await runInDurableObject(env.PROFILES.getByName(id), (_i, state) =>
      state.storage.sql.exec("SELECT count(*) AS n, min(ts) AS oldest FROM events").one(),
    );
    expect(stored.n).toBe(1000);
    expect(stored.oldest).toBe(start + 100 * 60_000);

    // A re-sent event is still known, in the window or out of it: it does not count again.
    const page = await call(`/v1/profiles/${id}/timeline?limit=1`, { key: ADMIN });
    expect((await resend(email, page.json.events[0].event_id)).status).toBe("duplicate");
    expect((await resend(email, ids[0] as string)).status).toBe("duplicate");
    // The export names them too: they are held, if only as ids.
    const exported = await call(`/v1/profiles/${id}/export`, { key: ADMIN });
    expect(exported.json.earlier_event_ids).toEqual(ids.slice(0, 100));
  });

  it("remembers events that left the window after a restart and through a merge", async () => {
    const email = `${unique()}@example.com`;
    const phone = newPhone("929");
    // The older profile survives a merge: the one with the long history is the one merged away.
    const other = await event(server, { type: "visit", channel: "app", identifiers: { phone } });
    const ids = await sendVisits(server, email, 1050, Date.UTC(2024, 0, 1));
    const loser = (await resend(email, ids[0] as string)).profile_id;
    await evictDurableObject(env.PROFILES.getByName(loser));
    expect(await resend(email, ids[1] as string)).toMatchObject({ status: "duplicate" });

    const join = await event(server, {
      type: "identify",
      channel: "app",
      identifiers: { email, phone },
    });
    const survivor = join.json.profile_id;
    expect(survivor).not.toBe(loser);
    expect(survivor).toBe(other.json.profile_id);
    const again = await resend(email, ids[2] as string);
    expect(again).toMatchObject({ status: "duplicate", profile_id: survivor });
    // 1,050 visits with the email and one with the phone: the re-sent one did not count.
    expect(again.profile.computed.visit_count).toBe(1051);
  });

  it("remembers an event for ten windows from when it leaves the window, however long it stayed", async () => {
    const email = `${unique()}@example.com`;
    const liveAt = Date.UTC(2025, 5, 1);
    const live = unique("live");
    const first = await call("/v1/events", {
      key: server,
      body: {
        id: live,
        type: "visit",
        channel: "web",
        timestamp: new Date(liveAt).toISOString(),
        identifiers: { email },
      },
    });
    // Stands in for a backfill of 20,000 older events that came and left while this one stayed.
    await idsLeftAfter(first.json.profile_id, 20_000);
    await evictDurableObject(env.PROFILES.getByName(first.json.profile_id));
    await sendVisits(server, email, 1000, liveAt + 60_000);
    const again = await resend(email, live);
    expect(again.status).toBe("duplicate");
    expect(again.profile.computed.visit_count).toBe(1001);
  });

  it("keeps knowing an id two merged events share while one is in the window, the other's long gone", async () => {
    const { id, email, profileId } = await sharedOrder("2020-01-01T00:00:00.000Z");
    // The 2020 copy leaves the window; today's stays, while its id ages out.
    await sendVisits(server, email, 1000, Date.UTC(2021, 0, 1));
    await idsLeftAfter(profileId, 10_000);
    await sendVisits(server, email, 1, Date.UTC(2022, 0, 1));
    const again = await order(server, id, { email }, 20);
    expect(again.json.status).toBe("duplicate");
    expect(again.json.profile.computed.purchase_count).toBe(2);
  });

  it("forgets a shared id once both copies have aged out, as a single one is forgotten", async () => {
    const old = "2020-01-01T00:00:00.000Z";
    const { id, email, profileId } = await sharedOrder(old, old);
    // Both 2020 copies leave the window.
    await sendVisits(server, email, 1000, Date.UTC(2021, 0, 1));
    const held = () =>
      runInDurableObject(env.PROFILES.getByName(profileId), (_i, state) => ({
        events: state.storage.sql
          .exec("SELECT count(*) AS n FROM events WHERE event_id = ?", id)
          .one().n,
        ids: state.storage.sql
          .exec("SELECT count(*) AS n FROM event_ids WHERE event_id = ?", id)
          .one().n,
      }));
    expect(await held()).toEqual({ events: 0, ids: 2 });
    // Ten windows of ids leave after them: the next prune forgets both.
    await idsLeftAfter(profileId, 10_000);
    await sendVisits(server, email, 1, Date.UTC(2022, 0, 1));
    expect(await held()).toEqual({ events: 0, ids: 0 });
    // Nothing holds the id any more (an object that restarted now would record it): a new event
    // under it is recorded and counted, as for any id forgotten after ten windows.
    const again = await order(server, id, { email }, 30);
    expect(again.json.status).toBe("recorded");
    expect(again.json.profile.computed.purchase_count).toBe(3);
  });

  it("answers a re-send as a duplicate after six windows of newer events, forgets it after ten", async () => {
    const email = `${unique()}@example.com`;
    const ids = await sendVisits(server, email, 7001, Date.UTC(2024, 0, 1));
    expect((await resend(email, ids[0] as string)).status).toBe("duplicate");
    const more = await sendVisits(server, email, 4000, Date.UTC(2024, 6, 1));
    expect((await resend(email, ids[0] as string)).status).toBe("recorded");
    expect((await resend(email, more[0] as string)).status).toBe("duplicate");
  }, 60_000);

  it("keeps a history of large events within its size, so export and merge still answer", async () => {
    // 40 visits of about 240,000 characters each: 9.6 M, past the 8 MiB kept per profile.
    const email = `${unique()}@example.com`;
    const filler = "x".repeat(240_000);
    const start = Date.now() - 60 * 60_000;
    const ids: string[] = [];
    let profileId = "";
    for (let i = 0; i < 40; i++) {
      const id = unique("big");
      const res = await event(server, {
        id,
        type: "visit",
        channel: "web",
        timestamp: new Date(start + i * 60_000).toISOString(),
        identifiers: { email },
        properties: { filler },
      });
      expect(res.status).toBe(200);
      ids.push(id);
      profileId = res.json.profile_id;
    }
    const kept = Math.floor((8 * 1024 * 1024) / 240_100);
    const exported = await call(`/v1/profiles/${profileId}/export`, { key: ADMIN });
    expect(exported.status).toBe(200);
    expect(exported.json.computed.visit_count).toBe(40);
    const exportedIds = (exported.json.events as { event_id: string }[]).map((e) => e.event_id);
    expect(exportedIds).toEqual(ids.slice(-kept).reverse());
    const page = await call(`/v1/profiles/${profileId}/timeline?limit=200`, { key: ADMIN });
    expect(page.json.events).toHaveLength(kept);
    // A newer person joined to this one: the whole kept history moves in one hand-over.
    const phone = newPhone("212");
    await event(server, { type: "visit", channel: "app", identifiers: { phone } });
    const joined = await event(server, {
      type: "identify",
      channel: "app",
      identifiers: { email, phone },
    });
    expect(joined.status).toBe(200);
    expect(joined.json.profile_id).toBe(profileId);
    expect(joined.json.profile.computed.visit_count).toBe(41);
    // A left event is still a duplicate.
    expect((await resend(email, ids[0] as string)).status).toBe("duplicate");
  });

  it("pages through the timeline newest first without gaps or repeats", async () => {
    const email = `${unique()}@example.com`;
    await sendVisits(server, email, 120, Date.UTC(2025, 5, 1));
    const { json } = await call("/v1/recognize", { key: ADMIN, body: { identifiers: { email } } });
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const query: string = cursor ? `&before=${encodeURIComponent(cursor)}` : "";
      const res = await call(`/v1/profiles/${json.profile_id}/timeline?limit=50${query}`, {
        key: ADMIN,
      });
      expect(res.status).toBe(200);
      seen.push(...res.json.events.map((e: { timestamp: string }) => e.timestamp));
      cursor = res.json.next;
      pages += 1;
    } while (cursor);
    expect(pages).toBe(3);
    expect(seen).toHaveLength(120);
    expect(new Set(seen).size).toBe(120);
    expect([...seen].sort().reverse()).toEqual(seen);
  });

  it("goes on paging by a merged-away id from where a page before the merge ended", async () => {
    const email = `${unique()}@example.com`;
    const phone = newPhone("929");
    const at = Date.UTC(2025, 0, 10, 12);
    // The older profile, which survives: three visits before the other's.
    for (let hour = 1; hour <= 3; hour++) {
      const visit = { timestamp: new Date(at - hour * 3_600_000).toISOString() };
      await event(server, { type: "visit", channel: "app", identifiers: { phone }, ...visit });
    }
    // A till's import: three events of one moment, the profile that will be merged away.
    const batch = ["x1", "x2", "x3"].map((tag) => ({
      id: unique(tag),
      type: "visit",
      channel: "store",
      timestamp: new Date(at).toISOString(),
      identifiers: { email },
    }));
    const sent = await call("/v1/events", { key: server, body: { batch } });
    const loser = sent.json.results[0].profile_id as string;
    const first = await call(`/v1/profiles/${loser}/timeline?limit=1`, { key: ADMIN });
    const shown = first.json.events[0].event_id as string;
    const join = await event(server, {
      type: "identify",
      channel: "app",
      identifiers: { email, phone },
    });
    expect(join.json.merged_profile_ids).toEqual([loser]);
    const rest = await call(
      `/v1/profiles/${loser}/timeline?limit=50&before=${encodeURIComponent(first.json.next)}`,
      { key: ADMIN },
    );
    expect(rest.status, rest.text).toBe(200);
    const ids = (rest.json.events as { event_id: string }[]).map((e) => e.event_id);
    const unseen = batch.map((e) => e.id).filter((id) => id !== shown);
    expect(ids).not.toContain(shown);
    expect(ids.slice(0, 2).sort()).toEqual(unseen.sort());
    expect(ids).toHaveLength(5);
  });

  it("shows staff the same newest events as the timeline, when events of one moment have any ids", async () => {
    const email = `${unique()}@example.com`;
    const timestamp = new Date(Date.UTC(2025, 0, 1)).toISOString();
    const prefix = unique("same-ms");
    const ids = ["\uFF01", "\uFF02", "\uFF03", "\uFF04", "\uFF05", "\u{1F600}"].map(
      (c) => prefix + c,
    );
    const batch = ids.map((id) => ({
      id,
      type: "visit",
      channel: "web",
      timestamp,
      identifiers: { email },
    }));
    const sent = await call("/v1/events", { key: server, body: { batch } });
    const profileId = sent.json.results[0].profile_id as string;
    const timeline = await call(`/v1/profiles/${profileId}/timeline?limit=5`, { key: ADMIN });
    const newest = timeline.json.events.map((e: { event_id: string }) => e.event_id);
    expect(newest[0]).toBe(ids[5]);
    const staff = async () => {
      const found = await call("/v1/recognize", { key: pos, body: { identifiers: { email } } });
      return found.json.profile.recent_events.map((e: { event_id: string }) => e.event_id);
    };
    expect(await staff()).toEqual(newest);
    await evictDurableObject(env.PROFILES.getByName(profileId));
    expect(await staff()).toEqual(newest);
  });

  it("keeps the newest value of a trait even when an older event arrives later", async () => {
    const email = `${unique()}@example.com`;
    const identify = (timestamp: string, first_name: string) =>
      event(server, {
        type: "identify",
        channel: "web",
        identifiers: { email },
        timestamp,
        traits: { first_name },
      });
    await identify("2025-02-01T00:00:00Z", "New");
    await identify("2025-01-01T00:00:00Z", "Old");
    const found = await call("/v1/recognize", { key: ADMIN, body: { identifiers: { email } } });
    expect(found.json.profile.first_name).toBe("New");
  });

  it("lets what a person says now outrank an event dated ahead of its arrival", async () => {
    const email = `${unique()}@example.com`;
    // A till whose clock runs an hour fast: the contract accepts events up to 24 h ahead.
    const ahead = new Date(Date.now() + 3600_000).toISOString();
    const early = await event(server, {
      type: "consent",
      channel: "store",
      timestamp: ahead,
      identifiers: { email },
      traits: { first_name: "Ahead" },
      properties: { purposes: { marketing_email: "granted" } },
    });
    expect(early.status, early.text).toBe(200);
    const withdrawn = await call(`/v1/profiles/${early.json.profile_id}/consent`, {
      method: "PUT",
      key: server,
      body: { purposes: { marketing_email: "denied" }, channel: "web" },
    });
    expect(withdrawn.json.consent.marketing_email).toBe("denied");
    await event(server, {
      type: "identify",
      channel: "web",
      identifiers: { email },
      traits: { first_name: "Now" },
    });
    const found = await call(`/v1/profiles/${early.json.profile_id}`, { key: server });
    expect(found.json).toMatchObject({ first_name: "Now", consent: { marketing_email: "denied" } });
    // The timeline still shows the event at the time its sender gave.
    const timeline = await call(`/v1/profiles/${early.json.profile_id}/timeline`, { key: server });
    expect(timeline.json.events.map((e: { timestamp: string }) => e.timestamp)).toContain(ahead);
  });

  it("counts an event dated ahead from its arrival: no last-seen still to come, no stale score on top", async () => {
    const email = `${unique()}@example.com`;
    const sentAt = Date.now();
    const ahead = new Date(sentAt + 20 * 3600_000).toISOString();
    const survey = (nps: number, timestamp?: string) =>
      event(server, {
        type: "survey",
        channel: "kiosk",
        identifiers: { email },
        properties: { survey_id: unique("s"), nps },
        ...(timestamp ? { timestamp } : {}),
      });
    const early = await survey(2, ahead);
    expect(early.status, early.text).toBe(200);
    expect(Date.parse(early.json.profile.computed.last_seen_at)).toBeLessThanOrEqual(Date.now());
    const now = await survey(9);
    expect(now.json.profile.computed.last_nps).toBe(9);
    // The timeline keeps the sender's time and says when the event came.
    const timeline = await call(`/v1/profiles/${now.json.profile_id}/timeline`, { key: server });
    const shown = timeline.json.events.find((e: { timestamp: string }) => e.timestamp === ahead);
    expect(Date.parse(shown.received_at)).toBeGreaterThanOrEqual(sentAt);
    expect(timeline.json.events.filter((e: object) => "received_at" in e)).toHaveLength(1);
  });

  it("computes purchase, survey and consent traits from their events", async () => {
    const email = `${unique()}@example.com`;
    const send = (body: Record<string, unknown>) =>
      call("/v1/events", {
        key: server,
        body: { id: unique(), channel: "web", identifiers: { email }, ...body },
      });
    await send({
      type: "purchase",
      timestamp: "2025-03-01T10:00:00Z",
      properties: {
        order_id: "1",
        total: 100,
        currency: "USD",
        items: [{ sku: "a", category: "shoes", quantity: 2 }],
      },
    });
    await send({
      type: "purchase",
      timestamp: "2025-03-05T10:00:00Z",
      properties: {
        order_id: "2",
        total: 50,
        currency: "USD",
        items: [{ sku: "b", category: "bags" }],
      },
    });
    await send({
      type: "purchase",
      timestamp: "2025-03-05T12:00:00Z",
      properties: { order_id: "3", total: 15_000, currency: "JPY" },
    });
    await send({
      type: "survey",
      timestamp: "2025-03-06T10:00:00Z",
      properties: { survey_id: "s", nps: 9, answers: { liked: "staff" } },
    });
    await send({
      type: "consent",
      properties: { purposes: { marketing_email: "granted", analytics: "denied" } },
    });
    await send({ type: "track", name: "wishlist_add", properties: { sku: "c" } });
    const { json } = await call("/v1/recognize", { key: ADMIN, body: { identifiers: { email } } });
    expect(json.profile.computed).toMatchObject({
      // A purchase in yen counts as a purchase, never as 15,000 dollars.
      purchase_count: 3,
      lifetime_value: 150,
      average_order_value: 75,
      lifetime_value_by_currency: { USD: 150, JPY: 15_000 },
      last_purchase_at: "2025-03-05T12:00:00.000Z",
      favorite_category: "shoes",
      last_nps: 9,
      visit_count: 3,
    });
    expect(json.profile.consent).toEqual({ marketing_email: "granted", analytics: "denied" });
  });
});

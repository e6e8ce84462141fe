// The story the product exists for: one person across web, back end and store.
import { describe, expect, it } from "vitest";
import { ADMIN, call, createKey, event, unique } from "./helpers";

describe("one person on web, app and in store", () => {
  it("anonymous web visits, an identify by the back end, then POS lookups all reach one profile", async () => {
    const server = await createKey("server");
    const pos = await createKey("pos", { store_id: "store-42" });
    const anonymousId = unique("anon");
    const local = unique("jane");

    const first = await event(server, {
      type: "visit",
      channel: "web",
      identifiers: { anonymous_id: anonymousId },
    });
    const second = await event(server, {
      type: "visit",
      channel: "web",
      identifiers: { anonymous_id: anonymousId },
    });
    expect(first.status).toBe(200);
    expect(second.json.profile_id).toBe(first.json.profile_id);

    const identify = await event(server, {
      type: "identify",
      channel: "web",
      identifiers: {
        anonymous_id: anonymousId,
        email: `${local}@Example.com`,
        phone: "+1 415 555 0132",
      },
      traits: { first_name: "Jane", last_name: "Doe" },
    });
    expect(identify.status, identify.text).toBe(200);
    const profileId = identify.json.profile_id;
    expect(profileId).toBe(first.json.profile_id);

    const byEmail = await call("/v1/recognize", {
      key: pos,
      body: { identifiers: { email: `  ${local.toUpperCase()}@EXAMPLE.COM ` } },
    });
    expect(byEmail.status, byEmail.text).toBe(200);
    expect(byEmail.json.profile_id).toBe(profileId);
    expect(byEmail.json.profile.first_name).toBe("Jane");

    for (const phone of ["(415) 555-0132", "415.555.0132", "+14155550132"]) {
      const byPhone = await call("/v1/recognize", { key: pos, body: { identifiers: { phone } } });
      expect(byPhone.json.profile_id, phone).toBe(profileId);
    }

    const purchase = await event(pos, {
      type: "purchase",
      identifiers: { phone: "415-555-0132" },
      properties: {
        order_id: "o-1",
        total: 42.5,
        currency: "USD",
        items: [{ sku: "s1", category: "shoes" }],
      },
    });
    expect(purchase.json.profile_id).toBe(profileId);
    expect(purchase.json.profile.view).toBe("staff");

    const timeline = await call(`/v1/profiles/${profileId}/timeline`, { key: server });
    expect(timeline.status).toBe(200);
    const channels = timeline.json.events.map((e: { channel: string }) => e.channel);
    expect(channels).toEqual(["store", "web", "web", "web"]);
    expect(timeline.json.events[0].store_id).toBe("store-42");

    const full = await call(`/v1/profiles/${profileId}`, { key: ADMIN });
    expect(full.json.computed).toMatchObject({
      visit_count: 3,
      visits_by_channel: { web: 2, store: 1 },
      purchase_count: 1,
      lifetime_value: 42.5,
      favorite_store: "store-42",
      favorite_category: "shoes",
    });
    expect(full.json.identifiers.email).toEqual([`${local}@example.com`]);
    expect(full.json.identifiers.phone).toEqual(["+14155550132"]);
  });

  it("answers 404 for a person nobody has seen", async () => {
    const res = await call("/v1/recognize", {
      key: ADMIN,
      body: { identifiers: { email: `${unique()}@nowhere.test` } },
    });
    expect(res.status).toBe(404);
    expect(res.headers.get("content-type")).toBe("application/problem+json");
  });
});

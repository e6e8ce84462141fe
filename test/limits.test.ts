// Every limit and every kind of bad input gets a problem response, never a 500, and changes nothing.
import { evictDurableObject, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { ADMIN, call, createKey, event, identify, newPhone, unique } from "./helpers";

let server: string;
beforeAll(async () => {
  server = await createKey("server");
});

const visit = (extra: Record<string, unknown> = {}) => ({
  id: unique("evt"),
  type: "visit",
  channel: "web",
  identifiers: { email: `${unique()}@example.com` },
  ...extra,
});

function expectProblem(
  res: { status: number; headers: Headers; json: { status: number; title: string; type: string } },
  status: number,
) {
  expect(res.status).toBe(status);
  expect(res.headers.get("content-type")).toBe("application/problem+json");
  expect(res.json.status).toBe(status);
  expect(res.json.title).toBeTypeOf("string");
  expect(res.json.type).toMatch(/^\/problems\//);
}

describe("limits", () => {
  it("refuses a body over 256 KiB with 413", async () => {
    const res = await call("/v1/events", {
      key: server,
      body: visit({ traits: { note: "x".repeat(2000) }, pad: "y".repeat(300 * 1024) }),
    });
    expectProblem(res, 413);
  });

  it("refuses a batch of more than 100 events with 400, recording none", async () => {
    const email = `${unique()}@example.com`;
    const batch = Array.from({ length: 101 }, () => visit({ identifiers: { email } }));
    const res = await call("/v1/events", { key: server, body: { batch } });
    expectProblem(res, 400);
    expect(res.json.errors[0].path).toBe("batch");
    const found = await call("/v1/recognize", { key: server, body: { identifiers: { email } } });
    expect(found.status).toBe(404);
  });

  it("accepts a batch of 100 and answers each event in order", async () => {
    const email = `${unique()}@example.com`;
    const batch = Array.from({ length: 100 }, () => visit({ identifiers: { email } }));
    const res = await call("/v1/events", { key: server, body: { batch } });
    expect(res.status).toBe(200);
    expect(res.json.results).toHaveLength(100);
    expect(new Set(res.json.results.map((r: { profile_id: string }) => r.profile_id)).size).toBe(1);
  });

  it("answers a bad event inside a batch on its own and records the others", async () => {
    const email = `${unique()}@example.com`;
    const good = visit({ identifiers: { email } });
    const res = await call("/v1/events", {
      key: server,
      body: {
        batch: [
          good,
          { id: unique(), type: "purchase", channel: "web", identifiers: { email } },
          visit({ identifiers: { email } }),
        ],
      },
    });
    expect(res.status).toBe(200);
    expect(res.json.results[0].status).toBe("recorded");
    expect(res.json.results[1].status).toBe(400);
    expect(res.json.results[1].errors[0].path).toMatch(/^batch\.1\.properties/);
    expect(res.json.results[2].status).toBe("recorded");
  });

  it("refuses more than 100 trait keys", async () => {
    const traits = Object.fromEntries(Array.from({ length: 101 }, (_, i) => [`k${i}`, i]));
    const res = await call("/v1/events", { key: server, body: visit({ traits }) });
    expectProblem(res, 400);
    expect(res.json.errors[0].path).toBe("traits");
  });

  it("keeps at most 500 trait keys per profile: new keys past it are named in the answer, the event keeps them", async () => {
    const email = `${unique()}@example.com`;
    const keys = (from: number) =>
      Object.fromEntries(Array.from({ length: 100 }, (_, i) => [`k${from + i}`, from + i]));
    for (let from = 0; from < 500; from += 100) {
      const res = await call("/v1/events", {
        key: server,
        body: visit({ identifiers: { email }, traits: keys(from) }),
      });
      expect(res.json.dropped_traits).toBeUndefined();
    }
    const full = await call("/v1/events", {
      key: server,
      body: visit({ identifiers: { email }, traits: { k0: "changed", extra: 1, constructor: 2 } }),
    });
    expect(full.status).toBe(200);
    expect(full.json.status).toBe("recorded");
    expect(full.json.dropped_traits).toEqual(["extra", "constructor"]);
    // A retry after a timeout, alone or twice in a batch, learns it again.
    const sent = visit({
      identifiers: { email },
      traits: { k0: "changed", extra: 1, constructor: 2 },
    });
    const again = await call("/v1/events", { key: server, body: sent });
    expect(again.json.status).toBe("recorded");
    const retry = await call("/v1/events", { key: server, body: sent });
    expect(retry.json).toMatchObject({
      status: "duplicate",
      dropped_traits: ["extra", "constructor"],
    });
    const batch = await call("/v1/events", { key: server, body: { batch: [sent, sent] } });
    for (const result of batch.json.results) {
      expect(result).toMatchObject({
        status: "duplicate",
        dropped_traits: ["extra", "constructor"],
      });
    }
    const traits = full.json.profile.traits;
    expect(Object.keys(traits)).toHaveLength(500);
    expect(traits.k0).toBe("changed");
    expect(Object.hasOwn(traits, "extra")).toBe(false);
    const timeline = await call(`/v1/profiles/${full.json.profile_id}/timeline?limit=1`, {
      key: server,
    });
    expect(timeline.json.events[0].traits).toEqual({ k0: "changed", extra: 1, constructor: 2 });
  });

  it("names a batch repeat's own traits the profile has no room for, as a lone re-send does", async () => {
    const email = `${unique()}@example.com`;
    for (let r = 0; r < 5; r++) {
      const traits = Object.fromEntries(Array.from({ length: 100 }, (_, i) => [`k${r}_${i}`, i]));
      await call("/v1/events", { key: server, body: visit({ identifiers: { email }, traits }) });
    }
    const id = unique("e");
    const sent = (traits: Record<string, unknown>) => visit({ id, identifiers: { email }, traits });
    const res = await call("/v1/events", {
      key: server,
      body: { batch: [sent({ colour: "red" }), sent({ size: "M" })] },
    });
    const [first, repeat] = res.json.results;
    expect(first).toMatchObject({ status: "recorded", dropped_traits: ["colour"] });
    expect(repeat).toMatchObject({ status: "duplicate", dropped_traits: ["size"] });
  });

  it("never lets a till probe which trait keys a profile holds through dropped_traits", async () => {
    const phone = newPhone("646");
    await call("/v1/events", {
      key: server,
      body: visit({ identifiers: { phone }, traits: { diagnosis: "private" } }),
    });
    const pos = await createKey("pos", { store_id: "s-probe" });
    // Its own event, then the same id again carrying the keys it wants to ask about.
    const probe = { id: unique("probe"), type: "identify", identifiers: { phone } };
    const first = await call("/v1/events", { key: pos, body: probe });
    const traits = { diagnosis: 1, pregnant: 1 };
    const again = await call("/v1/events", { key: pos, body: { ...probe, traits } });
    expect(first.json.status).toBe("recorded");
    expect(again.json.status).toBe("duplicate");
    for (const answer of [first, again]) expect(answer.json).not.toHaveProperty("dropped_traits");
    // The back end, which reads the traits, is told.
    const backEnd = await call("/v1/events", {
      key: server,
      body: { ...probe, channel: "store", traits: { other: 1 } },
    });
    expect(backEnd.json).toMatchObject({ status: "duplicate", dropped_traits: ["other"] });
  });

  it("keeps the 500 most recently updated trait keys when two profiles merge", async () => {
    const [email, loyalty_id] = [`${unique()}@example.com`, unique("L")];
    const fill = async (identifiers: object, prefix: string, hoursAgo: number) => {
      for (let batch = 0; batch < 3; batch++) {
        const traits = Object.fromEntries(
          Array.from({ length: 100 }, (_, i) => [`${prefix}${batch * 100 + i}`, i]),
        );
        const timestamp = new Date(Date.now() - (hoursAgo - batch) * 3_600_000).toISOString();
        await call("/v1/events", { key: server, body: visit({ identifiers, traits, timestamp }) });
      }
    };
    await fill({ email }, "old", 10);
    await fill({ loyalty_id }, "new", 5);
    const merged = await call("/v1/events", {
      key: server,
      body: visit({ identifiers: { email, loyalty_id } }),
    });
    expect(merged.json.merged_profile_ids).toHaveLength(1);
    const keys = Object.keys(merged.json.profile.traits);
    expect(keys).toHaveLength(500);
    expect(keys.filter((k) => k.startsWith("new"))).toHaveLength(300);
    expect(keys).toContain("old100");
    expect(keys).not.toContain("old99");
  });

  it("keeps a key the event joining two full profiles updates", async () => {
    const [email, loyalty_id] = [`${unique()}@example.com`, unique("L")];
    const hoursAgo = (h: number) => new Date(Date.now() - h * 3_600_000).toISOString();
    for (let batch = 0; batch < 5; batch++) {
      const traits = Object.fromEntries(
        Array.from({ length: 100 }, (_, i) => [`s${batch * 100 + i}`, i]),
      );
      await call("/v1/events", {
        key: server,
        body: visit({ identifiers: { email }, traits, timestamp: hoursAgo(5) }),
      });
    }
    await call("/v1/events", {
      key: server,
      body: visit({
        identifiers: { loyalty_id },
        traits: { tier: "silver" },
        timestamp: hoursAgo(10),
      }),
    });
    const joined = await call("/v1/events", {
      key: server,
      body: visit({ identifiers: { email, loyalty_id }, traits: { tier: "gold" } }),
    });
    expect(joined.json.merged_profile_ids).toHaveLength(1);
    expect(joined.json.dropped_traits).toBeUndefined();
    expect(joined.json.profile.traits.tier).toBe("gold");
    expect(Object.keys(joined.json.profile.traits)).toHaveLength(500);
  });

  /** Two people of 300 trait keys each, set five hours ago: joined, they hold 600. */
  async function twoProfilesOf300() {
    const [email, loyalty_id] = [`${unique()}@example.com`, unique("L")];
    const fiveHoursAgo = new Date(Date.now() - 5 * 3_600_000).toISOString();
    for (const [identifiers, prefix] of [
      [{ email }, "a"],
      [{ loyalty_id }, "b"],
    ] as const) {
      for (let batch = 0; batch < 3; batch++) {
        const traits = Object.fromEntries(
          Array.from({ length: 100 }, (_, i) => [`${prefix}${batch * 100 + i}`, i]),
        );
        await call("/v1/events", {
          key: server,
          body: visit({ identifiers, traits, timestamp: fiveHoursAgo }),
        });
      }
    }
    return { email, loyalty_id };
  }

  it("keeps a new key the event joining two profiles brings, though together they hold more than 500", async () => {
    const identifiers = await twoProfilesOf300();
    const joined = await call("/v1/events", {
      key: server,
      body: visit({ identifiers, traits: { tier: "gold" } }),
    });
    expect(joined.json.dropped_traits).toBeUndefined();
    expect(joined.json.profile.traits.tier).toBe("gold");
    expect(Object.keys(joined.json.profile.traits)).toHaveLength(500);
    // What the answer showed is what storage holds: the object read afresh agrees.
    await evictDurableObject(env.PROFILES.getByName(joined.json.profile_id));
    const again = await call(`/v1/profiles/${joined.json.profile_id}`, { key: ADMIN });
    expect(Object.keys(again.json.traits).sort()).toEqual(
      Object.keys(joined.json.profile.traits).sort(),
    );
  });

  it("names a new key of the joining event that is older than every key it joins, and leaves it out", async () => {
    const identifiers = await twoProfilesOf300();
    const joined = await call("/v1/events", {
      key: server,
      body: visit({
        identifiers,
        traits: { rank: 1 },
        timestamp: new Date(Date.now() - 6 * 3_600_000).toISOString(),
      }),
    });
    expect(joined.json.dropped_traits).toEqual(["rank"]);
    expect(Object.hasOwn(joined.json.profile.traits, "rank")).toBe(false);
    expect(Object.keys(joined.json.profile.traits)).toHaveLength(500);
  });

  it("refuses a body that is not JSON with 415", async () => {
    const res = await call("/v1/events", {
      key: server,
      body: "id=1&type=visit",
      headers: { "content-type": "application/x-www-form-urlencoded" },
    });
    expectProblem(res, 415);
    const none = await call("/v1/events", {
      key: server,
      body: JSON.stringify(visit()),
      headers: { "content-type": "text/plain" },
    });
    expectProblem(none, 415);
  });

  it("refuses JSON declared in a charset other than UTF-8 with 415, and takes UTF-8 spelled any way", async () => {
    const email = `${unique()}@example.com`;
    const send = (charset: string) =>
      call("/v1/events", {
        key: server,
        body: JSON.stringify(visit({ identifiers: { email } })),
        headers: { "content-type": `application/json; charset=${charset}` },
      });
    expectProblem(await send("utf-16"), 415);
    expectProblem(await send('"iso-8859-1"'), 415);
    expect(
      (await call("/v1/recognize", { key: server, body: { identifiers: { email } } })).status,
    ).toBe(404);
    expect((await send("UTF-8")).status).toBe(200);
    expect((await send('"utf8"')).status).toBe(200);
  });

  it("takes JSON typed as RFC 9110 allows: a space before a parameter, an empty one", async () => {
    for (const type of [
      "application/json ; charset=utf-8",
      "application/json;",
      "application/json; charset=utf-8;",
      "application/vnd.api+json\t;charset=UTF-8",
    ]) {
      const res = await call("/v1/events", {
        key: server,
        body: JSON.stringify(visit()),
        headers: { "content-type": type },
      });
      expect(res.status, `${type}: ${res.text}`).toBe(200);
      expect(res.json.status).toBe("recorded");
    }
  });

  it("refuses a timestamp more than 24 hours ahead, and takes one just inside", async () => {
    const ahead = await call("/v1/events", {
      key: server,
      body: visit({ timestamp: new Date(Date.now() + 25 * 3600_000).toISOString() }),
    });
    expectProblem(ahead, 400);
    expect(ahead.json.errors[0].path).toBe("timestamp");
    const inside = await call("/v1/events", {
      key: server,
      body: visit({ timestamp: new Date(Date.now() + 23 * 3600_000).toISOString() }),
    });
    expect(inside.status).toBe(200);
  });

  it("rejects unknown fields, naming them", async () => {
    const res = await call("/v1/events", { key: server, body: visit({ colour: "red" }) });
    expectProblem(res, 400);
    expect(JSON.stringify(res.json.errors)).toContain("colour");
    const unknownType = await call("/v1/events", {
      key: server,
      body: visit({ identifiers: { passport: "X" } }),
    });
    expectProblem(unknownType, 400);
  });

  it("requires a channel from server keys, and names the fault", async () => {
    const res = await call("/v1/events", {
      key: server,
      body: { id: unique(), type: "visit", identifiers: { email: `${unique()}@x.com` } },
    });
    expectProblem(res, 400);
    expect(res.json.errors[0].path).toBe("channel");
  });

  it("names the identifier that is malformed", async () => {
    const email = await call("/v1/events", {
      key: server,
      body: visit({ identifiers: { email: "not-an-email" } }),
    });
    expectProblem(email, 400);
    expect(email.json.errors[0].path).toBe("identifiers.email");
    const phone = await call("/v1/events", {
      key: server,
      body: visit({ identifiers: { phone: "12" } }),
    });
    expect(phone.json.errors[0].path).toBe("identifiers.phone");
  });

  it("refuses an event whose identifiers are all junk", async () => {
    const res = await call("/v1/events", {
      key: server,
      body: visit({ identifiers: { email: " ", anonymous_id: "undefined", user_id: "null" } }),
    });
    expectProblem(res, 400);
  });

  it("answers a body that is not JSON with 400 on every route that takes one", async () => {
    const profileId: string = (await event(server, visit())).json.profile_id;
    const routes = [
      { path: "/v1/events", key: server },
      { path: "/v1/recognize", key: server },
      { path: `/v1/profiles/${profileId}/consent`, key: server, method: "PUT" },
      { path: "/v1/admin/keys", key: ADMIN },
    ];
    for (const route of routes) {
      const res = await call(route.path, { ...route, body: '{"identifiers": {' });
      expect(res.status, route.path).toBe(400);
      expectProblem(res, 400);
      expect(res.json.detail, route.path).toMatch(/json/i);
      expect(res.json.errors, route.path).toEqual([{ path: "(body)", message: res.json.detail }]);
    }
  });

  it("never answers 500 to malformed input of any kind", async () => {
    const bodies: unknown[] = [
      "{",
      "null",
      "[]",
      "42",
      '"text"',
      {},
      { batch: "nope" },
      { batch: [] },
      { id: "", type: "visit", channel: "web", identifiers: { email: "a@b.co" } },
      { id: "x".repeat(129), type: "visit", channel: "web", identifiers: { email: "a@b.co" } },
      { id: "a", type: "teleport", channel: "web", identifiers: { email: "a@b.co" } },
      { id: "a", type: "track", channel: "web", identifiers: { email: "a@b.co" } },
      { id: "a", type: "visit", channel: "fax", identifiers: { email: "a@b.co" } },
      { id: "a", type: "visit", channel: "web", identifiers: { email: 5 } },
      { id: "a", type: "visit", channel: "web", identifiers: "a@b.co" },
      {
        id: "a",
        type: "visit",
        channel: "web",
        timestamp: "yesterday",
        identifiers: { email: "a@b.co" },
      },
      {
        id: "a",
        type: "visit",
        channel: "web",
        identifiers: { email: "a@b.co" },
        traits: { nested: { a: 1 } },
      },
      {
        id: "a",
        type: "survey",
        channel: "web",
        identifiers: { email: "a@b.co" },
        properties: { survey_id: "s", nps: 11 },
      },
      {
        id: "a",
        type: "consent",
        channel: "web",
        identifiers: { email: "a@b.co" },
        properties: { purposes: { marketing_email: "maybe" } },
      },
      {
        id: "a",
        type: "purchase",
        channel: "web",
        identifiers: { email: "a@b.co" },
        properties: { order_id: "o", total: -1, currency: "USD" },
      },
      { id: "a", type: "visit", channel: "web", identifiers: { phone: "+".repeat(300) } },
      { id: "a", type: "visit", channel: "web", identifiers: { email: "\u0000@\u0000" } },
    ];
    for (const body of bodies) {
      const res = await call("/v1/events", {
        key: server,
        body: typeof body === "string" ? body : JSON.stringify(body),
      });
      expect(res.status, JSON.stringify(body)).toBeGreaterThanOrEqual(400);
      expect(res.status, JSON.stringify(body)).toBeLessThan(500);
      expect(res.headers.get("content-type")).toBe("application/problem+json");
      expect(res.text).not.toMatch(/at .*\.(ts|js):\d+/);
    }
  });

  it("answers each malformed member of a batch with its own problem", async () => {
    const res = await call("/v1/events", { key: server, body: { batch: [null, 1, "x", {}] } });
    expect(res.status).toBe(200);
    expect(res.json.results.map((r: { status: number }) => r.status)).toEqual([400, 400, 400, 400]);
  });

  it("answers problems for bad queries, ids and routes", async () => {
    const someone = await event(server, visit());
    const id = someone.json.profile_id;
    expectProblem(await call(`/v1/profiles/${id}/timeline?limit=0`, { key: server }), 400);
    expectProblem(await call(`/v1/profiles/${id}/timeline?limit=abc`, { key: server }), 400);
    for (const limit of ["1e2", "0x10", "5.0", "%205", "201"]) {
      expectProblem(await call(`/v1/profiles/${id}/timeline?limit=${limit}`, { key: server }), 400);
    }
    expect((await call(`/v1/profiles/${id}/timeline?limit=200`, { key: server })).status).toBe(200);
    expectProblem(await call(`/v1/profiles/${id}/timeline?before=garbage`, { key: server }), 400);
    expectProblem(await call("/v1/profiles/not-an-id", { key: server }), 404);
    expectProblem(await call(`/v1/profiles/pr_${"0".repeat(32)}`, { key: server }), 404);
    expectProblem(await call("/v1/nothing-here", { key: server }), 404);
    expectProblem(await call("/v1/recognize", { key: server, body: { identifiers: {} } }), 400);
  });

  it("leaves no storage behind for a profile id that was made up", async () => {
    const madeUp = `pr_${crypto.randomUUID().replaceAll("-", "")}`;
    for (const path of ["", "/timeline", "/export", "/next-message?channel=web"]) {
      expectProblem(await call(`/v1/profiles/${madeUp}${path}`, { key: ADMIN }), 404);
    }
    expectProblem(await call(`/v1/profiles/${madeUp}`, { key: ADMIN, method: "DELETE" }), 404);
    const tables = await runInDurableObject(env.PROFILES.getByName(madeUp), (_instance, state) =>
      state.storage.sql.exec("SELECT name FROM sqlite_master").toArray(),
    );
    expect(tables).toEqual([]);
  });

  it("changes nothing when an event is refused", async () => {
    const email = `${unique()}@example.com`;
    const ok = await event(server, {
      type: "visit",
      channel: "web",
      identifiers: { email },
      traits: { first_name: "Kim" },
    });
    await call("/v1/events", {
      key: server,
      body: visit({ identifiers: { email }, traits: { first_name: "Mallory" }, bogus: 1 }),
    });
    const full = await call(`/v1/profiles/${ok.json.profile_id}`, { key: ADMIN });
    expect(full.json.first_name).toBe("Kim");
    expect(full.json.computed.visit_count).toBe(1);
  });
});

describe("the consent history", () => {
  const put = (id: string, purposes: Record<string, string>) =>
    call(`/v1/profiles/${id}/consent`, {
      key: server,
      method: "PUT",
      body: { purposes, channel: "web" },
    });

  it("lets a banner's repeats go first, keeping the choice they repeat and the newest", async () => {
    const id = (await event(server, visit())).json.profile_id as string;
    // An hour ago the person said yes at the till; the banner sent the same state with every page since.
    await runInDurableObject(env.PROFILES.getByName(id), (_instance, state) => {
      const hourAgo = Date.now() - 3_600_000;
      state.storage.sql.exec(
        `INSERT INTO consent_history (purpose, status, channel, source, at)
         VALUES ('marketing_email', 'granted', 'store', 'pos', ?)`,
        hourAgo,
      );
      state.storage.sql.exec(
        `WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < 1500)
         INSERT INTO consent_history (purpose, status, channel, source, at)
         SELECT 'marketing_email', 'granted', 'web', 'device', ? + x FROM n`,
        hourAgo,
      );
    });
    await evictDurableObject(env.PROFILES.getByName(id));
    const last = await put(id, { marketing_email: "denied" });
    expect(last.json.consent).toEqual({ marketing_email: "denied" });
    const history = (await call(`/v1/profiles/${id}/export`, { key: ADMIN })).json
      .consent_history as { status: string; source: string }[];
    expect(history).toHaveLength(1_000);
    // The choice first made, at the till, and the choice made now.
    expect(history[0]).toMatchObject({ status: "granted", source: "pos" });
    expect(history.at(-1)).toMatchObject({ status: "denied", source: "server" });
  });

  const consentAt = (identifiers: Record<string, string>, status: string, hoursAgo: number) =>
    event(server, {
      type: "consent",
      channel: "store",
      identifiers,
      timestamp: new Date(Date.now() - hoursAgo * 3_600_000).toISOString(),
      properties: { purposes: { marketing_email: status } },
    });

  it("keeps the person's latest choice, repeated, against an older one arriving late", async () => {
    const email = `${unique()}@example.com`;
    await consentAt({ email }, "denied", 3);
    await consentAt({ email }, "denied", 1);
    // A till that was offline sends the choice made at it 2 h ago.
    const late = await consentAt({ email }, "granted", 2);
    expect(late.json.profile.consent.marketing_email).toBe("denied");
  });

  it("keeps the person's latest choice, repeated, when a merge brings an older one", async () => {
    const [email, loyalty_id] = [`${unique()}@example.com`, unique("card")];
    await consentAt({ email }, "denied", 3);
    await consentAt({ loyalty_id }, "granted", 2);
    await consentAt({ email }, "denied", 1);
    const joined = await identify(server, { email, loyalty_id }, "store");
    expect(joined.json.merged_profile_ids).toHaveLength(1);
    const full = await call(`/v1/profiles/${joined.json.profile_id}`, { key: ADMIN });
    expect(full.json.consent.marketing_email).toBe("denied");
  });

  it("keeps each purpose's newest MAX_CONSENT_CHANGES, so the export always answers", async () => {
    const id = (await event(server, visit())).json.profile_id as string;
    expect((await put(id, { analytics: "granted" })).status).toBe(200);
    // Years of a script flipping one choice (a customer token is not rate limited).
    await runInDurableObject(env.PROFILES.getByName(id), (_instance, state) => {
      state.storage.sql.exec(
        `WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < 1500)
         INSERT INTO consent_history (purpose, status, channel, source, at)
         SELECT 'marketing_email', CASE x % 2 WHEN 0 THEN 'denied' ELSE 'granted' END, 'web',
                'server', 1700000000000 + x FROM n`,
      );
    });
    await evictDurableObject(env.PROFILES.getByName(id));
    const last = await put(id, { marketing_email: "granted" });
    expect(last.json.consent).toEqual({ analytics: "granted", marketing_email: "granted" });
    const exported = await call(`/v1/profiles/${id}/export`, { key: ADMIN });
    expect(exported.status).toBe(200);
    const history = exported.json.consent_history as { purpose: string; at: string }[];
    const email = history.filter((c) => c.purpose === "marketing_email");
    expect(email).toHaveLength(1_000);
    // The oldest went; the choice made now is the newest kept.
    expect(email[0]?.at).toBe(new Date(1700000000000 + 502).toISOString());
    expect(history.filter((c) => c.purpose === "analytics")).toHaveLength(1);
  });

  it("holds a history stored before the bound to it, before any new choice", async () => {
    const id = (await event(server, visit())).json.profile_id as string;
    await runInDurableObject(env.PROFILES.getByName(id), (_instance, state) => {
      state.storage.sql.exec(
        `WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < 1500)
         INSERT INTO consent_history (purpose, status, channel, source, at)
         SELECT 'analytics', 'granted', 'web', 'device', 1700000000000 + x FROM n`,
      );
      // As a profile stored it before the bound's migration.
      state.storage.sql.exec("DELETE FROM schema_migrations");
      state.storage.sql.exec("INSERT INTO schema_migrations (id, applied_at) VALUES (3, 0)");
    });
    await evictDurableObject(env.PROFILES.getByName(id));
    const exported = await call(`/v1/profiles/${id}/export`, { key: ADMIN });
    const history = exported.json.consent_history as { at: string }[];
    expect(history).toHaveLength(1_000);
    // The choice first made, and the newest repeats of it.
    expect(history[0]?.at).toBe(new Date(1700000000000 + 1).toISOString());
    expect(history.at(-1)?.at).toBe(new Date(1700000000000 + 1500).toISOString());
  });

  it("keeps the bound when a merge brings a second history in", async () => {
    const [email, phone] = [`${unique()}@example.com`, newPhone("646")];
    const ids: string[] = [];
    for (const [n, identifiers] of [
      [0, { email }],
      [1, { phone }],
    ] as const) {
      const id = (await event(server, visit({ identifiers }))).json.profile_id as string;
      ids.push(id);
      await runInDurableObject(env.PROFILES.getByName(id), (_instance, state) => {
        state.storage.sql.exec(
          `WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < 700)
           INSERT INTO consent_history (purpose, status, channel, source, at)
           SELECT 'marketing_email', CASE x % 2 WHEN 0 THEN 'denied' ELSE 'granted' END, 'web',
                  'server', 1700000000000 + 2 * x + ? FROM n`,
          n,
        );
      });
      await evictDurableObject(env.PROFILES.getByName(id));
    }
    const joined = await event(server, visit({ identifiers: { email, phone } }));
    expect(ids).toContain(joined.json.profile_id);
    const exported = await call(`/v1/profiles/${joined.json.profile_id}/export`, { key: ADMIN });
    expect(exported.json.consent_history).toHaveLength(1_000);
    expect(exported.json.consent).toEqual({ marketing_email: "denied" });
  });
});

describe("purchase items", () => {
  const purchase = (item: Record<string, unknown>) =>
    visit({
      type: "purchase",
      properties: { order_id: "o-1", total: 42, currency: "USD", items: [item] },
    });

  it("keeps an item's own fields (size, colour), checked as every property is", async () => {
    const res = await call("/v1/events", {
      key: server,
      body: purchase({ sku: "s1", price: 42, size: "42", color: "red" }),
    });
    expect(res.json.status).toBe("recorded");
    const exported = await call(`/v1/profiles/${res.json.profile_id}/export`, { key: ADMIN });
    expect(exported.json.events[0].properties.items).toEqual([
      { sku: "s1", price: 42, quantity: 1, size: "42", color: "red" },
    ]);
    const bad = await call("/v1/events", {
      key: server,
      body: purchase({ sku: "s1", note: "\ud800" }),
    });
    expectProblem(bad, 400);
    expect(bad.json.errors[0].path).toBe("properties");
  });
});

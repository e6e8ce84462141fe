// Bad input at the edges: nesting, huge amounts, prototype-named keys, ill-formed Unicode.
// Each gets a problem response (never a 500) and never corrupts what is stored.
import { evictDurableObject } from "cloudflare:test";
import { env, exports } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { ADMIN, call, createKey, event, unique } from "./helpers";

let server: string;
beforeAll(async () => {
  server = await createKey("server");
});

/** Posts raw JSON text: JSON.stringify cannot write a lone surrogate escape or 10,000 brackets. */
async function post(key: string, text: string, path = "/v1/events") {
  const response = await exports.default.fetch(
    new Request(`https://edge.test${path}`, {
      method: "POST",
      headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
      body: text,
    }),
  );
  const body = await response.text();
  // biome-ignore lint/suspicious/noExplicitAny: tests read arbitrary JSON answers
  let json: any = null;
  try {
    json = JSON.parse(body);
  } catch {}
  return { status: response.status, headers: response.headers, json, text: body };
}

const nested = (depth: number) => `${"[".repeat(depth)}${"]".repeat(depth)}`;

function fullView(email: string) {
  return call("/v1/recognize", { key: server, body: { identifiers: { email } } });
}

describe("bad input at the edges", () => {
  it("answers deeply nested properties with a 400 naming properties, not a 500", async () => {
    const email = `${unique()}@example.com`;
    const res = await post(
      server,
      `{"id":"${unique()}","type":"visit","channel":"web","identifiers":{"email":"${email}"},"properties":{"a":${nested(10_000)}}}`,
    );
    expect(res.status).toBe(400);
    expect(res.headers.get("content-type")).toBe("application/problem+json");
    expect(res.json.errors[0].path).toMatch(/^properties/);
    expect((await fullView(email)).status).toBe(404);
  });

  it("answers a survey whose answers nest too deeply with a 400 naming its properties", async () => {
    const res = await post(
      server,
      `{"id":"${unique()}","type":"survey","channel":"web","identifiers":{"email":"${unique()}@example.com"},"properties":{"survey_id":"s","answers":{"a":${nested(40)}}}}`,
    );
    expect(res.status).toBe(400);
    expect(res.json.errors[0].path).toMatch(/^properties/);
  });

  it("answers a deeply nested event inside a batch on its own and records the others", async () => {
    const email = `${unique()}@example.com`;
    const ids = [unique("evt"), unique("evt"), unique("evt")];
    const text = `{"batch":[
      {"id":"${ids[0]}","type":"visit","channel":"web","identifiers":{"email":"${email}"}},
      {"id":"${ids[1]}","type":"visit","channel":"web","identifiers":{"email":"${email}"},"properties":{"a":${nested(10_000)}}},
      {"id":"${ids[2]}","type":"visit","channel":"web","identifiers":{"email":"${email}"}}]}`;
    const res = await post(server, text);
    // It once failed the whole batch with a 500 after recording the first event.
    expect(res.status).toBe(200);
    expect(res.json.results.map((r: { status: unknown }) => r.status)).toEqual([
      "recorded",
      400,
      "recorded",
    ]);
    expect(res.json.results[1].errors[0].path).toMatch(/^batch\.1\.properties/);
    const view = await fullView(email);
    expect(view.json.profile.computed.visit_count).toBe(2);
  });

  it("refuses purchase totals so large that lifetime value would stop being a number", async () => {
    const email = `${unique()}@example.com`;
    const purchase = (total: number) => ({
      type: "purchase",
      channel: "web",
      identifiers: { email },
      properties: { order_id: unique("o"), total, currency: "USD" },
    });
    expect((await event(server, purchase(10))).status).toBe(200);
    // Two totals of 1e308 would sum to Infinity, stored and shown as null: each is a 400.
    for (const total of [1e308, 1e308]) {
      const res = await event(server, purchase(total));
      expect(res.status).toBe(400);
      expect(res.json.errors[0].path).toBe("properties.total");
    }
    expect((await event(server, purchase(1e12))).status).toBe(200);
    const view = await fullView(email);
    expect(view.json.profile.computed.lifetime_value).toBe(1e12 + 10);
    expect(view.json.profile.computed.average_order_value).toBe((1e12 + 10) / 2);
    // And it stays so once the profile is read back from storage.
    await evictDurableObject(env.PROFILES.getByName(view.json.profile_id));
    expect((await event(server, purchase(5))).status).toBe(200);
    expect((await fullView(email)).json.profile.computed.lifetime_value).toBe(1e12 + 15);
  });

  it("counts stores and categories whatever they are called, Object.prototype names included", async () => {
    const email = `${unique()}@example.com`;
    const visit = (storeId: string) =>
      event(server, { type: "visit", channel: "store", store_id: storeId, identifiers: { email } });
    for (const store of ["constructor", "constructor", "zz-main", "zz-main", "zz-main"]) {
      expect((await visit(store)).status).toBe(200);
    }
    const view = await fullView(email);
    // Counted in a plain object, "constructor" (2 visits) beat "zz-main" (3): its count became
    // "function Object() { [native code] }11".
    expect(view.json.profile.computed.favorite_store).toBe("zz-main");

    const other = `${unique()}@example.com`;
    const res = await event(server, {
      type: "purchase",
      channel: "store",
      store_id: "__proto__",
      identifiers: { email: other },
      properties: {
        order_id: unique("o"),
        total: 1,
        currency: "USD",
        items: [{ sku: "a", category: "__proto__", quantity: 2 }],
      },
    });
    expect(res.status).toBe(200);
    // Counted in a plain object, both were assigned to its prototype and vanished.
    expect(res.json.profile.computed.favorite_store).toBe("__proto__");
    expect(res.json.profile.computed.favorite_category).toBe("__proto__");
  });

  it("refuses identifiers with lone surrogates, which would collide with other people's", async () => {
    // A legitimate user id holding U+FFFD, the replacement character.
    const owner = await event(server, {
      type: "identify",
      channel: "web",
      identifiers: { user_id: `u-${unique()}-\ufffd` },
      traits: { first_name: "Owner" },
    });
    expect(owner.status).toBe(200);
    const ownerId = owner.json.profile.identifiers.user_id[0] as string;
    // Another value, differing only by a lone surrogate where the other has U+FFFD.
    const lone = JSON.stringify(ownerId).replace("\ufffd", "\\ud800");
    const res = await post(server, `{"identifiers":{"user_id":${lone}}}`, "/v1/recognize");
    // Hashed as UTF-8, both values are the same bytes: the owner's profile came back.
    expect(res.json.profile_id).toBeUndefined();
    expect(res.status).toBe(400);
    expect(res.json.errors[0].path).toBe("identifiers.user_id");
  });

  it("refuses an event id with a lone surrogate, which would not be known again after a restart", async () => {
    const email = `${unique()}@example.com`;
    const id = `${unique("evt")}-\\udc00`;
    const send = () =>
      post(
        server,
        `{"id":"${id}","type":"visit","channel":"web","identifiers":{"email":"${email}"}}`,
      );
    // Storage would keep U+FFFD in its place, and after a restart the id would not be known.
    const first = await send();
    expect(first.status).toBe(400);
    expect(first.json.errors[0].path).toBe("id");
    expect((await fullView(email)).status).toBe(404);
  });

  it("refuses a lone surrogate anywhere else an event carries text, naming where", async () => {
    const email = `${unique()}@example.com`;
    const lone = '"x\\ud800"';
    const cases: [string, string][] = [
      [`"traits":{"first_name":${lone}}`, "traits"],
      [`"store_id":${lone}`, "store_id"],
      [`"properties":{"note":${lone}}`, "properties"],
      [`"properties":{${lone}:1}`, "properties"],
    ];
    for (const [field, path] of cases) {
      const res = await post(
        server,
        `{"id":"${unique()}","type":"visit","channel":"web","identifiers":{"email":"${email}"},${field}}`,
      );
      expect(res.status, field).toBe(400);
      expect(res.json.errors[0].path, field).toMatch(new RegExp(`^${path}`));
    }
    const track = await post(
      server,
      `{"id":"${unique()}","type":"track","name":${lone},"channel":"web","identifiers":{"email":"${email}"}}`,
    );
    expect(track.status).toBe(400);
    expect(track.json.errors[0].path).toBe("name");
    expect((await fullView(email)).status).toBe(404);
  });

  it("refuses blank ids and names: an idempotency key, store, trait or track name of spaces", async () => {
    const email = `${unique()}@example.com`;
    const visit = { type: "visit", channel: "web", identifiers: { email } };
    const cases: [Record<string, unknown>, string][] = [
      [{ ...visit, id: "   " }, "id"],
      [{ ...visit, id: unique(), store_id: " " }, "store_id"],
      [{ ...visit, id: unique(), traits: { "  ": "x" } }, "traits"],
      [{ ...visit, id: unique(), type: "track", name: "\t " }, "name"],
    ];
    for (const [body, path] of cases) {
      const res = await call("/v1/events", { key: server, body });
      expect(res.status, path).toBe(400);
      expect(res.json.errors[0].path, path).toMatch(new RegExp(`^${path}`));
    }
    expect((await fullView(email)).status).toBe(404);
    const key = await call("/v1/admin/keys", {
      key: ADMIN,
      body: { role: "pos", name: "till", store_id: "  " },
    });
    expect(key.status).toBe(400);
    expect(key.json.errors[0].path).toBe("store_id");
  });

  it("refuses an item price over 10^12 and a number JSON cannot carry back", async () => {
    const email = `${unique()}@example.com`;
    const price = await event(server, {
      type: "purchase",
      channel: "web",
      identifiers: { email },
      properties: {
        order_id: unique("o"),
        total: 1,
        currency: "USD",
        items: [{ sku: "s", price: 1e13 }],
      },
    });
    expect(price.status).toBe(400);
    expect(price.json.errors[0].path).toBe("properties.items.0.price");
    // 1e999 parses to Infinity, which JSON writes back as null.
    const huge = await post(
      server,
      `{"id":"${unique()}","type":"visit","channel":"web","identifiers":{"email":"${email}"},"properties":{"n":1e999}}`,
    );
    expect(huge.status).toBe(400);
    expect(huge.json.errors[0].path).toMatch(/^properties/);
    expect((await fullView(email)).status).toBe(404);
  });
});

describe("keys named like Object.prototype's", () => {
  it("never answers 'recorded' for a trait or property it silently dropped", async () => {
    const email = `${unique()}@example.com`;
    const res = await post(
      server,
      `{"id":"${unique()}","type":"identify","channel":"web","identifiers":{"email":"${email}"},"traits":{"__proto__":"gold","first_name":"Ann"},"properties":{"__proto__":"x"}}`,
    );
    // Validation would drop the key while the event answered "recorded".
    expect(res.status).toBe(400);
    expect(res.json.errors.map((e: { path: string }) => e.path).sort()).toEqual([
      "properties.__proto__",
      "traits.__proto__",
    ]);
    expect((await fullView(email)).status).toBe(404);
  });

  it("refuses a whole batch holding the key, recording none of it", async () => {
    const email = `${unique()}@example.com`;
    const good = `{"id":"${unique()}","type":"visit","channel":"web","identifiers":{"email":"${email}"}}`;
    const bad = `{"id":"${unique()}","type":"visit","channel":"web","identifiers":{"email":"${email}"},"properties":{"__proto__":1}}`;
    const res = await post(server, `{"batch":[${good},${bad}]}`);
    expect(res.status).toBe(400);
    expect(res.json.errors[0].path).toBe("batch.1.properties.__proto__");
    expect((await fullView(email)).status).toBe(404);
  });

  it("refuses the key spelled with escapes as well", async () => {
    const res = await post(
      server,
      `{"id":"${unique()}","type":"visit","channel":"web","identifiers":{"email":"${unique()}@example.com"},"traits":{"__pr\\u006fto__":"gold"}}`,
    );
    expect(res.status).toBe(400);
    expect(res.json.errors[0].path).toBe("traits.__proto__");
  });
});

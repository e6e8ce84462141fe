// The request shapes API.md fixes, as a client written against it sends them.
import { beforeAll, describe, expect, it } from "vitest";
import { call, createKey, event, unique } from "./helpers";

let server: string;
let pos: string;

beforeAll(async () => {
  server = await createKey("server");
  pos = await createKey("pos", { store_id: "store-1" });
});

describe("API.md's event shape", () => {
  // API.md: `"name": "event name, required for track"` — a field of every event, required for one
  // type; the timeline event shows `"name"?` for any type.
  it("records a visit that carries a name (optional for every type but track)", async () => {
    const email = `${unique("page")}@example.com`;
    const res = await event(server, {
      type: "visit",
      name: "Home page",
      channel: "web",
      identifiers: { email },
    });
    expect(res.status, res.text).toBe(200);
    const timeline = await call(`/v1/profiles/${res.json.profile_id}/timeline`, { key: server });
    expect(timeline.json.events[0]).toMatchObject({ type: "visit", name: "Home page" });
  });

  it("records a till's purchase that carries a name", async () => {
    const res = await event(pos, {
      type: "purchase",
      name: "Checkout",
      identifiers: { email: `${unique("till")}@example.com` },
      properties: { order_id: "o-1", total: 20, currency: "USD" },
    });
    expect(res.status, res.text).toBe(200);
  });
});

describe("API.md's purchase properties", () => {
  // API.md names `currency` and no format; a back end forwarding a payment provider's answer
  // (Stripe's is "usd") sends the code in lower case. ISO 4217 codes are one code in any case.
  it("records a purchase whose currency code is in lower case, counted in the brand's currency", async () => {
    const res = await event(server, {
      type: "purchase",
      channel: "web",
      identifiers: { email: `${unique("stripe")}@example.com` },
      properties: { order_id: "ch_1", total: 25, currency: "usd" },
    });
    expect(res.status, res.text).toBe(200);
    expect(res.json.profile.computed.lifetime_value).toBe(25);
    const timeline = await call(`/v1/profiles/${res.json.profile_id}/timeline`, { key: server });
    expect(timeline.json.events[0].properties.currency).toBe("USD");
  });
});

describe("API.md's purchase items", () => {
  // API.md: items[{sku, name, category, price, quantity}] with none marked required; a till's line
  // with a name and a price but no sku (gift wrap, a service) must not lose the whole sale.
  it("records a till's sale that has a line without a sku", async () => {
    const res = await event(pos, {
      type: "purchase",
      identifiers: { email: `${unique("wrap")}@example.com` },
      properties: {
        order_id: "o-2",
        total: 23,
        currency: "USD",
        items: [
          { sku: "shoe-1", category: "shoes", price: 20 },
          { name: "Gift wrap", price: 3 },
          { sku: "", name: "Bag", category: "", price: 0 },
        ],
      },
    });
    expect(res.status, res.text).toBe(200);
  });
});

describe("a till's receipt as it really is", () => {
  it("records a discount line and goods sold by weight, and counts the sale", async () => {
    const res = await event(pos, {
      type: "purchase",
      identifiers: { email: `${unique("deli")}@example.com` },
      properties: {
        order_id: "o-3",
        total: 52.5,
        currency: "USD",
        items: [
          { sku: "shoe-1", price: 50 },
          { sku: "cheese", category: "deli", price: 15, quantity: 0.5 },
          { name: "Coupon SPRING5", price: -5 },
        ],
      },
    });
    expect(res.status, res.text).toBe(200);
    const full = await call(`/v1/profiles/${res.json.profile_id}`, { key: server });
    expect(full.json.computed).toMatchObject({
      purchase_count: 1,
      lifetime_value: 52.5,
      favorite_category: "deli",
    });
  });
});

describe("API.md's loyalty in the views", () => {
  // API.md: kiosk `loyalty` is `{ tier, points }` "from the traits loyalty_tier, loyalty_points";
  // traits may be numbers, and a programme numbering its tiers (1, 2, 3) sets a number.
  it("shows a numbered tier to the kiosk rather than null", async () => {
    const kiosk = await createKey("kiosk", { store_id: "store-1" });
    const loyalty = unique("L");
    await event(server, {
      type: "identify",
      channel: "app",
      identifiers: { loyalty_id: loyalty },
      traits: { first_name: "Tia", loyalty_tier: 3, loyalty_points: "1200" },
    });
    const res = await call("/v1/recognize", {
      key: kiosk,
      body: { identifiers: { loyalty_id: loyalty } },
    });
    expect(res.status, res.text).toBe(200);
    expect(res.json.profile.loyalty).toEqual({ tier: "3", points: 1200 });
  });
});

// A lookup answers the person an event with the same identifiers is recorded on (README).
import { beforeAll, describe, expect, it } from "vitest";
import { call, createKey, event, newPhone, unique } from "./helpers";

let server: string;
let pos: string;
let kiosk: string;

/** Mum: her own loyalty card and the family phone. */
const cardholder = (phone: string, traits: Record<string, unknown> = { first_name: "Mum" }) =>
  event(server, {
    type: "identify",
    channel: "store",
    identifiers: { loyalty_id: unique("L1"), phone },
    traits,
  });

/** A sale at the till, to whoever these identifiers lead. */
const tillSale = (identifiers: Record<string, string>) =>
  event(pos, {
    type: "purchase",
    identifiers,
    properties: { order_id: "o-1", total: 20, currency: "USD" },
  });

beforeAll(async () => {
  server = await createKey("server");
  pos = await createKey("pos", { store_id: "store-9" });
  kiosk = await createKey("kiosk", { store_id: "store-9" });
});

describe("recognition when identifiers conflict", () => {
  it("does not show the till a card holder whose card differs from the one presented, then record the sale elsewhere", async () => {
    // Mum: card L1 and the family phone.
    const phone = newPhone();
    const mum = await cardholder(phone, {
      first_name: "Mum",
      loyalty_tier: "gold",
      loyalty_points: 900,
    });
    expect(mum.status, mum.text).toBe(200);

    // Her son presents a new card L2 and gives the family phone.
    const sonCard = unique("L2");
    const identifiers = { loyalty_id: sonCard, phone };
    const lookup = await call("/v1/recognize", { key: pos, body: { identifiers } });
    const sale = await tillSale(identifiers);
    expect(sale.status, sale.text).toBe(200);
    // The sale went to the holder of the card presented (priority: loyalty_id > phone), not Mum.
    expect(sale.json.profile_id).not.toBe(mum.json.profile_id);
    // So the lookup a moment before must not have answered Mum either.
    expect(lookup.status, lookup.text).toBe(404);
  });

  it("does not show a public kiosk another card holder's name and tier for a card nobody holds", async () => {
    const phone = newPhone();
    await cardholder(phone, { first_name: "Mum", loyalty_tier: "gold", loyalty_points: 900 });
    const lookup = await call("/v1/recognize", {
      key: kiosk,
      body: { identifiers: { loyalty_id: unique("L2"), phone } },
    });
    expect(lookup.status, lookup.text).toBe(404);
  });

  it("answers the profile a further identifier leads to, as the event is recorded there", async () => {
    const phone = newPhone();
    await cardholder(phone);
    const email = `${unique("son")}@example.com`;
    const son = await call("/v1/events", {
      key: server,
      body: {
        id: unique(),
        type: "identify",
        channel: "web",
        identifiers: { email },
        traits: { first_name: "Son" },
      },
    });
    const identifiers = { loyalty_id: unique("L2"), phone, email };
    const lookup = await call("/v1/recognize", { key: server, body: { identifiers } });
    expect(lookup.status, lookup.text).toBe(200);
    expect(lookup.json.profile_id).toBe(son.json.profile_id);
    const sale = await tillSale(identifiers);
    expect(sale.json?.profile_id, sale.text).toBe(son.json.profile_id);
    // Phone alone is still the card holder's.
    const byPhone = await call("/v1/recognize", { key: pos, body: { identifiers: { phone } } });
    expect(byPhone.json.profile.first_name).toBe("Mum");
  });

  it("does not answer a back end's lookup by a new user_id with another user's profile", async () => {
    const email = `${unique("shared")}@example.com`;
    const first = await call("/v1/events", {
      key: server,
      body: {
        id: unique(),
        type: "identify",
        channel: "web",
        identifiers: { user_id: unique("u1"), email },
      },
    });
    const identifiers = { user_id: unique("u2"), email };
    const lookup = await call("/v1/recognize", { key: server, body: { identifiers } });
    const ingest = await call("/v1/events", {
      key: server,
      body: { id: unique(), type: "visit", channel: "web", identifiers },
    });
    expect(ingest.json.profile_id).not.toBe(first.json.profile_id);
    expect(lookup.status, lookup.text).toBe(404);
  });
});

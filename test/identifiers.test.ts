// Placeholders and real addresses as apps and tills really send them (README: junk identifiers).
import { beforeAll, describe, expect, it } from "vitest";
import { createKey, event, newPhone, unique } from "./helpers";

let server: string;
let pos: string;
beforeAll(async () => {
  server = await createKey("server");
  pos = await createKey("pos", { store_id: "store-k" });
});

describe("placeholder ids made only of zeros", () => {
  // iOS answers an all-zero advertising id to every app whose user did not allow tracking
  // (ATT), Android to every user who opted out: millions of different people send it.
  const ZERO_UUID = "00000000-0000-0000-0000-000000000000";

  it("does not join two customers whose apps report the all-zero device id", async () => {
    const a = await event(server, {
      type: "identify",
      channel: "app",
      identifiers: { email: `${unique("ana")}@example.com`, device_id: ZERO_UUID },
      traits: { first_name: "Ana" },
    });
    expect(a.status).toBe(200);
    const b = await event(server, {
      type: "identify",
      channel: "app",
      identifiers: { email: `${unique("bob")}@example.com`, device_id: ZERO_UUID },
      traits: { first_name: "Bob" },
    });
    expect(b.status).toBe(200);
    // Bob is not Ana.
    expect(b.json.profile_id).not.toBe(a.json.profile_id);
  });

  it("does not join two shoppers whose till sends an all-zero loyalty card number", async () => {
    const placeholder = "0000000000";
    const a = await event(pos, {
      type: "purchase",
      identifiers: { phone: newPhone(), loyalty_id: placeholder },
      properties: { order_id: unique("o"), total: 10, currency: "USD" },
    });
    expect(a.status).toBe(200);
    const b = await event(pos, {
      type: "purchase",
      identifiers: { phone: newPhone(), loyalty_id: placeholder },
      properties: { order_id: unique("o"), total: 20, currency: "USD" },
    });
    expect(b.status).toBe(200);
    expect(b.json.profile_id).not.toBe(a.json.profile_id);
  });
});

describe("valid email addresses", () => {
  it("records a till's sale for a customer whose address is on an internationalised TLD (ASCII form)", async () => {
    // .рф in its ASCII (punycode) form: plain ASCII, as the README requires.
    const res = await event(pos, {
      type: "purchase",
      identifiers: { email: `${unique("ivan")}@xn--80ak6aa92e.xn--p1ai` },
      properties: { order_id: unique("o"), total: 10, currency: "USD" },
    });
    expect(res.status, res.text).toBe(200);
  });

  it("records a sale for an address whose local part uses RFC 5322 characters (&, ~, #, =)", async () => {
    for (const local of ["sales&service", "jane~doe", "team#1", "a=b", "x!y", "50%off"]) {
      const res = await event(pos, {
        type: "purchase",
        identifiers: { email: `${local}.${unique("c")}@example.com` },
        properties: { order_id: unique("o"), total: 10, currency: "USD" },
      });
      expect(res.status, `${local}: ${res.text}`).toBe(200);
    }
  });
});

import { describe, expect, it } from "vitest";
import { emptyAggregate } from "../../src/profile/computed";
import { buildView, maskEmail, maskPhone, type ProfileState } from "../../src/profile/views";

const state: ProfileState = {
  profileId: "pr_1",
  createdAt: 0,
  currency: "USD",
  identifiers: [
    { type: "email", value: "jane.doe@example.com", verified: true },
    { type: "phone", value: "+14155550132", verified: true },
    { type: "loyalty_id", value: "L-9", verified: true },
    { type: "email", value: "claimed@example.com", verified: false },
  ],
  traits: {
    first_name: "Jane",
    last_name: "Doe",
    loyalty_tier: "gold",
    loyalty_points: 10,
    secret_note: "vip",
  },
  aggregate: emptyAggregate(),
  consent: { marketing_email: "granted" },
  conflicts: [],
  merges: [],
  recentEvents: [
    {
      event_id: "e1",
      type: "visit",
      channel: "web",
      timestamp: "2025-01-01T00:00:00.000Z",
      traits: { first_name: "Jane" },
      properties: { page: "/" },
    },
  ],
};

describe("views", () => {
  it("shows a numbered tier as text and points sent as text as the number they are", () => {
    const kiosk = (loyalty_tier: string | number, loyalty_points: string | number) =>
      buildView("kiosk", { ...state, traits: { loyalty_tier, loyalty_points } }).loyalty;
    expect(kiosk(3, "1200")).toEqual({ tier: "3", points: 1200 });
    expect(kiosk("gold", "-50")).toEqual({ tier: "gold", points: -50 });
    expect(kiosk("gold", "lots")).toEqual({ tier: "gold", points: null });
  });

  it("masks contacts for staff", () => {
    expect(maskEmail("jane.doe@example.com")).toBe("j***@example.com");
    expect(maskPhone("+14155550132")).toBe("•••• 0132");
    expect(maskPhone("+14155550132;ext=5")).toBe("•••• 0132");
  });

  it("shows claimed identifiers apart from verified ones in the full view", () => {
    const full = buildView("full", state);
    expect(full).toMatchObject({
      identifiers: {
        email: ["jane.doe@example.com"],
        phone: ["+14155550132"],
        loyalty_id: ["L-9"],
      },
      claimed_identifiers: { email: ["claimed@example.com"] },
    });
  });

  it("gives staff no raw contact, trait or event content", () => {
    const text = JSON.stringify(buildView("staff", state));
    for (const secret of ["jane.doe@", "14155550132", "claimed@", "vip", "page"])
      expect(text).not.toContain(secret);
    expect(buildView("staff", state)).toMatchObject({
      loyalty_id: "L-9",
      contacts: { email: ["j***@example.com"] },
    });
  });

  it("gives kiosk and customer views no contact data at all", () => {
    for (const kind of ["kiosk", "customer"] as const) {
      const text = JSON.stringify(buildView(kind, state));
      for (const secret of ["example.com", "0132", "L-9", "Doe", "vip"])
        expect(text).not.toContain(secret);
    }
  });
});

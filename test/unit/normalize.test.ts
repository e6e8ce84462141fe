import { describe, expect, it } from "vitest";
import { normalizeIdentifier } from "../../src/identity/normalize";
import { blocklistPattern, parseSettings } from "../../src/settings";

const options = {
  defaultCountry: "US" as const,
  blocklist: ["noemail@*", "+12125550000"].map(blocklistPattern),
};
const value = (type: Parameters<typeof normalizeIdentifier>[0], raw: string) =>
  normalizeIdentifier(type, raw, options);

describe("normalizeIdentifier", () => {
  it("trims and lower-cases email so two spellings are one identifier", () => {
    expect(value("email", "  Jane.Doe@Example.COM ")).toEqual({
      ok: true,
      value: "jane.doe@example.com",
    });
  });

  it("puts every spelling of a phone number into E.164, with the default country", () => {
    for (const raw of ["(415) 555-0132", "415.555.0132", "+1 415 555 0132", "1-415-555-0132"]) {
      expect(value("phone", raw)).toEqual({ ok: true, value: "+14155550132" });
    }
    expect(value("phone", "+44 20 7946 0958")).toEqual({ ok: true, value: "+442079460958" });
    expect(
      normalizeIdentifier("phone", "020 7946 0958", { ...options, defaultCountry: "GB" }),
    ).toEqual({
      ok: true,
      value: "+442079460958",
    });
  });

  it("drops junk values instead of making them identifiers", () => {
    for (const raw of ["", "   ", "null", "undefined", "Anonymous", "0", "-1", "N/A"]) {
      expect(value("anonymous_id", raw)).toEqual({ ok: false, reason: "junk" });
    }
  });

  it("drops ids made only of zeros: one value every opted-out phone or empty card field sends", () => {
    for (const type of ["device_id", "loyalty_id", "user_id", "anonymous_id"] as const) {
      for (const raw of ["00000000-0000-0000-0000-000000000000", "0000000000", " 00 "]) {
        expect(value(type, raw), `${type} ${raw}`).toEqual({ ok: false, reason: "junk" });
      }
    }
    expect(value("loyalty_id", "000123")).toEqual({ ok: true, value: "000123" });
  });

  it("takes every ASCII address RFC 5322 allows, and the ASCII form of an international TLD", () => {
    for (const raw of [
      "ivan@xn--80ak6aa92e.xn--p1ai",
      "sales&service@shop.example",
      "jane~doe@example.com",
      "team#1@example.com",
      "a=b@example.com",
      "50%off@example.com",
    ]) {
      expect(value("email", raw), raw).toEqual({ ok: true, value: raw.toLowerCase() });
    }
    for (const raw of ["a..b@example.com", ".a@example.com", "jane@localhost", '"q"@example.com']) {
      expect(value("email", raw), raw).toMatchObject({ ok: false, reason: "invalid" });
    }
  });

  it("drops phone numbers of one repeated digit", () => {
    for (const raw of ["(555) 555-5555", "000-000-0000", "+1 111 111 1111", "9999999"]) {
      expect(value("phone", raw)).toEqual({ ok: false, reason: "junk" });
    }
  });

  it("drops a placeholder phone however it is typed: other scripts' digits, an extension, a trunk prefix", () => {
    for (const raw of [
      "（８８８）８８８-８８８８",
      "٨٨٨٨٨٨٨٨٨٨",
      "(888) 888-8888 x1",
      "888-888-8888 ext. 2",
    ]) {
      expect(value("phone", raw), raw).toEqual({ ok: false, reason: "junk" });
    }
    const gb = { ...options, defaultCountry: "GB" as const };
    expect(normalizeIdentifier("phone", "07777 777777", gb)).toEqual({ ok: false, reason: "junk" });
  });

  it("keeps two extensions of one switchboard apart, and the line without one", () => {
    expect(value("phone", "+1 415 555 0132 ext. 5")).toEqual({
      ok: true,
      value: "+14155550132;ext=5",
    });
    expect(value("phone", "(415) 555-0132 x6")).toEqual({ ok: true, value: "+14155550132;ext=6" });
  });

  it("never turns an address that is not ASCII into someone's ASCII one by lower-casing", () => {
    // U+212A KELVIN SIGN lower-cases to "k".
    expect(value("email", "\u212Aate@example.com")).toMatchObject({ ok: false, reason: "invalid" });
  });

  it("drops placeholders from the blocklist", () => {
    expect(value("email", "NoEmail@Store7.example")).toEqual({ ok: false, reason: "blocklisted" });
    expect(value("phone", "(212) 555-0000")).toEqual({ ok: false, reason: "blocklisted" });
    // A blocklisted switchboard number, whichever extension is typed after it.
    for (const raw of ["(212) 555-0000 x1", "212-555-0000 ext. 12", "+1 212 555 0000 #3"]) {
      expect(value("phone", raw), raw).toEqual({ ok: false, reason: "blocklisted" });
    }
  });

  it("calls malformed emails and phones invalid", () => {
    expect(value("email", "jane@")).toMatchObject({ ok: false, reason: "invalid" });
    expect(value("phone", "12345")).toMatchObject({ ok: false, reason: "invalid" });
  });

  it("keeps ids case-sensitive, only trimmed", () => {
    expect(value("user_id", " AbC-1 ")).toEqual({ ok: true, value: "AbC-1" });
  });
});

describe("identifier settings", () => {
  it("reads the brand's CURRENCY in either case, as an event's currency", () => {
    expect(parseSettings({ CURRENCY: "eur" }).currency).toBe("EUR");
    expect(parseSettings({ CURRENCY: "euro" }).currency).toBe("USD");
  });

  it("keeps the valid IDENTIFIER_LIMITS entries when one is odd, and ignores unknown types", () => {
    const { identifierLimits } = parseSettings({
      IDENTIFIER_LIMITS: '{"email":1,"phone":0,"toString":3,"device_id":2.5}',
    });
    expect(identifierLimits).toMatchObject({ email: 1, phone: 5, device_id: 20 });
    expect(Object.hasOwn(identifierLimits, "toString")).toBe(false);
  });

  it("reads phone numbers as US ones when DEFAULT_PHONE_COUNTRY is blank or unknown", () => {
    const cases = [
      ["", "US"],
      [" ", "US"],
      ["XX", "US"],
      [" gb ", "GB"],
    ] as const;
    for (const [configured, used] of cases) {
      const { defaultCountry } = parseSettings({ DEFAULT_PHONE_COUNTRY: configured });
      expect(defaultCountry, JSON.stringify(configured)).toBe(used);
    }
  });
});

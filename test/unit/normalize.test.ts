import { describe, expect, it } from "vitest";
import { normalizeIdentifier } from "../../src/identity/normalize";
import { blocklistPattern } from "../../src/settings";

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

  it("drops phone numbers of one repeated digit", () => {
    for (const raw of ["(555) 555-5555", "000-000-0000", "+1 111 111 1111", "9999999"]) {
      expect(value("phone", raw)).toEqual({ ok: false, reason: "junk" });
    }
  });

  it("drops placeholders from the blocklist", () => {
    expect(value("email", "NoEmail@Store7.example")).toEqual({ ok: false, reason: "blocklisted" });
    expect(value("phone", "(212) 555-0000")).toEqual({ ok: false, reason: "blocklisted" });
  });

  it("calls malformed emails and phones invalid", () => {
    expect(value("email", "jane@")).toMatchObject({ ok: false, reason: "invalid" });
    expect(value("phone", "12345")).toMatchObject({ ok: false, reason: "invalid" });
  });

  it("keeps ids case-sensitive, only trimmed", () => {
    expect(value("user_id", " AbC-1 ")).toEqual({ ok: true, value: "AbC-1" });
  });
});

// Normalisation: two spellings of one address are one identifier; junk never becomes one.
import { type CountryCode, parsePhoneNumberFromString } from "libphonenumber-js";
import { z } from "zod";
import type { IdentifierType } from "./types";

export type Normalized =
  | { ok: true; value: string }
  | { ok: false; reason: "junk" | "blocklisted" }
  | { ok: false; reason: "invalid"; message: string };

export interface NormalizeOptions {
  defaultCountry: CountryCode;
  blocklist: readonly RegExp[];
}

// Values that clients send when they have nothing: never identifiers.
const JUNK = new Set([
  "",
  "null",
  "undefined",
  "nil",
  "none",
  "anonymous",
  "unknown",
  "n/a",
  "0",
  "-1",
]);

// Only zeros (and separators): the all-zero advertising id every opted-out phone reports, a card
// field filled with zeros. One value for everyone, like "0".
const ZEROS = /^[0\s-]+$/;

// RFC 5322's dot-atom before the @ (`sales&service`, `jane~doe`), LDH labels after it, the last
// a TLD in letters or its ASCII form (`xn--p1ai`). ASCII only: checked before lower-casing.
const ATEXT = "[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+";
const LABEL = "[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?";
const email = z.email({
  pattern: new RegExp(
    `^(?=[^@]{1,64}@)${ATEXT}(?:\\.${ATEXT})*@(?:${LABEL}\\.)+(?:[A-Za-z]{2,63}|xn--[A-Za-z0-9-]{1,59})$`,
  ),
});
// A number typed to get past a required field: one digit repeated.
const REPEATED_DIGIT = /^(\d)\1{6,}$/;

function normalizeValue(type: IdentifierType, raw: string, country: CountryCode): Normalized {
  const trimmed = raw.trim();
  if (JUNK.has(trimmed.toLowerCase()) || ZEROS.test(trimmed)) return { ok: false, reason: "junk" };
  switch (type) {
    case "email": {
      // Checked before lower-casing: "\u212Aate@…" (a Kelvin sign) lower-cases to "kate@…",
      // someone else's address.
      return email.safeParse(trimmed).success
        ? { ok: true, value: trimmed.toLowerCase() }
        : { ok: false, reason: "invalid", message: "Not an email address" };
    }
    case "phone": {
      // Before parsing, so 000-000-0000 is junk, not invalid; after, for what the parser reads
      // through (other scripts' digits, an extension, a trunk prefix).
      if (REPEATED_DIGIT.test(trimmed.replace(/\D/g, "").replace(/^1(?=(\d)\1{9}$)/, ""))) {
        return { ok: false, reason: "junk" };
      }
      const phone = parsePhoneNumberFromString(trimmed, country);
      if (phone && REPEATED_DIGIT.test(phone.nationalNumber)) return { ok: false, reason: "junk" };
      if (!phone?.isValid()) {
        return { ok: false, reason: "invalid", message: "Not a valid phone number" };
      }
      // Extensions of one switchboard are different people (RFC 3966 spelling).
      return { ok: true, value: phone.ext ? `${phone.number};ext=${phone.ext}` : phone.number };
    }
    default:
      return { ok: true, value: trimmed };
  }
}

/** A normalised phone without its extension (`;ext=5`), as written above. */
export const withoutExtension = (phone: string) => phone.replace(/;ext=.*$/, "");

export function normalizeIdentifier(
  type: IdentifierType,
  raw: string,
  options: NormalizeOptions,
): Normalized {
  const result = normalizeValue(type, raw, options.defaultCountry);
  if (!result.ok) return result;
  // A blocklisted number stays blocked with any extension typed after it; one extension of a
  // number can still be blocklisted alone (`+12125550000;ext=5`).
  const forms = [result.value, withoutExtension(result.value)];
  if (options.blocklist.some((pattern) => forms.some((form) => pattern.test(form)))) {
    return { ok: false, reason: "blocklisted" };
  }
  return result;
}

// Settings read from the environment once per isolate; every limit the service enforces lives here.

import { type CountryCode, isSupportedCountry } from "libphonenumber-js";
import { z } from "zod";
import type { IdentifierType } from "./identity/types";
import { parseJson } from "./json-text";
import { CurrencySchema } from "./schemas";

const LimitSchema = z.number().int().positive();

export interface Settings {
  defaultCountry: CountryCode;
  maxEventsPerProfile: number;
  /** Characters of event JSON kept per profile: a merge hands them over in one RPC (≤ 32 MiB). */
  maxHistorySize: number;
  /** Idempotency keys remembered per profile, beyond the events kept. */
  maxEventIdsPerProfile: number;
  /** Trait keys one profile holds: its traits travel whole in every full view and merge. */
  maxTraitsPerProfile: number;
  identifierLimits: Record<IdentifierType, number>;
  blocklist: RegExp[];
  maxMergesPerProfile: number;
  consentPurposes: string[];
  /** The ISO 4217 currency lifetime value is counted in. */
  currency: string;
}

export const defaultLimits: Record<IdentifierType, number> = {
  user_id: 1,
  loyalty_id: 1,
  email: 5,
  phone: 5,
  device_id: 20,
  anonymous_id: 50,
};

function integer(value: string | undefined, fallback: number): number {
  const n = Number(value);
  return Number.isInteger(n) && n > 0 ? n : fallback;
}

/** `noemail@*` → /^noemail@.*$/i: a placeholder pattern over normalised values. */
export function blocklistPattern(entry: string): RegExp {
  const escaped = entry
    .trim()
    .toLowerCase()
    .replace(/[.+?^${}()|[\]\\]/g, "\\$&")
    .replaceAll("*", ".*");
  return new RegExp(`^${escaped}$`, "i");
}

export function parseSettings(env: Partial<Record<string, unknown>>): Settings {
  const text = (name: string) =>
    typeof env[name] === "string" ? (env[name] as string) : undefined;
  // Entry by entry: one odd entry (`"phone": 0`) must not throw the others away.
  const configured = parseJson(text("IDENTIFIER_LIMITS") ?? "{}");
  const limits = Object.entries(
    configured !== null && typeof configured === "object" ? configured : {},
  ).filter(([type, n]) => Object.hasOwn(defaultLimits, type) && LimitSchema.safeParse(n).success);
  const country = text("DEFAULT_PHONE_COUNTRY")?.trim().toUpperCase() ?? "";
  const maxEvents = integer(text("MAX_EVENTS_PER_PROFILE"), 1000);
  return {
    defaultCountry: isSupportedCountry(country) ? country : "US",
    maxEventsPerProfile: maxEvents,
    maxHistorySize: integer(text("MAX_HISTORY_SIZE"), 8 * 1024 * 1024),
    maxEventIdsPerProfile: maxEvents * 10,
    maxTraitsPerProfile: integer(text("MAX_TRAITS_PER_PROFILE"), 500),
    // user_id and loyalty_id stay at one: merge protection depends on it.
    identifierLimits: {
      ...defaultLimits,
      ...Object.fromEntries(limits),
      user_id: 1,
      loyalty_id: 1,
    },
    blocklist: (text("IDENTIFIER_BLOCKLIST") ?? "")
      .split(",")
      .filter((entry) => entry.trim())
      .map(blocklistPattern),
    maxMergesPerProfile: integer(text("MAX_MERGES_PER_PROFILE"), 100),
    currency: CurrencySchema.safeParse(text("CURRENCY")).data ?? "USD",
    consentPurposes: (
      text("CONSENT_PURPOSES") ?? "marketing_email,marketing_sms,personalization,analytics"
    )
      .split(",")
      .map((purpose) => purpose.trim())
      .filter(Boolean),
  };
}

const cache = new WeakMap<object, Settings>();

export function settingsFor(env: object): Settings {
  let settings = cache.get(env);
  if (!settings) {
    settings = parseSettings(env as Record<string, unknown>);
    cache.set(env, settings);
  }
  return settings;
}

// A request's identifiers: normalised, junk dropped, hashed with the pepper.
import { lookupTypes, type Principal } from "../auth/principal";
import { limitLookup } from "../auth/rate-limit";
import { type FieldError, Problem } from "../errors";
import { IsolateCache, PERSONAL_MAX_AGE_MS } from "../isolate-cache";
import type { IdentifiersInput } from "../schemas";
import { type Settings, settingsFor } from "../settings";
import { hashIdentifier } from "./hash";
import { type Normalized, normalizeIdentifier } from "./normalize";
import { IDENTIFIER_TYPES, type Identifier, type IdentifierType } from "./types";

// Known people arrive again and again: a value's normalisation (a phone parse is the costly part)
// is kept per isolate and per settings, bounded. The hash has its own cache (hash.ts).
const NORMALIZED_MAX = 50_000;
const normalized = new WeakMap<Settings, IsolateCache<Normalized>>();

/** `normalizeIdentifier` under the settings, remembered per isolate: the one way a value is read. */
export function normalizeCached(type: IdentifierType, raw: string, settings: Settings): Normalized {
  let cache = normalized.get(settings);
  if (!cache) {
    cache = new IsolateCache(NORMALIZED_MAX, PERSONAL_MAX_AGE_MS);
    normalized.set(settings, cache);
  }
  const key = `${type}:${raw}`;
  let result = cache.get(key);
  if (result === undefined) {
    result = normalizeIdentifier(type, raw, {
      defaultCountry: settings.defaultCountry,
      blocklist: settings.blocklist,
    });
    cache.set(key, result);
  }
  return result;
}

/**
 * Normalises and hashes every identifier of a request. Invalid values (a malformed email or
 * phone) are a 400 naming the field; junk and blocklisted values are dropped silently.
 */
export async function prepareIdentifiers(
  input: IdentifiersInput,
  settings: Settings,
  pepper: string,
  path: string[] = ["identifiers"],
): Promise<Identifier[]> {
  const errors: FieldError[] = [];
  const pending: Promise<Identifier>[] = [];
  for (const type of IDENTIFIER_TYPES) {
    const raw = input[type];
    if (raw === undefined) continue;
    const result = normalizeCached(type, raw, settings);
    if (result.ok) pending.push(hashIdentifier(pepper, type, result.value));
    else if (result.reason === "invalid")
      errors.push({ path: [...path, type].join("."), message: result.message });
  }
  if (errors.length) throw new Problem(400, "An identifier is not valid", { errors });
  return Promise.all(pending);
}

/** Refuses identifier types a credential may not use (a kiosk looks up by loyalty id or phone). */
function onlyTypes(
  input: IdentifiersInput,
  allowed: readonly IdentifierType[],
  role: string,
): void {
  const refused = IDENTIFIER_TYPES.filter(
    (type) => input[type] !== undefined && !allowed.includes(type),
  );
  if (refused.length) {
    throw new Problem(403, `A ${role} credential may not use ${refused.join(", ")}`);
  }
}

/**
 * The identifiers a key names people by, in a lookup or in an event (both answer with the
 * person's profile): only the types its role may look up by, each counted against the
 * per-identifier limit. One policy for both routes, so neither is a way around the other.
 */
export async function lookupIdentifiers(
  env: Env,
  principal: Principal,
  input: IdentifiersInput,
): Promise<Identifier[]> {
  onlyTypes(input, lookupTypes(principal), principal.role);
  const identifiers = await prepareIdentifiers(input, settingsFor(env), env.IDENTITY_PEPPER);
  await limitLookup(
    env,
    principal,
    identifiers.map((identifier) => identifier.hash),
  );
  return identifiers;
}

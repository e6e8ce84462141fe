// Who is calling, decided from the credential alone; bodies only ever make claims.
import { Problem } from "../errors";
import { IDENTIFIER_TYPES, type IdentifierType } from "../identity/types";
import type { ViewKind } from "../profile/views";
import type { Channel } from "../schemas";

export type Principal =
  | { role: "admin"; keyId: string }
  | { role: "server"; keyId: string }
  | { role: "pos"; keyId: string; storeId: string }
  | { role: "kiosk"; keyId: string; storeId: string }
  | { role: "web"; keyId: string; origins: string[] }
  | { role: "device"; keyId: string; anonymousId: string }
  | { role: "customer"; userId: string; profileId?: string };

export type Role = Principal["role"];

/** The one decision of what a role sees of a profile. */
export function viewFor(principal: Principal): ViewKind {
  switch (principal.role) {
    case "admin":
    case "server":
      return "full";
    case "pos":
      return "staff";
    case "kiosk":
      return "kiosk";
    default:
      return "customer";
  }
}

/**
 * Whether a caller may learn which trait keys a profile holds (an ingest's `dropped_traits` tells):
 * those who read its traits, and the person, who may export them. Staff and kiosks see no traits,
 * and a browser is not the person (it may not export), so a re-sent event must not let them probe
 * for keys.
 */
export const seesTraitKeys = (principal: Principal): boolean =>
  principal.role === "admin" || principal.role === "server" || principal.role === "customer";

/**
 * What a role may find a person by: in a lookup, and in an event, whose answer is the person's
 * profile too. A kiosk faces the public, so only card or phone; a till never by device ids.
 */
export function lookupTypes(principal: Principal): readonly IdentifierType[] {
  switch (principal.role) {
    case "pos":
      return ["email", "phone", "loyalty_id", "user_id"];
    case "kiosk":
      return ["loyalty_id", "phone"];
    default:
      return IDENTIFIER_TYPES;
  }
}

/**
 * The channels a credential's events and consent choices may name, the first one its default;
 * null for back ends, which report every channel. A browser or an app never speaks for a store.
 */
function ownChannels(principal: Principal): readonly Channel[] | null {
  switch (principal.role) {
    case "pos":
      return ["store"];
    case "kiosk":
      return ["kiosk"];
    case "device":
      return ["web"];
    case "customer":
      return ["app", "web"];
    default:
      return null;
  }
}

/**
 * The channel a credential's event or consent choice happened on: what it says, if it may say it,
 * else its own default; a back end has none, so it must say.
 */
export function channelFor(principal: Principal, requested?: Channel): Channel {
  const own = ownChannels(principal);
  const channel = requested ?? own?.[0];
  if (!channel) {
    throw new Problem(400, "This credential must say which channel this happened on", {
      errors: [{ path: "channel", message: "Required" }],
    });
  }
  if (own && !own.includes(channel)) {
    throw new Problem(
      403,
      `A ${principal.role} credential records ${own.join(" or ")} events only`,
    );
  }
  return channel;
}

/**
 * The store an event happened at: a till's or kiosk's own, whatever it says; none from a browser
 * or an app, which never speak for a store; what a back end says.
 */
export function storeFor(principal: Principal, requested?: string): string | undefined {
  switch (principal.role) {
    case "pos":
    case "kiosk":
      return principal.storeId;
    case "device":
    case "customer":
      return undefined;
    default:
      return requested;
  }
}

// Back ends, tills and the person (or their browser's banner); never a public kiosk screen. A
// list, so a role added later records no consent until it is put here.
const CONSENT_ROLES: readonly Role[] = ["admin", "server", "pos", "device", "customer"];

/** Whether a credential may record a person's consent choices. */
export function mayRecordConsent(principal: Principal): boolean {
  return CONSENT_ROLES.includes(principal.role);
}

/** Traits the brand's loyalty programme keeps, which staff and kiosk views show as `loyalty`. */
const PROGRAMME_TRAITS = ["loyalty_tier", "loyalty_points"] as const;
// The brand's own systems; a person (their browser, app or a public kiosk) only claims a tier.
const PROGRAMME_ROLES: readonly Role[] = ["admin", "server", "pos"];

/** The programme's traits in `traits` that this credential may not set. */
export function programmeTraitsRefused(
  principal: Principal,
  traits: Record<string, unknown> = {},
): string[] {
  if (PROGRAMME_ROLES.includes(principal.role)) return [];
  return PROGRAMME_TRAITS.filter((key) => Object.hasOwn(traits, key));
}

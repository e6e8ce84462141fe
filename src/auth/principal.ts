// Who is calling, decided from the credential alone; bodies only ever make claims.
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

/** The channel a credential's events happen on when it does not say. */
export function defaultChannel(principal: Principal): Channel | undefined {
  switch (principal.role) {
    case "pos":
      return "store";
    case "kiosk":
      return "kiosk";
    case "device":
      return "web";
    case "customer":
      return "app";
    default:
      return undefined;
  }
}

// The profile a customer or device credential reaches: its own, and nothing else.
import type { Context } from "hono";
import type { Principal } from "../auth/principal";
import { Problem } from "../errors";
import { type AppEnv, resolverFor } from "../http";
import { hashIdentifier } from "../identity/hash";
import type { Identifier } from "../identity/types";
import type { JsonText } from "../json-text";
import type { CustomerView } from "../schemas";

/** The identifier a customer or device credential vouches for: its user_id or its anonymous_id. */
export async function credentialIdentifier(
  env: Env,
  principal: Principal,
): Promise<Identifier | null> {
  switch (principal.role) {
    case "customer":
      return hashIdentifier(env.IDENTITY_PEPPER, "user_id", principal.userId);
    case "device":
      return hashIdentifier(env.IDENTITY_PEPPER, "anonymous_id", principal.anonymousId);
    default:
      return null;
  }
}

/**
 * The caller's own profile in the customer view, in one hop: a session token names its profile,
 * other credentials resolve through their identifier. 404 until an event or a session links it.
 */
export async function ownProfile(
  c: Context<AppEnv>,
): Promise<{ profileId: string; view: JsonText<CustomerView> }> {
  const principal = c.get("principal");
  const resolver = resolverFor(c);
  let found: { profileId: string; view: JsonText<CustomerView> } | null = null;
  if (principal.role === "customer" && principal.profileId) {
    const result = await resolver.view(principal.profileId, "customer");
    found = result && { profileId: result.profileId, view: result.value };
  }
  if (!found) {
    const identifier = await credentialIdentifier(c.env, principal);
    found = identifier && (await resolver.recognize([identifier], "customer"));
  }
  if (!found) throw new Problem(404, "No profile is linked to this credential yet");
  return found;
}

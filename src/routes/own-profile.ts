// The profile a customer or device credential reaches: its own, and nothing else.
import type { Context } from "hono";
import type { Principal } from "../auth/principal";
import { Problem } from "../errors";
import { type AppEnv, resolverFor } from "../http";
import { hashIdentifier } from "../identity/hash";
import type { Identifier } from "../identity/types";

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

/** The caller's own profile id; 404 until an event or a session links it. */
export async function ownProfileId(c: Context<AppEnv>): Promise<string> {
  const principal = c.get("principal");
  const resolver = resolverFor(c);
  if (principal.role === "customer" && principal.profileId) {
    const found = await resolver.call(principal.profileId, (stub) => stub.view("customer"));
    if (found) return found.profileId;
  }
  const identifier = await credentialIdentifier(c.env, principal);
  const found = identifier ? await resolver.recognize([identifier], "customer") : null;
  if (!found) throw new Problem(404, "No profile is linked to this credential yet");
  return found.profileId;
}

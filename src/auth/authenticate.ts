// Credentials → principal: the bootstrap admin key, API keys (by hash, from the cached key table),
// service tokens (device and session) and the brand identity provider's JWTs.
import { createMiddleware } from "hono/factory";
import { keyTable } from "../config/cache";
import { Problem } from "../errors";
import { normalizeCached } from "../identity/identifiers";
import { settingsFor } from "../settings";
import { allowedOrigin } from "./cors";
import {
  looksLikeJwt,
  peekIssuer,
  SERVICE_ISSUER,
  verifyIdentityToken,
  verifyServiceToken,
} from "./jwt";
import type { Principal, Role } from "./principal";
import { limit } from "./rate-limit";
import { keepHash, knownHash, presentedHash, sameHash } from "./secrets";

declare module "hono" {
  interface ContextVariableMap {
    principal: Principal;
  }
}

function bearer(header: string | undefined): string {
  const match = /^Bearer\s+(\S{1,8192})\s*$/i.exec(header ?? "");
  if (!match?.[1])
    throw new Problem(401, "Send a credential as `Authorization: Bearer <credential>`");
  return match[1];
}

async function fromApiKey(env: Env, secret: string): Promise<Principal> {
  // One hash per request: it is compared with the admin key's and looked up in the key table.
  const hash = await presentedHash(secret);
  if (env.ADMIN_API_KEY && sameHash(hash, await knownHash(env.ADMIN_API_KEY))) {
    return { role: "admin", keyId: "bootstrap" };
  }
  const grant = (await keyTable(env)).byHash.get(hash);
  if (!grant) throw new Problem(401, "The API key is not valid or was revoked");
  keepHash(secret, hash);
  switch (grant.role) {
    case "pos":
    case "kiosk":
      return { role: grant.role, keyId: grant.id, storeId: grant.storeId ?? "" };
    case "web":
      return { role: "web", keyId: grant.id, origins: grant.origins ?? [] };
    default:
      return { role: grant.role, keyId: grant.id };
  }
}

async function fromToken(env: Env, token: string): Promise<Principal> {
  // The unverified issuer only routes the token to its verifier; each verifier trusts nothing.
  if (peekIssuer(token) !== SERVICE_ISSUER) {
    const { userId } = await verifyIdentityToken(token, {
      jwks: env.AUTH_JWKS || undefined,
      jwksUrl: env.AUTH_JWKS_URL || undefined,
      issuer: env.AUTH_ISSUER ?? "",
      audience: env.AUTH_AUDIENCE ?? "",
    });
    // The person the brand's events name by this user_id: one normalisation for both, so a
    // placeholder (`anonymous`) names nobody here either, rather than everyone who carries it.
    const own = normalizeCached("user_id", userId, settingsFor(env));
    if (!own.ok) throw new Problem(401, 'The token\'s "sub" claim names no person');
    return { role: "customer", userId: own.value };
  }
  const claims = await verifyServiceToken(token, env.SESSION_SIGNING_KEY ?? "");
  if (claims.kind === "session") {
    return { role: "customer", userId: claims.userId, profileId: claims.profileId };
  }
  // A device lives only as long as the web key that opened it.
  const grant = (await keyTable(env)).byId.get(claims.keyId);
  if (grant?.role !== "web")
    throw new Problem(401, "The web key behind this device token was revoked");
  return { role: "device", keyId: claims.keyId, anonymousId: claims.anonymousId };
}

export async function authenticate(env: Env, header: string | undefined): Promise<Principal> {
  const credential = bearer(header);
  if (credential.startsWith("sk_") || credential.startsWith("pk_"))
    return fromApiKey(env, credential);
  if (looksLikeJwt(credential)) return fromToken(env, credential);
  throw new Problem(401, "The credential is not a valid API key or token");
}

/** Authenticates, admits only the given roles (`allow("admin", "server")`), checks origin and rate. */
export function allow(...roles: Role[]) {
  return createMiddleware(async function allowRoles(c, next) {
    const env = c.env as Env;
    const principal = await authenticate(env, c.req.header("authorization"));
    if (!roles.includes(principal.role)) {
      throw new Problem(403, `A ${principal.role} credential may not use this endpoint`);
    }
    await allowedOrigin(env, principal, c.req.header("origin"));
    await limit(env, principal, c.req.header("cf-connecting-ip"));
    c.set("principal", principal);
    await next();
  });
}

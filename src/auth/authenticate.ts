// Credentials → principal: the bootstrap admin key, API keys (by hash, from the cached key table).
import { createMiddleware } from "hono/factory";
import { configSnapshot } from "../config/cache";
import { Problem } from "../errors";
import type { Principal, Role } from "./principal";
import { hashSecret, sameSecret } from "./secrets";

declare module "hono" {
  interface ContextVariableMap {
    principal: Principal;
  }
}

function bearer(header: string | undefined): string {
  const match = /^Bearer\s+(\S{1,4096})\s*$/i.exec(header ?? "");
  if (!match?.[1])
    throw new Problem(401, "Send a credential as `Authorization: Bearer <credential>`");
  return match[1];
}

async function fromApiKey(env: Env, secret: string): Promise<Principal> {
  if (env.ADMIN_API_KEY && (await sameSecret(secret, env.ADMIN_API_KEY))) {
    return { role: "admin", keyId: "bootstrap" };
  }
  const grant = (await configSnapshot(env)).keys[await hashSecret(secret)];
  if (!grant) throw new Problem(401, "The API key is not valid or was revoked");
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

export async function authenticate(env: Env, header: string | undefined): Promise<Principal> {
  const credential = bearer(header);
  if (credential.startsWith("sk_") || credential.startsWith("pk_"))
    return fromApiKey(env, credential);
  throw new Problem(401, "The credential is not a valid API key or token");
}

/** Authenticates and admits only the given roles: `allow("admin", "server")`. */
export function allow(...roles: Role[]) {
  return createMiddleware(async function allowRoles(c, next) {
    const principal = await authenticate(c.env as Env, c.req.header("authorization"));
    if (!roles.includes(principal.role)) {
      throw new Problem(403, `A ${principal.role} credential may not use this endpoint`);
    }
    c.set("principal", principal);
    await next();
  });
}

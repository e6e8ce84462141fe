// Rate limits for the public-facing credentials (kiosk screens, websites, browser devices) and per
// identifier looked up, so nobody can walk through phone numbers. Backed by the Workers rate-limiting
// binding: counted at the edge, no Durable Object hop on the request path.
import { Problem } from "../errors";
import type { Principal } from "./principal";
import { hashSecret } from "./secrets";

const RETRY_AFTER_SECONDS = 60;

async function check(limiter: RateLimit, key: string, what: string): Promise<void> {
  const { success } = await limiter.limit({ key });
  if (!success)
    throw new Problem(429, `Too many requests for this ${what}; slow down`, {
      retryAfter: RETRY_AFTER_SECONDS,
    });
}

/** A client's address as a limiter key: peppered and hashed, as no raw address is kept anywhere. */
const clientKey = (env: Env, address: string) => hashSecret(`${env.IDENTITY_PEPPER}:${address}`);

/**
 * Per credential: kiosk keys, web keys and device tokens. Brand back ends and tills are trusted.
 * A web key is published in every page of the site, so it is limited per client address
 * (`CF-Connecting-IP`, set by Cloudflare's edge), not as one budget every visitor shares; with
 * no address (local development), per key.
 */
export async function limit(env: Env, principal: Principal, address?: string): Promise<void> {
  switch (principal.role) {
    case "kiosk":
      return check(env.KIOSK_LIMITER, principal.keyId, "kiosk");
    case "web": {
      const client = address ? `:${await clientKey(env, address)}` : "";
      return check(env.WEB_LIMITER, `key:${principal.keyId}${client}`, "web key");
    }
    case "device":
      return check(env.WEB_LIMITER, `device:${principal.anonymousId}`, "device");
    default:
      return;
  }
}

/** Per identifier looked up by a public-facing credential (hashes only: no PII in limiter keys). */
export async function limitLookup(env: Env, principal: Principal, hashes: string[]): Promise<void> {
  if (principal.role !== "kiosk") return;
  for (const hash of hashes) await check(env.LOOKUP_LIMITER, hash, "identifier");
}

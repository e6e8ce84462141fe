// The one module that touches jose: identity-provider JWTs in, service tokens out and back in.
import {
  createLocalJWKSet,
  createRemoteJWKSet,
  decodeJwt,
  errors,
  importJWK,
  type JWTPayload,
  type JWTVerifyGetKey,
  jwtVerify,
  SignJWT,
} from "jose";
import { z } from "zod";
import { Problem } from "../errors";
import { IsolateCache } from "../isolate-cache";
import { wellFormed } from "../schemas";

/** Issuer of every token this service signs; an identity provider must never use it. */
export const SERVICE_ISSUER = "recognition-edge";

/** One audience per kind, so a device token can never stand in for a session token. */
const SERVICE_AUDIENCE = {
  device: "recognition-edge:device",
  session: "recognition-edge:session",
} as const;

export type ServiceTokenKind = keyof typeof SERVICE_AUDIENCE;

/** What a service token vouches for: a browser device of one web key, or a signed-in customer. */
export type ServiceClaims =
  | { kind: "device"; keyId: string; anonymousId: string }
  | { kind: "session"; userId: string; profileId: string };

/** The identity provider: AUTH_JWKS (preferred) or AUTH_JWKS_URL, AUTH_ISSUER, AUTH_AUDIENCE. */
export interface IdentityConfig {
  jwks?: string | undefined;
  jwksUrl?: string | undefined;
  issuer: string;
  audience: string;
}

// Asymmetric only: an allow-list is what stops `alg: none` and HS256-signed-with-the-public-key.
const IDENTITY_ALGORITHMS = ["RS256", "ES256", "EdDSA"];
const SERVICE_ALGORITHM = "ES256";
// Phones and POS terminals drift; half a minute is the usual allowance, for nbf and exp alike.
const CLOCK_TOLERANCE_SECONDS = 30;
// Secrets rarely change within an isolate's life; the bound only stops a leak if they churn.
const CACHE_LIMIT = 8;

const identifier = z.string().min(1).max(256);
// Well-formed, as every identifier a request carries is; its normalisation is the identifiers'
// own (authenticate.ts).
const subject = identifier.refine(wellFormed, { message: "Not valid Unicode" });

// A signature check costs more than the rest of a request: a token verified once is trusted,
// per verifying setup, for a minute or until its own expiry if that is sooner, then verified
// again in full. The minute, not the expiry: a key the identity provider withdraws must stop
// working once the key set is fetched again (KEY_SET_MAX_AGE_MS), not hours later.
const VERIFIED_LIMIT = 10_000;
const TRUSTED_MS = 60_000;
// How long a fetched AUTH_JWKS_URL key set is used before it is fetched again (jose's default).
const KEY_SET_MAX_AGE_MS = 10 * 60_000;
// A token names its person (and an identity provider's often carries their email too), so the
// memo also empties whole once it is a minute old: an erased person's tokens leave memory then.
const verified = new Map<string, IsolateCache<{ value: unknown; until: number }>>();

function recall<T>(scope: string, token: string): T | undefined {
  const tokens = verified.get(scope);
  const hit = tokens?.get(token);
  if (!hit) return undefined;
  if (hit.until > Date.now()) return hit.value as T;
  tokens?.delete(token);
  return undefined;
}

function trust(scope: string, token: string, value: unknown, exp: number | undefined): void {
  if (exp === undefined) return;
  const tokens = remember(verified, scope, () => new IsolateCache(VERIFIED_LIMIT, TRUSTED_MS));
  tokens.set(token, { value, until: Math.min(exp * 1000, Date.now() + TRUSTED_MS) });
}

/** Verifies a brand identity-provider JWT (`customer` role); its `sub` is the verified user_id. */
export async function verifyIdentityToken(
  token: string,
  config: IdentityConfig,
): Promise<{ userId: string }> {
  const scope = `idp\n${config.issuer}\n${config.audience}\n${config.jwks ?? config.jwksUrl ?? ""}`;
  const known = recall<{ userId: string }>(scope, token);
  if (known) return known;
  const keys = identityKeys(config);
  let payload: JWTPayload;
  try {
    ({ payload } = await jwtVerify(token, keys, {
      algorithms: IDENTITY_ALGORITHMS,
      issuer: config.issuer,
      audience: config.audience,
      clockTolerance: CLOCK_TOLERANCE_SECONDS,
      // A token without exp would be good forever.
      requiredClaims: ["sub", "exp"],
    }));
  } catch (cause) {
    throw refusal(cause);
  }
  const sub = subject.safeParse(payload.sub);
  if (!sub.success) {
    throw new Problem(401, 'The token\'s "sub" claim must be a string of 1 to 256 characters', {
      cause: sub.error,
    });
  }
  const result = { userId: sub.data };
  trust(scope, token, result, payload.exp);
  return result;
}

/** Signs a service token for `POST /v1/sessions`; `expiresAt` is ISO-8601. */
export async function issueServiceToken(
  signingKey: string,
  claims: ServiceClaims,
  ttlSeconds: number,
): Promise<{ token: string; expiresAt: string }> {
  if (!Number.isInteger(ttlSeconds) || ttlSeconds <= 0) {
    throw new TypeError("ttlSeconds must be a positive integer");
  }
  let keys: ServiceKeys;
  try {
    keys = await serviceKeys(signingKey);
  } catch (cause) {
    // Our own configuration is broken: not the caller's fault, so not a 401.
    throw new Problem(500, "Tokens cannot be issued: the signing key is missing or invalid", {
      cause,
    });
  }
  const valid = serviceClaims.parse(claims);
  const now = Math.floor(Date.now() / 1000);
  const exp = now + ttlSeconds;
  const token = await new SignJWT(toPayload(valid))
    .setProtectedHeader({ alg: SERVICE_ALGORITHM, kid: keys.kid, typ: "JWT" })
    .setIssuer(SERVICE_ISSUER)
    .setAudience(SERVICE_AUDIENCE[valid.kind])
    .setIssuedAt(now)
    .setExpirationTime(exp)
    .sign(keys.privateKey);
  return { token, expiresAt: new Date(exp * 1000).toISOString() };
}

/**
 * Verifies a token this service issued. Pass `expected` where only one kind may be used, e.g.
 * `verifyServiceToken(t, key, "session")` refuses a device token with 401.
 */
export async function verifyServiceToken(
  token: string,
  signingKey: string,
  expected?: ServiceTokenKind,
): Promise<ServiceClaims> {
  const scope = `service\n${signingKey}`;
  const known = recall<ServiceClaims>(scope, token);
  if (known && (!expected || known.kind === expected)) return known;
  let keys: ServiceKeys;
  try {
    keys = await serviceKeys(signingKey);
  } catch (cause) {
    throw new Problem(401, "Service tokens cannot be verified: the signing key is not configured", {
      cause,
    });
  }
  let payload: JWTPayload;
  try {
    ({ payload } = await jwtVerify(token, keys.publicKey, {
      algorithms: [SERVICE_ALGORITHM],
      issuer: SERVICE_ISSUER,
      audience: expected ? SERVICE_AUDIENCE[expected] : Object.values(SERVICE_AUDIENCE),
      clockTolerance: CLOCK_TOLERANCE_SECONDS,
      requiredClaims: ["sub", "exp"],
    }));
  } catch (cause) {
    throw refusal(cause);
  }
  const claims = fromPayload(payload);
  if (!claims.success) {
    throw new Problem(401, "The token does not carry valid service claims", {
      cause: claims.error,
    });
  }
  trust(scope, token, claims.data, payload.exp);
  return claims.data;
}

/** Three base64url parts (the last may be empty): to verify as a JWT, not look up as an API key. */
export function looksLikeJwt(credential: string): boolean {
  return /^[\w-]+\.[\w-]+\.[\w-]*$/.test(credential);
}

/**
 * The `iss` claim read WITHOUT verification, only to choose which verifier to run.
 * Never trust it for anything else: the chosen verifier checks the issuer again.
 */
export function peekIssuer(token: string): string | undefined {
  try {
    const { iss } = decodeJwt(token);
    return typeof iss === "string" ? iss : undefined;
  } catch {
    return undefined;
  }
}

// ---- identity-provider keys -------------------------------------------------------------

const localKeySets = new Map<string, JWTVerifyGetKey>();
// Module level: the isolate reuses fetched keys across requests; jose refetches on an unknown kid.
const remoteKeySets = new Map<string, JWTVerifyGetKey>();

function identityKeys(config: IdentityConfig): JWTVerifyGetKey {
  const notConfigured = (cause?: unknown) =>
    new Problem(401, "Identity-provider tokens are not accepted: the provider is not configured", {
      cause,
    });
  // A provider set up with our own issuer or audiences would take service tokens as identities.
  const audiences: string[] = Object.values(SERVICE_AUDIENCE);
  if (!config.issuer || !config.audience) throw notConfigured();
  if (config.issuer === SERVICE_ISSUER || audiences.includes(config.audience)) {
    throw notConfigured(new Error("the identity provider reuses the service's issuer or audience"));
  }
  try {
    if (config.jwks) {
      const jwks = config.jwks;
      return remember(localKeySets, jwks, () => createLocalJWKSet(JSON.parse(jwks)));
    }
    if (config.jwksUrl) {
      const url = new URL(config.jwksUrl);
      if (url.protocol !== "https:") throw new Error("AUTH_JWKS_URL must use https");
      return remember(remoteKeySets, url.href, () =>
        createRemoteJWKSet(url, { cacheMaxAge: KEY_SET_MAX_AGE_MS }),
      );
    }
  } catch (cause) {
    throw notConfigured(cause);
  }
  throw notConfigured();
}

// ---- service keys -----------------------------------------------------------------------

interface ServiceKeys {
  kid: string;
  privateKey: CryptoKey;
  publicKey: CryptoKey;
}

const signingJwk = z.object({
  kty: z.literal("EC"),
  crv: z.literal("P-256"),
  x: z.string().min(1),
  y: z.string().min(1),
  d: z.string().min(1),
  kid: z.string().min(1),
  alg: z.literal(SERVICE_ALGORITHM).optional(),
});

// Resolved keys only: a promise shared between requests is something workerd warns about.
const serviceKeyCache = new Map<string, ServiceKeys>();

async function serviceKeys(signingKey: string): Promise<ServiceKeys> {
  const cached = serviceKeyCache.get(signingKey);
  if (cached) return cached;
  if (!signingKey) throw new Error("SESSION_SIGNING_KEY is not set");
  const { kty, crv, x, y, d, kid } = signingJwk.parse(JSON.parse(signingKey));
  // Rebuilt from the curve parameters alone: a webcrypto export's key_ops ["sign"] forbids verify.
  const [privateKey, publicKey] = await Promise.all([
    importJWK({ kty, crv, x, y, d }, SERVICE_ALGORITHM, { extractable: false }),
    importJWK({ kty, crv, x, y }, SERVICE_ALGORITHM),
  ]);
  if (!(privateKey instanceof CryptoKey) || !(publicKey instanceof CryptoKey)) {
    throw new Error("SESSION_SIGNING_KEY did not import as an EC key pair");
  }
  return remember(serviceKeyCache, signingKey, () => ({ kid, privateKey, publicKey }));
}

// ---- service claims <-> JWT payload -----------------------------------------------------

const serviceClaims = z.discriminatedUnion("kind", [
  z.object({ kind: z.literal("device"), keyId: identifier, anonymousId: identifier }),
  z.object({ kind: z.literal("session"), userId: identifier, profileId: identifier }),
]);

// The audience says the kind; `sub` is anonymous_id or user_id; private claims carry the rest.
function toPayload(claims: ServiceClaims): JWTPayload {
  return claims.kind === "device"
    ? { sub: claims.anonymousId, key_id: claims.keyId }
    : { sub: claims.userId, profile_id: claims.profileId };
}

function fromPayload(payload: JWTPayload) {
  switch (payload.aud) {
    case SERVICE_AUDIENCE.device:
      return serviceClaims.safeParse({
        kind: "device",
        anonymousId: payload.sub,
        keyId: payload.key_id,
      });
    case SERVICE_AUDIENCE.session:
      return serviceClaims.safeParse({
        kind: "session",
        userId: payload.sub,
        profileId: payload.profile_id,
      });
    default:
      // An array audience naming both kinds is ambiguous, so it is never one of ours.
      return serviceClaims.safeParse({ kind: undefined });
  }
}

// ---- helpers ----------------------------------------------------------------------------

/** A jose failure as a 401 whose detail names the reason, never the token or its claim values. */
function refusal(cause: unknown): Problem {
  return new Problem(401, describe(cause), { cause });
}

function describe(err: unknown): string {
  if (err instanceof errors.JWTExpired) return "The token has expired";
  if (err instanceof errors.JWTClaimValidationFailed) {
    if (err.reason === "missing") return `The token lacks the required "${err.claim}" claim`;
    switch (err.claim) {
      case "nbf":
        return "The token is not valid yet";
      case "iss":
        return "The token was not issued by an accepted issuer";
      case "aud":
        return "The token is meant for another audience";
      default:
        return `The token's "${err.claim}" claim is not valid`;
    }
  }
  if (err instanceof errors.JOSEAlgNotAllowed || err instanceof errors.JOSENotSupported) {
    return "The token's signing algorithm is not accepted";
  }
  if (err instanceof errors.JWSSignatureVerificationFailed) {
    return "The token's signature is not valid";
  }
  if (err instanceof errors.JWKSNoMatchingKey) return "The token was signed by an unknown key";
  if (err instanceof errors.JWKSMultipleMatchingKeys) {
    return "The token does not identify its signing key (kid)";
  }
  if (err instanceof errors.JWSInvalid || err instanceof errors.JWTInvalid) {
    return "The token is malformed";
  }
  // A JWKS fetch that timed out, answered non-200 or was not a key set (plain JOSEError).
  if (
    err instanceof errors.JWKSTimeout ||
    err instanceof errors.JWKSInvalid ||
    (err instanceof errors.JOSEError && err.code === "ERR_JOSE_GENERIC")
  ) {
    return "The identity provider's keys could not be loaded";
  }
  return "The token is not valid";
}

function remember<T>(cache: Map<string, T>, key: string, create: () => T): T {
  let value = cache.get(key);
  if (value === undefined) {
    value = create();
    if (cache.size >= CACHE_LIMIT) cache.clear();
    cache.set(key, value);
  }
  return value;
}

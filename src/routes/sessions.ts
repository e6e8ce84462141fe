// POST /v1/sessions: device tokens for browsers (web keys), session tokens for signed-in customers.
import { createRoute, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import { allow } from "../auth/authenticate";
import { issueServiceToken, verifyServiceToken } from "../auth/jwt";
import { randomToken } from "../auth/secrets";
import { keyTable } from "../config/cache";
import { Problem } from "../errors";
import { type AppEnv, bearer, json, problems, resolverFor, router, sendJson } from "../http";
import { hashIdentifier } from "../identity/hash";
import type { Identifier } from "../identity/types";
import { embed } from "../json-text";
import { CustomerViewSchema } from "../schemas";

/** Long enough for a returning visitor (a page refreshes it on every visit), short enough to expire. */
const DEVICE_TOKEN_SECONDS = 7 * 24 * 3600;
const SESSION_TOKEN_SECONDS = 3600;

const SessionRequestSchema = z
  .strictObject({ device_token: z.string().max(4096).optional() })
  .openapi("SessionRequest");

const SessionSchema = z
  .object({
    token: z.string(),
    expires_at: z.string(),
    anonymous_id: z.string().optional(),
    device_token: z.string().optional().openapi({
      description:
        "At a sign-in on a browser another person signed in on before: the browser's new device token, to use from now on",
    }),
    profile_id: z.string(),
    profile: CustomerViewSchema,
  })
  .openapi("Session");

const route = createRoute({
  method: "post",
  path: "/v1/sessions",
  summary:
    "Open or refresh a device session (web key), or sign a customer in (identity-provider JWT)",
  security: bearer,
  middleware: [allow("web", "customer")],
  request: { body: { required: false, ...json(SessionRequestSchema) } },
  responses: {
    200: { description: "The token and the caller's profile", ...json(SessionSchema) },
    ...problems(400, 401, 403, 409, 413, 415, 429),
  },
});

/**
 * The device an earlier token names, if it is valid and was issued to `keyId` (when null, to any
 * web key that still exists: a device dies with its web key).
 */
async function priorDevice(
  env: Env,
  token: string | undefined,
  keyId: string | null,
): Promise<{ anonymousId: string; keyId: string } | null> {
  if (!token) return null;
  try {
    const claims = await verifyServiceToken(token, env.SESSION_SIGNING_KEY, "device");
    if (claims.kind !== "device") return null;
    if (keyId !== null) return claims.keyId === keyId ? claims : null;
    const grant = (await keyTable(env)).byId.get(claims.keyId);
    return grant?.role === "web" ? claims : null;
  } catch (error) {
    // Forged, expired or another key's: the contract says start a new device, not fail.
    if (error instanceof Problem && error.status === 401) return null;
    throw error;
  }
}

async function record(
  c: Context<AppEnv>,
  identifiers: Identifier[],
  name: string,
  channel: "web" | "app",
) {
  return resolverFor(c).ingest({
    event: {
      event_id: `session-${randomToken(16)}`,
      type: "track",
      name,
      channel,
      timestamp: new Date().toISOString(),
    },
    identifiers,
    claimed: [],
    source: c.get("principal").role,
    view: "customer",
  });
}

const newAnonymousId = () => `anon_${randomToken(16)}`;

/** A browser's device token: its web key and the anonymous id the service chose for it. */
const issueDeviceToken = (env: Env, keyId: string, anonymousId: string) =>
  issueServiceToken(
    env.SESSION_SIGNING_KEY,
    { kind: "device", keyId, anonymousId },
    DEVICE_TOKEN_SECONDS,
  );

export const sessions = router().openapi(route, async (c) => {
  const principal = c.get("principal");
  const deviceToken = c.req.valid("json")?.device_token;
  const pepper = c.env.IDENTITY_PEPPER;

  if (principal.role === "web") {
    const known = (await priorDevice(c.env, deviceToken, principal.keyId))?.anonymousId;
    const anonymousId = known ?? newAnonymousId();
    // Signed first: a broken signing key leaves no profile behind for a device nobody can use.
    const { token, expiresAt } = await issueDeviceToken(c.env, principal.keyId, anonymousId);
    const anon = await hashIdentifier(pepper, "anonymous_id", anonymousId);
    const existing = known ? await resolverFor(c).recognize([anon], "customer") : null;
    const profile = existing
      ? { profileId: existing.profileId, view: existing.view }
      : await record(c, [anon], "device_session_started", "web");
    const fields = {
      token,
      expires_at: expiresAt,
      anonymous_id: anonymousId,
      profile_id: profile.profileId,
    };
    return sendJson(c, embed(fields, "profile", profile.view), 200);
  }
  if (principal.role !== "customer")
    throw new Problem(403, "Sessions are for web keys and customers");
  // Only the identity provider signs a person in: a session must not renew itself past its hour.
  if (principal.profileId)
    throw new Problem(403, "Sign in with the identity provider's token, not a session token");
  // Signing in links the browser the customer came from: a verified event that merges its history.
  const device = await priorDevice(c.env, deviceToken, null);
  const user = await hashIdentifier(pepper, "user_id", principal.userId);
  const anon = device && (await hashIdentifier(pepper, "anonymous_id", device.anonymousId));
  let linked = await record(c, anon ? [user, anon] : [user], "signed_in", anon ? "web" : "app");
  let newDevice: { device_token: string; anonymous_id: string } | undefined;
  const othersDevice = linked.refused.some(
    (r) => r.hash === anon?.hash && r.reason === "merge_protection",
  );
  if (device && othersDevice) {
    // Another person signed in on this browser before, or the brand linked it to another card: its
    // device stays theirs (merge protection), so this person gets a device of their own, or their
    // browsing and banner choices would be recorded on the other's profile. A device kept apart
    // for a limit (a person with the most anonymous ids a profile holds) is still theirs.
    const anonymousId = newAnonymousId();
    const own = await hashIdentifier(pepper, "anonymous_id", anonymousId);
    linked = await record(c, [user, own], "device_session_started", "web");
    const issued = await issueDeviceToken(c.env, device.keyId, anonymousId);
    newDevice = { device_token: issued.token, anonymous_id: anonymousId };
  }
  const { token, expiresAt } = await issueServiceToken(
    c.env.SESSION_SIGNING_KEY,
    { kind: "session", userId: principal.userId, profileId: linked.profileId },
    SESSION_TOKEN_SECONDS,
  );
  const fields = { token, expires_at: expiresAt, ...newDevice, profile_id: linked.profileId };
  return sendJson(c, embed(fields, "profile", linked.view), 200);
});

// Test helpers: drive the Worker over HTTP exactly as a client would.
import { env, exports } from "cloudflare:workers";
import { importJWK, SignJWT } from "jose";
import { expect } from "vitest";
import type { MergeInfo, Snapshot } from "../src/profile/protocol";
import { profileStub } from "../src/profile/protocol";
import { ADMIN_API_KEY } from "./secrets";

export const ADMIN = ADMIN_API_KEY;

export interface Call {
  method?: string;
  key?: string;
  body?: unknown;
  headers?: Record<string, string>;
}

export async function call(path: string, { method, key, body, headers = {} }: Call = {}) {
  const init: RequestInit = {
    method: method ?? (body === undefined ? "GET" : "POST"),
    headers: {
      ...(key ? { authorization: `Bearer ${key}` } : {}),
      ...(body === undefined ? {} : { "content-type": "application/json" }),
      ...headers,
    },
    ...(body === undefined ? {} : { body: typeof body === "string" ? body : JSON.stringify(body) }),
  };
  const response = await exports.default.fetch(new Request(`https://edge.test${path}`, init));
  const text = await response.text();
  // biome-ignore lint/suspicious/noExplicitAny: tests read arbitrary JSON answers
  let json: any = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    json = null;
  }
  return { status: response.status, headers: response.headers, json, text };
}

let counter = 0;
/** A value no other test uses: storage is shared by every test of a file. */
export function unique(prefix = "t"): string {
  counter += 1;
  return `${prefix}-${Date.now().toString(36)}-${counter}-${Math.random().toString(36).slice(2, 8)}`;
}

let line = 0;
/** A US number no other test of the file uses: the 555 exchange, one line after another. */
export function newPhone(area = "415"): string {
  line = (line % 8999) + 1;
  return `+1${area}555${1000 + line}`;
}

export async function createKey(
  role: string,
  extra: Record<string, unknown> = {},
): Promise<string> {
  const res = await call("/v1/admin/keys", {
    key: ADMIN,
    body: { role, name: unique(role), ...extra },
  });
  if (res.status !== 201) throw new Error(`key creation failed: ${res.status} ${res.text}`);
  return res.json.key as string;
}

export async function event(key: string, body: Record<string, unknown>) {
  return call("/v1/events", { key, body: { id: unique("evt"), ...body } });
}

/** An identify event: `key` says these identifiers are one person, seen on `channel`. */
export function identify(
  key: string,
  identifiers: Record<string, string>,
  channel = "app",
  id = unique("evt"),
) {
  return event(key, { id, type: "identify", channel, identifiers });
}

/**
 * A till's purchase numbered `id`, as two tills that number orders alike might both send for two
 * people; `total` makes its content its own.
 */
export function order(
  key: string,
  id: string,
  identifiers: Record<string, string>,
  total: number,
  timestamp?: string,
) {
  return event(key, {
    id,
    type: "purchase",
    channel: "store",
    identifiers,
    properties: { order_id: `o-${total}`, total, currency: "USD" },
    ...(timestamp ? { timestamp } : {}),
  });
}

/** Two people: the survivor-to-be (older) and the loser, who bought something as Lena. */
export async function twoPeople(key: string) {
  const survivorEmail = `${unique()}@example.com`;
  const loserEmail = `${unique()}@example.com`;
  const s = await event(key, {
    type: "visit",
    channel: "web",
    identifiers: { email: survivorEmail },
  });
  const l = await event(key, {
    type: "purchase",
    channel: "web",
    identifiers: { email: loserEmail },
    traits: { first_name: "Lena" },
    properties: { order_id: "o", total: 50, currency: "EUR" },
  });
  return {
    survivor: s.json.profile_id as string,
    loser: l.json.profile_id as string,
    loserEmail,
    loserEvent: l.json.event_id as string,
  };
}

/** `count` visits naming `email`, a minute apart from `start`, in batches; answers their ids. */
export async function sendVisits(
  key: string,
  email: string,
  count: number,
  start: number,
): Promise<string[]> {
  const ids: string[] = [];
  for (let offset = 0; offset < count; offset += 100) {
    const batch = Array.from({ length: Math.min(100, count - offset) }, (_, i) => ({
      id: unique("v"),
      type: "visit",
      channel: i % 2 ? "web" : "app",
      timestamp: new Date(start + (offset + i) * 60_000).toISOString(),
      identifiers: { email },
    }));
    const res = await call("/v1/events", { key, body: { batch } });
    if (res.status !== 200) throw new Error(`visits refused: ${res.status} ${res.text}`);
    ids.push(...batch.map((e) => e.id));
  }
  return ids;
}

const bindings = env as unknown as Record<string, string>;

/** A JWT of the brand's identity provider (the test one), naming the person `sub`. */
export async function idpToken(
  sub: string,
  claims: Record<string, unknown> = {},
  header: Record<string, unknown> = {},
) {
  const key = await importJWK(JSON.parse(bindings.TEST_IDP_PRIVATE_JWK as string), "ES256");
  return new SignJWT(claims)
    .setProtectedHeader({ alg: "ES256", kid: "idp-1", ...header })
    .setSubject(sub)
    .setIssuer(bindings.AUTH_ISSUER as string)
    .setAudience(bindings.AUTH_AUDIENCE as string)
    .setIssuedAt()
    .setExpirationTime("10m")
    .sign(key);
}

/** How the merges the tests drive by hand say they came about. */
export const mergeInfo: MergeInfo = { via: ["email"], eventId: "join", channel: "web" };

/** Steps zero and one of a merge, as the resolver runs them; then, say, the Worker stops. */
export async function beginMerge(survivor: string, loser: string): Promise<Snapshot> {
  expect((await profileStub(env, survivor).reserveMerge(survivor, loser, {})).status).toBe("ok");
  const begun = await profileStub(env, loser).beginMerge(loser, survivor, mergeInfo, {});
  if (begun.status !== "ok") throw new Error(`beginMerge answered ${begun.status}`);
  return begun.value;
}

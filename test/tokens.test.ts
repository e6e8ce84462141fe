// Browsers, apps and people's control of their own data: sessions, tokens, /v1/me, consent,
// export, erasure, CORS and rate limits. Tokens are signed here with jose.

import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { importJWK, SignJWT } from "jose";
import { beforeAll, beforeEach, describe, expect, it } from "vitest";
import { PERSONAL_TABLES } from "../src/profile/schema";
import { ADMIN, call, createKey, event, identify, idpToken, newPhone, unique } from "./helpers";

const ORIGIN = "https://shop.example";
const bindings = env as unknown as Record<string, string>;
let web: string;
let server: string;

/** A customer signing in with the identity provider's token, on the browser `device` names. */
const signIn = async (sub: string, device: string) =>
  call("/v1/sessions", { key: await idpToken(sub), body: { device_token: device } });

async function openDevice(deviceToken?: string, key = web) {
  return call("/v1/sessions", {
    key,
    headers: { origin: ORIGIN },
    body: deviceToken ? { device_token: deviceToken } : {},
  });
}

beforeAll(async () => {
  web = await createKey("web", { origins: [ORIGIN] });
  server = await createKey("server");
});

describe("a customer's journey across browser, app and store", () => {
  it("links a browser's anonymous visits to the person who signs in, and the POS sees them", async () => {
    const session = await openDevice();
    expect(session.status, session.text).toBe(200);
    expect(session.json.anonymous_id).toMatch(/^anon_/);
    expect(session.json.profile.view).toBe("customer");
    const device = session.json.token as string;
    for (let i = 0; i < 2; i++) {
      const visit = await call("/v1/events", {
        key: device,
        headers: { origin: ORIGIN },
        body: { id: unique(), type: "visit", properties: { page: "/shoes" } },
      });
      expect(visit.status, visit.text).toBe(200);
      expect(visit.json.profile.view).toBe("customer");
    }

    const userId = unique("user");
    const login = await signIn(userId, device);
    expect(login.status, login.text).toBe(200);
    expect(login.json.profile.view).toBe("customer");
    const sessionToken = login.json.token as string;
    await call("/v1/events", {
      key: sessionToken,
      body: { id: unique(), type: "identify", channel: "app", traits: { first_name: "Ada" } },
    });

    const me = await call("/v1/me", { key: sessionToken });
    expect(me.status).toBe(200);
    expect(me.json).toMatchObject({
      view: "customer",
      first_name: "Ada",
      profile_id: login.json.profile_id,
    });
    const meByIdp = await call("/v1/me", { key: await idpToken(userId) });
    expect(meByIdp.json.profile_id).toBe(login.json.profile_id);

    const pos = await createKey("pos", { store_id: "store-3" });
    const found = await call("/v1/recognize", {
      key: pos,
      body: { identifiers: { user_id: userId } },
    });
    const timeline = await call(`/v1/profiles/${found.json.profile_id}/timeline`, { key: pos });
    const webVisits = timeline.json.events.filter(
      (e: { type: string; channel: string }) => e.type === "visit" && e.channel === "web",
    );
    expect(webVisits).toHaveLength(2);
  });

  it("ends a device when its web key is revoked", async () => {
    const created = await call("/v1/admin/keys", {
      key: ADMIN,
      body: { role: "web", name: unique(), origins: [ORIGIN] },
    });
    const device = await openDevice(undefined, created.json.key);
    const me = () => call("/v1/me", { key: device.json.token, headers: { origin: ORIGIN } });
    expect((await me()).status).toBe(200);
    await call(`/v1/admin/keys/${created.json.id}`, { key: ADMIN, method: "DELETE" });
    expect((await me()).status).toBe(401);
  });

  it("does not link a device whose web key was revoked when its person signs in", async () => {
    const created = await call("/v1/admin/keys", {
      key: ADMIN,
      body: { role: "web", name: unique(), origins: [ORIGIN] },
    });
    const device = await openDevice(undefined, created.json.key);
    await call(`/v1/admin/keys/${created.json.id}`, { key: ADMIN, method: "DELETE" });
    const login = await call("/v1/sessions", {
      key: await idpToken(unique("user")),
      body: { device_token: device.json.token },
    });
    expect(login.status, login.text).toBe(200);
    expect(login.json.profile_id).not.toBe(device.json.profile_id);
    const full = await call(`/v1/profiles/${login.json.profile_id}`, { key: ADMIN });
    expect(full.json.identifiers.anonymous_id).toBeUndefined();
  });

  it("lets only the identity provider sign a person in: a session token cannot renew itself", async () => {
    const login = await call("/v1/sessions", { key: await idpToken(unique("user")), body: {} });
    expect(login.status, login.text).toBe(200);
    const again = await call("/v1/sessions", { key: login.json.token, body: {} });
    expect(again.status).toBe(403);
    expect(again.headers.get("content-type")).toBe("application/problem+json");
  });

  it("refreshes a device while its token is valid and starts a new one otherwise", async () => {
    const first = await openDevice();
    const again = await openDevice(first.json.token);
    expect(again.json.anonymous_id).toBe(first.json.anonymous_id);
    expect(again.json.profile_id).toBe(first.json.profile_id);
    const forged = await openDevice(`${first.json.token.slice(0, -4)}AAAA`);
    expect(forged.json.anonymous_id).not.toBe(first.json.anonymous_id);
    const otherKey = await createKey("web", { origins: [ORIGIN] });
    const foreign = await openDevice(first.json.token, otherKey);
    expect(foreign.json.anonymous_id).not.toBe(first.json.anonymous_id);
  });
});

describe("attacks on credentials", () => {
  it("refuses identity tokens that are unsigned, mis-signed, expired, early, foreign or tampered", async () => {
    const good = await idpToken(unique("u"));
    const [h, p] = good.split(".");
    const b64 = (o: unknown) =>
      btoa(JSON.stringify(o)).replaceAll("=", "").replaceAll("+", "-").replaceAll("/", "_");
    const payload = JSON.parse(atob((p as string).replaceAll("-", "+").replaceAll("_", "/")));
    const jwk = JSON.parse(bindings.TEST_IDP_PRIVATE_JWK as string);
    const { d: _d, ...publicJwk } = jwk;
    const hmacKey = new TextEncoder().encode(JSON.stringify(publicJwk));
    const key = await importJWK(jwk, "ES256");
    const signed = (
      build: (j: SignJWT) => SignJWT,
      header: Record<string, unknown> = { alg: "ES256", kid: "idp-1" },
    ) =>
      build(new SignJWT({}).setProtectedHeader(header as { alg: string }).setSubject("x")).sign(
        key,
      );
    const base = (j: SignJWT) =>
      j.setIssuer(bindings.AUTH_ISSUER as string).setAudience(bindings.AUTH_AUDIENCE as string);
    const tokens = {
      none: `${b64({ alg: "none" })}.${p}.`,
      hs256: await new SignJWT(payload)
        .setProtectedHeader({ alg: "HS256", kid: "idp-1" })
        .sign(hmacKey),
      wrongIssuer: await signed((j) =>
        j
          .setIssuer("https://evil.test")
          .setAudience(bindings.AUTH_AUDIENCE as string)
          .setExpirationTime("5m"),
      ),
      wrongAudience: await signed((j) =>
        j
          .setIssuer(bindings.AUTH_ISSUER as string)
          .setAudience("other")
          .setExpirationTime("5m"),
      ),
      expired: await signed((j) => base(j).setExpirationTime(Math.floor(Date.now() / 1000) - 3600)),
      notYet: await signed((j) =>
        base(j)
          .setNotBefore(Math.floor(Date.now() / 1000) + 3600)
          .setExpirationTime("2h"),
      ),
      unknownKid: await signed((j) => base(j).setExpirationTime("5m"), {
        alg: "ES256",
        kid: "nope",
      }),
      tampered: `${h}.${b64({ ...payload, sub: "someone-else" })}.${good.split(".")[2]}`,
    };
    for (const [name, token] of Object.entries(tokens)) {
      const res = await call("/v1/me", { key: token });
      expect(res.status, name).toBe(401);
      expect(res.headers.get("content-type")).toBe("application/problem+json");
    }
  });

  it("reads a token's sub as the user_id events name: trimmed, never blank, a placeholder or a lone surrogate", async () => {
    const userId = unique("user");
    await event(server, {
      type: "identify",
      channel: "app",
      identifiers: { user_id: `  ${userId} ` },
      traits: { first_name: "Tess" },
    });
    const token = await idpToken(`${userId} `);
    const me = await call("/v1/me", { key: token });
    expect(me.status, me.text).toBe(200);
    expect(me.json.first_name).toBe("Tess");
    // The app may name the person as its identity provider did, spaces and all.
    const own = await event(token, {
      type: "visit",
      channel: "app",
      identifiers: { user_id: `${userId} ` },
    });
    expect(own.status, own.text).toBe(200);
    expect(own.json.profile_id).toBe(me.json.profile_id);
    for (const sub of ["   ", "u\ud800", "anonymous", " N/A ", "0"]) {
      const res = await call("/v1/me", { key: await idpToken(sub) });
      expect(res.status, JSON.stringify(sub)).toBe(401);
      expect(res.text).toMatch(/sub/);
    }
  });

  it("keeps a device token to its own device, its own profile and its own routes", async () => {
    const victimEmail = `${unique("victim")}@example.com`;
    const victim = await event(server, {
      type: "identify",
      channel: "web",
      identifiers: { email: victimEmail },
      traits: { first_name: "Victim" },
    });
    const mine = await openDevice();
    const other = await openDevice();
    const token = mine.json.token as string;
    const send = (body: Record<string, unknown>) =>
      call("/v1/events", {
        key: token,
        headers: { origin: ORIGIN },
        body: { id: unique(), type: "visit", ...body },
      });

    expect((await send({ identifiers: { anonymous_id: other.json.anonymous_id } })).status).toBe(
      403,
    );
    expect((await send({ identifiers: { user_id: "someone" } })).status).toBe(403);
    const claim = await send({ identifiers: { email: victimEmail } });
    expect(claim.status).toBe(200);
    expect(claim.json.profile_id).toBe(mine.json.profile_id);
    expect(claim.json.profile.first_name).toBeUndefined();
    expect(claim.text).not.toContain(victimEmail);
    const victimNow = await call(`/v1/profiles/${victim.json.profile_id}`, { key: ADMIN });
    expect(victimNow.json.computed.visit_count).toBe(0);
    expect(victimNow.json.merges).toEqual([]);

    for (const path of [
      "/v1/admin/keys",
      `/v1/profiles/${mine.json.profile_id}`,
      `/v1/profiles/${victim.json.profile_id}`,
      "/v1/me/export",
    ]) {
      expect((await call(path, { key: token, headers: { origin: ORIGIN } })).status, path).toBe(
        403,
      );
    }
    expect(
      (await call("/v1/me", { key: token, method: "DELETE", headers: { origin: ORIGIN } })).status,
    ).toBe(403);
    expect(
      (
        await call("/v1/recognize", {
          key: token,
          headers: { origin: ORIGIN },
          body: { identifiers: { email: victimEmail } },
        })
      ).status,
    ).toBe(403);
  });

  it("keeps browsers and apps to their own channels: no store purchases from a device or an app", async () => {
    const device = (await openDevice()).json.token as string;
    const storePurchase = {
      type: "purchase",
      channel: "store",
      store_id: "store-42",
      properties: { order_id: "o1", total: 99999, currency: "USD" },
    };
    const fromDevice = await call("/v1/events", {
      key: device,
      headers: { origin: ORIGIN },
      body: { id: unique(), ...storePurchase },
    });
    expect(fromDevice.status, fromDevice.text).toBe(403);
    const customer = await idpToken(unique("user"));
    const fromApp = await call("/v1/events", {
      key: customer,
      body: { id: unique(), ...storePurchase },
    });
    expect(fromApp.status, fromApp.text).toBe(403);
    const banner = await call("/v1/me/consent", {
      method: "PUT",
      key: device,
      headers: { origin: ORIGIN },
      body: { purposes: { analytics: "granted" }, channel: "kiosk" },
    });
    expect(banner.status).toBe(403);
    // What they may name is kept, and a store id means nothing off a store's channels.
    const web = await call("/v1/events", {
      key: device,
      headers: { origin: ORIGIN },
      body: { id: unique(), type: "visit", store_id: "store-42" },
    });
    expect(web.status, web.text).toBe(200);
    const timeline = await call(`/v1/profiles/${web.json.profile_id}/timeline`, { key: ADMIN });
    expect(timeline.json.events[0]).toMatchObject({ type: "visit", channel: "web" });
    expect(timeline.json.events[0].store_id).toBeUndefined();
  });

  it("lets only the brand's systems set a loyalty tier or points, which staff and kiosks show", async () => {
    const device = (await openDevice()).json.token as string;
    const customer = await idpToken(unique("user"));
    const kiosk = await createKey("kiosk", { store_id: "s-tier" });
    const pos = await createKey("pos", { store_id: "s-tier" });
    const phone = newPhone("646");
    const tier = (
      key: string,
      traits: Record<string, unknown>,
      extra: Record<string, unknown> = {},
    ) =>
      call("/v1/events", {
        key,
        headers: { origin: ORIGIN },
        body: { id: unique(), type: "identify", traits, ...extra },
      });
    for (const [name, key, extra] of [
      ["device", device, {}],
      ["customer", customer, { channel: "app" }],
      ["kiosk", kiosk, { identifiers: { phone } }],
    ] as const) {
      const res = await tier(key, { loyalty_tier: "platinum", loyalty_points: 1e6 }, extra);
      expect(res.status, name).toBe(403);
      expect(res.json.errors.map((e: { path: string }) => e.path)).toEqual([
        "traits.loyalty_tier",
        "traits.loyalty_points",
      ]);
    }
    const set = await tier(pos, { loyalty_tier: "gold" }, { identifiers: { phone } });
    expect(set.status, set.text).toBe(200);
    expect(set.json.profile.loyalty).toEqual({ tier: "gold", points: null });
    const name = await tier(device, { first_name: "Ada" });
    expect(name.status, name.text).toBe(200);
  });

  it("keeps a browser's claims within each type's limit", async () => {
    const token = (await openDevice()).json.token as string;
    let profileId = "";
    for (let i = 0; i < 8; i++) {
      const res = await call("/v1/events", {
        key: token,
        headers: { origin: ORIGIN },
        body: { id: unique(), type: "identify", identifiers: { email: `${unique()}@example.com` } },
      });
      expect(res.status, res.text).toBe(200);
      profileId = res.json.profile_id;
    }
    const full = await call(`/v1/profiles/${profileId}`, { key: ADMIN });
    expect(full.json.claimed_identifiers.email).toHaveLength(5);
  });

  it("refuses consent from a kiosk, by event as by the consent route", async () => {
    const kiosk = await createKey("kiosk", { store_id: "s-consent" });
    const phone = "+14155557301";
    const person = await event(server, {
      type: "identify",
      channel: "web",
      identifiers: { phone, user_id: unique("u") },
    });
    const id = person.json.profile_id as string;
    const put = await call(`/v1/profiles/${id}/consent`, {
      method: "PUT",
      key: kiosk,
      body: { purposes: { marketing_sms: "granted" } },
    });
    expect(put.status).toBe(403);
    const byEvent = await event(kiosk, {
      type: "consent",
      identifiers: { phone },
      properties: { purposes: { marketing_sms: "granted" } },
    });
    expect(byEvent.status).toBe(403);
    const after = await call(`/v1/profiles/${id}`, { key: server });
    expect(after.json.consent).toEqual({});
  });

  it("refuses a web key origin that is not http(s): its origin would be the 'null' any sandboxed page sends", async () => {
    for (const origin of [
      "chrome-extension://abcdefghijklmnop/",
      "file:///tmp/x.html",
      "data:text/html,hi",
    ]) {
      const res = await call("/v1/admin/keys", {
        key: ADMIN,
        body: { role: "web", name: unique(), origins: [origin] },
      });
      expect(res.status, origin).toBe(400);
      expect(res.json.errors[0].path).toBe("origins.0");
    }
    const pre = await call("/v1/sessions", {
      method: "OPTIONS",
      headers: { origin: "null", "access-control-request-method": "POST" },
    });
    expect(pre.headers.get("access-control-allow-origin")).toBeNull();
  });

  it("refuses a customer token on every /v1/profiles route, its own included", async () => {
    const userId = unique("u");
    const login = await call("/v1/sessions", { key: await idpToken(userId), body: {} });
    const token = login.json.token as string;
    for (const path of [
      `/v1/profiles/${login.json.profile_id}`,
      `/v1/profiles/${login.json.profile_id}/timeline`,
      `/v1/profiles/${login.json.profile_id}/export`,
    ]) {
      expect((await call(path, { key: token })).status, path).toBe(403);
    }
    const forOther = await call("/v1/events", {
      key: token,
      body: {
        id: unique(),
        type: "visit",
        channel: "app",
        identifiers: { user_id: "someone-else" },
      },
    });
    expect(forOther.status).toBe(403);
  });
});

describe("CORS for web keys", () => {
  it("answers preflights for configured origins only", async () => {
    const allowed = await call("/v1/sessions", {
      method: "OPTIONS",
      headers: { origin: ORIGIN, "access-control-request-method": "POST" },
    });
    expect(allowed.headers.get("access-control-allow-origin")).toBe(ORIGIN);
    const refused = await call("/v1/sessions", {
      method: "OPTIONS",
      headers: { origin: "https://evil.example", "access-control-request-method": "POST" },
    });
    expect(refused.headers.get("access-control-allow-origin")).toBeNull();
  });

  it("refuses a web key from another origin, or from no browser origin at all", async () => {
    expect(
      (
        await call("/v1/sessions", {
          key: web,
          headers: { origin: "https://evil.example" },
          body: {},
        })
      ).status,
    ).toBe(403);
    expect((await call("/v1/sessions", { key: web, body: {} })).status).toBe(403);
    const ok = await openDevice();
    expect(ok.headers.get("access-control-allow-origin")).toBe(ORIGIN);
  });
});

describe("a browser, which is not the person", () => {
  it("cannot probe which trait keys its linked person's profile holds (dropped_traits)", async () => {
    // A person signs in once on a shared computer: the device is linked to them.
    const device = (await openDevice()).json.token as string;
    const userId = unique("user");
    const signedIn = await signIn(userId, device);
    expect(signedIn.status, signedIn.text).toBe(200);
    await event(server, {
      type: "identify",
      channel: "web",
      identifiers: { user_id: userId },
      traits: { first_name: "Jane", medical_condition: "private" },
    });
    // Whoever uses the browser later sends an event, then its id again with guessed keys.
    const id = unique("probe");
    const send = (traits: Record<string, unknown>) =>
      call("/v1/events", {
        key: device,
        headers: { origin: ORIGIN },
        body: { id, type: "track", name: "x", traits },
      });
    expect((await send({})).json.profile_id).toBe(signedIn.json.profile_id);
    const probe = await send({ medical_condition: "?", pregnant: "?" });
    expect(probe.json.status).toBe("duplicate");
    expect(probe.json).not.toHaveProperty("dropped_traits");
    // The person, with their own token, is told.
    const own = await call("/v1/events", {
      key: await idpToken(userId),
      body: { id, type: "track", name: "x", traits: { pregnant: "?" } },
    });
    expect(own.json).toMatchObject({ status: "duplicate", dropped_traits: ["pregnant"] });
  });

  it("is the new person's own once they sign in on it after someone else", async () => {
    const device = (await openDevice()).json.token as string;
    const ada = unique("ada");
    const adaLogin = await signIn(ada, device);
    await event(server, {
      type: "identify",
      channel: "web",
      identifiers: { user_id: ada },
      traits: { first_name: "Ada" },
    });
    const adaId = adaLogin.json.profile_id as string;
    // Her first sign-in there links the browser: it keeps its device.
    expect(adaLogin.json).not.toHaveProperty("device_token");
    await call(`/v1/profiles/${adaId}/consent`, {
      key: server,
      method: "PUT",
      body: { purposes: { marketing_email: "denied" }, channel: "web" },
    });
    const adaBefore = await call(`/v1/profiles/${adaId}`, { key: ADMIN });

    // Ada signs out (the page drops her session token); Bob signs in on the same browser.
    const bobLogin = await call("/v1/sessions", {
      key: await idpToken(unique("bob")),
      body: { device_token: device },
    });
    expect(bobLogin.json.profile_id).not.toBe(adaId);
    const bobsDevice = bobLogin.json.device_token as string;
    expect(bobsDevice).toBeTypeOf("string");
    expect(bobLogin.json.anonymous_id).toMatch(/^anon_/);
    const asBob = { key: bobsDevice, headers: { origin: ORIGIN } };
    const visit = await call("/v1/events", {
      ...asBob,
      body: { id: unique(), type: "visit" },
    });
    expect(visit.json.profile_id).toBe(bobLogin.json.profile_id);
    expect((await call("/v1/me", asBob)).json.first_name).toBeUndefined();
    const banner = await call("/v1/me/consent", {
      ...asBob,
      method: "PUT",
      body: { purposes: { marketing_email: "granted" } },
    });
    expect(banner.json.profile_id).toBe(bobLogin.json.profile_id);
    const adaAfter = await call(`/v1/profiles/${adaId}`, { key: ADMIN });
    expect(adaAfter.json.computed.visit_count).toBe(adaBefore.json.computed.visit_count);
    expect(adaAfter.json.consent).toEqual({ marketing_email: "denied" });
    // Ada signing in again on her own device keeps it: no new one.
    const again = await signIn(ada, device);
    expect(again.json.profile_id).toBe(adaId);
    expect(again.json).not.toHaveProperty("device_token");
  });

  it("is the new person's own after a sign-in on a browser linked to a stranger's loyalty card", async () => {
    const opened = await openDevice();
    const device = opened.json.token as string;
    // The brand's back end linked this browser to a card, with no account behind it.
    await identify(server, { anonymous_id: opened.json.anonymous_id, loyalty_id: unique("card") });
    const bob = unique("bob");
    await identify(server, { user_id: bob, loyalty_id: unique("card") });
    const login = await signIn(bob, device);
    expect(login.json.profile_id).not.toBe(opened.json.profile_id);
    const visit = await call("/v1/events", {
      key: login.json.device_token,
      headers: { origin: ORIGIN },
      body: { id: unique(), type: "visit" },
    });
    expect(visit.json.profile_id).toBe(login.json.profile_id);
  });

  it("stays the person's own at a sign-in that cannot merge it for a limit: no new device", async () => {
    // A loyal customer whose browsers' ids expire weekly: their profile holds the most
    // anonymous ids a profile takes (wrangler.toml: 50).
    const userId = unique("loyal");
    for (let i = 0; i < 50; i++) {
      await identify(server, { user_id: userId, anonymous_id: unique("anon") }, "web");
    }
    const opened = await openDevice();
    const device = opened.json.token as string;
    const login = await signIn(userId, device);
    expect(login.status, login.text).toBe(200);
    expect(login.json).not.toHaveProperty("device_token");
    // The browser's visits stay together, on the browser's profile: the person's is full.
    const after = await call("/v1/events", {
      key: device,
      headers: { origin: ORIGIN },
      body: { id: unique(), type: "visit" },
    });
    expect(after.json.profile_id).toBe(opened.json.profile_id);
  });

  it("can read the 404 problem of an endpoint that does not exist, from an allowed origin", async () => {
    const device = (await openDevice()).json.token as string;
    const unknown = await call("/v1/me/nonexistent", { key: device, headers: { origin: ORIGIN } });
    expect(unknown.status).toBe(404);
    expect(unknown.headers.get("content-type")).toBe("application/problem+json");
    expect(unknown.headers.get("access-control-allow-origin")).toBe(ORIGIN);
  });
});

describe("consent, export and erasure", () => {
  it("keeps every consent change with its time, channel and source", async () => {
    const login = await call("/v1/sessions", { key: await idpToken(unique("u")), body: {} });
    const token = login.json.token as string;
    const first = await call("/v1/me/consent", {
      key: token,
      method: "PUT",
      body: { purposes: { marketing_email: "granted", analytics: "granted" }, channel: "app" },
    });
    expect(first.status, first.text).toBe(200);
    const pos = await createKey("pos", { store_id: "s" });
    const second = await call(`/v1/profiles/${login.json.profile_id}/consent`, {
      key: pos,
      method: "PUT",
      body: { purposes: { marketing_email: "denied" } },
    });
    expect(second.json.consent).toEqual({ marketing_email: "denied", analytics: "granted" });
    const exported = await call("/v1/me/export", { key: token });
    expect(exported.json.consent_history).toEqual([
      expect.objectContaining({
        purpose: "marketing_email",
        status: "granted",
        channel: "app",
        source: "customer",
      }),
      expect.objectContaining({
        purpose: "analytics",
        status: "granted",
        channel: "app",
        source: "customer",
      }),
      expect.objectContaining({
        purpose: "marketing_email",
        status: "denied",
        channel: "store",
        source: "pos",
      }),
    ]);
    expect(
      (
        await call("/v1/me/consent", {
          key: token,
          method: "PUT",
          body: { purposes: { marketing_email: "maybe" } },
        })
      ).status,
    ).toBe(400);
    const typo = await call("/v1/me/consent", {
      key: token,
      method: "PUT",
      body: { purposes: { marketing_emial: "granted" } },
    });
    expect(typo.status).toBe(400);
    expect(typo.json.errors[0].path).toBe("purposes.marketing_emial");
  });

  it("exports the conflicts the full view shows", async () => {
    const email = `${unique()}@example.com`;
    const identifyNew = () => identify(server, { user_id: unique("u"), email });
    await identifyNew();
    const id = (await identifyNew()).json.profile_id as string;
    const full = await call(`/v1/profiles/${id}`, { key: ADMIN });
    expect(full.json.conflicts.length).toBeGreaterThan(0);
    const exported = await call(`/v1/profiles/${id}/export`, { key: ADMIN });
    expect(exported.status).toBe(200);
    expect(exported.json.conflicts).toEqual(full.json.conflicts);
  });

  it("exports a person's conflicts to them without the other profile that keeps the identifier", async () => {
    const email = `${unique()}@example.com`;
    const other = await identify(server, { user_id: unique("u"), email });
    const userId = unique("u");
    const login = await call("/v1/sessions", { key: await idpToken(userId), body: {} });
    // The same email, said of this customer too: it stays with the other person.
    await event(server, {
      type: "identify",
      channel: "app",
      identifiers: { user_id: userId, email },
    });
    const full = await call(`/v1/profiles/${login.json.profile_id}/export`, { key: ADMIN });
    expect(full.json.conflicts).toContainEqual(
      expect.objectContaining({ type: "email", profile_id: other.json.profile_id }),
    );
    const own = await call("/v1/me/export", { key: login.json.token });
    expect(own.status).toBe(200);
    expect(own.json.conflicts).toContainEqual(
      expect.objectContaining({ type: "email", reason: "merge_protection" }),
    );
    expect(JSON.stringify(own.json)).not.toContain(other.json.profile_id);
  });

  it("never records a back end's consent on a channel it did not name", async () => {
    const created = await event(server, {
      type: "visit",
      channel: "call_center",
      identifiers: { email: `${unique()}@example.com` },
    });
    const id = created.json.profile_id as string;
    const put = await call(`/v1/profiles/${id}/consent`, {
      key: server,
      method: "PUT",
      body: { purposes: { marketing_email: "denied" } },
    });
    expect(put.status).toBe(400);
    expect(put.json.errors[0].path).toBe("channel");
    const exported = await call(`/v1/profiles/${id}/export`, { key: ADMIN });
    expect(exported.json.consent_history).toEqual([]);
  });

  it("exports everything held, and erases it so nothing is left behind", async () => {
    const userId = unique("u");
    const email = `${unique()}@example.com`;
    const phone = newPhone();
    const older = await event(server, { type: "visit", channel: "web", identifiers: { phone } });
    const login = await call("/v1/sessions", { key: await idpToken(userId), body: {} });
    const token = login.json.token as string;
    const join = await event(server, {
      type: "purchase",
      channel: "web",
      identifiers: { user_id: userId, email, phone },
      traits: { first_name: "Erin" },
      properties: { order_id: "o", total: 12, currency: "EUR" },
    });
    const survivor = join.json.profile_id as string;
    const merged = [older.json.profile_id, login.json.profile_id].filter((id) => id !== survivor);
    expect(join.json.merged_profile_ids).toEqual(merged);

    await call("/v1/me/consent", {
      key: token,
      method: "PUT",
      body: { purposes: { marketing_email: "granted" } },
    });
    const exported = await call("/v1/me/export", { key: token });
    expect(exported.status).toBe(200);
    expect(exported.json).toMatchObject({
      consent: { marketing_email: "granted" },
      profile_id: survivor,
      identifiers: { user_id: [userId], email: [email], phone: [phone] },
      traits: { first_name: "Erin" },
    });
    expect(exported.json.events).toHaveLength(3);
    expect(exported.json.computed.lifetime_value_by_currency).toEqual({ EUR: 12 });

    expect((await call("/v1/me", { key: token, method: "DELETE" })).status).toBe(204);
    for (const id of [survivor, ...merged])
      expect((await call(`/v1/profiles/${id}`, { key: ADMIN })).status).toBe(404);
    for (const identifiers of [{ user_id: userId }, { email }, { phone }]) {
      expect((await call("/v1/recognize", { key: ADMIN, body: { identifiers } })).status).toBe(404);
    }
    expect((await call("/v1/me", { key: token })).status).toBe(404);
    const rows = await runInDurableObject(env.PROFILES.getByName(survivor), (_i, state) =>
      PERSONAL_TABLES.map(
        (table) => state.storage.sql.exec(`SELECT count(*) AS n FROM ${table}`).one().n,
      ),
    );
    expect(PERSONAL_TABLES).toHaveLength(7);
    expect(rows).toEqual([0, 0, 0, 0, 0, 0, 0]);
    const { hashIdentifier } = await import("../src/identity/hash");
    const emailHash = await hashIdentifier(bindings.IDENTITY_PEPPER as string, "email", email);
    const { shardOf } = await import("../src/identity/shards");
    expect(
      await env.IDENTITIES.getByName(shardOf(emailHash.hash)).owner(emailHash.hash),
    ).toBeNull();

    const fresh = await event(server, { type: "visit", channel: "web", identifiers: { email } });
    expect(fresh.json.profile_id).not.toBe(survivor);
    expect(fresh.json.profile.computed.visit_count).toBe(1);
    expect(fresh.json.profile.traits).toEqual({});
  });

  it("answers 404 to the erasure of a profile id that never existed, every time", async () => {
    const never = `pr_${"1".repeat(31)}${Math.floor(Math.random() * 10)}`;
    for (let i = 0; i < 2; i++) {
      expect((await call(`/v1/profiles/${never}`, { key: ADMIN, method: "DELETE" })).status).toBe(
        404,
      );
    }
  });
});

describe("next messages and message actions, before any campaign exists", () => {
  it("checks an action's channel before looking the person up, as a consent choice's", async () => {
    const unknown = `/v1/profiles/pr_${"ab".repeat(16)}/messages/msg_1`;
    const kiosk = await createKey("kiosk", { store_id: "s-msg" });
    const pos = await createKey("pos", { store_id: "s-msg" });
    const asKiosk = await call(unknown, {
      key: kiosk,
      body: { action: "shown", channel: "store" },
    });
    expect(asKiosk.status, asKiosk.text).toBe(403);
    const asTill = await call(unknown, { key: pos, body: { action: "redeemed", channel: "web" } });
    expect(asTill.status, asTill.text).toBe(403);
    const noChannel = await call(unknown, { key: server, body: { action: "shown" } });
    expect(noChannel.status, noChannel.text).toBe(400);
    expect(noChannel.json.errors[0].path).toBe("channel");
    const known = await call(unknown, { key: pos, body: { action: "redeemed", channel: "store" } });
    expect(known.status).toBe(404);
  });

  it("answers 204 for the next message, and 404 for an action on a message never offered", async () => {
    const device = (await openDevice()).json.token as string;
    const asDevice = { key: device, headers: { origin: ORIGIN } };
    const profileId = (await call("/v1/me", asDevice)).json.profile_id as string;
    const kiosk = await createKey("kiosk", { store_id: "s-msg" });

    expect((await call("/v1/me/next-message?channel=web", asDevice)).status).toBe(204);
    const next = await call(`/v1/profiles/${profileId}/next-message?channel=kiosk`, { key: kiosk });
    expect(next.status).toBe(204);

    const shown = { action: "shown", channel: "web" };
    const mine = await call("/v1/me/messages/msg_1", { ...asDevice, body: shown });
    expect(mine.status).toBe(404);
    expect(mine.json.detail).toMatch(/message/);
    const byServer = await call(`/v1/profiles/${profileId}/messages/msg_1`, {
      key: server,
      body: { action: "redeemed", channel: "store" },
    });
    expect(byServer.status).toBe(404);
    expect(byServer.json.detail).toMatch(/message/);

    const unknownProfile = `/v1/profiles/pr_${"0".repeat(32)}/messages/msg_1`;
    const missing = await call(unknownProfile, { key: server, body: shown });
    expect(missing.json.detail).toMatch(/profile/);
    const badAction = await call(`/v1/profiles/${profileId}/messages/msg_1`, {
      key: server,
      body: { action: "liked", channel: "web" },
    });
    expect(badAction.status).toBe(400);
    expect(badAction.json.errors[0].path).toBe("action");
    const kioskOffChannel = await call(`/v1/profiles/${profileId}/messages/msg_1`, {
      key: kiosk,
      body: shown,
    });
    expect(kioskOffChannel.status).toBe(403);
    const deviceOnProfiles = await call(`/v1/profiles/${profileId}/messages/msg_1`, {
      ...asDevice,
      body: shown,
    });
    expect(deviceOnProfiles.status).toBe(403);
  });
});

describe("rate limits", () => {
  // The limiter's windows are aligned to the clock's minutes: a test that straddles one would see
  // its count start again. Each of these takes well under five seconds.
  beforeEach(async () => {
    const left = 60_000 - (Date.now() % 60_000);
    if (left < 5_000) await new Promise((resolve) => setTimeout(resolve, left + 100));
  });

  it("limits a kiosk key itself, whatever it looks up", async () => {
    const kiosk = await createKey("kiosk", { store_id: "s" });
    const statuses: number[] = [];
    for (let i = 0; i < 61; i++) {
      const phone = `+1415555${String(1000 + i)}`;
      const res = await call("/v1/recognize", { key: kiosk, body: { identifiers: { phone } } });
      statuses.push(res.status);
    }
    expect(statuses.slice(0, 60).every((s) => s === 404)).toBe(true);
    expect(statuses[60]).toBe(429);
  });

  it("stops a kiosk walking through phone numbers, with Retry-After", async () => {
    const kiosk = await createKey("kiosk", { store_id: "s" });
    const statuses: number[] = [];
    let retryAfter: string | null = null;
    for (let i = 0; i < 12; i++) {
      const res = await call("/v1/recognize", {
        key: kiosk,
        body: { identifiers: { phone: "+14155550199" } },
      });
      statuses.push(res.status);
      if (res.status === 429) retryAfter = res.headers.get("retry-after");
    }
    expect(statuses.slice(0, 10).every((s) => s === 404)).toBe(true);
    expect(statuses.at(-1)).toBe(429);
    expect(Number(retryAfter)).toBeGreaterThan(0);
  });

  it("limits a web key per visitor's address, not as one budget for every visitor of the site", async () => {
    const key = await createKey("web", { origins: [ORIGIN] });
    // An invalid body: each request is counted before it is read, and creates nobody.
    const open = (address: string) =>
      call("/v1/sessions", {
        key,
        headers: { origin: ORIGIN, "cf-connecting-ip": address },
        body: { device_token: 1 },
      });
    const statuses: number[] = [];
    for (let i = 0; i < 121; i++) statuses.push((await open("198.51.100.7")).status);
    expect(statuses.slice(0, 120).every((s) => s === 400)).toBe(true);
    expect(statuses[120]).toBe(429);
    expect((await open("203.0.113.9")).status).toBe(400);
  });

  it("lets a browser's script read Retry-After on a device's 429", async () => {
    const device = (await openDevice()).json.token as string;
    let last = await call("/v1/me", { key: device, headers: { origin: ORIGIN } });
    for (let i = 0; i < 130 && last.status !== 429; i++) {
      last = await call("/v1/me", { key: device, headers: { origin: ORIGIN } });
    }
    expect(last.status).toBe(429);
    expect(last.headers.get("access-control-allow-origin")).toBe(ORIGIN);
    expect(last.headers.get("access-control-expose-headers") ?? "").toMatch(/retry-after/i);
  });

  it("charges a kiosk for every event of a batch: a batch is not a way past its limit", async () => {
    const kiosk = await createKey("kiosk", { store_id: "s-batch" });
    const phones = Array.from({ length: 100 }, (_, i) => `+1415556${String(1000 + i)}`);
    const seeded = await call("/v1/events", {
      key: server,
      body: {
        batch: phones.map((phone, i) => ({
          id: unique("seed"),
          type: "identify",
          channel: "web",
          identifiers: { phone },
          traits: { first_name: `Person${i}` },
        })),
      },
    });
    expect(seeded.status).toBe(200);
    const res = await call("/v1/events", {
      key: kiosk,
      body: {
        batch: phones.map((phone) => ({ id: unique("k"), type: "visit", identifiers: { phone } })),
      },
    });
    expect(res.status).toBe(200);
    const results = res.json.results as { status: string | number; profile?: object }[];
    expect(results.filter((r) => r.profile)).toHaveLength(60);
    expect(results.slice(60).every((r) => r.status === 429 && !r.profile)).toBe(true);
    const next = await call("/v1/recognize", {
      key: kiosk,
      body: { identifiers: { phone: phones[0] } },
    });
    expect(next.status).toBe(429);
  });

  it("counts a kiosk's events against the same per-identifier limit as its lookups", async () => {
    const kiosk = await createKey("kiosk", { store_id: "s" });
    const statuses: number[] = [];
    for (let i = 0; i < 11; i++) {
      const res = await event(kiosk, { type: "visit", identifiers: { phone: "+14155550188" } });
      statuses.push(res.status);
    }
    expect(statuses.slice(0, 10).every((s) => s === 200)).toBe(true);
    expect(statuses[10]).toBe(429);
  });
});

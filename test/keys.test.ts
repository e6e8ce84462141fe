// API keys: created by admins, shown once, stored as hashes, revoked everywhere.

import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { ADMIN, call, createKey, unique } from "./helpers";

const recognizeBody = { identifiers: { email: "nobody@example.com" } };

describe("credentials", () => {
  it("answers 401 without a credential, with a wrong one, and with a malformed header", async () => {
    const headers: Record<string, string>[] = [
      {},
      { authorization: "Bearer sk_wrong" },
      { authorization: "Basic abc" },
      { authorization: "Bearer " },
    ];
    for (const header of headers) {
      const res = await call("/v1/recognize", { body: recognizeBody, headers: header });
      expect(res.status).toBe(401);
      expect(res.headers.get("content-type")).toBe("application/problem+json");
    }
  });

  it("keeps health, the OpenAPI document and the docs open", async () => {
    expect((await call("/healthz")).json).toEqual({ ok: true });
    const doc = await call("/v1/openapi.json");
    expect(doc.json.openapi).toBe("3.1.0");
    expect(Object.keys(doc.json.paths)).toEqual(
      expect.arrayContaining([
        "/v1/events",
        "/v1/recognize",
        "/v1/profiles/{profile_id}",
        "/v1/profiles/{profile_id}/timeline",
        "/v1/admin/keys",
        "/v1/admin/keys/{id}",
        "/v1/profiles/{profile_id}/messages/{message_id}",
        "/v1/me/messages/{message_id}",
      ]),
    );
    expect(doc.json.paths["/v1/events"].post.responses["415"].content).toHaveProperty(
      "application/problem+json",
    );
    expect(doc.json.paths["/v1/recognize"].post.responses["429"].headers).toHaveProperty(
      "Retry-After",
    );
    expect(doc.json.components.schemas).toHaveProperty("EventBatch");
    expect(doc.json.components.schemas).toHaveProperty("StaffView");
    expect((await call("/docs")).status).toBe(200);
  });

  it("lists in the OpenAPI document the statuses routes answer, and ignores a DELETE's body", async () => {
    const doc = (await call("/v1/openapi.json")).json;
    const revoke = await call(`/v1/admin/keys/${"k".repeat(65)}`, { key: ADMIN, method: "DELETE" });
    expect(revoke.status).toBe(400);
    expect(doc.paths["/v1/admin/keys/{id}"].delete.responses).toHaveProperty("400");
    // Merges under way answer 409 on every route that reaches a profile.
    for (const [path, method] of [
      ["/v1/recognize", "post"],
      ["/v1/profiles/{profile_id}", "get"],
      ["/v1/profiles/{profile_id}", "delete"],
      ["/v1/profiles/{profile_id}/timeline", "get"],
      ["/v1/me", "get"],
      ["/v1/sessions", "post"],
    ] as const) {
      expect(doc.paths[path][method].responses, `${method} ${path}`).toHaveProperty("409");
    }
    const erase = await call(`/v1/profiles/pr_${"0".repeat(32)}`, {
      key: ADMIN,
      method: "DELETE",
      headers: { "content-type": "text/plain" },
      body: "x",
    });
    expect(erase.status, erase.text).toBe(404);
  });

  it("refuses a key's name or store that is not well-formed Unicode", async () => {
    for (const body of [
      '{"role":"pos","name":"till","store_id":"s\\ud800"}',
      '{"role":"server","name":"back \\udc00end"}',
    ]) {
      const res = await call("/v1/admin/keys", { key: ADMIN, body });
      expect(res.status, body).toBe(400);
    }
  });

  it("creates a key whose secret is shown once and stored only as a hash", async () => {
    const created = await call("/v1/admin/keys", {
      key: ADMIN,
      body: { role: "server", name: "back end" },
    });
    expect(created.status).toBe(201);
    expect(created.json.key).toMatch(/^sk_[A-Za-z0-9_-]{43}$/);
    const list = await call("/v1/admin/keys", { key: ADMIN });
    expect(list.text).not.toContain(created.json.key);
    expect(list.json.keys.map((k: { id: string }) => k.id)).toContain(created.json.id);
    const stored = await runInDurableObject(env.CONFIG.getByName("config"), (_i, state) =>
      state.storage.sql.exec("SELECT * FROM keys").toArray(),
    );
    expect(JSON.stringify(stored)).not.toContain(created.json.key);
    expect(
      (await call("/v1/recognize", { key: created.json.key, body: recognizeBody })).status,
    ).toBe(404);
  });

  it("stops a key revoked elsewhere within 5 seconds, without a hop per request", async () => {
    const created = await call("/v1/admin/keys", {
      key: ADMIN,
      body: { role: "server", name: unique() },
    });
    const use = async () =>
      (await call("/v1/recognize", { key: created.json.key, body: recognizeBody })).status;
    expect(await use()).toBe(404);
    // What another isolate's admin request does: change the table without touching this copy.
    expect(await env.CONFIG.getByName("config").revokeKey(created.json.id)).toBe(true);
    const revokedAt = Date.now();
    expect(await use()).toBe(404);
    while ((await use()) !== 401) {
      expect(Date.now() - revokedAt).toBeLessThan(5_000);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  });

  it("refuses a revoked key", async () => {
    const created = await call("/v1/admin/keys", {
      key: ADMIN,
      body: { role: "server", name: unique() },
    });
    const revoke = await call(`/v1/admin/keys/${created.json.id}`, {
      key: ADMIN,
      method: "DELETE",
    });
    expect(revoke.status).toBe(204);
    expect(
      (await call("/v1/recognize", { key: created.json.key, body: recognizeBody })).status,
    ).toBe(401);
    expect(
      (await call(`/v1/admin/keys/${created.json.id}`, { key: ADMIN, method: "DELETE" })).status,
    ).toBe(404);
  });

  it("keeps every role but admin out of key management", async () => {
    for (const role of ["server", "pos", "kiosk"]) {
      const key = await createKey(role, role === "server" ? {} : { store_id: "s" });
      expect((await call("/v1/admin/keys", { key })).status).toBe(403);
      expect(
        (await call("/v1/admin/keys", { key, body: { role: "admin", name: "escalate" } })).status,
      ).toBe(403);
    }
  });

  it("validates new keys: store for pos and kiosk, origins for web", async () => {
    const cases = [
      { role: "pos", name: "till" },
      { role: "kiosk", name: "screen" },
      { role: "web", name: "site" },
      { role: "server", name: "x", store_id: "s" },
      { role: "owner", name: "x" },
    ];
    for (const body of cases) {
      const res = await call("/v1/admin/keys", { key: ADMIN, body });
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.json.errors.length).toBeGreaterThan(0);
    }
    const web = await call("/v1/admin/keys", {
      key: ADMIN,
      body: { role: "web", name: "site", origins: ["https://shop.example/"] },
    });
    expect(web.status).toBe(201);
    expect(web.json.key).toMatch(/^pk_/);
    expect(web.json.origins).toEqual(["https://shop.example"]);
  });

  it("refuses a wildcard origin, which no browser sends and so would match nothing", async () => {
    const res = await call("/v1/admin/keys", {
      key: ADMIN,
      body: {
        role: "web",
        name: "site",
        origins: ["https://ok.example", "https://*.shop.example"],
      },
    });
    expect(res.status).toBe(400);
    expect(res.json.errors.map((e: { path: string }) => e.path)).toEqual(["origins.1"]);
    const local = await call("/v1/admin/keys", {
      key: ADMIN,
      body: { role: "web", name: "dev", origins: ["http://localhost:5173", "http://[::1]:8080"] },
    });
    expect(local.status, local.text).toBe(201);
  });

  it("keeps a web key to sessions: it may not ingest or recognize", async () => {
    const web = await createKey("web", { origins: ["https://shop.example"] });
    expect((await call("/v1/recognize", { key: web, body: recognizeBody })).status).toBe(403);
    expect(
      (
        await call("/v1/events", {
          key: web,
          body: { id: "x", type: "visit", identifiers: { anonymous_id: "a" } },
        })
      ).status,
    ).toBe(403);
  });
});

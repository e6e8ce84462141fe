// /v1/admin/keys: create, list and revoke API keys. Secrets are shown once and kept as hashes.
import { createRoute, z } from "@hono/zod-openapi";
import { allow } from "../auth/authenticate";
import { configObject, invalidateConfig } from "../config/cache";
import { Problem } from "../errors";
import { bearer, json, problems, router } from "../http";
import { CreatedKeySchema, CreateKeySchema, KeyIdParamSchema, KeySchema } from "../schemas";

const admin = [allow("admin")];

const createKey = createRoute({
  method: "post",
  path: "/v1/admin/keys",
  summary: "Create an API key; the secret is in this answer only",
  security: bearer,
  middleware: admin,
  request: { body: { required: true, ...json(CreateKeySchema) } },
  responses: {
    201: { description: "The key, with its secret", ...json(CreatedKeySchema) },
    ...problems(400, 401, 403, 413, 415),
  },
});

const listKeys = createRoute({
  method: "get",
  path: "/v1/admin/keys",
  summary: "Every API key, without secrets",
  security: bearer,
  middleware: admin,
  responses: {
    200: { description: "The keys", ...json(z.object({ keys: z.array(KeySchema) })) },
    ...problems(401, 403),
  },
});

const revokeKey = createRoute({
  method: "delete",
  path: "/v1/admin/keys/{id}",
  summary: "Revoke a key; every isolate refuses it within 5 seconds",
  security: bearer,
  middleware: admin,
  request: { params: KeyIdParamSchema },
  responses: { 204: { description: "Revoked" }, ...problems(400, 401, 403, 404) },
});

export const adminKeys = router()
  .openapi(createKey, async (c) => {
    const created = await configObject(c.env).createKey(c.req.valid("json"));
    invalidateConfig();
    return c.json(created, 201);
  })
  .openapi(listKeys, async (c) => c.json({ keys: await configObject(c.env).listKeys() }, 200))
  .openapi(revokeKey, async (c) => {
    if (!(await configObject(c.env).revokeKey(c.req.valid("param").id))) {
      throw new Problem(404, "No key with that id");
    }
    invalidateConfig();
    return c.body(null, 204);
  });

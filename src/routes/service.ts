// Service routes without credentials: health, the OpenAPI document and its interactive reference.
import { swaggerUI } from "@hono/swagger-ui";
import { createRoute, z } from "@hono/zod-openapi";
import { json, router } from "../http";

const health = createRoute({
  method: "get",
  path: "/healthz",
  summary: "Liveness",
  responses: { 200: { description: "Up", ...json(z.object({ ok: z.literal(true) })) } },
});

export const service = router()
  .openapi(health, (c) => c.json({ ok: true as const }, 200))
  .get("/docs", swaggerUI({ url: "/v1/openapi.json" }));

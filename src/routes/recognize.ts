// POST /v1/recognize: look a person up without writing anything.
import { createRoute } from "@hono/zod-openapi";
import { allow } from "../auth/authenticate";
import { viewFor } from "../auth/principal";
import { Problem } from "../errors";
import { bearer, json, problems, resolverFor, router, sendJson } from "../http";
import { lookupIdentifiers } from "../identity/identifiers";
import { embed } from "../json-text";
import { RecognizeRequestSchema, RecognizeResultSchema } from "../schemas";

const route = createRoute({
  method: "post",
  path: "/v1/recognize",
  summary: "Recognise a person by any of their identifiers",
  security: bearer,
  middleware: [allow("admin", "server", "pos", "kiosk")],
  request: { body: { required: true, ...json(RecognizeRequestSchema) } },
  responses: {
    200: { description: "The profile, in the caller's view", ...json(RecognizeResultSchema) },
    ...problems(400, 401, 403, 404, 409, 413, 415, 429),
  },
});

export const recognize = router().openapi(route, async (c) => {
  const principal = c.get("principal");
  const { identifiers: input } = c.req.valid("json");
  const identifiers = await lookupIdentifiers(c.env, principal, input);
  if (identifiers.length === 0) {
    throw new Problem(400, "Give at least one usable identifier", {
      errors: [{ path: "identifiers", message: "No usable identifier" }],
    });
  }
  const found = await resolverFor(c).recognize(identifiers, viewFor(principal));
  if (!found) throw new Problem(404, "No profile is the person these identifiers name");
  return sendJson(c, embed({ profile_id: found.profileId }, "profile", found.view), 200);
});

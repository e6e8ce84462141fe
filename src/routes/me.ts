// /v1/me…: a customer (or, for some routes, a browser device) reads and acts on its own profile.
import { createRoute } from "@hono/zod-openapi";
import { allow } from "../auth/authenticate";
import { defaultChannel } from "../auth/principal";
import { Problem } from "../errors";
import { bearer, json, problems, resolverFor, router } from "../http";
import {
  ConsentRequestSchema,
  ConsentResultSchema,
  CustomerViewSchema,
  ExportSchema,
} from "../schemas";
import { ownProfileId } from "./own-profile";
import {
  eraseProfile,
  exportProfile,
  NextMessageQuerySchema,
  nextMessage,
  setConsent,
} from "./person-data";

const selfOrDevice = [allow("customer", "device")];
const selfOnly = [allow("customer")];

const getMe = createRoute({
  method: "get",
  path: "/v1/me",
  summary: "The caller's own profile, in the customer view",
  security: bearer,
  middleware: selfOrDevice,
  responses: {
    200: { description: "Own profile", ...json(CustomerViewSchema) },
    ...problems(401, 403, 404, 429),
  },
});

const putConsent = createRoute({
  method: "put",
  path: "/v1/me/consent",
  summary: "Record the caller's consent choices (a cookie banner, an app setting)",
  security: bearer,
  middleware: selfOrDevice,
  request: { body: { required: true, ...json(ConsentRequestSchema) } },
  responses: {
    200: { description: "The whole consent map", ...json(ConsentResultSchema) },
    ...problems(400, 401, 403, 404, 413, 415, 429),
  },
});

const getNext = createRoute({
  method: "get",
  path: "/v1/me/next-message",
  summary: "The one message for this channel now, or 204",
  security: bearer,
  middleware: selfOrDevice,
  request: { query: NextMessageQuerySchema },
  responses: { 204: { description: "No message" }, ...problems(400, 401, 403, 404, 429) },
});

const getExport = createRoute({
  method: "get",
  path: "/v1/me/export",
  summary: "Everything held about the caller (customer tokens only)",
  security: bearer,
  middleware: selfOnly,
  responses: {
    200: { description: "The export", ...json(ExportSchema) },
    ...problems(401, 403, 404),
  },
});

const deleteMe = createRoute({
  method: "delete",
  path: "/v1/me",
  summary: "Erase the caller's profile (customer tokens only)",
  security: bearer,
  middleware: selfOnly,
  responses: { 204: { description: "Erased" }, ...problems(401, 403, 404) },
});

export const me = router()
  .openapi(getMe, async (c) => {
    const id = await ownProfileId(c);
    const found = await resolverFor(c).call(id, (stub) => stub.view("customer"));
    if (found?.value.view !== "customer")
      throw new Problem(404, "No profile is linked to this credential yet");
    return c.json(found.value, 200);
  })
  .openapi(putConsent, async (c) => {
    const principal = c.get("principal");
    const result = await setConsent(
      c,
      await ownProfileId(c),
      c.req.valid("json"),
      defaultChannel(principal) ?? "web",
    );
    return c.json(result, 200);
  })
  .openapi(getNext, async (c) => nextMessage(c, await ownProfileId(c)))
  .openapi(getExport, async (c) => c.json(await exportProfile(c, await ownProfileId(c)), 200))
  .openapi(deleteMe, async (c) => {
    await eraseProfile(c, await ownProfileId(c));
    return c.body(null, 204);
  });

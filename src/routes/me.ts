// /v1/me…: a customer (or, for some routes, a browser device) reads and acts on its own profile.
import { createRoute, z } from "@hono/zod-openapi";
import { allow } from "../auth/authenticate";
import { bearer, json, problems, router, sendJson } from "../http";
import { ownExport } from "../profile/views";
import { CustomerViewSchema, MessageIdParamSchema } from "../schemas";
import { ownProfile } from "./own-profile";
import {
  eraseProfile,
  exportProfile,
  messageAction,
  personDataRoutes,
  setConsent,
} from "./person-data";

const selfOrDevice = [allow("customer", "device")];
// Export and erasure need the person, never just a browser that once visited.
const selfOnly = [allow("customer")];

const getMe = createRoute({
  method: "get",
  path: "/v1/me",
  summary: "The caller's own profile, in the customer view",
  security: bearer,
  middleware: selfOrDevice,
  responses: {
    200: { description: "Own profile", ...json(CustomerViewSchema) },
    ...problems(401, 403, 404, 409, 429),
  },
});

const own = personDataRoutes(
  "/v1/me",
  { person: z.object({}), message: MessageIdParamSchema },
  {
    consent: selfOrDevice,
    nextMessage: selfOrDevice,
    messageAction: selfOrDevice,
    export: selfOnly,
    erase: selfOnly,
  },
);

export const me = router()
  .openapi(getMe, async (c) => sendJson(c, (await ownProfile(c)).view, 200))
  .openapi(own.consent, async (c) => {
    const { profileId } = await ownProfile(c);
    return c.json(await setConsent(c, profileId, c.req.valid("json")), 200);
  })
  // Campaigns are not built yet: there is never a next message.
  .openapi(own.nextMessage, async (c) => {
    await ownProfile(c);
    return c.body(null, 204);
  })
  .openapi(own.messageAction, (c) => messageAction(c, c.req.valid("json"), () => ownProfile(c)))
  .openapi(own.export, async (c) =>
    c.json(ownExport(await exportProfile(c, (await ownProfile(c)).profileId)), 200),
  )
  .openapi(own.erase, async (c) => {
    await eraseProfile(c, (await ownProfile(c)).profileId);
    return c.body(null, 204);
  });

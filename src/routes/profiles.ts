// /v1/profiles/{profile_id}: a profile and its timeline, in the caller's view.
import { createRoute } from "@hono/zod-openapi";
import { allow } from "../auth/authenticate";
import { defaultChannel, viewFor } from "../auth/principal";
import { Problem } from "../errors";
import { bearer, json, problems, resolverFor, router } from "../http";
import { decodeCursor } from "../profile/profile-object";
import type { TimelinePage } from "../profile/protocol";
import { timelineFor } from "../profile/views";
import {
  ConsentRequestSchema,
  ConsentResultSchema,
  ExportSchema,
  ProfileIdParamSchema,
  ProfileViewSchema,
  TimelineQuerySchema,
  TimelineSchema,
} from "../schemas";
import {
  eraseProfile,
  exportProfile,
  NextMessageQuerySchema,
  nextMessage,
  setConsent,
} from "./person-data";

const PROFILE_ID = /^pr_[0-9a-f]{32}$/;

function profileId(id: string): string {
  // Ids are ours: anything else is unknown, and never names an object.
  if (!PROFILE_ID.test(id)) throw new Problem(404, "No profile with that id");
  return id;
}

const getProfile = createRoute({
  method: "get",
  path: "/v1/profiles/{profile_id}",
  summary: "A profile in the caller's view (a merged-away id answers its survivor)",
  security: bearer,
  middleware: [allow("admin", "server", "pos", "kiosk")],
  request: { params: ProfileIdParamSchema },
  responses: {
    200: { description: "The profile", ...json(ProfileViewSchema) },
    ...problems(401, 403, 404, 429),
  },
});

const getTimeline = createRoute({
  method: "get",
  path: "/v1/profiles/{profile_id}/timeline",
  summary: "Events newest first across every channel",
  security: bearer,
  middleware: [allow("admin", "server", "pos")],
  request: { params: ProfileIdParamSchema, query: TimelineQuerySchema },
  responses: {
    200: { description: "One page of events", ...json(TimelineSchema) },
    ...problems(400, 401, 403, 404, 429),
  },
});

const admin = [allow("admin")];

const putConsent = createRoute({
  method: "put",
  path: "/v1/profiles/{profile_id}/consent",
  summary: "Record consent choices; every change is kept with its time and channel",
  security: bearer,
  middleware: [allow("admin", "server", "pos")],
  request: {
    params: ProfileIdParamSchema,
    body: { required: true, ...json(ConsentRequestSchema) },
  },
  responses: {
    200: { description: "The whole consent map", ...json(ConsentResultSchema) },
    ...problems(400, 401, 403, 404, 413, 415, 429),
  },
});

const getNext = createRoute({
  method: "get",
  path: "/v1/profiles/{profile_id}/next-message",
  summary: "The one message for that channel now, or 204",
  security: bearer,
  middleware: [allow("admin", "server", "pos", "kiosk")],
  request: { params: ProfileIdParamSchema, query: NextMessageQuerySchema },
  responses: { 204: { description: "No message" }, ...problems(400, 401, 403, 404, 429) },
});

const getExport = createRoute({
  method: "get",
  path: "/v1/profiles/{profile_id}/export",
  summary: "Everything held about the person",
  security: bearer,
  middleware: admin,
  request: { params: ProfileIdParamSchema },
  responses: {
    200: { description: "The export", ...json(ExportSchema) },
    ...problems(401, 403, 404),
  },
});

const deleteProfile = createRoute({
  method: "delete",
  path: "/v1/profiles/{profile_id}",
  summary: "Erase the profile, its identifier links and the ids merged into it",
  security: bearer,
  middleware: admin,
  request: { params: ProfileIdParamSchema },
  responses: { 204: { description: "Erased" }, ...problems(401, 403, 404) },
});

export const profiles = router()
  .openapi(getProfile, async (c) => {
    const id = profileId(c.req.valid("param").profile_id);
    const kind = viewFor(c.get("principal"));
    const found = await resolverFor(c).call(id, (stub) => stub.view(kind));
    if (!found) throw new Problem(404, "No profile with that id");
    return c.json(found.value, 200);
  })
  .openapi(getTimeline, async (c) => {
    const id = profileId(c.req.valid("param").profile_id);
    const { limit, before } = c.req.valid("query");
    const cursor = before === undefined ? null : decodeCursor(before);
    if (before !== undefined && !cursor) {
      throw new Problem(400, "The cursor is not one this service gave", {
        errors: [{ path: "before", message: "Use the `next` value of the previous page" }],
      });
    }
    const found = await resolverFor(c).call<TimelinePage>(id, (stub) =>
      stub.timeline(limit, cursor),
    );
    if (!found) throw new Problem(404, "No profile with that id");
    const kind = viewFor(c.get("principal"));
    return c.json(
      { events: found.value.events.map((e) => timelineFor(kind, e)), next: found.value.next },
      200,
    );
  })
  .openapi(putConsent, async (c) => {
    const id = profileId(c.req.valid("param").profile_id);
    const fallback = defaultChannel(c.get("principal")) ?? "web";
    return c.json(await setConsent(c, id, c.req.valid("json"), fallback), 200);
  })
  .openapi(getNext, async (c) => nextMessage(c, profileId(c.req.valid("param").profile_id)))
  .openapi(getExport, async (c) =>
    c.json(await exportProfile(c, profileId(c.req.valid("param").profile_id)), 200),
  )
  .openapi(deleteProfile, async (c) => {
    await eraseProfile(c, profileId(c.req.valid("param").profile_id));
    return c.body(null, 204);
  });

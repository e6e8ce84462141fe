// /v1/profiles/{profile_id}…: a profile, its timeline and its data routes, in the caller's view.
import { createRoute } from "@hono/zod-openapi";
import type { Context } from "hono";
import { allow } from "../auth/authenticate";
import { viewFor } from "../auth/principal";
import { Problem } from "../errors";
import { type AppEnv, bearer, json, problems, router, sendJson } from "../http";
import { decodeCursor } from "../profile/cursor";
import type { TimelinePage } from "../profile/protocol";
import { timelineFor } from "../profile/views";
import {
  ProfileIdParamSchema,
  ProfileMessageParamSchema,
  ProfileViewSchema,
  TimelineQuerySchema,
  TimelineSchema,
} from "../schemas";
import {
  eraseProfile,
  exportProfile,
  messageAction,
  onProfile,
  personDataRoutes,
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
    ...problems(401, 403, 404, 409, 429),
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
    ...problems(400, 401, 403, 404, 409, 429),
  },
});

const person = personDataRoutes(
  "/v1/profiles/{profile_id}",
  { person: ProfileIdParamSchema, message: ProfileMessageParamSchema },
  {
    consent: [allow("admin", "server", "pos")],
    nextMessage: [allow("admin", "server", "pos", "kiosk")],
    messageAction: [allow("admin", "server", "pos", "kiosk")],
    export: [allow("admin")],
    erase: [allow("admin")],
  },
);

/** Finds the profile (404 when unknown or erased) for a route that answers nothing of it. */
const existing = (c: Context<AppEnv>, id: string) =>
  onProfile(c, profileId(id), (stub) => stub.view("customer"));

export const profiles = router()
  .openapi(getProfile, async (c) => {
    const id = profileId(c.req.valid("param").profile_id);
    const kind = viewFor(c.get("principal"));
    return sendJson(c, (await onProfile(c, id, (stub) => stub.view(kind))).value, 200);
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
    const found = await onProfile<TimelinePage>(c, id, (stub) => stub.timeline(limit, cursor));
    const kind = viewFor(c.get("principal"));
    return c.json(
      { events: found.value.events.map((e) => timelineFor(kind, e)), next: found.value.next },
      200,
    );
  })
  .openapi(person.consent, async (c) => {
    const id = profileId(c.req.valid("param").profile_id);
    return c.json(await setConsent(c, id, c.req.valid("json")), 200);
  })
  // Campaigns are not built yet: there is never a next message.
  .openapi(person.nextMessage, async (c) => {
    await existing(c, c.req.valid("param").profile_id);
    return c.body(null, 204);
  })
  .openapi(person.messageAction, (c) =>
    messageAction(c, c.req.valid("json"), () => existing(c, c.req.valid("param").profile_id)),
  )
  .openapi(person.export, async (c) =>
    c.json(await exportProfile(c, profileId(c.req.valid("param").profile_id)), 200),
  )
  .openapi(person.erase, async (c) => {
    await eraseProfile(c, profileId(c.req.valid("param").profile_id));
    return c.body(null, 204);
  });

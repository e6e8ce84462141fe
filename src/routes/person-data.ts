// A person's data routes, built once for /v1/profiles/{profile_id}/… (back ends, staff, admins)
// and once for /v1/me/… (the person), with the actions both share.
import { createRoute, z } from "@hono/zod-openapi";
import type { Context, MiddlewareHandler } from "hono";
import { channelFor } from "../auth/principal";
import { Problem } from "../errors";
import { type AppEnv, bearer, json, problems, resolverFor } from "../http";
import { checkPurposes } from "../profile/consent";
import type { Outcome, ProfileStub } from "../profile/protocol";
import {
  type Channel,
  ChannelSchema,
  ConsentRequestSchema,
  ConsentResultSchema,
  ExportSchema,
  MessageActionSchema,
} from "../schemas";
import { settingsFor } from "../settings";

const NextMessageQuerySchema = z.object({ channel: ChannelSchema.optional() });

interface Access {
  consent: MiddlewareHandler[];
  nextMessage: MiddlewareHandler[];
  messageAction: MiddlewareHandler[];
  export: MiddlewareHandler[];
  erase: MiddlewareHandler[];
}

/** The consent, next-message, message-action, export and erase routes under `base`, for the given roles. */
export function personDataRoutes<
  const Base extends string,
  const Params extends z.ZodObject,
  const MessageParams extends z.ZodObject,
>(base: Base, params: { person: Params; message: MessageParams }, access: Access) {
  const request = { params: params.person };
  return {
    consent: createRoute({
      method: "put",
      path: `${base}/consent` as `${Base}/consent`,
      summary: "Record consent choices; every change is kept with its time, channel and source",
      security: bearer,
      middleware: access.consent,
      request: { ...request, body: { required: true, ...json(ConsentRequestSchema) } },
      responses: {
        200: { description: "The whole consent map", ...json(ConsentResultSchema) },
        ...problems(400, 401, 403, 404, 409, 413, 415, 429),
      },
    }),
    nextMessage: createRoute({
      method: "get",
      path: `${base}/next-message` as `${Base}/next-message`,
      summary: "The one message for that channel now, or 204",
      security: bearer,
      middleware: access.nextMessage,
      request: { ...request, query: NextMessageQuerySchema },
      responses: { 204: { description: "No message" }, ...problems(400, 401, 403, 404, 409, 429) },
    }),
    messageAction: createRoute({
      method: "post",
      path: `${base}/messages/{message_id}` as `${Base}/messages/{message_id}`,
      summary: "Record what the person did with a message they were offered",
      security: bearer,
      middleware: access.messageAction,
      request: { params: params.message, body: { required: true, ...json(MessageActionSchema) } },
      responses: problems(400, 401, 403, 404, 409, 413, 415, 429),
    }),
    export: createRoute({
      method: "get",
      path: `${base}/export` as `${Base}/export`,
      summary: "Everything held about the person",
      security: bearer,
      middleware: access.export,
      request,
      responses: {
        200: { description: "The export", ...json(ExportSchema) },
        ...problems(401, 403, 404, 409),
      },
    }),
    erase: createRoute({
      method: "delete",
      path: base,
      summary: "Erase the profile, its identifier links and the ids merged into it",
      security: bearer,
      middleware: access.erase,
      request,
      responses: { 204: { description: "Erased" }, ...problems(401, 403, 404, 409) },
    }),
  };
}

/** Calls a profile (following merges); an unknown or erased one is a 404. */
export async function onProfile<T>(
  c: Context<AppEnv>,
  profileId: string,
  fn: (stub: ProfileStub, id: string) => Promise<Outcome<T>>,
): Promise<{ profileId: string; value: T }> {
  const found = await resolverFor(c).call(profileId, fn);
  if (!found) throw new Problem(404, "No profile with that id");
  return found;
}

export async function setConsent(
  c: Context<AppEnv>,
  profileId: string,
  body: { purposes: Record<string, "granted" | "denied">; channel?: Channel | undefined },
) {
  const principal = c.get("principal");
  // A back end names the channel, as for its events: a choice is never put on one it did not say.
  const channel = channelFor(principal, body.channel);
  checkPurposes(body.purposes, settingsFor(c.env).consentPurposes, "purposes");
  const found = await onProfile(c, profileId, (stub) =>
    stub.setConsent(body.purposes, channel, principal.role),
  );
  return { profile_id: found.profileId, consent: found.value };
}

/**
 * A message action. No campaign exists yet, so no message was ever offered and every message id
 * is unknown: a 404, after the checks a real action passes in its order (the channel, as for a
 * consent choice, then the person).
 */
export async function messageAction(
  c: Context<AppEnv>,
  body: { channel?: Channel | undefined },
  person: () => Promise<unknown>,
): Promise<never> {
  channelFor(c.get("principal"), body.channel);
  await person();
  throw new Problem(404, "No message with that id was offered to this person");
}

export async function exportProfile(c: Context<AppEnv>, profileId: string) {
  return (await onProfile(c, profileId, (stub) => stub.exportAll())).value;
}

export async function eraseProfile(c: Context<AppEnv>, profileId: string): Promise<void> {
  if (!(await resolverFor(c).erase(profileId))) throw new Problem(404, "No profile with that id");
}

// POST /v1/events: ingest one event or a batch, and recognise in the same round trip.
import { createRoute } from "@hono/zod-openapi";
import type { ZodError } from "zod";
import { allow } from "../auth/authenticate";
import {
  channelFor,
  mayRecordConsent,
  type Principal,
  programmeTraitsRefused,
  seesTraitKeys,
  storeFor,
  viewFor,
} from "../auth/principal";
import { limit } from "../auth/rate-limit";
import { fieldErrors, invalid, Problem } from "../errors";
import { bearer, json, problems, resolverFor, router, sendJson } from "../http";
import { lookupIdentifiers, normalizeCached, prepareIdentifiers } from "../identity/identifiers";
import type { Resolver } from "../identity/resolver";
import type { Identifier } from "../identity/types";
import { embed, type JsonText, jsonList, jsonText } from "../json-text";
import { checkPurposes } from "../profile/consent";
import {
  BatchResultSchema,
  type EventInput,
  EventSchema,
  EventsRequestSchema,
  type IdentifiersInput,
  type IngestResult,
  IngestResultSchema,
  type TimelineEvent,
} from "../schemas";
import { settingsFor } from "../settings";
import { credentialIdentifier } from "./own-profile";

const route = createRoute({
  method: "post",
  path: "/v1/events",
  summary: "Ingest an event (or a batch) and recognise its person",
  security: bearer,
  middleware: [allow("admin", "server", "pos", "kiosk", "device", "customer")],
  request: { body: { required: true, ...json(EventsRequestSchema) } },
  responses: {
    200: {
      description: "The event's result, or one result per event of a batch",
      ...json(IngestResultSchema.or(BatchResultSchema)),
    },
    ...problems(400, 401, 403, 409, 413, 415, 429),
  },
});

/** The event as stored, with what the credential decides (channel, store) applied. */
export function toStoredEvent(input: EventInput, principal: Principal): TimelineEvent {
  const channel = channelFor(principal, input.channel);
  const storeId = storeFor(principal, input.store_id);
  const now = Date.now();
  const at = input.timestamp === undefined ? now : Date.parse(input.timestamp);
  return {
    event_id: input.id,
    type: input.type,
    ...("name" in input ? { name: input.name } : {}),
    channel,
    ...(storeId ? { store_id: storeId } : {}),
    timestamp: new Date(at).toISOString(),
    // Dated ahead of its arrival (a fast clock): it counts from when it came (computed.ts).
    ...(at > now ? { received_at: new Date(now).toISOString() } : {}),
    ...(input.traits ? { traits: input.traits } : {}),
    ...(input.properties ? { properties: input.properties } : {}),
  };
}

/**
 * Which identifiers of an event are verified (may link and merge) and which are only claimed.
 * A device or customer credential vouches for its own anonymous_id or user_id; the rest of what
 * it sends is a claim, kept on its own profile.
 */
async function identifiersOf(
  env: Env,
  principal: Principal,
  input: IdentifiersInput,
): Promise<{ verified: Identifier[]; claimed: Identifier[] }> {
  const own = await credentialIdentifier(env, principal);
  const mine = { anonymous_id: undefined, user_id: undefined };
  if (!own) {
    return { verified: await lookupIdentifiers(env, principal, input), claimed: [] };
  }
  const settings = settingsFor(env);
  for (const type of ["anonymous_id", "user_id"] as const) {
    const given = input[type];
    if (given === undefined) continue;
    // Compared as normalised, as the credential's own value was.
    const normal = normalizeCached(type, given, settings);
    if (!(own.type === type && normal.ok && normal.value === own.value)) {
      throw new Problem(
        403,
        `A ${principal.role} credential sends events for its own ${own.type} only`,
      );
    }
  }
  const claimed = await prepareIdentifiers({ ...input, ...mine }, settings, env.IDENTITY_PEPPER);
  return { verified: [own], claimed };
}

/** An event with every check a credential's event passes applied: what it may record, and on whom. */
async function checked(env: Env, principal: Principal, input: EventInput) {
  if (input.type === "consent") {
    if (!mayRecordConsent(principal))
      throw new Problem(403, `A ${principal.role} credential may not record consent`);
    checkPurposes(
      input.properties.purposes,
      settingsFor(env).consentPurposes,
      "properties.purposes",
    );
  }
  const refused = programmeTraitsRefused(principal, input.traits);
  if (refused.length) {
    throw new Problem(403, `A ${principal.role} credential may not set ${refused.join(", ")}`, {
      errors: refused.map((key) => ({ path: `traits.${key}`, message: "Set by the brand only" })),
    });
  }
  const event = toStoredEvent(input, principal);
  const { verified, claimed } = await identifiersOf(env, principal, input.identifiers);
  if (verified.length === 0) {
    throw new Problem(400, "The event needs at least one usable identifier", {
      errors: [
        {
          path: "identifiers",
          message: "No usable identifier (empty, junk or placeholder values are ignored)",
        },
      ],
    });
  }
  return { event, verified, claimed };
}

/**
 * Records a checked event. `recordedOn` is the profile an earlier event of the same batch with the
 * same id went to: the id is a duplicate there, wherever this one's identifiers lead.
 */
async function record(
  resolver: Resolver,
  principal: Principal,
  { event, verified, claimed }: Awaited<ReturnType<typeof checked>>,
  recordedOn?: string,
): Promise<{ profileId: string; answer: JsonText<IngestResult> }> {
  const view = viewFor(principal);
  // A repeat of an id earlier in the batch is a duplicate there, unless that profile was erased
  // since (by a request running beside the batch): then it is recorded afresh, as on its own.
  const traitKeys = Object.keys(event.traits ?? {});
  const earlier = recordedOn
    ? await resolver.call(recordedOn, (stub) => stub.repeat(view, traitKeys))
    : null;
  const result = earlier
    ? {
        status: "duplicate" as const,
        profileId: earlier.profileId,
        merged: [],
        view: earlier.value.view,
        droppedTraits: earlier.value.droppedTraits,
      }
    : await resolver.ingest({
        event,
        identifiers: verified,
        claimed,
        source: principal.role,
        view,
      });
  const fields = {
    event_id: event.event_id,
    status: result.status,
    profile_id: result.profileId,
    merged_profile_ids: result.merged,
    ...(result.droppedTraits.length && seesTraitKeys(principal)
      ? { dropped_traits: result.droppedTraits }
      : {}),
  };
  return { profileId: result.profileId, answer: embed(fields, "profile", result.view) };
}

/** A batch answers every event on its own: one bad event does not sink the others. */
function prefixed(problem: Problem, index: number) {
  const body = problem.toJSON();
  return body.errors
    ? { ...body, errors: body.errors.map((e) => ({ ...e, path: `batch.${index}.${e.path}` })) }
    : body;
}

export const events = router().openapi(
  route,
  async (c) => {
    const principal = c.get("principal");
    const body = c.req.valid("json");
    const resolver = resolverFor(c);
    if (!("batch" in body)) {
      const { answer } = await record(resolver, principal, await checked(c.env, principal, body));
      return sendJson(c, answer, 200);
    }
    const results: JsonText<IngestResult | ReturnType<typeof prefixed>>[] = [];
    const seen = new Map<string, string>();
    // In order, one at a time: later events of a batch may depend on earlier ones.
    for (const [index, raw] of body.batch.entries()) {
      const parsed = EventSchema.safeParse(raw);
      try {
        // Every event answers with a person, so a rate-limited credential pays for each one (the
        // request paid for the first): a batch is not a way past a kiosk's limit.
        if (index > 0) await limit(c.env, principal);
        if (!parsed.success) throw invalid(parsed.error);
        const event = await checked(c.env, principal, parsed.data);
        const { profileId, answer } = await record(
          resolver,
          principal,
          event,
          seen.get(event.event.event_id),
        );
        seen.set(event.event.event_id, profileId);
        results.push(answer);
      } catch (error) {
        if (!(error instanceof Problem) || error.status === 500) throw error;
        results.push(jsonText(prefixed(error, index)));
      }
    }
    return sendJson(c, embed({}, "results", jsonList(results)), 200);
  },
  (result): undefined => {
    if (result.success) return;
    // The body is a union (batch | event): report the issues of the branch the client meant,
    // the event unless the body has a `batch`.
    const union = result.error.issues.find((issue) => issue.code === "invalid_union");
    const branches = union && "errors" in union ? union.errors : [];
    const noBatch = branches[0]?.some(
      (i) =>
        i.path.join(".") === "batch" && i.code === "invalid_type" && /undefined/.test(i.message),
    );
    const branch = branches[noBatch ? 1 : 0];
    if (!branch) throw invalid(result.error);
    throw new Problem(400, "The request does not match the schema", {
      errors: fieldErrors({ issues: branch } as unknown as ZodError),
    });
  },
);

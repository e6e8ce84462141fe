// What a person's data endpoints do, shared by /v1/profiles/{id}/… (staff, admins) and /v1/me/… (the person).
import { z } from "@hono/zod-openapi";
import type { Context } from "hono";
import { Problem } from "../errors";
import { type AppEnv, resolverFor } from "../http";
import { checkPurposes } from "../profile/consent";
import type { Channel } from "../schemas";
import { ChannelSchema } from "../schemas";
import { settingsFor } from "../settings";

export const NextMessageQuerySchema = z.object({ channel: ChannelSchema.optional() });

export async function setConsent(
  c: Context<AppEnv>,
  profileId: string,
  body: { purposes: Record<string, "granted" | "denied">; channel?: Channel | undefined },
  fallbackChannel: Channel,
) {
  const principal = c.get("principal");
  checkPurposes(body.purposes, settingsFor(c.env).consentPurposes, "purposes");
  const found = await resolverFor(c).call(profileId, (stub) =>
    stub.setConsent(body.purposes, body.channel ?? fallbackChannel, principal.role),
  );
  if (!found) throw new Problem(404, "No profile with that id");
  return { profile_id: found.profileId, consent: found.value };
}

export async function exportProfile(c: Context<AppEnv>, profileId: string) {
  const found = await resolverFor(c).call(profileId, (stub) => stub.exportAll());
  if (!found) throw new Problem(404, "No profile with that id");
  return found.value;
}

export async function eraseProfile(c: Context<AppEnv>, profileId: string): Promise<void> {
  if (!(await resolverFor(c).erase(profileId))) throw new Problem(404, "No profile with that id");
}

/** Campaigns are not built yet: there is never a next message, so the answer is 204. */
export async function nextMessage(c: Context<AppEnv>, profileId: string): Promise<Response> {
  const found = await resolverFor(c).call(profileId, (stub) => stub.view("customer"));
  if (!found) throw new Problem(404, "No profile with that id");
  return c.body(null, 204);
}

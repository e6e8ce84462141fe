// Calls that reach a profile while its merge hand-over is under way (the Worker that ran the merge
// stopped after its first steps, as in merge.test.ts): they finish it first, so nothing is
// counted twice, lost with an erased survivor, or missing from the person's export.
import { runDurableObjectAlarm } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";

import { ADMIN, beginMerge, call, createKey, event, twoPeople, unique } from "./helpers";

let server: string;

beforeAll(async () => {
  server = await createKey("server");
});

const email = () => `${unique()}@example.com`;

describe("a call reaching a profile whose hand-over is under way", () => {
  it("answers a re-sent event as the duplicate it is, counted once", async () => {
    const survivorEmail = email();
    const s = await event(server, {
      type: "visit",
      channel: "web",
      identifiers: { email: survivorEmail },
    });
    const purchase = {
      id: unique("evt"),
      type: "purchase",
      channel: "web",
      identifiers: { email: email() },
      properties: { order_id: "o", total: 50, currency: "USD" },
    };
    const first = await call("/v1/events", { key: server, body: purchase });
    expect(first.json.status).toBe("recorded");
    const survivor = s.json.profile_id as string;
    await beginMerge(survivor, first.json.profile_id);

    // The client re-sends its purchase: its first answer timed out.
    const again = await call("/v1/events", { key: server, body: purchase });
    expect(again.status, again.text).toBe(200);
    expect(again.json.status).toBe("duplicate");
    expect(again.json.profile_id).toBe(survivor);

    await runDurableObjectAlarm(env.PROFILES.getByName(first.json.profile_id));
    const full = await call(`/v1/profiles/${survivor}`, { key: ADMIN });
    expect(full.json.computed.purchase_count).toBe(1);
    expect(full.json.computed.lifetime_value).toBe(50);
    const timeline = await call(`/v1/profiles/${survivor}/timeline`, { key: ADMIN });
    const ids = (timeline.json.events as { event_id: string }[]).map((e) => e.event_id);
    expect(ids.filter((id) => id === purchase.id)).toHaveLength(1);
  });

  it("records an event where the person is whole, so erasing the survivor never drops it alone", async () => {
    const { survivor, loser, loserEmail } = await twoPeople(server);
    await beginMerge(survivor, loser);

    const sale = await event(server, {
      type: "purchase",
      channel: "store",
      store_id: "s1",
      identifiers: { email: loserEmail },
      properties: { order_id: "o-1", total: 80, currency: "USD" },
    });
    expect(sale.json.status).toBe("recorded");
    // Recorded on a survivor that holds the loser: both purchases, and Lena's name.
    expect(sale.json.profile_id).toBe(survivor);
    expect(sale.json.profile.computed.purchase_count).toBe(2);
    expect(sale.json.profile.traits.first_name).toBe("Lena");

    // The survivor's erasure is then the whole person's, the sale and Lena included: nobody
    // comes back without what was answered as recorded.
    expect((await call(`/v1/profiles/${survivor}`, { key: ADMIN, method: "DELETE" })).status).toBe(
      204,
    );
    await runDurableObjectAlarm(env.PROFILES.getByName(loser));
    const found = await call("/v1/recognize", {
      key: ADMIN,
      body: { identifiers: { email: loserEmail } },
    });
    expect(found.status, found.text).toBe(404);
  });

  it("records a consent choice where the person is whole", async () => {
    const { survivor, loser } = await twoPeople(server);
    const put = (id: string, purposes: Record<string, string>) =>
      call(`/v1/profiles/${id}/consent`, {
        key: server,
        method: "PUT",
        body: { purposes, channel: "web" },
      });
    expect((await put(loser, { marketing_email: "granted" })).status).toBe(200);
    await beginMerge(survivor, loser);
    const changed = await put(loser, { marketing_sms: "denied" });
    expect(changed.status, changed.text).toBe(200);
    expect(changed.json).toEqual({
      profile_id: survivor,
      consent: { marketing_email: "granted", marketing_sms: "denied" },
    });
  });

  it("exports the loser's own data by its id while the hand-over runs on through merges", async () => {
    const { loser, loserEvent } = await twoPeople(server);
    const chain: string[] = [];
    for (let i = 0; i < 5; i++) chain.push((await twoPeople(server)).survivor);
    let previous = loser;
    for (const next of chain) {
      await beginMerge(next, previous);
      previous = next;
    }
    const exported = await call(`/v1/profiles/${loser}/export`, { key: ADMIN });
    expect(exported.status).toBe(200);
    const ids = (exported.json.events as { event_id: string }[]).map((e) => e.event_id);
    expect(ids).toContain(loserEvent);
    const timeline = await call(`/v1/profiles/${loser}/timeline`, { key: ADMIN });
    const shown = (timeline.json.events as { event_id: string }[]).map((e) => e.event_id);
    expect(shown).toContain(loserEvent);
  });
});

// What the isolate keeps in memory of people and of strangers (found by watching Map#set).
import { afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { PERSONAL_MAX_AGE_MS } from "../src/isolate-cache";
import { call, createKey, event, idpToken, unique } from "./helpers";

let server: string;

/** Every Map of the isolate that `run` writes `matches` into (found by watching Map#set). */
async function mapsHolding(
  matches: (key: unknown, value: unknown) => boolean,
  run: () => Promise<unknown>,
): Promise<Map<unknown, unknown>[]> {
  const found = new Set<Map<unknown, unknown>>();
  const original = Map.prototype.set;
  const spy = vi.spyOn(Map.prototype, "set").mockImplementation(function (
    this: Map<unknown, unknown>,
    key: unknown,
    value: unknown,
  ) {
    if (matches(key, value)) found.add(this);
    return original.call(this, key, value);
  });
  try {
    await run();
  } finally {
    spy.mockRestore();
  }
  return [...found];
}

beforeAll(async () => {
  server = await createKey("server");
});

afterEach(() => {
  vi.restoreAllMocks();
});

describe("an erased customer's identity-provider token", () => {
  it("leaves the isolate's memory within PERSONAL_MAX_AGE_MS, as the raw emails and phones do", async () => {
    const userId = unique("u");
    const email = `${unique("erin")}@example.com`;
    // An OIDC token, as identity providers issue them: the person's email rides along.
    const token = await idpToken(userId, { email, name: "Erin Example" });
    await event(server, {
      type: "identify",
      channel: "app",
      identifiers: { user_id: userId, email },
    });
    const holders = await mapsHolding(
      // The verified-token memo (jwt.ts): token → { value: { userId }, until }.
      (key, value) =>
        key === token && typeof value === "object" && value !== null && "until" in value,
      async () => expect((await call("/v1/me", { key: token })).status).toBe(200),
    );
    expect(holders.length).toBeGreaterThan(0);

    // The person asks to be forgotten.
    expect((await call("/v1/me", { key: token, method: "DELETE" })).status).toBe(204);

    // The isolate keeps serving others, past PERSONAL_MAX_AGE_MS.
    const realNow = Date.now.bind(Date);
    vi.spyOn(Date, "now").mockImplementation(() => realNow() + PERSONAL_MAX_AGE_MS + 60_000);
    const other = await idpToken(unique("u"));
    await event(server, {
      type: "identify",
      channel: "app",
      identifiers: { email: `${unique("someone")}@example.com` },
    });
    await call("/v1/me", { key: other });

    // The erased person's token (their user_id and email inside) is still held by the isolate.
    for (const map of holders)
      expect(map.has(token), "the erased person's token (user_id, email) is still in memory").toBe(
        false,
      );
  });
});

describe("a stranger's made-up API key", () => {
  it("is not kept in the isolate after it is refused: 8 KiB strings from anyone, 10,000 of them", async () => {
    const bogus = () => `sk_${unique("x")}${"A".repeat(8_000)}`;
    const secrets = [bogus(), bogus(), bogus()];
    const holders = await mapsHolding(
      (key) => typeof key === "string" && secrets.includes(key),
      async () => {
        for (const secret of secrets) {
          const res = await call("/v1/recognize", {
            key: secret,
            body: { identifiers: { email: "a@example.com" } },
          });
          expect(res.status).toBe(401);
        }
      },
    );
    // Unauthenticated: each refused credential is retained whole (up to 8,192 chars, 10,000 of
    // them per isolate, ~80 MB of a Worker's 128 MB).
    const retained = holders.flatMap((map) => secrets.filter((s) => map.has(s)));
    expect(retained.length, "refused 8 KiB credentials still held by the isolate").toBe(0);
  });
});

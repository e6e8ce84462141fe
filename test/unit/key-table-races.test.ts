// The isolate's copy of the key table against reads that answer late or out of order: a key
// revoked is refused everywhere within 5 s (API.md), however the reads interleave with it.
import { afterEach, describe, expect, it, vi } from "vitest";
import { invalidateConfig, keyTable } from "../../src/config/cache";

/** A fake ConfigObject: each read sees the table as it is when the read arrives; its answer waits. */
function configObject() {
  const state = {
    version: 1,
    keys: { hashK: { id: "key_K", role: "server" } } as Record<string, unknown>,
  };
  const answers: Array<() => void> = [];
  const env = {
    CONFIG: {
      getByName: () => ({
        snapshot: (known: number) => {
          const snap =
            known === state.version ? null : { version: state.version, keys: { ...state.keys } };
          return new Promise((resolve) => answers.push(() => resolve(snap)));
        },
      }),
    },
  } as unknown as Env;
  return {
    env,
    revoke() {
      state.version += 1;
      state.keys = {};
    },
    /** Delivers the answer of the n-th read (0-based). */
    answer: async (n: number) => {
      answers[n]?.();
      await new Promise((r) => setTimeout(r, 0));
    },
    /** Delivers every answer still waiting. */
    answerAll: async () => {
      for (const answer of answers) answer();
      await new Promise((r) => setTimeout(r, 0));
    },
  };
}

afterEach(() => {
  vi.useRealTimers();
  invalidateConfig();
});

describe("key table staleness", () => {
  it("refuses a key revoked right after a read once 5 s have passed, with reads of up to 1 s", async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    const t0 = Date.now();
    invalidateConfig();
    const config = configObject();

    const first = keyTable(config.env); // read #0: the ConfigObject answers the table with key K
    vi.setSystemTime(t0 + 10);
    config.revoke(); // revoked 10 ms after that read, by an admin in another isolate
    const revokedAt = Date.now();
    vi.setSystemTime(t0 + 1_000); // the answer travels back: a 1 s read
    await config.answer(0);
    await first;

    vi.setSystemTime(t0 + 4_500); // the copy is due: one request reads again (slow as well)
    const second = keyTable(config.env);
    vi.setSystemTime(t0 + 5_400); // meanwhile another request authenticates with K
    const asked = keyTable(config.env);
    await config.answerAll();
    const table = await asked;
    const age = Date.now() - revokedAt;
    expect(age).toBeGreaterThan(5_000);
    expect(table.byHash.has("hashK"), `revoked key still accepted ${age} ms after revocation`).toBe(
      false,
    );
    await second;
  });

  it("never lets an older read put a revoked key back after a newer read removed it", async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    const t0 = Date.now();
    invalidateConfig();
    const config = configObject();

    const slow = keyTable(config.env); // read #0 sees key K, answers late
    vi.setSystemTime(t0 + 50);
    config.revoke(); // DELETE /v1/admin/keys/{id} in this isolate…
    invalidateConfig(); // …which drops the isolate's copy
    vi.setSystemTime(t0 + 60);
    const fresh = keyTable(config.env); // read #1 sees the revocation
    await config.answer(1);
    expect((await fresh).byHash.has("hashK")).toBe(false); // refused, as it should be
    vi.setSystemTime(t0 + 300);
    await config.answer(0); // the older read answers last
    await slow;
    vi.setSystemTime(t0 + 400);
    const later = await keyTable(config.env);
    expect(later.byHash.has("hashK"), "the revoked key is accepted again").toBe(false);
  });
});

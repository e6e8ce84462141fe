// The isolate's key table under concurrent requests: one read of the ConfigObject per refresh.
import { afterEach, describe, expect, it, vi } from "vitest";
import { invalidateConfig, keyTable, REFRESH_AFTER_MS } from "../../src/config/cache";

/** An env whose ConfigObject answers one key and counts the reads; the reads wait for `release`. */
function configSource() {
  let release: () => void = () => {};
  let gate = Promise.resolve();
  const source = {
    reads: 0,
    hold() {
      gate = new Promise((resolve) => {
        release = resolve;
      });
    },
    release: () => release(),
    env: {
      CONFIG: {
        getByName: () => ({
          snapshot: async () => {
            source.reads += 1;
            await gate;
            return { version: source.reads, keys: { h1: { id: "k1", role: "server" } } };
          },
        }),
      },
    } as unknown as Env,
  };
  return source;
}

afterEach(() => {
  vi.useRealTimers();
  invalidateConfig();
});

describe("keyTable", () => {
  it("reads the table once when a copy is due, however many requests ask meanwhile", async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    invalidateConfig();
    const source = configSource();
    await keyTable(source.env);
    expect(source.reads).toBe(1);

    vi.setSystemTime(Date.now() + REFRESH_AFTER_MS);
    source.hold();
    const asked = Array.from({ length: 16 }, () => keyTable(source.env));
    expect(source.reads).toBe(2);
    source.release();
    const tables = await Promise.all(asked);
    expect(tables.every((table) => table.byHash.get("h1")?.id === "k1")).toBe(true);
    expect(source.reads).toBe(2);
    // The fresh copy serves what follows without another read.
    await keyTable(source.env);
    expect(source.reads).toBe(2);
  });
});

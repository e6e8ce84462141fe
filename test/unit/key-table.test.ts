// The isolate's key table under concurrent requests: one read of the ConfigObject per refresh.
import { afterEach, describe, expect, it, vi } from "vitest";
import { invalidateConfig, keyTable, MAX_AGE_MS, REFRESH_AFTER_MS } from "../../src/config/cache";

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

describe("keyTable when the ConfigObject fails", () => {
  /** A ConfigObject that answers one key until it is told to fail or to hang. */
  function flaky() {
    const state = { mode: "ok" as "ok" | "fail" | "hang", reads: 0 };
    const env = {
      CONFIG: {
        getByName: () => ({
          snapshot: () => {
            state.reads += 1;
            if (state.mode === "fail") return Promise.reject(new Error("overloaded"));
            if (state.mode === "hang") return new Promise(() => {});
            return Promise.resolve({ version: 1, keys: { h1: { id: "k1", role: "server" } } });
          },
        }),
      },
    } as unknown as Env;
    return { state, env };
  }

  it("answers from a copy still young enough to use when the read due fails", async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    invalidateConfig();
    const config = flaky();
    await keyTable(config.env);
    vi.setSystemTime(Date.now() + REFRESH_AFTER_MS + 100);
    config.state.mode = "fail";
    expect((await keyTable(config.env)).byHash.get("h1")?.id).toBe("k1");
    expect(config.state.reads).toBe(2);
  });

  it("answers from the copy once it expires when the read due hangs, not later", async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    invalidateConfig();
    const config = flaky();
    await keyTable(config.env);
    vi.setSystemTime(Date.now() + MAX_AGE_MS - 50);
    config.state.mode = "hang";
    const started = performance.now();
    expect((await keyTable(config.env)).byHash.get("h1")?.id).toBe("k1");
    expect(performance.now() - started).toBeLessThan(1_000);
  });

  it("fails the request once no copy is young enough to use", async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    invalidateConfig();
    const config = flaky();
    await keyTable(config.env);
    vi.setSystemTime(Date.now() + MAX_AGE_MS);
    config.state.mode = "fail";
    await expect(keyTable(config.env)).rejects.toThrow("overloaded");
  });
});

// The isolate's memos: what they keep, and for how long.
import { describe, expect, it } from "vitest";
import { IsolateCache } from "../../src/isolate-cache";

describe("an isolate cache", () => {
  it("answers what it was given", () => {
    const cache = new IsolateCache<string>(10);
    cache.set("email:jane@example.com", "hash");
    expect(cache.get("email:jane@example.com")).toBe("hash");
    expect(cache.get("email:john@example.com")).toBeUndefined();
  });

  it("empties when full instead of growing", () => {
    const cache = new IsolateCache<number>(2);
    cache.set("a", 1);
    cache.set("b", 2);
    cache.set("c", 3);
    expect([cache.get("a"), cache.get("b"), cache.get("c")]).toEqual([undefined, undefined, 3]);
  });

  it("forgets everything once it is older than its age, however little it holds", () => {
    let clock = 0;
    const cache = new IsolateCache<string>(10, 1_000, () => clock);
    cache.set("phone:+14155550132", "hash");
    clock = 999;
    expect(cache.get("phone:+14155550132")).toBe("hash");
    clock = 1_000;
    expect(cache.get("phone:+14155550132")).toBeUndefined();
    cache.set("phone:+14155550132", "hash");
    clock = 1_999;
    expect(cache.get("phone:+14155550132")).toBe("hash");
  });
});

import { describe, expect, it } from "vitest";
import { IDENTITY_SHARDS, shardOf } from "../../src/identity/shards";

describe("identifier index shards", () => {
  it("puts an identifier in the same shard every time, named without the hash", () => {
    const hash = "email:q1w2e3r4t5y6u7i8o9p0a1s2d3f4g5h6j7k8l9z0x1c";
    expect(shardOf(hash)).toBe(shardOf(hash));
    expect(shardOf(hash)).toMatch(/^identities-\d+$/);
    expect(shardOf(hash)).not.toContain("q1w2");
  });

  it("spreads identifiers over every shard evenly", () => {
    const counts = new Map<string, number>();
    const total = IDENTITY_SHARDS * 100;
    for (let i = 0; i < total; i++) {
      const shard = shardOf(`phone:${btoa(String(i * 7919))}`);
      counts.set(shard, (counts.get(shard) ?? 0) + 1);
    }
    expect(counts.size).toBe(IDENTITY_SHARDS);
    // 100 expected per shard; a fair hash stays well within half and double of it.
    expect(Math.min(...counts.values())).toBeGreaterThan(50);
    expect(Math.max(...counts.values())).toBeLessThan(200);
  });
});

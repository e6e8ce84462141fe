import { describe, expect, it } from "vitest";
import { mintedAt, newProfileId } from "../../src/profile/profile-id";

describe("profile ids", () => {
  it("carry the time they were minted, and sort by it", () => {
    const early = newProfileId(Date.UTC(2026, 0, 1));
    const late = newProfileId(Date.UTC(2026, 10, 24));
    expect(early).toMatch(/^pr_[0-9a-f]{32}$/);
    expect(mintedAt(early)).toBe(Date.UTC(2026, 0, 1));
    expect(early < late).toBe(true);
  });

  it("are not guessable from the time: two minted in the same millisecond differ", () => {
    const now = Date.now();
    const ids = new Set(Array.from({ length: 1000 }, () => newProfileId(now)));
    expect(ids.size).toBe(1000);
  });

  it("tell no mint time for the random ids minted before them", () => {
    expect(mintedAt("pr_5e3c9a1f0b6d4e2a8c7b9d1e3f5a7c9b")).toBeNull();
    expect(mintedAt("not a profile id")).toBeNull();
  });
});

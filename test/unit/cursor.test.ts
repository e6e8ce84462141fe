// The timeline cursor: what encodeCursor writes comes back whole; anything else is not a cursor.
import { describe, expect, it } from "vitest";
import { decodeCursor, encodeCursor } from "../../src/profile/cursor";

describe("the timeline cursor", () => {
  it("carries any event id back whole, in URL-safe characters", () => {
    for (const eventId of ["e-1", "ordre n°42 ✓", "😀".repeat(128), "\uFEFFbom", "a.b/c+d"]) {
      const text = encodeCursor({ ts: -86_400_000, eventId });
      expect(text).toMatch(/^-?\d+\.[\w-]+$/);
      expect(decodeCursor(text)).toEqual({ ts: -86_400_000, eventId });
    }
  });

  it("is null for text it could not have written", () => {
    for (const text of ["", "garbage", "12", "12.", ".ZQ", "12.ZQ=", "1.2.3", "12.wyg", "1e3.ZQ"]) {
      expect(decodeCursor(text), text).toBeNull();
    }
  });
});

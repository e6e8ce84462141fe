// The timeline cursor: what encodeCursor writes comes back whole; anything else is not a cursor.
import { describe, expect, it } from "vitest";
import { compareUtf8, decodeCursor, encodeCursor } from "../../src/profile/cursor";

describe("the timeline cursor", () => {
  it("carries any event id back whole, in URL-safe characters", () => {
    for (const eventId of ["e-1", "ordre n°42 ✓", "😀".repeat(128), "\uFEFFbom", "a.b/c+d"]) {
      const text = encodeCursor({ ts: -86_400_000, eventId, seq: 7 });
      expect(text).toMatch(/^-?\d+\.[\w-]+\.\d+$/);
      expect(decodeCursor(text)).toEqual({ ts: -86_400_000, eventId, seq: 7 });
    }
  });

  it("is null for text it could not have written", () => {
    for (const text of [
      "",
      "garbage",
      "12",
      "12.ZQ",
      ".ZQ.1",
      "12.ZQ=.1",
      "1.2.x",
      "12.wyg.1",
      "1e3.ZQ.1",
      "12.ZQ.-1",
    ]) {
      expect(decodeCursor(text), text).toBeNull();
    }
  });

  it("orders ids as SQLite does, by their UTF-8 bytes, whatever the characters", () => {
    const ids = ["a", "ab", "b", "é", "\uFF01", "\u{1F600}", "\uE000x", "\u{10000}", "z\uFFFF"];
    const bytes = (id: string) => [...new TextEncoder().encode(id)];
    const byBytes = [...ids].sort((x, y) => {
      const [a, b] = [bytes(x), bytes(y)];
      for (let i = 0; i < Math.min(a.length, b.length); i++) {
        if (a[i] !== b[i]) return (a[i] as number) - (b[i] as number);
      }
      return a.length - b.length;
    });
    expect([...ids].sort(compareUtf8)).toEqual(byBytes);
  });
});

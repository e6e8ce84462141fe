// The timeline cursor: what encodeCursor writes comes back whole; anything else is not a cursor.
import { describe, expect, it } from "vitest";
import { compareUtf8, decodeCursor, digest, encodeCursor, pageOf } from "../../src/profile/cursor";

describe("the timeline cursor", () => {
  it("carries any event id back whole, in URL-safe characters", () => {
    for (const eventId of ["e-1", "ordre n°42 ✓", "😀".repeat(128), "\uFEFFbom", "a.b/c+d"]) {
      const text = encodeCursor({ ts: -86_400_000, eventId, digest: "0a1b2c3d" });
      expect(text).toMatch(/^-?\d+\.[\w-]+\.[0-9a-f]{8}$/);
      expect(decodeCursor(text)).toEqual({ ts: -86_400_000, eventId, digest: "0a1b2c3d" });
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

  it("goes on after the very event the cursor names among events that share its moment and id", () => {
    const row = (ts: number, event_id: string, body = event_id) => ({ ts, event_id, body });
    // Two merged events share the moment 5 and the id "x"; the order puts "x2" first.
    const tied = [row(5, "x", "x2"), row(5, "x", "x1")];
    const older = [row(1, "b")];
    const cursorAt = (body: string) => ({ ts: 5, eventId: "x", digest: digest(body) });
    expect(pageOf(tied, older, cursorAt("x2"), 5).page).toEqual([tied[1], older[0]]);
    expect(pageOf(tied, older, cursorAt("x1"), 5).page).toEqual([older[0]]);
    // The event it names is gone: the others of its moment and id rather than a gap.
    expect(pageOf(tied, older, cursorAt("gone"), 5).page).toEqual([...tied, ...older]);
    const { page, next } = pageOf([], [row(9, "a"), ...tied, ...older], null, 2);
    expect(page).toEqual([row(9, "a"), tied[0]]);
    expect(next).toEqual(cursorAt("x2"));
  });
});

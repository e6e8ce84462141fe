// Which merges an event's answer names: only those that ended up in the profile it answers with.
import { describe, expect, it } from "vitest";
import { mergedInto } from "../../src/identity/resolver";

describe("merged_profile_ids", () => {
  it("names a loser merged straight into the answer's profile", () => {
    expect(mergedInto([{ loser: "b", into: "a" }], "a")).toEqual(["b"]);
  });

  it("names a loser merged into a profile that was merged into the answer's profile later", () => {
    const merges = [
      { loser: "c", into: "b" },
      { loser: "b", into: "a" },
    ];
    expect(mergedInto(merges, "a")).toEqual(["c", "b"]);
  });

  it("leaves out merges into a profile the request left (erased, so it re-planned)", () => {
    expect(mergedInto([{ loser: "b", into: "gone" }], "new")).toEqual([]);
  });
});

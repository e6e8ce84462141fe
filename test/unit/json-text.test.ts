import { describe, expect, it } from "vitest";
import { embed, jsonList, jsonText } from "../../src/json-text";

describe("JSON text passed on unparsed", () => {
  const view = jsonText({ view: "staff", first_name: 'Zoë "Z"', tags: ["a", "b"] });

  it("splices a text in as a member, equal to serialising the whole object", () => {
    const text = embed({ profile_id: "pr_1", merged: [] }, "profile", view);
    expect(JSON.parse(text)).toEqual({
      profile_id: "pr_1",
      merged: [],
      profile: JSON.parse(view),
    });
  });

  it("makes a valid object when the text is its only member", () => {
    expect(
      JSON.parse(embed({}, "results", jsonList<unknown>([view, jsonText({ status: 400 })]))),
    ).toEqual({
      results: [JSON.parse(view), { status: 400 }],
    });
    expect(JSON.parse(embed({}, "results", jsonList([])))).toEqual({ results: [] });
  });

  it("escapes the member's name", () => {
    expect(JSON.parse(embed({}, 'a"b', jsonText(1)))).toEqual({ 'a"b': 1 });
  });
});

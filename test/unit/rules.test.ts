import { describe, expect, it } from "vitest";
import { admit, chooseSurvivor, type Holdings, plan } from "../../src/identity/rules";
import { defaultLimits } from "../../src/settings";

const limits = { identifierLimits: defaultLimits, maxMergesPerProfile: 3 };
const profile = (id: string, createdAt: number, extra: Partial<Holdings> = {}): Holdings => ({
  profileId: id,
  createdAt,
  keys: {},
  counts: {},
  merges: 0,
  ...extra,
});

describe("admit", () => {
  it("takes new identifiers within the limits", () => {
    const result = admit(
      { keys: {}, counts: { email: 4 } },
      ["phone"],
      [{ type: "email", hash: "e5" }],
      limits,
    );
    expect(result).toEqual({
      accepted: [{ type: "email", hash: "e5" }],
      refused: [],
      split: false,
    });
  });

  it("refuses an identifier over its type's limit", () => {
    const result = admit(
      { keys: {}, counts: { email: 5 } },
      ["phone"],
      [{ type: "email", hash: "e6" }],
      limits,
    );
    expect(result.refused).toEqual([{ type: "email", hash: "e6", reason: "limit" }]);
  });

  it("refuses a second user_id, and asks for a split when it outranks what the event shares", () => {
    const holdings = { keys: { user_id: "u1" }, counts: { user_id: 1, email: 1 } };
    const split = admit(holdings, ["email"], [{ type: "user_id", hash: "u2" }], limits);
    expect(split).toMatchObject({ split: true, refused: [{ reason: "merge_protection" }] });
    const noSplit = admit(holdings, ["user_id"], [{ type: "loyalty_id", hash: "l1" }], limits);
    expect(noSplit).toMatchObject({ split: false, accepted: [{ type: "loyalty_id" }] });
  });
});

describe("plan", () => {
  it("merges every owner into the oldest profile", () => {
    const owners = new Map([
      ["b", profile("b", 2)],
      ["a", profile("a", 1)],
      ["c", profile("c", 3)],
    ]);
    const result = plan(
      [
        { type: "email", hash: "e", owner: "b" },
        { type: "phone", hash: "p", owner: "c" },
        { type: "loyalty_id", hash: "l", owner: "a" },
        { type: "device_id", hash: "d", owner: null },
      ],
      owners,
      limits,
    );
    expect(result.home).toBe("a");
    expect(result.losers.sort()).toEqual(["b", "c"]);
    expect(result.attach).toEqual([{ type: "device_id", hash: "d" }]);
  });

  it("breaks a tie on age by the smaller id, so concurrent merges agree", () => {
    expect(chooseSurvivor([profile("z", 5), profile("m", 5)]).profileId).toBe("m");
  });

  it("never joins two profiles with different user_ids", () => {
    const owners = new Map([
      ["a", profile("a", 1, { keys: { user_id: "u1" } })],
      ["b", profile("b", 2, { keys: { user_id: "u2" } })],
    ]);
    const result = plan(
      [
        { type: "user_id", hash: "u2", owner: "b" },
        { type: "email", hash: "e", owner: "a" },
      ],
      owners,
      limits,
    );
    expect(result).toMatchObject({
      home: "b",
      losers: [],
      refused: [{ type: "email", owner: "a", reason: "merge_protection" }],
    });
  });

  it("starts a new profile when the event's top identifier is a key the owner cannot take", () => {
    const owners = new Map([["a", profile("a", 1, { keys: { user_id: "u1" } })]]);
    const result = plan(
      [
        { type: "user_id", hash: "u2", owner: null },
        { type: "email", hash: "e", owner: "a" },
      ],
      owners,
      limits,
    );
    expect(result).toMatchObject({
      home: null,
      attach: [{ type: "user_id", hash: "u2" }],
      refused: [{ reason: "merge_protection" }],
    });
  });

  it("stops merging when the survivor would pass its merge budget", () => {
    const owners = new Map([
      ["a", profile("a", 1, { merges: 3 })],
      ["b", profile("b", 2)],
    ]);
    const result = plan(
      [
        { type: "email", hash: "e", owner: "a" },
        { type: "phone", hash: "p", owner: "b" },
      ],
      owners,
      limits,
    );
    expect(result).toMatchObject({ home: "a", losers: [], refused: [{ reason: "merge_limit" }] });
  });

  it("merges no profile that would take a type past its limit, as a placeholder email would", () => {
    const owners = new Map([
      ["a", profile("a", 1, { counts: { email: 1, phone: 4 } })],
      ["b", profile("b", 2, { counts: { phone: 1 } })],
      ["c", profile("c", 3, { counts: { phone: 1, user_id: 1 }, keys: { user_id: "u" } })],
    ]);
    const result = plan(
      [
        { type: "email", hash: "shared", owner: "a" },
        { type: "phone", hash: "p", owner: "b" },
        { type: "device_id", hash: "d", owner: "c" },
      ],
      owners,
      limits,
    );
    // b's phone makes five, which fits; c's would make six.
    expect(result).toMatchObject({
      home: "a",
      losers: ["b"],
      refused: [{ type: "device_id", owner: "c", reason: "limit" }],
    });
  });
});

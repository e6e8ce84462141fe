import { describe, expect, it } from "vitest";
import { checkReach, objectCalls, PHASES } from "./phases.mjs";

const phase = (name) => PHASES.find((p) => p.name === name);

describe("checkReach: a phase never records figures of another path", () => {
  it("passes a phase whose request makes the call it is named for, among others", () => {
    expect(() =>
      checkReach(phase("creation"), { "IDENTITIES.claim": 4, "PROFILES.ingest": 1 }),
    ).not.toThrow();
    expect(() => checkReach(phase("recognize"), { "PROFILES.view": 1 })).not.toThrow();
  });

  it("stops the run when the storeless ceiling reaches the real profiles", () => {
    expect(() => checkReach(phase("storeless"), { "PROFILES.ingest": 1 })).toThrow(
      "storeless: a request should reach STORELESS.ingest, made PROFILES.ingest",
    );
  });

  it("stops the run when a request makes no object call at all, or the floor makes one", () => {
    expect(() => checkReach(phase("recognize"), {})).toThrow("made none");
    expect(() => checkReach(phase("recognize"), undefined)).toThrow("made none");
    expect(() => checkReach(phase("floor"), { "BENCH.read": 1 })).toThrow(
      "floor: a request should reach no object, made BENCH.read",
    );
    expect(() => checkReach(phase("floor"), {})).not.toThrow();
  });
});

describe("objectCalls", () => {
  it("names each call once, with its count when repeated", () => {
    expect(objectCalls({ "IDENTITIES.owner": 4, "PROFILES.ingest": 1 })).toBe(
      "IDENTITIES.owner ×4 + PROFILES.ingest",
    );
    expect(objectCalls(null)).toBe("none");
  });
});

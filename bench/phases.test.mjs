import { describe, expect, it } from "vitest";
import { checkReach, objectCalls, PHASES } from "./phases.mjs";
import { ratios, targets } from "./report.mjs";
import { recognizeCurve } from "./scale.mjs";

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

describe("the report holds each figure to what it measured", () => {
  const window = (rps) => ({ rps, p50_ms: 1, p99_ms: 2, cpu_us_per_request: 1 });
  const figures = (rps, group, p99_ms = 2) => ({
    available: true,
    group,
    rps,
    p99_ms,
    windows: [window(rps), window(rps)],
  });

  it("measures a floor in every group, and holds each phase to the floor it took turns with", () => {
    const groups = new Set(PHASES.map((p) => p.group));
    for (const group of groups) {
      expect(
        PHASES.some((p) => p.group === group && p.workload === "floor"),
        group,
      ).toBe(true);
    }
    const r = ratios({
      floor: figures(5_000, "reads", 4),
      floorwrites: figures(2_500, "writes", 8),
      read: figures(2_500, "reads"),
      write: figures(1_250, "writes", 16),
    });
    expect(r.read.rps_vs_floor).toBe(0.5);
    expect(r.write.rps_vs_floor).toBe(0.5);
    expect(r.write.p99_vs_floor).toBe(2);
  });

  it("gives no verdict on history length from a curve point whose requests mostly failed", async () => {
    const answered = { ok: 100, non2xx: 0, errors: 0, timeouts: 0, status_codes: { 200: 100 } };
    const failed = { ...answered, ok: 5, non2xx: 95, status_codes: { 200: 5, 500: 95 } };
    let call = 0;
    const load = {
      measure: async () => ({
        ...(call++ === 2 ? failed : answered),
        rps: 50,
        p50_ms: 3,
        p99_ms: 4,
        cpu_us_per_request: 500,
      }),
    };
    const curve = await recognizeCurve({
      load,
      keys: { pos: "k" },
      singles: [10, 1_000, 10_000].map((length, n) => ({ n, length })),
      settings: { curvePhase: { seconds: 1 }, warmup: null },
      log: () => {},
    });
    expect(curve.map((point) => [point.failures, point.valid])).toEqual([
      [0, true],
      [0, true],
      [95, false],
    ]);
    const verdict = targets({
      ratios: {},
      recognizeCurve: curve,
      mergeCurve: [{ events_per_side: 1_000, median_ms: 10 }],
    }).find((target) => target.name.startsWith("recognize p50 at"));
    expect(verdict?.pass).toBeNull();
  });
});

// The two sizes of a bench run: the recorded one, and the smoke run CI uses to prove the harness works.

/** Fixed concurrency for every measured phase, so figures of one run compare with each other. */
export const CONNECTIONS = 16;

export const FULL = {
  name: "full",
  // Long enough for a stable p99 on a 2-core machine, short enough for the whole run to take
  // a few minutes; the warm-up lets V8 optimise each path before it is measured.
  phase: { seconds: 6 },
  warmup: { seconds: 1 },
  curvePhase: { seconds: 4 },
  people: 10_000,
  // The phases cycle through every fifth person (so history lengths keep their spread) and the
  // primitives through as many objects: both sides touch the same number of warm objects.
  workingSet: 2_000,
  // History lengths (events per person) and the share of people with each: most people come
  // once, some a few times, a few are regulars.
  history: [
    { share: 0.7, min: 1, max: 1 },
    { share: 0.2, min: 2, max: 5 },
    { share: 0.08, min: 6, max: 20 },
    { share: 0.02, min: 21, max: 60 },
  ],
  recognizeHistory: [10, 1_000, 10_000],
  mergeHistory: [10, 100, 1_000],
  mergeRepeats: 3,
  // Room for the 10,000-event profile of the scale curve and for two merged 1,000-event
  // profiles, so no event leaves the window while it is measured.
  maxEventsPerProfile: 10_000,
};

export const SMOKE = {
  name: "smoke",
  // Counted in requests: autocannon rounds a duration up to whole seconds.
  phase: { amount: 200 },
  warmup: null,
  curvePhase: { amount: 100 },
  people: 200,
  workingSet: 100,
  history: [
    { share: 0.7, min: 1, max: 1 },
    { share: 0.3, min: 2, max: 4 },
  ],
  recognizeHistory: [2, 20, 50],
  mergeHistory: [2, 10],
  mergeRepeats: 1,
  maxEventsPerProfile: 1_000,
};

/** Events per request while seeding: the API's batch limit. */
export const BATCH = 100;
/** Requests in flight while seeding: enough to keep workerd busy without queueing at one object. */
export const SEED_CONCURRENCY = 8;

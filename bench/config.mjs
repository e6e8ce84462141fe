// The two sizes of a bench run: the recorded one, and the smoke run CI uses to prove the harness works.

/** Fixed concurrency for every measured phase, so figures of one run compare with each other. */
export const CONNECTIONS = 16;

export const FULL = {
  name: "full",
  // Each phase is measured in `rounds` windows, taking turns with the other phases of its group
  // (phases.mjs); the warm-up lets V8 optimise each path before it is measured.
  window: { seconds: 2 },
  rounds: 5,
  warmup: { seconds: 1 },
  curvePhase: { seconds: 4 },
  // Every new person opens a SQLite database (three files) that stays open ~10 s; each creation
  // window starts below `settleBelow` of this machine's open-files limit (see runtime.mjs).
  creationWindow: { seconds: 2 },
  creationWarmup: { seconds: 1 },
  // Shares of the open-files limit workerd must be below before a phase primes its objects, and
  // before the creation phase (which opens thousands) starts.
  primeBelow: 0.5,
  settleBelow: 0.1,
  people: 10_000,
  // The phases cycle through every tenth person (so history lengths keep their spread) and the
  // primitives through as many objects: both sides touch the same number of warm objects. Each
  // person opens up to three objects (profile, identifiers), so more would near the files limit.
  workingSet: 1_000,
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
  // Counted in requests: enough to drive every path, over in a fraction of a second each.
  window: { amount: 100 },
  rounds: 2,
  warmup: null,
  curvePhase: { amount: 100 },
  creationWindow: { amount: 50 },
  creationWarmup: null,
  // A smoke run opens too few objects to come near the limit: no waiting.
  primeBelow: 0.6,
  settleBelow: 0.6,
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
/**
 * Seeding stages: batches in flight, and the share of the open-files limit above which a new batch
 * waits. A batch introducing 100 people opens ~650 objects (~2,000 files) that stay open ~10 s, so
 * four in flight from below 45% stay under the limit; later events touch one object each.
 */
export const SEED_INTRODUCTIONS = { concurrency: 4, filesBelow: 0.45 };
export const SEED_HISTORY = { concurrency: 8, filesBelow: 0.6 };

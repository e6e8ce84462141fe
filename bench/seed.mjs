// Seeding through the public API, in batches of 100: a crowd of people with every identifier type
// and a spread of history lengths, plus single profiles of exact history lengths for the curves.

import { expectStatus, inPool } from "./client.mjs";
import { BATCH, SEED_HISTORY, SEED_INTRODUCTIONS } from "./config.mjs";
import { identifiersOf, introduction, laterEvent, oneIdentifier } from "./people.mjs";

const range = (length) => Array.from({ length }, (_, i) => i);
const chunks = (items, size) =>
  range(Math.ceil(items.length / size)).map((i) => items.slice(i * size, (i + 1) * size));

/** A seeded generator (mulberry32): the same crowd on every run. */
function random(seed) {
  let state = seed;
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

function historyLengths(people, spread) {
  const next = random(42);
  return range(people).map(() => {
    const pick = next();
    let cumulative = 0;
    const bucket =
      spread.find(({ share }) => {
        cumulative += share;
        return pick < cumulative;
      }) ?? spread.at(-1);
    return bucket.min + Math.floor(next() * (bucket.max - bucket.min + 1));
  });
}

/** Posts one batch and throws if any event of it was refused: seeded data must be complete. */
async function postBatch(api, key, events) {
  const response = await api("/v1/events", { key, body: { batch: events } });
  const { results } = expectStatus(response, 200, "seeding batch");
  const refused = results.find((result) => typeof result.status === "number");
  if (refused) throw new Error(`seeding: an event was refused: ${JSON.stringify(refused)}`);
  return results;
}

export async function createKeys(api, adminKey) {
  const create = async (role, extra = {}) => {
    const body = { role, name: `bench-${role}`, ...extra };
    const response = await api("/v1/admin/keys", { key: adminKey, body });
    return expectStatus(response, 201, `creating a ${role} key`).key;
  };
  return { server: await create("server"), pos: await create("pos", { store_id: "s1" }) };
}

/**
 * The crowd: everyone is introduced with all their identifiers, then later events name them by
 * one identifier each, round after round, so a batch holds many people and objects work in parallel.
 */
export async function seedCrowd(api, key, { people, history }, { files, log }) {
  const lengths = historyLengths(people, history);
  const introductions = range(people).map((n) => introduction(n, identifiersOf(n), `seed-${n}-0`));
  const later = [];
  for (let k = 1; k < Math.max(...lengths); k++) {
    for (const n of range(people)) {
      if (lengths[n] > k) {
        later.push(laterEvent(n, k, oneIdentifier(identifiersOf(n), k), `seed-${n}-${k}`));
      }
    }
  }
  const stages = [
    ["introductions", introductions, SEED_INTRODUCTIONS],
    ["later events", later, SEED_HISTORY],
  ];
  // Every profile the crowd's events landed on: one per person, or the seed is not what it claims.
  const profiles = new Set();
  for (const [name, events, { concurrency, filesBelow }] of stages) {
    const started = performance.now();
    await inPool(chunks(events, BATCH), concurrency, async (batch) => {
      await files.room(filesBelow);
      for (const result of await postBatch(api, key, batch)) profiles.add(result.profile_id);
    });
    const seconds = (performance.now() - started) / 1000;
    log(`    ${events.length.toLocaleString("en-US")} ${name} in ${seconds.toFixed(1)} s`);
  }
  if (profiles.size !== people) {
    throw new Error(`seeding: ${people} people landed on ${profiles.size} profiles`);
  }
  const sorted = [...lengths].sort((a, b) => a - b);
  return {
    people,
    profiles: profiles.size,
    events: introductions.length + later.length,
    history_median: sorted[Math.floor(sorted.length / 2)],
    history_max: sorted.at(-1),
  };
}

/**
 * One person with exactly `length` events, sent in order (batches one after another), named by
 * the given identifiers only. Answers the profile id.
 */
export async function seedPerson(api, key, { n, identifiers, length, prefix }) {
  const events = range(length).map((k) =>
    k === 0
      ? introduction(n, identifiers, `${prefix}-0`)
      : laterEvent(n, k, oneIdentifier(identifiers, k), `${prefix}-${k}`),
  );
  let profileId = null;
  for (const batch of chunks(events, BATCH)) {
    const results = await postBatch(api, key, batch);
    profileId ??= results[0].profile_id;
  }
  return profileId;
}

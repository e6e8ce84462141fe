// Scale curves: recognition cost against history length, merge time against history length, and
// the storage a profile object uses per event.
import { expectStatus, inPool } from "./client.mjs";
import { identifiersOf, RANGES } from "./people.mjs";
import { describe, failuresOf, mostlyAnswered } from "./phases.mjs";
import { seedPerson } from "./seed.mjs";

/** Profiles with exact history lengths; merge pairs share no key identifier, so they may merge. */
export async function seedCurves(api, key, { recognizeHistory, mergeHistory, mergeRepeats }) {
  const singles = recognizeHistory.map((length, i) => {
    const n = RANGES.scale + i;
    return { n, length, identifiers: identifiersOf(n), prefix: `scale-${n}` };
  });
  const pairs = mergeHistory.flatMap((length, i) =>
    Array.from({ length: mergeRepeats }, (_, repeat) => {
      const n = RANGES.merge + 2 * (i * mergeRepeats + repeat);
      const { email, device_id } = identifiersOf(n);
      const { phone, anonymous_id } = identifiersOf(n + 1);
      return {
        length,
        sides: [
          { n, identifiers: { email, device_id }, length, prefix: `merge-${n}` },
          { n: n + 1, identifiers: { phone, anonymous_id }, length, prefix: `merge-${n + 1}` },
        ],
      };
    }),
  );
  const tasks = [
    ...singles.map((single) => async () => {
      single.profileId = await seedPerson(api, key, single);
    }),
    // Side A first: the older profile survives, and the bench checks the survivor's history.
    ...pairs.map((pair) => async () => {
      for (const side of pair.sides) side.profileId = await seedPerson(api, key, side);
    }),
  ];
  await inPool(tasks, 4, (task) => task());
  return { singles, pairs };
}

export async function recognizeCurve({ load, keys, singles, settings, log }) {
  const curve = [];
  for (const { n, length } of singles) {
    log(`    recognize at ${length.toLocaleString("en-US")} events of history …`);
    const figures = await load.measure({
      workload: "recognize",
      params: { key: keys.pos, first: n, count: 1 },
      length: settings.curvePhase,
      warmup: settings.warmup,
    });
    log(`      ${describe(figures)}`);
    curve.push({
      events: length,
      rps: figures.rps,
      p50_ms: figures.p50_ms,
      p99_ms: figures.p99_ms,
      failures: failuresOf(figures),
      // Held to the phases' rule: figures of mostly failed requests measure something else.
      valid: mostlyAnswered(figures),
    });
  }
  return curve;
}

/** Every event id of a profile's timeline, page by page. */
async function timelineIds(api, key, profileId) {
  const ids = [];
  let cursor = null;
  do {
    const query = `limit=200${cursor ? `&before=${encodeURIComponent(cursor)}` : ""}`;
    const path = `/v1/profiles/${profileId}/timeline?${query}`;
    const page = expectStatus(await api(path, { key }), 200, "reading a timeline");
    ids.push(...page.events.map((event) => event.event_id));
    cursor = page.next;
  } while (cursor);
  return ids;
}

/**
 * One merge, timed from sending the joining event until the survivor's view counts every visit
 * of both histories; then, untimed, its timeline is checked to hold every event exactly once.
 */
async function timeMerge(api, key, { sides: [a, b] }) {
  const eventId = `join-${a.n}-${b.n}`;
  const event = {
    id: eventId,
    type: "visit",
    channel: "store",
    store_id: "s1",
    identifiers: { email: a.identifiers.email, phone: b.identifiers.phone },
  };
  // Each side has one introduction (not a visit) and length - 1 visits or purchases.
  const visits = a.length - 1 + (b.length - 1) + 1;
  const started = performance.now();
  const answer = expectStatus(await api("/v1/events", { key, body: event }), 200, "merging");
  const requestMs = performance.now() - started;
  const survivor = answer.profile_id;
  const deadline = started + 30_000;
  let counted = 0;
  while (counted !== visits && performance.now() < deadline) {
    const view = expectStatus(await api(`/v1/profiles/${survivor}`, { key }), 200, "reading");
    counted = view.computed.visit_count;
  }
  const ms = performance.now() - started;
  const expected = new Set([eventId, ...[a, b].flatMap((side) => eventIds(side))]);
  const held = await timelineIds(api, key, survivor);
  return {
    ms,
    request_ms: requestMs,
    complete:
      answer.merged_profile_ids.length === 1 &&
      counted === visits &&
      held.length === expected.size &&
      held.every((id) => expected.has(id)),
  };
}

const eventIds = ({ prefix, length }) => Array.from({ length }, (_, k) => `${prefix}-${k}`);

const median = (values) => [...values].sort((x, y) => x - y)[Math.floor(values.length / 2)];

export async function mergeCurve({ api, keys, pairs, log }) {
  const byLength = new Map();
  for (const pair of pairs) {
    const sample = await timeMerge(api, keys.server, pair);
    byLength.set(pair.length, [...(byLength.get(pair.length) ?? []), sample]);
  }
  return [...byLength].map(([length, samples]) => {
    const point = {
      events_per_side: length,
      median_ms: median(samples.map((s) => s.ms)),
      samples_ms: samples.map((s) => s.ms),
      request_ms: median(samples.map((s) => s.request_ms)),
      every_event_once: samples.every((s) => s.complete),
    };
    log(
      `    merge of two ${length.toLocaleString("en-US")}-event profiles: ${point.median_ms.toFixed(1)} ms` +
        `${point.every_event_once ? "" : "  (events lost or duplicated!)"}`,
    );
    return point;
  });
}

/** SQLite bytes of each curve profile, and the slope between the shortest and longest. */
export async function storageCurve({ api, singles }) {
  const points = [];
  for (const { length, profileId } of singles) {
    const answer = await api(`/bench/profile-size/${profileId}`);
    points.push({ events: length, bytes: expectStatus(answer, 200, "reading a size").bytes });
  }
  const [first, last] = [points[0], points.at(-1)];
  return { points, bytes_per_event: (last.bytes - first.bytes) / (last.events - first.events) };
}

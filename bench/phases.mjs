// The measured phases at fixed concurrency, in the order they run, and what each compares with.
import { CONNECTIONS } from "./config.mjs";
import { median, percentile } from "./stats.mjs";

/**
 * Each phase is measured in the same `group` as the primitive it is held against (`primitive`,
 * besides the floor): the group's phases take turns in short windows, so slow drift of the machine
 * does not tilt a ratio. `prime` is a workload sent once per person (or object) of the working set
 * before the group starts, so its objects are loaded (workerd closes an object idle for ~10 s) and
 * the isolate's caches know them. `opensObjects` marks the phases that create objects, each window
 * from a quiet start (config.mjs, runtime.mjs). `alsoAgainst` are further phases of the group a
 * phase is held against, to explain a ratio rather than to meet a target. `reaches` is the
 * Durable Object call (`BINDING.method`) every request of the phase must make, `null` for none:
 * checked before the phase is measured, so a phase never records figures of some other path.
 */
export const PHASES = [
  { name: "floor", label: "Floor: GET /healthz", workload: "floor", reaches: null, group: "reads" },
  // Primed by writes, so that every read finds its row.
  {
    name: "read",
    label: "Primitive: one-row read RPC",
    workload: "read",
    reaches: "BENCH.read",
    prime: "write",
    group: "reads",
  },
  // The same read with what every POST lookup carries: a small JSON body, read and parsed.
  {
    name: "readbody",
    label: "Primitive: one-row read RPC, sent as a POST with a JSON body",
    workload: "readbody",
    reaches: "BENCH.read",
    primitive: "read",
    prime: "write",
    group: "reads",
  },
  {
    name: "recognize",
    label: "POS recognize, known person (phone or loyalty id)",
    workload: "recognize",
    reaches: "PROFILES.view",
    primitive: "read",
    alsoAgainst: ["readbody"],
    prime: "recognize",
    group: "reads",
  },
  {
    name: "me",
    label: "GET /v1/me, customer token",
    workload: "me",
    reaches: "PROFILES.view",
    primitive: "read",
    prime: "me",
    group: "reads",
  },
  // The floor again, taking turns with the writes: their "vs floor" ratios are same-round ones too.
  {
    name: "floorwrites",
    label: "Floor: GET /healthz, in turns with the writes",
    workload: "floor",
    reaches: null,
    group: "writes",
  },
  {
    name: "write",
    label: "Primitive: one-row write RPC",
    workload: "write",
    reaches: "BENCH.write",
    prime: "write",
    group: "writes",
  },
  // The same write with what every ingest carries: the event as a JSON body, read, parsed, stored.
  {
    name: "writebody",
    label: "Primitive: one-row write RPC, sent as a POST with the event as JSON body",
    workload: "writebody",
    reaches: "BENCH.write",
    primitive: "write",
    prime: "write",
    group: "writes",
  },
  {
    name: "ingest",
    label: "Ingest a visit, known person",
    workload: "ingest",
    reaches: "PROFILES.ingest",
    primitive: "write",
    alsoAgainst: ["writebody", "storeless"],
    prime: "ingest",
    group: "writes",
  },
  // The ceiling of any ingest here: the same route in full, to profiles that store nothing.
  {
    name: "storeless",
    label: "Ingest route to a profile that stores nothing (the ceiling of ingest)",
    workload: "storeless",
    reaches: "STORELESS.ingest",
    primitive: "write",
    prime: "storeless",
    group: "writes",
  },
  {
    name: "creation",
    label: "First-time recognition, new person",
    workload: "creation",
    reaches: "PROFILES.ingest",
    primitive: "ingest",
    alsoAgainst: ["newobject"],
    opensObjects: true,
    group: "writes",
  },
  // A new person needs new per-person state, so creation is also held against this: the
  // platform's own cost of a first write to an object that did not exist.
  {
    name: "newobject",
    label: "Primitive: one-row write RPC to a new object",
    workload: "newobject",
    reaches: "BENCH.write",
    primitive: "write",
    opensObjects: true,
    group: "writes",
  },
];

/**
 * More failures than this share of a phase's requests (or of its priming) makes its figures
 * meaningless. Below it, failures are the service's to fix: they are counted, sampled and reported.
 */
const MAX_FAILURE_SHARE = 0.05;

/** Requests of a measurement that got no 2xx answer. */
export const failuresOf = (figures) => figures.non2xx + figures.errors + figures.timeouts;

export function mostlyAnswered(figures) {
  const failures = failuresOf(figures);
  return figures.ok > 0 && failures <= MAX_FAILURE_SHARE * (figures.ok + failures);
}

const fmt = (n, digits = 0) =>
  n === null ? "–" : n.toLocaleString("en-US", { maximumFractionDigits: digits });

/** `{ "PROFILES.view": 2 }` → "PROFILES.view ×2": a request's Durable Object calls. */
export function objectCalls(calls) {
  const entries = Object.entries(calls ?? {});
  if (entries.length === 0) return "none";
  return entries.map(([name, count]) => (count > 1 ? `${name} ×${count}` : name)).join(" + ");
}

/** Stops the run when a phase's requests do not make the object call the phase is named for. */
export function checkReach(phase, calls) {
  const names = Object.keys(calls ?? {});
  const reached = phase.reaches === null ? names.length === 0 : names.includes(phase.reaches);
  if (!reached) {
    const expected = phase.reaches ?? "no object";
    throw new Error(
      `${phase.name}: a request should reach ${expected}, made ${objectCalls(calls)}`,
    );
  }
}

export function describe(figures) {
  const failures = failuresOf(figures);
  const note = failures ? `  (${failures} failed: ${JSON.stringify(figures.status_codes)})` : "";
  const cpu = `workerd CPU ${fmt(figures.cpu_us_per_request)} µs/request`;
  return `${fmt(figures.rps)} req/s  p50 ${fmt(figures.p50_ms, 2)} ms  p99 ${fmt(figures.p99_ms, 2)} ms  ${cpu}${note}`;
}

/**
 * `/v1/me` is measured only once the route exists: until then the app's catch-all answers
 * 404 "No such endpoint", and the phase is recorded as not available yet.
 */
async function meTokens(api, credentials, numbers) {
  const probe = await api("/v1/me", { key: await credentials.customerToken("u0") });
  if (probe.status === 404 && probe.json?.detail === "No such endpoint") return null;
  // Even-numbered people have a user_id (people.mjs).
  const users = numbers.filter((n) => n % 2 === 0);
  return Promise.all(users.map((n) => credentials.customerToken(`u${n}`)));
}

/**
 * A phase's windows as one figure: counts summed, requests/s and CPU as medians of the windows,
 * latency percentiles exact over every window's latencies pooled.
 */
function combine(windows) {
  const sum = (key) => windows.reduce((total, w) => total + w[key], 0);
  const statusCodes = {};
  for (const w of windows) {
    for (const [code, n] of Object.entries(w.status_codes))
      statusCodes[code] = (statusCodes[code] ?? 0) + n;
  }
  const of = (key) => median(windows.map((w) => w[key]));
  const pooled = windows.flatMap((w) => w.latencies_ms).sort((a, b) => a - b);
  return {
    requests: sum("requests"),
    ok: sum("ok"),
    non2xx: sum("non2xx"),
    errors: sum("errors"),
    timeouts: sum("timeouts"),
    status_codes: statusCodes,
    failures: Object.assign({}, ...windows.map((w) => w.failures)),
    seconds: sum("seconds"),
    rps: of("rps"),
    p50_ms: percentile(pooled, 0.5),
    p90_ms: percentile(pooled, 0.9),
    p99_ms: percentile(pooled, 0.99),
    cpu_us_per_request: of("cpu_us_per_request"),
    windows: windows.map(({ rps, p50_ms, p99_ms, cpu_us_per_request }) => ({
      rps,
      p50_ms,
      p99_ms,
      cpu_us_per_request,
    })),
  };
}

/** Exactly one request per object of the working set, so the phase finds them loaded. */
async function prime(phase, { load, files, params, settings, count }) {
  if (!phase.prime) return;
  // Priming opens objects: start it with room for them.
  await files.room(settings.primeBelow);
  const primed = await load.prime({
    workload: phase.prime,
    params: params[phase.prime],
    amount: Math.max(count, CONNECTIONS),
  });
  if (!mostlyAnswered(primed)) {
    throw new Error(`priming ${phase.name} failed: ${JSON.stringify(primed.failures)}`);
  }
}

/** What each workload needs: the working set (`count` people `stride` apart), keys and tokens. */
export function workloadParams({ keys, count, stride, tokens }) {
  return {
    floor: {},
    read: { objects: count },
    readbody: { objects: count },
    write: { objects: count },
    writebody: { objects: count },
    recognize: { key: keys.pos, count, stride },
    me: { tokens },
    ingest: { key: keys.server, count, stride },
    storeless: { key: keys.server, count, stride },
    creation: { key: keys.server },
    newobject: {},
  };
}

/**
 * Runs every phase, group by group: the phases of a group take turns in short windows, round
 * after round, so a phase and its primitive see the same state of the machine (whose speed
 * drifts by tens of percent within minutes). A phase that cannot run stops the bench.
 */
export async function measurePhases({ load, api, files, keys, credentials, settings, log }) {
  const { people, workingSet: count } = settings;
  const stride = Math.floor(people / count);
  const numbers = Array.from({ length: count }, (_, i) => i * stride);
  const tokens = await meTokens(api, credentials, numbers);
  const params = workloadParams({ keys, count, stride, tokens });

  const results = {};
  for (const group of [...new Set(PHASES.map((phase) => phase.group))]) {
    const members = PHASES.filter((phase) => phase.group === group);
    log(`${group}: ${members.map((phase) => phase.name).join(", ")}, alternating …`);
    const ready = [];
    for (const phase of members) {
      if (phase.workload === "me" && !tokens) {
        results[phase.name] = {
          available: false,
          reason: 'GET /v1/me answers 404 "No such endpoint"',
        };
        log(`    ${phase.label}: not available yet`);
        continue;
      }
      await prime(phase, { load, files, params, settings, count });
      const calls = await load.prepare({
        workload: phase.workload,
        params: params[phase.workload],
        warmup: phase.opensObjects ? settings.creationWarmup : settings.warmup,
      });
      checkReach(phase, calls);
      ready.push({ phase, calls, windows: [] });
    }
    let opened = false;
    for (let round = 0; round < settings.rounds; round++) {
      for (const { phase, windows } of ready) {
        // Objects a creation window opened are closed ~10 s later, at a cost to whatever runs then:
        // the next window waits for them, and a creation window starts from a quiet workerd too.
        if (phase.opensObjects || opened) await files.room(settings.settleBelow);
        opened = Boolean(phase.opensObjects);
        // workerd closes an object idle for ~10 s, and a round of the writes group (with its
        // waits for files) takes longer: without this, every later window of ingest would reload
        // its 1,000 profiles from SQLite while its primitive reloads trivial objects.
        if (round > 0) await prime(phase, { load, files, params, settings, count });
        const window = await load.window({
          workload: phase.workload,
          params: params[phase.workload],
          length: phase.opensObjects ? settings.creationWindow : settings.window,
          index: round,
        });
        windows.push(window);
        log(`    ${phase.name} ${round + 1}/${settings.rounds}: ${describe(window)}`);
      }
    }
    for (const { phase, calls, windows } of ready) {
      const figures = { ...combine(windows), group, object_calls: calls };
      figures.valid = mostlyAnswered(figures);
      results[phase.name] = { available: true, ...figures };
      log(`${phase.label}: ${describe(figures)}${figures.valid ? "" : "  INVALID"}`);
      log(`    object calls per request: ${objectCalls(figures.object_calls)}`);
    }
  }
  return results;
}

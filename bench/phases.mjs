// The measured phases at fixed concurrency, in the order they run, and what each compares with.
import { CONNECTIONS } from "./config.mjs";

/**
 * Each figure runs right after the primitive it is held against (`primitive`, besides the floor),
 * so slow drift of the runtime over the run does not tilt a ratio. `prime` is a workload sent
 * once per person (or object) of the working set just before the phase, so its objects are loaded
 * (workerd closes an object idle for ~10 s) and the isolate's caches know them. `opensObjects`
 * marks the phase that creates objects, run short and from a quiet start (config.mjs, runtime.mjs).
 */
export const PHASES = [
  { name: "floor", label: "Floor: GET /healthz", workload: "floor" },
  // Primed by writes, so that every read finds its row.
  { name: "read", label: "Primitive: one-row read RPC", workload: "read", prime: "write" },
  {
    name: "recognize",
    label: "POS recognize, known person (phone or loyalty id)",
    workload: "recognize",
    primitive: "read",
    prime: "recognize",
  },
  {
    name: "me",
    label: "GET /v1/me, customer token",
    workload: "me",
    primitive: "read",
    prime: "me",
  },
  { name: "write", label: "Primitive: one-row write RPC", workload: "write", prime: "write" },
  {
    name: "ingest",
    label: "Ingest a visit, known person",
    workload: "ingest",
    primitive: "write",
    prime: "ingest",
  },
  {
    name: "creation",
    label: "First-time recognition, new person",
    workload: "creation",
    primitive: "ingest",
    opensObjects: true,
  },
];

/**
 * More failures than this share of a phase's requests (or of its priming) makes its figures
 * meaningless. Below it, failures are the service's to fix: they are counted, sampled and reported.
 */
const MAX_FAILURE_SHARE = 0.05;

function mostlyAnswered(figures) {
  const failures = figures.non2xx + figures.errors + figures.timeouts;
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

export function describe(figures) {
  const failures = figures.non2xx + figures.errors + figures.timeouts;
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

/** Runs every phase; a phase that cannot run (preflight refused) stops the bench. */
export async function measurePhases({ load, api, files, keys, credentials, settings, log }) {
  const { people, workingSet: count } = settings;
  const stride = Math.floor(people / count);
  const numbers = Array.from({ length: count }, (_, i) => i * stride);
  const tokens = await meTokens(api, credentials, numbers);
  const params = {
    floor: {},
    read: { objects: count },
    write: { objects: count },
    recognize: { key: keys.pos, count, stride },
    me: { tokens },
    ingest: { key: keys.server, count, stride },
    creation: { key: keys.server },
  };

  const results = {};
  for (const [index, phase] of PHASES.entries()) {
    if (phase.opensObjects) await files.room(settings.settleBelow);
    const step = `[${index + 1}/${PHASES.length}] ${phase.label}`;
    if (phase.workload === "me" && !tokens) {
      results[phase.name] = {
        available: false,
        reason: 'GET /v1/me answers 404 "No such endpoint"',
      };
      log(`${step}: not available yet`);
      continue;
    }
    log(`${step} …`);
    if (phase.prime) {
      // Priming opens objects: start it with room for them.
      await files.room(settings.primeBelow);
      const amount = Math.max(count, CONNECTIONS);
      const primed = await load.prime({
        workload: phase.prime,
        params: params[phase.prime],
        amount,
      });
      if (!mostlyAnswered(primed)) {
        throw new Error(`priming ${phase.name} failed: ${JSON.stringify(primed.failures)}`);
      }
    }
    const figures = await load.measure({
      workload: phase.workload,
      params: params[phase.workload],
      ...(phase.opensObjects
        ? { length: settings.creationPhase, warmup: settings.creationWarmup }
        : { length: settings.phase, warmup: settings.warmup }),
    });
    figures.valid = mostlyAnswered(figures);
    results[phase.name] = { available: true, ...figures };
    log(`    ${describe(figures)}${figures.valid ? "" : "  INVALID"}`);
    log(`    object calls per request: ${objectCalls(figures.object_calls)}`);
  }
  return results;
}

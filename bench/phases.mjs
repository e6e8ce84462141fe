// The measured phases at fixed concurrency, in the order they run, and what each compares with.

/** `primitive` names the phase a figure is held against besides the floor. */
export const PHASES = [
  { name: "floor", label: "Floor: GET /healthz", workload: "floor" },
  { name: "read", label: "Primitive: one-row read RPC", workload: "read" },
  { name: "write", label: "Primitive: one-row write RPC", workload: "write" },
  {
    name: "recognize",
    label: "POS recognize, known person (phone or loyalty id)",
    workload: "recognize",
    primitive: "read",
  },
  { name: "me", label: "GET /v1/me, customer token", workload: "me", primitive: "read" },
  {
    name: "ingest",
    label: "Ingest a visit, known person",
    workload: "ingest",
    primitive: "write",
  },
  {
    name: "creation",
    label: "First-time recognition, new person",
    workload: "creation",
    primitive: "ingest",
  },
];

/** More failures than this share of a phase's requests makes its figures meaningless. */
const MAX_FAILURE_SHARE = 0.01;

const fmt = (n, digits = 0) =>
  n === null ? "–" : n.toLocaleString("en-US", { maximumFractionDigits: digits });

export function describe(figures) {
  const failures = figures.non2xx + figures.errors + figures.timeouts;
  const note = failures ? `  (${failures} failed: ${JSON.stringify(figures.status_codes)})` : "";
  return `${fmt(figures.rps)} req/s  p50 ${fmt(figures.p50_ms, 2)} ms  p99 ${fmt(figures.p99_ms, 2)} ms${note}`;
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
export async function measurePhases({ load, api, keys, credentials, settings, log }) {
  const { people, workingSet: count, phase: length, warmup } = settings;
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
  // Every object a phase uses exists and is loaded before it is measured; the read primitive
  // finds its row.
  await load.prime({ workload: "write", params: params.write, amount: count });
  await load.prime({ workload: "recognize", params: params.recognize, amount: count });

  const results = {};
  for (const [index, phase] of PHASES.entries()) {
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
    const figures = await load.measure({
      workload: phase.workload,
      params: params[phase.workload],
      length,
      warmup,
    });
    const failures = figures.non2xx + figures.errors + figures.timeouts;
    figures.valid = figures.ok > 0 && failures <= MAX_FAILURE_SHARE * (figures.ok + failures);
    results[phase.name] = { available: true, ...figures };
    log(`    ${describe(figures)}${figures.valid ? "" : "  INVALID"}`);
  }
  return results;
}

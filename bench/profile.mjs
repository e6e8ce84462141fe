// `npm run bench:profile -- [--cpu] [<phase> …]`: where the CPU goes under each phase's load.
// Seeds a small crowd, runs workerd with V8's inspector open, and records a CPU profile of the
// isolate (the Worker and every object run in it) while the phase's load runs. Writes each
// profile to bench/.out/profiles/<phase>.cpuprofile (open it in Chrome DevTools) and prints the
// functions with the most self time and the service's functions with the most total time.
// `--cpu`: no profiler; the phases alternate in short windows and the report is workerd's CPU per
// request and each phase's throughput against its primitive, as medians (for A/B of a change).
// BENCH_WORKING_SET=n (at most 1,000): how many people each phase cycles through (default 100).
// BENCH_DIRECT=1: requests go to the Worker's own socket, past miniflare's entry worker, which
// the recorded run keeps (bench/runtime.mjs, withWorker): what that local-only layer costs.
// `--perf`: Linux `perf` samples workerd's native stacks instead (HTTP, RPC, SQLite, V8 itself:
// most of a request's CPU, which V8's profiler cannot see); needs `perf` on the PATH.
// `--stalls`: where the slow requests come from: the moments no response arrived for STALL_MS or
// more, and what workerd's main thread did meanwhile (from `perf`), as scavenges, full
// mark-compacts, other GC or anything else.
import { execFile, spawn } from "node:child_process";
import { once } from "node:events";
import { mkdir, writeFile } from "node:fs/promises";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { apiClient } from "./client.mjs";
import { SMOKE } from "./config.mjs";
import { benchCredentials } from "./credentials.mjs";
import { startLoad } from "./load.mjs";
import { checkReach, PHASES as MEASURED, workloadParams } from "./phases.mjs";
import { roundRatio } from "./report.mjs";
import { bundle, dataFolder, withWorker, workerdPids } from "./runtime.mjs";
import { createKeys, seedCrowd } from "./seed.mjs";
import { median } from "./stats.mjs";

const root = fileURLToPath(new URL("..", import.meta.url));
const INSPECTOR_PORT = 9231;
const SECONDS = 5;
const ROUNDS = 5;
const ROUND_SECONDS = 2;
const WARMUP = { seconds: 2 };
const TOP = 25;
const SAMPLE_US = 100;
const PERF_HZ = 2_000;
const settings = {
  ...SMOKE,
  name: "profile",
  people: 1_000,
  workingSet: Number(process.env.BENCH_WORKING_SET ?? 100),
};
// `--cpu`: no profiler, only workerd's CPU per request, which is what bounds throughput here.
const cpuOnly = process.argv.includes("--cpu");
const perf = process.argv.includes("--perf");
const stalls = process.argv.includes("--stalls");
const MODES = new Set(["--cpu", "--perf", "--stalls"]);
/** A pause in responses at least this long counts as a stall (p50s here are 3–9 ms). */
const STALL_MS = 30;
/** The recorded run's phases (bench/phases.mjs), by name. */
const PHASES = MEASURED.map(({ name }) => name);
/** Each phase as bench/phases.mjs defines it, by name. */
const BY_NAME = new Map(MEASURED.map((phase) => [phase.name, phase]));
/** What a phase's requests are: its workload (two phases may share one) and that workload's params. */
const sent = (phase, params) => {
  const { workload } = BY_NAME.get(phase);
  return { workload, params: params[workload] };
};
/** A phase that opens a new object per request: each window starts once earlier ones closed. */
const opensObjects = (phase) => Boolean(BY_NAME.get(phase).opensObjects);

/** A phase loaded and warmed up, once its requests are seen to make the object call it is for. */
async function prepare(load, params, phase) {
  const calls = await load.prepare({ ...sent(phase, params), warmup: WARMUP });
  checkReach(BY_NAME.get(phase), calls);
}

/** A Chrome DevTools Protocol session with the Worker's isolate. */
async function inspect(port) {
  const targets = await (await fetch(`http://127.0.0.1:${port}/json`)).json();
  const target = targets.find((t) => !t.url?.includes("core:")) ?? targets[0];
  const socket = new WebSocket(target.webSocketDebuggerUrl);
  await new Promise((resolve, reject) => {
    socket.onopen = resolve;
    socket.onerror = reject;
  });
  let nextId = 0;
  const pending = new Map();
  socket.onmessage = ({ data }) => {
    const message = JSON.parse(data);
    pending.get(message.id)?.(message);
    pending.delete(message.id);
  };
  return {
    send: (method, params = {}) =>
      new Promise((resolve, reject) => {
        const id = ++nextId;
        pending.set(id, (m) => (m.error ? reject(new Error(m.error.message)) : resolve(m.result)));
        socket.send(JSON.stringify({ id, method, params }));
      }),
    close: () => socket.close(),
  };
}

/** Self and total sample counts per function, from a CDP profile's node tree. */
function summarise(profile) {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const selfHits = new Map(profile.nodes.map((node) => [node.id, 0]));
  for (const sample of profile.samples) selfHits.set(sample, (selfHits.get(sample) ?? 0) + 1);
  const idle = new Set(["(idle)"]);
  const label = ({ callFrame: f }) =>
    `${f.functionName || "(anonymous)"} ${f.url ? `${f.url.split("/").at(-1)}:${f.lineNumber + 1}` : ""}`.trim();
  const self = new Map();
  const total = new Map();
  let busy = 0;
  const walk = (node, stack) => {
    const name = label(node);
    const hits = selfHits.get(node.id) ?? 0;
    if (!idle.has(node.callFrame.functionName)) busy += hits;
    self.set(name, (self.get(name) ?? 0) + hits);
    const inner = new Set(stack).add(name);
    let subtree = hits;
    for (const child of node.children ?? []) subtree += walk(byId.get(child), inner);
    // A function counts once per sample even when it recurses.
    if (!stack.has(name)) total.set(name, (total.get(name) ?? 0) + subtree);
    return subtree;
  };
  walk(byId.get(profile.nodes[0].id), new Set());
  return { self, total, busy };
}

/** Each function's samples as CPU time per request (one sample per SAMPLE_US). */
function print(summary, requests) {
  const share = (hits) =>
    `${Math.round((hits * SAMPLE_US) / requests)
      .toString()
      .padStart(5)} µs`;
  const top = (map, filter) =>
    [...map]
      .filter(([name]) => filter(name))
      .sort((a, b) => b[1] - a[1])
      .slice(0, TOP);
  console.log(`-- JS profile: ${share(summary.busy)} per request in the isolate`);
  console.log("-- self time");
  for (const [name, hits] of top(summary.self, (n) => !n.startsWith("(idle)"))) {
    console.log(`${share(hits)}  ${name}`);
  }
  console.log("-- total time, service code");
  for (const [name, hits] of top(summary.total, (n) => /entry\.js:/.test(n) && !/^\(/.test(n))) {
    console.log(`${share(hits)}  ${name}`);
  }
}

/** Each phase in turn under V8's profiler, after a warm-up. */
async function profilePhases({ load, params, phases }) {
  const out = join(root, "bench", ".out", "profiles");
  await mkdir(out, { recursive: true });
  const inspector = await inspect(INSPECTOR_PORT);
  try {
    await inspector.send("Profiler.enable");
    await inspector.send("Profiler.setSamplingInterval", { interval: SAMPLE_US });
    for (const phase of phases) {
      // Warm: every object of the working set loaded, V8 optimised, before sampling.
      await prepare(load, params, phase);
      await inspector.send("Profiler.start");
      const figures = await load.window({
        ...sent(phase, params),
        length: { seconds: SECONDS },
        index: 0,
      });
      const { profile } = await inspector.send("Profiler.stop");
      console.log(`\n== ${phase}: ${Math.round(figures.rps)} req/s under the profiler`);
      console.log(`-- workerd CPU per request: ${figures.cpu_by_thread}`);
      const file = join(out, `${phase}.cpuprofile`);
      await writeFile(file, JSON.stringify(profile));
      print(summarise(profile), figures.ok);
      console.log(`-- ${relative(root, file)}`);
    }
  } finally {
    inspector.close();
  }
}

/**
 * Parts of workerd's work, by a frame anywhere in a sample's stack: a sample counts for every part
 * it is inside (a commit is inside SQLite), so the shares overlap and do not add up to the whole.
 */
const PARTS = [
  ["SQLite, all of it", /^sqlite3|SqliteDatabase/],
  ["SQLite opening a database file (unixOpen)", /^unixOpen/],
  ["SQLite commit (WAL frames)", /sqlite3WalFrames|sqlite3PagerCommitPhaseOne|walWriteToLog/],
  ["kernel file writes", /ksys_write|ksys_pwrite|__x64_sys_pwrite|fsync/],
  ["system calls, all", /entry_SYSCALL|do_syscall_64/],
  ["page faults", /^exc_page_fault|^asm_exc_page_fault/],
  [
    "V8 garbage collection",
    /v8::internal::Heap::|Scavenger|MarkCompact|MinorMarkSweep|cppgc::internal::.*(Sweep|Mark)/,
  ],
  ["JSON.stringify", /JsonStringifier/],
  ["JSON.parse", /JsonParser/],
  [
    "RPC arguments (V8 serializer)",
    /ValueSerializer|ValueDeserializer|jsg::Serializer|jsg::Deserializer/,
  ],
  ["Cap'n Proto (RPC transport)", /^capnp::/],
  ["HTTP parsing (hyper)", /hyper::/],
  ["malloc (tcmalloc)", /tcmalloc|TCMalloc/],
  ["inside an object's RPC method", /JsRpcTargetBase::callImpl/],
];

/** `perf script` samples as { tid, ms, frames }, ms on CLOCK_MONOTONIC. */
async function perfSamples(file) {
  const { stdout } = await promisify(execFile)(
    "perf",
    ["script", "-i", file, "-F", "tid,time,ip,sym"],
    { maxBuffer: 1024 * 1024 * 1024 },
  );
  const samples = [];
  for (const block of stdout.split("\n\n")) {
    const [head, ...lines] = block.split("\n").filter((line) => line.trim());
    const match = /^\s*(\d+)\s+([\d.]+):/.exec(head ?? "");
    if (!match) continue;
    const frames = lines.map((line) => line.trim().replace(/^[0-9a-f]+\s+/, ""));
    samples.push({ tid: Number(match[1]), ms: Number(match[2]) * 1000, frames });
  }
  return samples;
}

/** What each part of workerd's work costs per request, from `perf script`'s stacks. */
function perfReport(samples, cpuUs) {
  const hits = new Map(PARTS.map(([name]) => [name, 0]));
  for (const { frames } of samples) {
    for (const [name, pattern] of PARTS) {
      if (frames.some((frame) => pattern.test(frame))) hits.set(name, (hits.get(name) ?? 0) + 1);
    }
  }
  return PARTS.map(([name]) => {
    const share = (hits.get(name) ?? 0) / (samples.length || 1);
    return `${String(Math.round(share * cpuUs)).padStart(5)} µs  ${(share * 100).toFixed(1).padStart(5)} %  ${name}`;
  }).join("\n");
}

/**
 * One measured window of a phase while `perf record` samples workerd's every thread at PERF_HZ,
 * stamped with CLOCK_MONOTONIC (the clock loadgen.mjs stamps arrivals with); answers the
 * window's figures and the file.
 */
async function underPerf({ load, params, phase, name, timeline = false }) {
  const file = join(root, "bench", ".out", "profiles", `${name}.perf.data`);
  await mkdir(dirname(file), { recursive: true });
  const pid = workerdPids().join(",");
  const args = ["record", "-q", "-g", "-k", "CLOCK_MONOTONIC", "-F", String(PERF_HZ)];
  const recorder = spawn("perf", [...args, "-p", pid, "-o", file], { stdio: "inherit" });
  const figures = await load.window({
    ...sent(phase, params),
    length: { seconds: SECONDS },
    index: 0,
    timeline,
  });
  recorder.kill("SIGINT");
  await once(recorder, "exit");
  return { figures, file };
}

/** Each phase in turn under `perf record`, reported as CPU per request by part. */
async function perfPhases({ load, params, phases, files }) {
  for (const phase of phases) {
    await prepare(load, params, phase);
    if (opensObjects(phase)) await files.room(0.3);
    const openBefore = files.open();
    const { figures, file } = await underPerf({ load, params, phase, name: phase });
    console.log(`\n== ${phase}: ${Math.round(figures.rps)} req/s under perf`);
    console.log(`-- files workerd holds open: ${openBefore} before, ${files.open()} after`);
    console.log(`-- workerd CPU per request: ${figures.cpu_by_thread}`);
    console.log(perfReport(await perfSamples(file), figures.cpu_us_per_request));
    console.log(`-- ${relative(root, file)}`);
  }
}

/** What a sample of workerd's main thread was doing, by the frames of its stack. */
const STALL_PARTS = [
  ["scavenge (young generation)", /Heap::Scavenge|ScavengerCollector|MinorMarkSweep/],
  [
    "mark-compact (whole heap, with the C++ wrappers of workerd's objects)",
    /MarkCompactCollector|Heap::MarkCompact|CppHeap::|cppgc::internal::(Sweeper|Marker)/,
  ],
  [
    "after a GC: destroying the dead wrappers of workerd's objects (Request, Response, Headers …)",
    /CallGCEpilogueCallbacks|maybeDeferDestruction|RefToDelete|Wrappable::detach/,
  ],
  ["other GC", /v8::internal::Heap::|GlobalHandles|TracedHandles|HeapTracer/],
];

/** The stalls of one window: response gaps of STALL_MS or more, and the main thread's work in them. */
function stallReport(timeline, samples) {
  const arrivals = [];
  for (let i = 0; i < timeline.length; i += 2) arrivals.push(timeline[i]);
  arrivals.sort((a, b) => a - b);
  const gaps = [];
  for (let i = 1; i < arrivals.length; i++) {
    if (arrivals[i] - arrivals[i - 1] >= STALL_MS) gaps.push([arrivals[i - 1], arrivals[i]]);
  }
  const span = arrivals.at(-1) - arrivals[0];
  const stalled = gaps.reduce((sum, [from, to]) => sum + to - from, 0);
  const perThread = new Map();
  for (const { tid } of samples) perThread.set(tid, (perThread.get(tid) ?? 0) + 1);
  const main = [...perThread].sort((a, b) => b[1] - a[1])[0]?.[0];
  const inGaps = samples.filter(
    (s) => s.tid === main && gaps.some(([from, to]) => s.ms >= from && s.ms <= to),
  );
  const kinds = new Map([...STALL_PARTS.map(([name]) => [name, 0]), ["not GC", 0]]);
  const leaves = new Map();
  for (const { frames } of inGaps) {
    const kind =
      STALL_PARTS.find(([, pattern]) => frames.some((f) => pattern.test(f)))?.[0] ?? "not GC";
    kinds.set(kind, kinds.get(kind) + 1);
    const leaf = (frames[0] ?? "?").replace(/\(.*/, "").slice(0, 90);
    leaves.set(leaf, (leaves.get(leaf) ?? 0) + 1);
  }
  const lengths = gaps.map(([from, to]) => to - from).sort((a, b) => a - b);
  const pct = (n, of) => `${((100 * n) / (of || 1)).toFixed(1)} %`;
  const lines = [
    `-- stalls (no response for ${STALL_MS} ms or more): ${gaps.length} in ${(span / 1000).toFixed(1)} s, ${Math.round(stalled)} ms in all (${pct(stalled, span)} of the window); median ${Math.round(median(lengths) ?? 0)} ms, longest ${Math.round(lengths.at(-1) ?? 0)} ms`,
    `-- workerd's main thread during them: ${inGaps.length} samples (${Math.round((inGaps.length * 1000) / PERF_HZ)} ms on CPU)`,
    ...[...kinds].map(([name, n]) => `${pct(n, inGaps.length).padStart(8)}  ${name}`),
    "-- its busiest functions then",
    ...[...leaves]
      .sort((a, b) => b[1] - a[1])
      .slice(0, 8)
      .map(([name, n]) => `${pct(n, inGaps.length).padStart(8)}  ${name}`),
  ];
  return lines.join("\n");
}

/** Each phase under `perf record` with every response's arrival, for stallReport. */
async function stallPhases({ load, params, phases }) {
  for (const phase of phases) {
    await prepare(load, params, phase);
    const { figures, file } = await underPerf({
      load,
      params,
      phase,
      name: `${phase}.stalls`,
      timeline: true,
    });
    console.log(
      `\n== ${phase}: ${Math.round(figures.rps)} req/s, p50 ${figures.p50_ms.toFixed(1)} ms, p99 ${figures.p99_ms.toFixed(1)} ms`,
    );
    console.log(stallReport(figures.timeline, await perfSamples(file)));
  }
}

/**
 * The phases in alternation, ROUNDS short windows each: this machine's speed drifts by tens of
 * percent within minutes, so a phase is compared with its primitive window by window and the
 * median of those ratios is reported.
 */
async function compare({ load, params, phases, files }) {
  const rounds = Object.fromEntries(phases.map((phase) => [phase, []]));
  for (const phase of phases) {
    await prepare(load, params, phase);
  }
  for (let round = 0; round < ROUNDS; round++) {
    for (const phase of phases) {
      if (opensObjects(phase)) await files.room(0.3);
      // Each window its own round: an ingest or a signup sent again would be a duplicate.
      const figures = await load.window({
        ...sent(phase, params),
        length: { seconds: ROUND_SECONDS },
        index: round,
      });
      rounds[phase].push({ rps: figures.rps, us: figures.cpu_us_per_request });
      console.log(
        `round ${round + 1} ${phase}: ${Math.round(figures.rps)} req/s, ${figures.cpu_by_thread}`,
      );
    }
  }
  console.log("\n== medians (req/s, workerd CPU per request) and throughput against the primitive");
  for (const phase of phases) {
    // Its primitive, then the phases that explain its ratio, as the recorded run holds it.
    const { primitive, alsoAgainst = [] } = BY_NAME.get(phase);
    const against = [primitive, ...alsoAgainst]
      .filter((base) => rounds[base])
      .map((base) => `${roundRatio(rounds[phase], rounds[base])?.toFixed(2) ?? "–"}× ${base}`);
    const ratio = against.length ? ` — ${against.join(", ")}` : "";
    const rps = Math.round(median(rounds[phase].map((r) => r.rps)));
    const us = Math.round(median(rounds[phase].map((r) => r.us)));
    console.log(`${phase}: ${rps} req/s, ${us} µs${ratio}`);
  }
}

async function main() {
  const wanted = process.argv.slice(2).filter((arg) => !MODES.has(arg));
  const phases = wanted.length ? wanted : PHASES;
  const unknown = phases.filter((p) => !PHASES.includes(p));
  if (unknown.length)
    throw new Error(`unknown phase ${unknown.join(", ")}; choose from ${PHASES.join(", ")}`);
  console.log("bundling …");
  const scriptPath = await bundle(join(root, "bench", ".out", "profile"));
  const credentials = await benchCredentials();
  const data = await dataFolder();
  const options = {
    scriptPath,
    bindings: { ...credentials.bindings, MAX_EVENTS_PER_PROFILE: "1000" },
    persistTo: data.path,
    direct: Boolean(process.env.BENCH_DIRECT),
    ...(cpuOnly || perf || stalls ? {} : { inspectorPort: INSPECTOR_PORT }),
  };
  try {
    const keys = await withWorker(options, async (worker) => {
      const api = apiClient(worker.url);
      const created = await createKeys(api, credentials.adminKey);
      console.log(`seeding ${settings.people} people …`);
      await seedCrowd(api, created.server, settings, { files: worker.files, log: () => {} });
      return created;
    });
    // A fresh workerd on the seeded data, as the recorded run measures.
    await withWorker(options, async (worker) => {
      const count = settings.workingSet;
      const stride = settings.people / count;
      const tokens = await Promise.all(
        Array.from({ length: count / 2 }, (_, i) =>
          credentials.customerToken(`u${i * 2 * stride}`),
        ),
      );
      const params = workloadParams({ keys, count, stride, tokens });
      const load = startLoad(worker.url);
      try {
        if (cpuOnly) await compare({ load, params, phases, files: worker.files });
        else if (perf) await perfPhases({ load, params, phases, files: worker.files });
        else if (stalls) await stallPhases({ load, params, phases });
        else await profilePhases({ load, params, phases });
      } finally {
        load.close();
      }
    });
  } finally {
    await data.remove();
  }
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});

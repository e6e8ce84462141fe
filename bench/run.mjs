// `npm run bench`: the recorded run, written to bench/results/<date>.json and BENCHMARKS.md.
// `npm run bench:smoke` (`--smoke`): a tiny run for CI that proves the harness works end to end
// and writes its report to a temporary folder; no timing is judged, only that everything ran.
import { mkdir, mkdtemp, readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { apiClient } from "./client.mjs";
import { CONNECTIONS, FULL, SMOKE } from "./config.mjs";
import { benchCredentials } from "./credentials.mjs";
import { startLoad } from "./load.mjs";
import { measurePhases, PHASES } from "./phases.mjs";
import { machine, ratios, targets, writeReport } from "./report.mjs";
import { bundle, dataFolder, fileSystemOf, withWorker } from "./runtime.mjs";
import { mergeCurve, recognizeCurve, seedCurves, storageCurve } from "./scale.mjs";
import { createKeys, seedCrowd } from "./seed.mjs";

const root = fileURLToPath(new URL("..", import.meta.url));
const smoke = process.argv.includes("--smoke");
const settings = smoke ? SMOKE : FULL;
const began = performance.now();

function log(line) {
  const seconds = ((performance.now() - began) / 1000).toFixed(1).padStart(6);
  console.log(`${seconds}s  ${line}`);
}

async function where() {
  if (!smoke) {
    const dir = join(root, "bench", "results");
    await mkdir(dir, { recursive: true });
    return { dir, markdownPath: join(root, "BENCHMARKS.md") };
  }
  const dir = await mkdtemp(join(tmpdir(), "recognition-bench-report-"));
  return { dir, markdownPath: join(dir, "BENCHMARKS.md") };
}

async function seed(worker, credentials) {
  const api = apiClient(worker.url);
  const keys = await createKeys(api, credentials.adminKey);
  log(`seeding ${settings.people.toLocaleString("en-US")} people, batches of 100 …`);
  const started = performance.now();
  const crowd = await seedCrowd(api, keys.server, settings, { files: worker.files, log });
  crowd.seconds = (performance.now() - started) / 1000;
  log(`    ${crowd.events.toLocaleString("en-US")} events seeded in ${crowd.seconds.toFixed(1)} s`);
  log("seeding the curve profiles (long histories, merge pairs) …");
  const curves = await seedCurves(api, keys.server, settings);
  return { keys, crowd, curves };
}

async function measure(worker, credentials, { keys, curves }) {
  const api = apiClient(worker.url);
  const load = startLoad(worker.url);
  try {
    log(`measuring at ${CONNECTIONS} connections …`);
    const phases = await measurePhases({
      load,
      api,
      files: worker.files,
      keys,
      credentials,
      settings,
      log,
    });
    log("scale curves …");
    const recognize = await recognizeCurve({ load, keys, singles: curves.singles, settings, log });
    const merge = await mergeCurve({ api, keys, pairs: curves.pairs, log });
    const storage = await storageCurve({ api, singles: curves.singles });
    log(`    storage: ${Math.round(storage.bytes_per_event)} bytes per event`);
    return { phases, scale: { recognize, merge, storage } };
  } finally {
    load.close();
  }
}

async function main() {
  log(`bench (${settings.name}): bundling bench/entry.ts with wrangler …`);
  const scriptPath = await bundle(join(root, "bench", ".out", settings.name));
  const credentials = await benchCredentials();
  const bindings = {
    ...credentials.bindings,
    MAX_EVENTS_PER_PROFILE: String(settings.maxEventsPerProfile),
  };
  const data = await dataFolder();
  log(`Durable Objects persisted in ${data.path} (${fileSystemOf(data.path)})`);
  let seeded;
  let measured;
  try {
    const options = { scriptPath, bindings, persistTo: data.path };
    seeded = await withWorker(options, (worker) => seed(worker, credentials));
    // Measured by a fresh workerd on the seeded data: no figure inherits the seeding's heap or its
    // thousands of open objects, and every run starts from the same state.
    log("restarting workerd on the seeded data …");
    measured = await withWorker(options, (worker) => measure(worker, credentials, seeded));
  } finally {
    await data.remove();
  }

  const { phases, scale } = measured;
  const phaseRatios = ratios(phases);
  const report = {
    date: new Date().toISOString().slice(0, 10),
    run: {
      profile: settings.name,
      connections: CONNECTIONS,
      window: settings.window,
      rounds: settings.rounds,
      warmup: settings.warmup,
      curve_phase: settings.curvePhase,
      creation_window: settings.creationWindow,
      max_events_per_profile: settings.maxEventsPerProfile,
      working_set: settings.workingSet,
      storage_folder: dirname(data.path),
      storage: fileSystemOf(data.path),
      seed: seeded.crowd,
      total_seconds: (performance.now() - began) / 1000,
    },
    machine: await machine(),
    phases,
    ratios: phaseRatios,
    scale,
    targets: targets({
      ratios: phaseRatios,
      recognizeCurve: scale.recognize,
      mergeCurve: scale.merge,
    }),
  };
  const written = await writeReport(report, await where());
  for (const target of report.targets) {
    const verdict = target.pass === null ? "not measured" : target.pass ? "pass" : "FAIL";
    log(`target: ${target.name}: ${verdict}`);
  }
  log(`report: ${written.jsonPath}, ${written.markdownPath}`);

  // The smoke run's one assertion besides "it ran": the report is there and reads back.
  if (smoke) JSON.parse(await readFile(written.jsonPath, "utf8"));
  const failed = [
    ...PHASES.filter(({ name }) => phases[name].available && !phases[name].valid).map(
      ({ name }) => name,
    ),
    ...scale.recognize.filter((point) => !point.valid).map((p) => `recognize at ${p.events}`),
  ];
  if (failed.length) throw new Error(`too many failed requests in: ${failed.join(", ")}`);
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});

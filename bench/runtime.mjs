// The Worker under test: bundled by wrangler, then run in workerd through miniflare's API with
// SQLite-backed Durable Objects persisted to a temporary folder. Not `wrangler dev`: its Node proxy
// would cap a 2-core machine far below what workerd serves (DESIGN.md, Performance).
import { execFile } from "node:child_process";
import { accessSync, constants, readdirSync, readFileSync, rmSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { convertV4MiniflareOptions, Log, LogLevel, Miniflare } from "miniflare";
import { unstable_getMiniflareWorkerOptions, unstable_readConfig } from "wrangler";

const root = fileURLToPath(new URL("..", import.meta.url));
const benchConfig = join(root, "bench", "wrangler.toml");
const mainConfig = join(root, "wrangler.toml");
const wranglerCli = join(root, "node_modules", "wrangler", "bin", "wrangler.js");

/** Bundles bench/entry.ts (the service plus the primitive routes); answers the module's path. */
export async function bundle(outdir) {
  // Absolute on purpose: wrangler resolves a relative --outdir against the config's folder.
  const args = ["deploy", "--dry-run", "--config", benchConfig, "--outdir", outdir];
  await promisify(execFile)(process.execPath, [wranglerCli, ...args], {
    cwd: root,
    env: { ...process.env, WRANGLER_SEND_METRICS: "false" },
  });
  return join(outdir, "entry.js");
}

/**
 * The shipped Worker's options (bindings, vars, compatibility) from the main wrangler.toml, plus
 * the bench object's binding from bench/wrangler.toml: the bench cannot drift from what is deployed.
 */
function workerOptions() {
  const service = unstable_getMiniflareWorkerOptions(mainConfig).workerOptions;
  const bench = unstable_getMiniflareWorkerOptions(benchConfig).workerOptions;
  const build = (config) => {
    const { keep_names, minify } = unstable_readConfig({ config });
    return JSON.stringify({ keep_names, minify });
  };
  const same =
    bench.compatibilityDate === service.compatibilityDate &&
    JSON.stringify(bench.compatibilityFlags) === JSON.stringify(service.compatibilityFlags) &&
    build(benchConfig) === build(mainConfig);
  if (!same) {
    throw new Error(
      "bench/wrangler.toml's compatibility or build settings differ from wrangler.toml's",
    );
  }
  // The bundle is a single ES module: wrangler's module rules have no v5 equivalent and no use.
  const { modulesRules: _unused, ...options } = service;
  return { ...options, durableObjects: { ...service.durableObjects, ...bench.durableObjects } };
}

/**
 * Where the objects' SQLite files go: tmpfs when the machine has one. On a disk-backed folder of
 * this VM a new object costs ~30 ms of file-system work, which would swamp the creation figures
 * (and the seeding time) with a cost that is the VM's, not the service's.
 * BENCH_PERSIST_ROOT chooses another folder, e.g. /tmp to measure on disk.
 */
function persistRoot() {
  if (process.env.BENCH_PERSIST_ROOT) return process.env.BENCH_PERSIST_ROOT;
  try {
    accessSync("/dev/shm", constants.W_OK);
    return "/dev/shm";
  } catch {
    return tmpdir();
  }
}

/**
 * The file system a folder lives on ("tmpfs", "ext4", …): on tmpfs a SQLite write costs about
 * what a read does, on a disk it pays for the file system, so every report says which it was.
 */
export function fileSystemOf(path) {
  let best = { point: "", type: "unknown" };
  for (const line of readFileSync("/proc/mounts", "utf8").split("\n")) {
    const [, point, type] = line.split(" ");
    const inside = point && (path === point || path.startsWith(point === "/" ? "/" : `${point}/`));
    if (inside && point.length >= best.point.length) best = { point, type };
  }
  return best.type;
}

/**
 * A new temporary folder for one run's Durable Object data; `remove` deletes it. It may hold
 * gigabytes of RAM (tmpfs), so an interrupted run deletes it too.
 */
export async function dataFolder() {
  const path = await mkdtemp(join(persistRoot(), "recognition-bench-"));
  const interrupted = (signal) => {
    // Our workerd first, or it keeps writing into the folder while it is deleted.
    for (const pid of workerdPids()) process.kill(Number(pid), "SIGKILL");
    rmSync(path, { recursive: true, force: true, maxRetries: 5 });
    process.exit(signal === "SIGINT" ? 130 : 143);
  };
  process.once("SIGINT", interrupted);
  process.once("SIGTERM", interrupted);
  return {
    path,
    async remove() {
      process.off("SIGINT", interrupted);
      process.off("SIGTERM", interrupted);
      await rm(path, { recursive: true, force: true });
    },
  };
}

/** The workerd processes miniflare started for us (Linux; elsewhere none are found). */
export function workerdPids() {
  const pids = [];
  for (const entry of readdirSync("/proc", { withFileTypes: true })) {
    if (!/^\d+$/.test(entry.name)) continue;
    try {
      const stat = readFileSync(`/proc/${entry.name}/stat`, "utf8");
      const [ppid] = stat
        .slice(stat.lastIndexOf(")") + 2)
        .split(" ")
        .slice(1);
      if (Number(ppid) === process.pid && stat.includes("(workerd)")) pids.push(entry.name);
    } catch {
      // The process ended while we looked.
    }
  }
  return pids;
}

const TICK_S = 0.01;

/** CPU seconds (user + system) of each of workerd's threads, by thread name and id. */
export function workerdCpu() {
  const times = new Map();
  for (const pid of workerdPids()) {
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, "utf8");
      const name = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      times.set(`${name}#${tid}`, (Number(fields[11]) + Number(fields[12])) * TICK_S);
    }
  }
  return times;
}

/**
 * workerd's CPU seconds between two readings, per request: the machine's real cost of a request,
 * most of it native (HTTP, RPC, SQLite) and outside what the JS profiler samples.
 */
export function cpuPerRequest(before, after, requests) {
  const perThread = [...after]
    .map(([thread, t]) => [thread, ((t - (before.get(thread) ?? 0)) * 1e6) / requests])
    .filter(([, us]) => us >= 1);
  const total = perThread.reduce((sum, [, us]) => sum + us, 0);
  const text = perThread.map(([thread, us]) => `${thread} ${Math.round(us)} µs`).join(", ");
  return { total, text: `${Math.round(total)} µs (${text})` };
}

/** Our open-files limit, which workerd inherits; Infinity where /proc cannot say. */
function openFilesLimit() {
  try {
    const limits = readFileSync("/proc/self/limits", "utf8");
    const soft = /^Max open files\s+(\d+)/m.exec(limits)?.[1];
    return soft ? Number(soft) : Number.POSITIVE_INFINITY;
  } catch {
    return Number.POSITIVE_INFINITY;
  }
}

/**
 * workerd keeps an idle object's SQLite files (database, WAL, shared memory) open for about ten
 * seconds, so creating people fast can exhaust the open-files limit (SQLITE_CANTOPEN, then 500s).
 * `room(share)` waits until workerd holds less than that share of the limit.
 */
function fileBudget() {
  const limit = openFilesLimit();
  let pids = null;
  const open = () => {
    pids ??= workerdPids();
    return pids.reduce((sum, pid) => {
      try {
        return sum + readdirSync(`/proc/${pid}/fd`).length;
      } catch {
        return sum;
      }
    }, 0);
  };
  return {
    limit,
    open,
    async room(share) {
      while (Number.isFinite(limit) && open() > share * limit) {
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
    },
  };
}

/**
 * Runs `task(worker)` against workerd serving the bundle with the objects' data in `persistTo`;
 * `bindings` add secrets and overrides to the shipped vars; `inspectorPort` opens V8's inspector
 * (bench/profile.mjs). workerd stops when the task ends.
 * `direct` serves the Worker on a socket of its own instead of through miniflare's entry worker,
 * which every request otherwise crosses first (a second worker, a new `Request`, a service
 * binding): to see what that local-only layer costs. The recorded run keeps the entry: issue
 * #5's reference figures (a floor of 4,500–5,500 req/s) are this machine's workerd behind it.
 */
export async function withWorker(
  { scriptPath, bindings, persistTo, inspectorPort, direct = false },
  task,
) {
  const options = workerOptions();
  const mf = new Miniflare(
    convertV4MiniflareOptions({
      ...options,
      modules: true,
      scriptPath,
      bindings: { ...options.bindings, ...bindings },
      resourcePersistencePath: persistTo,
      cf: false,
      ...(inspectorPort ? { inspectorPort } : {}),
      ...(direct ? { unsafeDirectSockets: [{}] } : {}),
      log: new Log(LogLevel.WARN),
    }),
  );
  try {
    const entry = await mf.ready;
    const url = direct ? await mf.unsafeGetDirectURL() : entry;
    return await task({ url: url.origin, files: fileBudget() });
  } finally {
    await mf.dispose();
  }
}

/** The workerd release that runs the Worker, for the report. */
export async function workerdVersion() {
  const bin = join(root, "node_modules", ".bin", "workerd");
  const { stdout } = await promisify(execFile)(bin, ["--version"]);
  return stdout.trim().replace(/^workerd\s+/, "");
}

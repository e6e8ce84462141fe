// The Worker under test: bundled by wrangler, then run in workerd through miniflare's API with
// SQLite-backed Durable Objects persisted to a temporary folder. Not `wrangler dev`: its Node proxy
// would cap a 2-core machine far below what workerd serves (DESIGN.md, Performance).
import { execFile } from "node:child_process";
import { accessSync, constants } from "node:fs";
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
 * The shipped settings (vars and compatibility) come from the main wrangler.toml, so the bench
 * cannot drift from what is deployed; the bench config only adds the bench object's binding.
 */
function serviceSettings() {
  const main = unstable_readConfig({ config: mainConfig }, { hideWarnings: true });
  const { workerOptions } = unstable_getMiniflareWorkerOptions(benchConfig);
  const same =
    workerOptions.compatibilityDate === main.compatibility_date &&
    JSON.stringify(workerOptions.compatibilityFlags) === JSON.stringify(main.compatibility_flags);
  if (!same) {
    throw new Error("bench/wrangler.toml's compatibility settings differ from wrangler.toml's");
  }
  return { vars: main.vars, workerOptions };
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

/** Starts workerd; `bindings` add secrets and overrides to the shipped vars. */
export async function start({ scriptPath, bindings }) {
  const { vars, workerOptions } = serviceSettings();
  // The bundle is a single ES module; wrangler's module rules have no v5 equivalent and no use here.
  const { modulesRules: _unused, ...options } = workerOptions;
  const persistTo = await mkdtemp(join(persistRoot(), "recognition-bench-"));
  const mf = new Miniflare(
    convertV4MiniflareOptions({
      ...options,
      modules: true,
      scriptPath,
      bindings: { ...vars, ...bindings },
      resourcePersistencePath: persistTo,
      cf: false,
      log: new Log(LogLevel.WARN),
    }),
  );
  const url = await mf.ready;
  return {
    url: url.origin,
    persistTo,
    async stop() {
      await mf.dispose();
      await rm(persistTo, { recursive: true, force: true });
    },
  };
}

/** The workerd release that runs the Worker, for the report. */
export async function workerdVersion() {
  const bin = join(root, "node_modules", ".bin", "workerd");
  const { stdout } = await promisify(execFile)(bin, ["--version"]);
  return stdout.trim();
}

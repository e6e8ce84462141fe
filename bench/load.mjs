// The orchestrator's side of the load generator: forks bench/loadgen.mjs and runs phases in it.
import { fork } from "node:child_process";
import { CONNECTIONS } from "./config.mjs";
import { workloads } from "./workloads.mjs";

/** Rounds of a phase; workloads use them to keep ids that must be fresh apart between rounds. */
const ROUND = { preflight: 0, warmup: 1, measure: 2 };

/** Sends one request of a workload from here and throws unless it succeeds: a broken phase
 * should stop the run with the service's answer, not become a table of 4xx figures. */
export async function preflight(origin, workload, params) {
  const { path, ...init } = workloads[workload]({ ...params, round: ROUND.preflight })(0);
  const response = await fetch(new URL(path, origin), init);
  const text = await response.text();
  if (!response.ok) {
    throw new Error(`${workload}: ${init.method} ${path} answered ${response.status}: ${text}`);
  }
}

export function startLoad(origin) {
  const child = fork(new URL("./loadgen.mjs", import.meta.url), {
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  const pending = new Map();
  let nextId = 0;
  child.on("message", ({ id, result, error }) => {
    const call = pending.get(id);
    pending.delete(id);
    if (error) call?.reject(new Error(`load generator: ${error}`));
    else call?.resolve(result);
  });
  child.on("exit", (code) => {
    for (const call of pending.values()) call.reject(new Error(`load generator exited (${code})`));
    pending.clear();
  });
  const run = (spec) =>
    new Promise((resolve, reject) => {
      const id = nextId++;
      pending.set(id, { resolve, reject });
      child.send({ id, origin, connections: CONNECTIONS, ...spec });
    });

  return {
    /**
     * Preflight, an unrecorded warm-up, then the measured run, whose figures it answers.
     * `length` and `warmup` are `{ seconds }` or `{ amount }` (requests).
     */
    async measure({ workload, params, length, warmup }) {
      await preflight(origin, workload, params);
      if (warmup) await run({ workload, params: { ...params, round: ROUND.warmup }, ...warmup });
      return run({ workload, params: { ...params, round: ROUND.measure }, ...length });
    },
    /** Exactly `amount` requests, unmeasured: touches every object a phase will use. */
    async prime({ workload, params, amount }) {
      await run({ workload, params: { ...params, round: ROUND.warmup }, amount });
    },
    close() {
      child.disconnect();
    },
  };
}

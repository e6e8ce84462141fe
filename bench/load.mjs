// The orchestrator's side of the load generator: forks bench/loadgen.mjs and runs phases in it.
import { fork } from "node:child_process";
import { CONNECTIONS } from "./config.mjs";
import { cpuPerRequest, workerdCpu } from "./runtime.mjs";
import { workloads } from "./workloads.mjs";

/**
 * Rounds of a phase; workloads use them to keep ids that must be fresh apart between rounds. Measured
 * windows count on from `measure`, one round each.
 */
const ROUND = { preflight: 0, prime: 1, warmup: 2, measure: 3 };

/**
 * Sends one request of a workload and answers the Durable Object calls it made, as bench/entry.ts
 * counts them (`{ "PROFILES.view": 1 }`); throws unless it succeeds: a broken phase should stop
 * the run with the service's answer, not become a table of 4xx figures.
 */
async function countedCall(origin, workload, params, index) {
  const request = workloads[workload]({ ...params, round: ROUND.preflight })(index);
  const { path, headers, ...init } = request;
  const response = await fetch(new URL(path, origin), {
    ...init,
    headers: { ...headers, "x-bench-hops": "1" },
  });
  const text = await response.text();
  if (!response.ok) {
    throw new Error(`${workload}: ${init.method} ${path} answered ${response.status}: ${text}`);
  }
  const counted = response.headers.get("x-bench-hops") ?? "";
  return Object.fromEntries(
    counted
      .split(",")
      .filter(Boolean)
      .map((entry) => entry.split("="))
      .map(([name, count]) => [name, Number(count)]),
  );
}

/** Two requests before a phase: the first may refresh the isolate's caches (the configuration
 * every 4 s), so the second's calls are the ones every request of the phase makes. */
async function preflight(origin, workload, params) {
  await countedCall(origin, workload, params, 0);
  return countedCall(origin, workload, params, 1);
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

  /** One measured run (round `round` keeps its ids apart from every other run's). */
  async function timed({ workload, params, length, round, timeline = false }) {
    const before = workerdCpu();
    const figures = await run({ workload, params: { ...params, round }, ...length, timeline });
    // What bounds throughput on this machine: workerd's CPU (all threads) per answered request.
    const cpu = cpuPerRequest(before, workerdCpu(), figures.ok);
    return { ...figures, cpu_us_per_request: Math.round(cpu.total), cpu_by_thread: cpu.text };
  }

  return {
    /**
     * Preflight and an unrecorded warm-up; answers the preflight's object calls. `warmup` (and
     * every `length`) is `{ seconds }` or `{ amount }` (requests).
     */
    async prepare({ workload, params, warmup }) {
      const calls = await preflight(origin, workload, params);
      if (warmup) await run({ workload, params: { ...params, round: ROUND.warmup }, ...warmup });
      return calls;
    },
    /**
     * The `index`th measured window of a workload, with workerd's CPU per request; `timeline`: with
     * every response's arrival and latency too (loadgen.mjs).
     */
    window({ workload, params, length, index, timeline }) {
      return timed({ workload, params, length, round: ROUND.measure + index, timeline });
    },
    /** Prepare and one measured run, answered with the preflight's object calls. */
    async measure({ workload, params, length, warmup }) {
      const calls = await this.prepare({ workload, params, warmup });
      const { latencies_ms: _all, ...figures } = await timed({
        workload,
        params,
        length,
        round: ROUND.measure,
      });
      return { ...figures, object_calls: calls };
    },
    /** Exactly `amount` requests before a phase, to touch every object it will use. */
    prime({ workload, params, amount }) {
      return run({ workload, params: { ...params, round: ROUND.prime }, amount });
    },
    close() {
      child.disconnect();
    },
  };
}

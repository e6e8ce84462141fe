// The load generator: a child process of the orchestrator, so its own CPU work never slows the
// orchestrator and it talks to workerd over real sockets. One message from the parent is one
// autocannon run; the answer is that run's figures.
import autocannon from "autocannon";
import { percentile } from "./stats.mjs";
import { workloads } from "./workloads.mjs";

/**
 * Runs for `seconds`, or for exactly `amount` requests (priming objects before a phase). With
 * `timeline`, also answers each response's arrival (CLOCK_MONOTONIC ms, the clock `perf record -k
 * CLOCK_MONOTONIC` stamps samples with) and latency, flattened: where a phase's slow requests come from.
 */
async function measure({ origin, workload, params, connections, seconds, amount, timeline }) {
  const next = workloads[workload](params);
  let index = 0;
  const latencies = [];
  const arrivals = [];
  const failures = {};
  // Our own clock: autocannon reports whole seconds, and notices that a run of `amount` requests
  // is over only on its next sampling tick (hence a short `sampleInt`).
  const started = performance.now();
  let lastAnswer = started;
  const instance = autocannon({
    url: origin,
    connections,
    sampleInt: 100,
    ...(amount ? { amount } : { duration: seconds }),
    requests: [
      {
        setupRequest: (request) => ({ ...request, ...next(index++) }),
        // The first answer of each failing status, so a report can say what went wrong.
        onResponse: (status, body) => {
          if (status >= 300 && !(status in failures)) failures[status] = body.slice(0, 300);
        },
      },
    ],
  });
  instance.on("response", (_client, status, _bytes, ms) => {
    lastAnswer = performance.now();
    if (status >= 200 && status < 300) latencies.push(ms);
    if (timeline) arrivals.push(Number(process.hrtime.bigint() / 1000n) / 1000, ms);
  });
  const result = await instance;
  const sorted = Float64Array.from(latencies).sort();
  const ok = result["2xx"];
  const elapsed = (lastAnswer - started) / 1000;
  return {
    requests: ok + result.non2xx,
    ok,
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    status_codes: Object.fromEntries(
      Object.entries(result.statusCodeStats).map(([code, { count }]) => [code, count]),
    ),
    failures,
    seconds: elapsed,
    rps: ok / elapsed,
    p50_ms: percentile(sorted, 0.5),
    p90_ms: percentile(sorted, 0.9),
    p99_ms: percentile(sorted, 0.99),
    // Every 2xx latency, sorted, so windows of one phase can be pooled (exact percentiles; autocannon's
    // histogram rounds to whole ms).
    latencies_ms: Array.from(sorted),
    ...(timeline ? { timeline: arrivals } : {}),
  };
}

process.on("message", async (message) => {
  try {
    process.send({ id: message.id, result: await measure(message) });
  } catch (error) {
    process.send({ id: message.id, error: error.stack ?? String(error) });
  }
});

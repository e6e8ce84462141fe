// The report: ratios against the floor and the matching primitive, the targets as pass/fail,
// the machine, written as bench/results/<date>-<file system>.json and as that file system's
// block of BENCHMARKS.md.
import { readFile, writeFile } from "node:fs/promises";
import { availableParallelism, totalmem } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { failuresOf, objectCalls, PHASES } from "./phases.mjs";
import { workerdVersion } from "./runtime.mjs";
import { median } from "./stats.mjs";

const root = fileURLToPath(new URL("..", import.meta.url));
/** Each storage a run used has its own block in BENCHMARKS.md and its own JSON file. */
const markers = (storage) => ({
  start: `<!-- bench:results:${storage}:start -->`,
  end: `<!-- bench:results:${storage}:end -->`,
});

async function packageVersion(name) {
  const text = await readFile(join(root, "node_modules", name, "package.json"), "utf8");
  return JSON.parse(text).version;
}

export async function machine() {
  const cpuinfo = await readFile("/proc/cpuinfo", "utf8").catch(() => "");
  return {
    nproc: availableParallelism(),
    memory_gib: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    cpu_model: /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1]?.trim() ?? "unknown",
    node: process.version,
    workerd: await workerdVersion(),
    wrangler: await packageVersion("wrangler"),
    miniflare: await packageVersion("miniflare"),
    autocannon: await packageVersion("autocannon"),
  };
}

const ratio = (a, b) => (a === null || b === null || !b ? null : a / b);

/** Requests/s of two phases that took turns in windows: the median of the same-round ratios. */
export function roundRatio(windows, baseWindows) {
  return median(windows.map((w, i) => ratio(w.rps, baseWindows[i]?.rps ?? null)));
}

function throughputVersus(phase, base) {
  if (!base) return null;
  if (phase.group !== base.group || !phase.windows || !base.windows) {
    return ratio(phase.rps, base.rps);
  }
  return roundRatio(phase.windows, base.windows);
}

/** The floor phase of each group: every phase is held against the one it took turns with. */
const FLOOR_OF = Object.fromEntries(
  PHASES.filter((p) => p.workload === "floor").map((p) => [p.group, p.name]),
);

/** Each phase against the floor and against its primitive (PHASES says which). */
export function ratios(phases) {
  return Object.fromEntries(
    PHASES.filter(({ name }) => phases[name]?.available).map(
      ({ name, group, primitive, alsoAgainst = [] }) => {
        const phase = phases[name];
        const floor = phases[FLOOR_OF[group]];
        const also = alsoAgainst.filter((other) => phases[other]?.available);
        return [
          name,
          {
            rps_vs_floor: throughputVersus(phase, floor),
            // Tails over every window pooled: one stall in a 2-s window is not a phase's p99.
            p99_vs_floor: ratio(phase.p99_ms, floor.p99_ms),
            ...(primitive
              ? { primitive, rps_vs_primitive: throughputVersus(phase, phases[primitive]) }
              : {}),
            ...(also.length
              ? {
                  rps_vs: Object.fromEntries(
                    also.map((other) => [other, throughputVersus(phase, phases[other])]),
                  ),
                }
              : {}),
          },
        ];
      },
    ),
  );
}

/** The performance targets (compared, printed, never asserted). `pass` is null when unmeasured. */
export function targets({ ratios: r, recognizeCurve, mergeCurve }) {
  const check = (name, value, limit, holds) => ({
    name,
    value,
    limit,
    pass: value === null || value === undefined ? null : holds(value, limit),
  });
  const atLeast = (value, limit) => value >= limit;
  const atMost = (value, limit) => value <= limit;
  const [fewest, most] = [recognizeCurve[0], recognizeCurve.at(-1)];
  // A point of mostly failed requests measured something else: no verdict on it.
  const historyRatio = fewest.valid && most.valid ? ratio(most.p50_ms, fewest.p50_ms) : null;
  const longestMerge = mergeCurve.at(-1);
  return [
    check("recognize req/s ≥ 0.85× one-row read", r.recognize?.rps_vs_primitive, 0.85, atLeast),
    check("recognize p99 ≤ 3× floor p99", r.recognize?.p99_vs_floor, 3, atMost),
    check("ingest req/s ≥ 0.8× one-row write", r.ingest?.rps_vs_primitive, 0.8, atLeast),
    check("/v1/me req/s ≥ 0.85× one-row read", r.me?.rps_vs_primitive ?? null, 0.85, atLeast),
    check("creation req/s ≥ 0.5× ingest", r.creation?.rps_vs_primitive, 0.5, atLeast),
    check(
      `recognize p50 at ${most.events.toLocaleString("en-US")} events ≤ 1.2× at ${fewest.events}`,
      historyRatio,
      1.2,
      atMost,
    ),
    check(
      `merge of two ${longestMerge.events_per_side.toLocaleString("en-US")}-event profiles < 250 ms`,
      longestMerge.median_ms,
      250,
      (value, limit) => value < limit,
    ),
  ];
}

const num = (value, digits = 0) =>
  value === null || value === undefined
    ? "–"
    : value.toLocaleString("en-US", {
        minimumFractionDigits: digits,
        maximumFractionDigits: digits,
      });
const span = ({ seconds, amount }) => (seconds ? `${seconds} s` : `${amount} requests`);
const times = (value, digits = 2) =>
  value === null || value === undefined ? "–" : `${num(value, digits)}×`;

function markdown(report) {
  const { machine: m, phases, ratios: r, scale, targets: t, run } = report;
  const lines = [
    `Run of ${report.date} (${run.profile}), ${num(run.total_seconds)} s in all. ` +
      `${run.connections} connections; each phase ${run.rounds} windows of ${span(run.window)} ` +
      `(creation and new objects ${span(run.creation_window)}) taking turns with the other phases of its group` +
      `${run.warmup ? `, after a ${span(run.warmup)} warm-up` : ""}; requests/s are medians of the ` +
      "windows, ratios to a primitive medians of the same-round ratios, latencies over all windows; " +
      `${span(run.curve_phase)} per curve point. Seeded ${num(run.seed.people)} people ` +
      `(${num(run.seed.profiles)} profiles, ${num(run.seed.events)} events, history median ` +
      `${run.seed.history_median}, max ${run.seed.history_max}) in ${num(run.seed.seconds)} s; the phases ` +
      `cycle through ${num(run.working_set)} of them. MAX_EVENTS_PER_PROFILE=${run.max_events_per_profile}; ` +
      `SQLite files in ${run.storage_folder} (${run.storage}).`,
    "",
    "| machine | |",
    "|---|---|",
    `| CPUs (nproc) | ${m.nproc} |`,
    `| memory | ${m.memory_gib} GiB |`,
    `| CPU model | ${m.cpu_model} |`,
    `| Node | ${m.node} |`,
    `| workerd | ${m.workerd} (wrangler ${m.wrangler}, miniflare ${m.miniflare}) |`,
    `| load generator | autocannon ${m.autocannon} |`,
    "",
    "| phase | req/s | p50 ms | p99 ms | vs floor | vs primitive | p99 vs floor | workerd CPU µs/request | object calls per request |",
    "|---|--:|--:|--:|--:|--:|--:|--:|---|",
  ];
  for (const { name, label, primitive } of PHASES) {
    const phase = phases[name];
    if (!phase.available) {
      lines.push(`| ${label} | not available yet | | | | | | | |`);
      continue;
    }
    const versus = [
      ...(primitive ? [[primitive, r[name].rps_vs_primitive]] : []),
      ...Object.entries(r[name].rps_vs ?? {}),
    ]
      .map(([other, value]) => `${times(value)} ${other}`)
      .join(", ");
    const failed = failuresOf(phase);
    const note = failed ? ` (${num(failed)} of ${num(phase.ok + failed)} failed)` : "";
    lines.push(
      `| ${label}${note} | ${num(phase.rps)} | ${num(phase.p50_ms, 2)} | ${num(phase.p99_ms, 2)} | ` +
        `${times(r[name].rps_vs_floor)} | ${versus} | ${times(r[name].p99_vs_floor)} | ` +
        `${num(phase.cpu_us_per_request)} | ${objectCalls(phase.object_calls)} |`,
    );
  }
  lines.push("", "Recognize against history length (one profile):", "");
  lines.push("| events of history | req/s | p50 ms | p99 ms |", "|--:|--:|--:|--:|");
  for (const p of scale.recognize) {
    lines.push(`| ${num(p.events)} | ${num(p.rps)} | ${num(p.p50_ms, 2)} | ${num(p.p99_ms, 2)} |`);
  }
  lines.push("", "Merge of two profiles, until the survivor counts every event:", "");
  lines.push(
    "| events per side | median ms | samples ms | merging request ms | every event once |",
    "|--:|--:|--:|--:|:-:|",
  );
  for (const p of scale.merge) {
    lines.push(
      `| ${num(p.events_per_side)} | ${num(p.median_ms, 1)} | ${p.samples_ms.map((s) => num(s, 1)).join(", ")} | ` +
        `${num(p.request_ms, 1)} | ${p.every_event_once ? "yes" : "**no**"} |`,
    );
  }
  const { points, bytes_per_event: perEvent } = scale.storage;
  lines.push(
    "",
    `Storage of one profile object: ${points.map((p) => `${num(p.events)} events → ${num(p.bytes / 1024)} KiB`).join(", ")}; ` +
      `≈ ${num(perEvent)} bytes per event.`,
    "",
    "| target | measured | pass |",
    "|---|--:|:-:|",
  );
  for (const target of t) {
    const measured = target.name.startsWith("merge")
      ? `${num(target.value, 1)} ms`
      : times(target.value, 3);
    const verdict = target.pass === null ? "not measured" : target.pass ? "pass" : "**fail**";
    lines.push(`| ${target.name} | ${measured} | ${verdict} |`);
  }
  return lines.join("\n");
}

/** Writes `<date>-<storage>.json` into `dir` and the run's block of `markdownPath`, keeping its prose. */
export async function writeReport(report, { dir, markdownPath }) {
  const { storage } = report.run;
  const jsonPath = join(dir, `${report.date}-${storage}.json`);
  await writeFile(jsonPath, `${JSON.stringify(report, null, 2)}\n`);
  const { start, end } = markers(storage);
  let current = await readFile(join(root, "BENCHMARKS.md"), "utf8").catch(() => "# Benchmarks\n");
  // A storage never recorded before gets its block at the end.
  if (!current.includes(start) || !current.includes(end)) {
    current = `${current.trimEnd()}\n\n### SQLite on ${storage}\n\n${start}\n${end}\n`;
  }
  const before = current.slice(0, current.indexOf(start));
  const after = current.slice(current.indexOf(end) + end.length);
  await writeFile(markdownPath, `${before}${start}\n${markdown(report)}\n${end}${after}`);
  return { jsonPath, markdownPath };
}

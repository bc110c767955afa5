// Benchmark (not a test): wall time of a 25-drill series, batched vs single call vs the critical
// path (the slowest batch run on its own, with `generateBatch` and nothing else in flight), against the LLM simulator running in another process with
// latency proportional to output tokens; prompt tokens with and without the cached shared prefix;
// and drillgen's own CPU time per run (this process does nothing else).
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { createInterface } from "node:readline";
import * as drillgen from "../pkg/node.js";

const root = new URL("../", import.meta.url);
const positions = JSON.parse(readFileSync(new URL("data/positions.json", root), "utf8"));
const context = JSON.parse(readFileSync(new URL("data/context.json", root), "utf8"));
const BASE_MS = 300,
  MS_PER_TOKEN = 2,
  RUNS = 3;

const child = spawn(
  process.execPath,
  [new URL("tools/llm-simulator/llm-simulator-cli.mjs", root).pathname, String(BASE_MS), String(MS_PER_TOKEN)],
  { stdio: ["pipe", "pipe", "inherit"] },
);
const { url } = JSON.parse(await new Promise((resolve) => createInterface({ input: child.stdout }).once("line", resolve)));

const request = { targetDrillCount: 25, gamePhases: ["EARLY", "MIDDLE", "BEAROFF"] };
const llm = { provider: "openai", baseUrl: url, model: "sim" };

/** The slowest of the series' batches, each timed alone: the best any concurrent schedule can do. */
async function slowestAlone(seed) {
  const { batches } = drillgen.prepareSeries(request, positions, context, { seed });
  let slowest = 0;
  for (const batch of batches) {
    const t0 = performance.now();
    const outcome = await drillgen.generateBatch(batch, { artifactId: `alone-${seed}`, context, llm, seed });
    if (outcome.status !== "COMPLETED") throw new Error(`batch ${batch.batchIndex} alone: ${outcome.status}`);
    slowest = Math.max(slowest, performance.now() - t0);
  }
  return slowest;
}

async function run(mode, concurrency, seed, cacheWarmup) {
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const result = await drillgen.generateDrillSeries({
    artifactId: `bench-${mode}-${seed}`,
    request,
    positions,
    context,
    llm,
    mode,
    concurrency,
    seed,
    cacheWarmup,
    persist: () => {},
  });
  const wall = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  if (result.drills.length !== 25) throw new Error(`${mode}: ${result.drills.length} drills`);
  return { wall, critical: await slowestAlone(seed), cpuMs: (cpu.user + cpu.system) / 1000, usage: result.usage };
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const rows = [];
// The cache warm-up (default "auto") holds batches 2-5 until batch 1's response begins, so the
// critical-path comparison runs with it off; the "auto" row shows what it adds.
const configs = [
  ["batched, concurrency 5", "batched", 5, "off"],
  ["batched, concurrency 4", "batched", 4, "off"],
  ["single call", "single", 1, "off"],
  ["batched 5, warm-up auto", "batched", 5, "auto"],
];
for (const [label, mode, concurrency, warmup] of configs) {
  const runs = [];
  for (let i = 0; i < RUNS; i++) runs.push(await run(mode, concurrency, 100 + i, warmup));
  rows.push({
    label,
    wall: median(runs.map((r) => r.wall)),
    critical: median(runs.map((r) => r.critical)),
    cpuMs: median(runs.map((r) => r.cpuMs)),
    usage: runs[0].usage,
  });
}
child.stdin.end();

const s = (ms) => `${(ms / 1000).toFixed(2)} s`;
console.log(`25 drills, simulator latency ${BASE_MS} ms + ${MS_PER_TOKEN} ms per output token, median of ${RUNS} runs\n`);
console.log(
  `${"mode".padEnd(24)}${"wall".padEnd(10)}${"slowest alone".padEnd(15)}${"wall/critical".padEnd(15)}${"input tok".padEnd(11)}${"cached".padEnd(9)}${"output".padEnd(9)}drillgen CPU`,
);
for (const r of rows) {
  console.log(
    `${r.label.padEnd(24)}${s(r.wall).padEnd(10)}${s(r.critical).padEnd(15)}${(r.wall / r.critical).toFixed(3).padEnd(15)}` +
      `${String(r.usage.inputTokens).padEnd(11)}${String(r.usage.cachedInputTokens).padEnd(9)}${String(r.usage.outputTokens).padEnd(9)}${r.cpuMs.toFixed(0)} ms`,
  );
}
const [c5, , single, warm] = rows;
console.log(`\nbatched (5) vs critical path: ${(c5.wall / c5.critical).toFixed(3)}× (target ≤ 1.15)`);
console.log(`single call vs batched (5): ${(single.wall / c5.wall).toFixed(2)}× slower (target ≥ 4)`);
console.log(
  `cache warm-up: +${s(warm.wall - c5.wall)} of wall time for ${warm.usage.cachedInputTokens - c5.usage.cachedInputTokens} more cached input tokens`,
);
const uncached = c5.usage.inputTokens,
  billedEquivalent = c5.usage.inputTokens - c5.usage.cachedInputTokens;
console.log(
  `batched input tokens: ${uncached} in all, ${billedEquivalent} not served from the prompt cache ` +
    `(${Math.round((100 * c5.usage.cachedInputTokens) / uncached)} % cached); single call: ${single.usage.inputTokens}`,
);

// Benchmark (not a test): 50 series × 25 drills at once in one Node process, all on ONE simulated
// API key limited to 500 requests and 200,000 tokens a minute (OpenAI-style: a call is charged its
// prompt + max_tokens on admission, tools/llm-simulator/sim/ratelimit.mjs), at 0.8 s to the first
// token and 60 output tokens/s. Runs:
// - no governor: every series with its own concurrency, as today;
// - a shared governor given the key's limits: `drillgen.createRateGovernor({ requestsPerMinute,
//   tokensPerMinute })` handed to every series as `rateGovernor`;
// - a shared governor that learns them from the answers' headers: `createRateGovernor({})`.
// Prints the wall time against the floor the limit sets (charged tokens ÷ TPM, calls ÷ RPM), the
// 429s and their share of calls, and the p50/p95 time to each series' first drill on screen
// (first `drillReady`, else first `batchCompleted`). Goal (issue 16): wall ≤ 1.2× the floor, 429s
// ≤ 1 % of calls. A package without `createRateGovernor` runs the first case only.
//
// Time is scaled (TIME_SCALE, default 0.1: a simulated minute lasts 6 s): the key's minute, the
// simulator's latencies, and so every wait the key asks for. drillgen's own clocks are not scaled:
// its retry backoff (500 ms base) and timeouts are 10× longer in simulated time, and its CPU time
// 10× dearer. Figures are printed in simulated time, the real seconds next to them.
//
// The floor is the whole job's: every batch of every series once (5 × 50 calls), each charged
// what an answered call was charged on average; a run that gave batches up ends sooner than its
// floor and shows it in "drills" and "failed batches".
// Run: `node benches/rate-limit.mjs` after scripts/build (TIME_SCALE=1 for real time: ~40 min).
import { readFileSync } from "node:fs";
import * as drillgen from "../pkg/node.js";
import { startSimulatorProcess } from "../tools/llm-simulator/simulator-process.mjs";
import { markdownTable } from "./support/markdown.mjs";

const root = new URL("../", import.meta.url);
const positions = JSON.parse(readFileSync(new URL("data/positions.json", root), "utf8"));
const context = JSON.parse(readFileSync(new URL("data/context.json", root), "utf8"));

const SERIES = 50,
  DRILLS = 25,
  RPM = 500,
  TPM = 200_000,
  LATENCY_MS = 800,
  MS_PER_TOKEN = 1000 / 60;
const SCALE = Number(process.env.TIME_SCALE ?? 0.1);
const request = { targetDrillCount: DRILLS, gamePhases: ["EARLY", "MIDDLE", "BEAROFF"] };
const kindOf = (e) => e.kind ?? e.type; // `type` today, `kind` in issue 16's drillReady design

const hasGovernor = typeof drillgen.createRateGovernor === "function";
const BATCHES = drillgen.prepareSeries(request, positions, context, { seed: 1 }).batches.length;
const CASES = [
  { label: "no governor", governor: () => undefined },
  // Per real minute: the simulated minute lasts SCALE × 60 s.
  {
    label: "shared governor, limits given",
    governor: () => drillgen.createRateGovernor({ requestsPerMinute: Math.round(RPM / SCALE), tokensPerMinute: Math.round(TPM / SCALE) }),
    needs: true,
  },
  { label: "shared governor, learned from headers", governor: () => drillgen.createRateGovernor({}), needs: true },
].filter((c) => !c.needs || hasGovernor);

async function oneSeries(i, url, rateGovernor, t0) {
  let firstDrill = null;
  let firstBatch = null;
  const result = await drillgen.generateDrillSeries({
    artifactId: `rate-${i}`,
    request,
    positions,
    context,
    seed: 1000 + i,
    llm: { provider: "openai", baseUrl: url, model: "sim-1" },
    ...(rateGovernor ? { rateGovernor } : {}),
    persist: () => {},
    onProgress: (e) => {
      const kind = kindOf(e);
      if (kind === "drillReady" && firstDrill === null) firstDrill = performance.now() - t0;
      if (kind === "batchCompleted" && firstBatch === null) firstBatch = performance.now() - t0;
    },
  });
  return { result, firstDrill: firstDrill ?? firstBatch };
}

async function runCase(c, sim, server) {
  const governor = c.governor();
  const startedAt = Date.now(); // the simulator stamps calls with Date.now()
  const t0 = performance.now();
  const runs = await Promise.all(Array.from({ length: SERIES }, (_, i) => oneSeries(i, sim.urls[server], governor, t0)));
  const wall = performance.now() - t0;
  const calls = await sim.calls(server);
  const stats = await sim.stats(server);
  const answered = calls.filter((r) => !r.rateLimited);
  // 429s in the first simulated minute: a governor starts from a full bucket of a *real* minute's
  // stated limit (10× the simulated one at scale 0.1) until the key's `remaining` corrects it.
  const early = calls.filter((r) => r.rateLimited && r.at - startedAt < 60_000 * SCALE).length;
  const charged = answered.reduce((s, r) => s + r.chargedTokens, 0);
  const used = runs.reduce((s, r) => s + r.result.usage.inputTokens + r.result.usage.outputTokens, 0);
  const firsts = runs.map((r) => r.firstDrill).filter((x) => x !== null);
  const count = (xs) => [...xs.reduce((m, x) => m.set(x, (m.get(x) ?? 0) + 1), new Map())].map(([k, v]) => `${k} ${v}`);
  const job = { calls: SERIES * BATCHES, tokens: SERIES * BATCHES * (charged / answered.length) };
  return {
    label: c.label,
    wall,
    calls: calls.length,
    answered: answered.length,
    rateLimited: stats.rateLimited,
    early,
    peak: stats.peak,
    charged,
    used,
    job,
    floor: Math.max((job.tokens / TPM) * 60_000 * SCALE, (job.calls / RPM) * 60_000 * SCALE),
    drills: runs.reduce((s, r) => s + r.result.drills.length, 0),
    failedBatches: runs.reduce((s, r) => s + r.result.batches.filter((b) => b.status !== "COMPLETED").length, 0),
    statuses: count(runs.map((r) => r.result.status)),
    errors: count(runs.flatMap((r) => r.result.batches.filter((b) => b.error).map((b) => b.error.code))),
    p50: quantile(firsts, 0.5),
    p95: quantile(firsts, 0.95),
    noFirst: SERIES - firsts.length,
  };
}

const quantile = (xs, q) => (xs.length ? [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(q * xs.length))] : null);
// Real milliseconds → simulated seconds, and the real seconds beside them.
const sim = (ms) => (ms === null ? "n/a" : `${(ms / SCALE / 1000).toFixed(1)} s`);
const both = (ms) => (ms === null ? "n/a" : `${sim(ms)} (${(ms / 1000).toFixed(1)} s real)`);
const n = (x) => Math.round(x).toLocaleString("en-US");

function print(rows) {
  console.log(
    `## ${SERIES} series × ${DRILLS} drills at once on one key: ${RPM} RPM, ${n(TPM)} TPM (OpenAI-style: prompt + max_tokens charged on admission), ` +
      `${LATENCY_MS} ms to the first token + ${MS_PER_TOKEN.toFixed(1)} ms per output token\n`,
  );
  console.log(
    `Time scale ${SCALE}: a simulated minute lasts ${(60 * SCALE).toFixed(1)} s; the key's limits and the simulator's latencies are scaled together ` +
      `(the key states ${n(RPM / SCALE)} RPM and ${n(TPM / SCALE)} TPM per real minute); drillgen's own retry backoff and timeouts are not. ` +
      "Times in simulated seconds.\n",
  );
  const head = [
    "case",
    "wall",
    "floor",
    "wall ÷ floor",
    "calls (answered)",
    "429s",
    "429 share",
    "peak in flight",
    "first drill p50",
    "p95",
    "drills",
    "failed batches",
  ];
  console.log(
    markdownTable(
      head,
      rows.map((r) => {
        return [
          r.label,
          both(r.wall),
          sim(r.floor),
          (r.wall / r.floor).toFixed(2),
          `${r.calls} (${r.answered})`,
          r.rateLimited,
          `${((100 * r.rateLimited) / r.calls).toFixed(1)} %`,
          r.peak,
          sim(r.p50),
          sim(r.p95),
          `${r.drills} / ${SERIES * DRILLS}`,
          r.failedBatches,
        ];
      }),
    ),
  );
  console.log("\nFloors (simulated) and outcomes per case:");
  for (const r of rows) {
    const mean = r.charged / r.answered;
    console.log(
      `- ${r.label}: ${r.job.calls} batch calls × ${n(mean)} tokens charged on average (prompt + max_tokens) = ${n(r.job.tokens)} ÷ ${n(TPM)} TPM = ` +
        `${sim((r.job.tokens / TPM) * 60_000 * SCALE)}; ${r.job.calls} calls ÷ ${RPM} RPM = ${sim((r.job.calls / RPM) * 60_000 * SCALE)}. ` +
        `The answered calls used ${n(r.used)} tokens (input + output) of the ${n(r.charged)} charged (${n((100 * r.used) / r.charged)} %): ` +
        "with max_tokens near the real output the floor would shrink as much. " +
        `The bucket starts full, so a minute's worth goes at once: the strict floor is a minute less. ` +
        `429s in the first simulated minute: ${r.early} of ${r.rateLimited}. ` +
        `Series: ${r.statuses.join(", ")}; batch errors: ${r.errors.join(", ") || "none"}` +
        (r.noFirst ? `; ${r.noFirst} series showed no drill` : "") +
        ".",
    );
  }
  console.log("\nGoal: wall ≤ 1.2× the floor, 429s ≤ 1 % of calls.");
  if (!hasGovernor) console.log("This build of drillgen has no createRateGovernor: the governor cases were skipped.");
}

async function main() {
  const simProcess = await startSimulatorProcess({
    latencyMs: LATENCY_MS * SCALE,
    msPerOutputToken: MS_PER_TOKEN * SCALE,
    servers: CASES.length,
    rateLimit: { requestsPerMinute: RPM, tokensPerMinute: TPM, style: "openai", retryAfterMs: true, timeScale: SCALE },
  });
  const rows = [];
  try {
    for (let i = 0; i < CASES.length; i++) rows.push(await runCase(CASES[i], simProcess, i));
  } finally {
    await simProcess.stop();
  }
  print(rows);
}

await main();

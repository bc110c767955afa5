// Benchmark (not a test): the cache-aware schedule (`cacheWarmup: "auto"`: the first batch runs
// alone until its response begins, so the others read the prompt cache it wrote) against `"off"`
// (every batch at once), billed as OpenAI and Anthropic bill it, next to the spec's fixed loading.
// The LLM simulator runs in its own process with one server (one prompt cache) per run, so the
// runs go in parallel lanes and the whole benchmark takes about two minutes.
// Run: scripts/bench  (or `node benches/cache.mjs` after scripts/build)
import { readFileSync } from "node:fs";
import * as drillgen from "../pkg/node.js";
import { baselinePositions, countTokens, positionTokens } from "../scripts/lib/tokens.mjs";
import { startSimulatorProcess } from "../tools/llm-simulator/simulator-process.mjs";

const root = new URL("../", import.meta.url);
const readJson = (path) => JSON.parse(readFileSync(new URL(path, root), "utf8"));
const positions = readJson("data/positions.json");
const CONTEXTS = {
  "data/context.json": readJson("data/context.json"), // the teacher's material shipped with the demo (1.7 KB)
  "data/context-long.json": readJson("data/context-long.json"), // the same plus worked examples (6 KB)
};

// Latency: 1.5 s to the first token is typical of hosted APIs for a ~2.5k-token prompt without
// extended reasoning; 10 ms per output token is ~100 tokens/s, the order of GPT-5.1's and Sonnet
// 4.5's published throughput. Output time dominates a batch (~520 tokens → ~5 s).
const LATENCY_MS = 1500,
  MS_PER_TOKEN = 10,
  RUNS = 3,
  CONCURRENCY = 4;
const PHASES = ["EARLY", "MIDDLE", "BEAROFF"];

// Prices as multiples of the model's uncached input price.
// - Anthropic (claude-sonnet-4-5): cache reads 0.1×, 5-minute cache writes 1.25×
//   (../shared/notes/platforms-and-providers.md; platform.claude.com/docs/en/about-claude/pricing);
//   output $15 against $3 input per MTok = 5×.
// - OpenAI GPT-5.1: input $1.25, cached input $0.125 (0.1×), output $10 (8×) per MTok
//   (developers.openai.com/api/docs/models/gpt-5.1). No write surcharge.
// - OpenAI GPT-4.1: input $2.00, cached input $0.50 (0.25×) per MTok (GitHub Docs' Copilot price
//   table and Vercel AI Gateway's OpenAI listing; OpenAI's own pricing page no longer lists 4.x).
const PROVIDERS = {
  openai: { model: "gpt-5.1", read: 0.1, write: 1, output: 8, read41: 0.25 },
  anthropic: { model: "claude-sonnet-4-5", read: 0.1, write: 1.25, output: 5 },
};

/** Every run of the benchmark, grouped in lanes that run one after the other. */
function lanes() {
  const out = [];
  for (const context of Object.keys(CONTEXTS)) {
    for (const drills of [25, 100]) {
      for (const provider of Object.keys(PROVIDERS)) {
        for (const warmup of ["off", "auto"])
          out.push(repeat({ context, drills, provider, model: PROVIDERS[provider].model, warmup, mode: "batched" }));
      }
    }
  }
  // A model whose minimum (2,048) is above the short context's prefix: nothing to warm.
  for (const warmup of ["off", "auto"])
    out.push(
      repeat({ context: "data/context.json", drills: 25, provider: "anthropic", model: "claude-sonnet-4-6", warmup, mode: "batched" }),
    );
  // One call for the whole series: its wall time stands in for the spec's fixed loading (the
  // simulator's latency depends on output tokens only). 100 drills take ~110 s: one lane per run.
  out.push(repeat({ context: "data/context.json", drills: 25, provider: "openai", model: "gpt-5.1", warmup: "off", mode: "single" }));
  for (let i = 0; i < RUNS; i++)
    out.push([{ context: "data/context.json", drills: 100, provider: "openai", model: "gpt-5.1", warmup: "off", mode: "single" }]);
  return out;
}
const repeat = (job) => Array.from({ length: RUNS }, () => job);
const keyOf = (j) => [j.context, j.drills, j.provider, j.model, j.warmup, j.mode].join("|");

async function runOnce(job, url, seed) {
  const t0 = performance.now();
  const result = await drillgen.generateDrillSeries({
    artifactId: `cache-${seed}`,
    request: { targetDrillCount: job.drills, gamePhases: PHASES },
    positions,
    context: CONTEXTS[job.context],
    seed,
    mode: job.mode,
    concurrency: CONCURRENCY,
    cacheWarmup: job.warmup,
    // What drillgen sends to api.openai.com by default; the simulator's "openai" personality
    // refuses max_tokens for gpt-5.x as the real API does.
    llm: {
      provider: job.provider,
      baseUrl: url,
      model: job.model,
      maxTokensField: job.provider === "openai" ? "max_completion_tokens" : undefined,
    },
    persist: () => {},
  });
  const wall = performance.now() - t0;
  if (result.drills.length !== job.drills) throw new Error(`${keyOf(job)}: ${result.drills.length} drills (${result.status})`);
  return { wall, usage: result.usage, cache: result.cache };
}

/** Billed input in uncached-token equivalents, from what the simulator billed call by call. */
function billedInput(calls, usage, price, read = price.read) {
  const answered = calls.filter((c) => c.refused === null);
  const sum = (k) => answered.reduce((s, c) => s + c[k], 0);
  const [prompt, cached, written] = [sum("promptTokens"), sum("cachedTokens"), sum("writtenTokens")];
  if (prompt !== usage.inputTokens || cached !== usage.cachedInputTokens) {
    throw new Error(`drillgen's usage ${JSON.stringify(usage)} differs from the simulator's (${prompt} in, ${cached} cached)`);
  }
  return { prompt, cached, written, billed: prompt - cached - written + read * cached + price.write * written };
}

async function runLane(lane, sim, next) {
  const runs = [];
  for (const job of lane) {
    const server = next();
    const run = await runOnce(job, sim.urls[server], 100 + runs.length);
    const calls = await sim.calls(server);
    const price = PROVIDERS[job.provider];
    runs.push({
      ...run,
      bill: billedInput(calls, run.usage, price),
      bill41: price.read41 && billedInput(calls, run.usage, price, price.read41),
    });
  }
  return { job: lane[0], runs };
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** Median wall time, and the bill of the run with the median bill (runs differ only by timing). */
function summarize({ job, runs }) {
  const byBill = [...runs].sort((a, b) => a.bill.billed - b.bill.billed);
  const mid = byBill[Math.floor(byBill.length / 2)];
  return { ...mid, job, wall: median(runs.map((r) => r.wall)), runCount: runs.length };
}

/** The spec's design: one call, 96 positions loaded, the shared prefix once, nothing cached. All
 * in o200k tokens, as the simulator counts the batched runs' prompts (tools/llm-simulator/sim/tokens.mjs). */
function fixedLoading(job, outputTokens) {
  const plan = drillgen.planPositions({ targetDrillCount: job.drills, gamePhases: PHASES });
  const loaded = baselinePositions(positions, plan.phases); // the spec's 96
  const batch = {
    batchIndex: 0,
    totalBatches: 1,
    drillIndices: Array.from({ length: job.drills }, (_, i) => i),
    positions: positions.slice(0, job.drills),
  };
  const system = drillgen.buildBatchPrompt(batch, CONTEXTS[job.context]).system;
  const schema = JSON.stringify(drillgen.batchOutputSchema(batch));
  const prefix = countTokens(system) + countTokens(schema);
  return { plan, prefix, input: positionTokens(drillgen, loaded) + prefix, loaded: loaded.length, outputTokens };
}

const n = (x) => Math.round(x).toLocaleString("en-US");
const pct = (x, base) => `${Math.round((100 * x) / base)} %`;
const secs = (ms) => `${(ms / 1000).toFixed(1)} s`;
const row = (cells) => `| ${cells.join(" | ")} |`;

const HEAD = [
  "drills",
  "model",
  "schedule",
  "prefix (min)",
  "input",
  "cached read",
  "cache write",
  "billed input",
  "input cost vs off",
  "total cost vs off",
  "wall",
];

function tableRows(context, results, singles) {
  const lines = [row(HEAD), row(HEAD.map(() => "---"))];
  for (const drills of [25, 100]) {
    for (const provider of Object.keys(PROVIDERS)) {
      const pick = (warmup) =>
        results.find(
          (r) =>
            r.job.context === context &&
            r.job.drills === drills &&
            r.job.provider === provider &&
            r.job.model === PROVIDERS[provider].model &&
            r.job.warmup === warmup,
        );
      lines.push(...configRows(pick("off"), pick("auto"), singles.get(drills)));
    }
  }
  return lines;
}

function configRows(off, auto, single) {
  const price = PROVIDERS[off.job.provider];
  const total = (billed, output) => billed + price.output * output;
  const offTotal = total(off.bill.billed, off.usage.outputTokens);
  const billedCell = (r) => `${n(r.bill.billed)}${r.bill41 ? ` (4.1: ${n(r.bill41.billed)})` : ""}`;
  const runRow = (r, label) =>
    row([
      r.job.drills,
      r.job.model,
      label,
      `${n(r.cache.prefixTokens)} (${n(r.cache.minimumTokens)})${r.cache.warmup ? " warmed" : ""}`,
      n(r.usage.inputTokens),
      n(r.bill.cached),
      n(r.bill.written),
      billedCell(r),
      pct(r.bill.billed, off.bill.billed),
      pct(total(r.bill.billed, r.usage.outputTokens), offTotal),
      secs(r.wall),
    ]);
  const fixed = fixedLoading(off.job, off.usage.outputTokens);
  const fixedRow = row([
    off.job.drills,
    off.job.model,
    `spec: 1 call, ${fixed.loaded} positions`,
    `${n(fixed.prefix)}`,
    n(fixed.input),
    "0",
    "0",
    n(fixed.input),
    pct(fixed.input, off.bill.billed),
    pct(total(fixed.input, fixed.outputTokens), offTotal),
    `${secs(single.wall)}*`,
  ]);
  return [runRow(off, "batched, warm-up off"), runRow(auto, "batched, warm-up auto"), fixedRow];
}

function belowMinimum(results) {
  const rows = results.filter((r) => r.job.model === "claude-sonnet-4-6");
  const head = ["schedule", "prefix (min)", "cacheable", "warmed", "input", "cached read", "cache write", "billed input", "wall"];
  return [
    row(head),
    row(head.map(() => "---")),
    ...rows.map((r) =>
      row([
        `warm-up ${r.job.warmup}`,
        `${n(r.cache.prefixTokens)} (${n(r.cache.minimumTokens)})`,
        r.cache.cacheable,
        r.cache.warmup,
        n(r.usage.inputTokens),
        n(r.bill.cached),
        n(r.bill.written),
        n(r.bill.billed),
        secs(r.wall),
      ]),
    ),
  ];
}

function print(results) {
  const singles = new Map();
  for (const drills of [25, 100]) {
    const single = results.find((r) => r.job.mode === "single" && r.job.drills === drills);
    singles.set(drills, { wall: single.wall, runs: single.runCount });
  }
  const batched = results.filter((r) => r.job.mode === "batched");
  console.log(
    `## Prompt cache: warm-up auto vs off (phases ${PHASES.join(", ")}, concurrency ${CONCURRENCY}, ` +
      `simulator ${LATENCY_MS} ms to first token + ${MS_PER_TOKEN} ms per output token)\n`,
  );
  console.log(`Wall: median of ${RUNS} runs; the runs go in parallel lanes on a shared 2-core machine, so expect ±0.5 s.`);
  console.log(
    'Billed input: uncached-input-token equivalents (reads 0.1×, Anthropic writes 1.25×; "4.1": the same calls at GPT-4.1\'s 0.25× reads).',
  );
  console.log(
    "Total cost adds output at 8× (GPT-5.1) or 5× (Sonnet 4.5) the input price. Cache writes come from the simulator: drillgen's usage does not report them.\n",
  );
  for (const context of Object.keys(CONTEXTS)) {
    console.log(`### Context ${context}\n`);
    console.log(`${tableRows(context, batched, singles).join("\n")}\n`);
  }
  console.log(
    "Spec rows: input = the o200k tokens of the positions the spec loads (25 per phase up to 96, as formatted in a prompt) + the shared prefix " +
      "(system prompt + the output schema for all the drills, o200k), billed uncached (one call per series, " +
      "no cache_control); output = the batched run's output tokens (the same drills). " +
      "Input, cached and written tokens of the batched rows are the simulator's o200k counts; the prefix column is drillgen's own estimate (4 bytes a token) and minimum.",
  );
  for (const [drills, s] of singles)
    console.log(
      `* wall of one \`mode: "single"\` call for ${drills} drills (gpt-5.1, short context), median of ${s.runs} runs; the simulator's latency ignores prompt length, so the 96-position prompt's extra prefill is not in it.`,
    );
  console.log(`\n### Below the minimum: claude-sonnet-4-6 (caches from 2,048 tokens), data/context.json, 25 drills\n`);
  console.log(belowMinimum(batched).join("\n"));
}

async function main() {
  const plan = lanes();
  const servers = plan.reduce((s, lane) => s + lane.length, 0);
  const sim = await startSimulatorProcess({ latencyMs: LATENCY_MS, msPerOutputToken: MS_PER_TOKEN, personality: "openai", servers });
  let used = 0;
  try {
    const done = await Promise.all(plan.map((lane) => runLane(lane, sim, () => used++)));
    const merged = new Map(); // the single-call lanes of one config are one result
    for (const lane of done) {
      const key = keyOf(lane.job);
      merged.set(key, { job: lane.job, runs: [...(merged.get(key)?.runs ?? []), ...lane.runs] });
    }
    print([...merged.values()].map(summarize));
  } finally {
    await sim.stop();
  }
}

await main();

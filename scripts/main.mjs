// The main job (for now): plans, samples and partitions a drill request on the sample position
// library and prints the plan, the batches and the token table. The next step (Phase 2) turns
// this into a full generation.
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import * as drillgen from "../pkg/node.js";
import { countTokens, formatTokenTable, tokenRow } from "./lib/tokens.mjs";

const { values: args } = parseArgs({
  options: {
    target: { type: "string", default: "25" },
    phases: { type: "string", default: "EARLY,MIDDLE,BEAROFF" },
    "batch-size": { type: "string" },
    "max-per-phase": { type: "string" },
    seed: { type: "string" },
    library: { type: "string", default: new URL("../data/positions.json", import.meta.url).pathname },
    json: { type: "boolean", default: false },
    help: { type: "boolean", default: false },
  },
});
if (args.help) {
  console.log(`usage: scripts/run [--target N] [--phases EARLY,MIDDLE|all] [--batch-size N]
                   [--max-per-phase N] [--seed N] [--library positions.json] [--json]`);
  process.exit(0);
}

const library = JSON.parse(readFileSync(args.library, "utf8"));
const request = {
  targetDrillCount: Number(args.target),
  ...(args.phases !== "all" && { gamePhases: args.phases.split(",").map((s) => s.trim().toUpperCase()) }),
  ...(args["batch-size"] && { batchSize: Number(args["batch-size"]) }),
  ...(args["max-per-phase"] && { maxPositionsPerPhase: Number(args["max-per-phase"]) }),
};

try {
  const plan = drillgen.planPositions(request, library);
  const sample = drillgen.samplePositions(library, plan, args.seed ? { seed: Number(args.seed) } : {});
  const batches = drillgen.partitionBatches(request, sample.positions);
  const context = {
    mentalModel: { summary: "Backgammon is a race with contact: make points, prime, hit when it pays." },
    curriculum: "1. Opening moves  2. Building and priming  3. Safe bearoff",
  };
  const prompts = batches.map((b) => drillgen.buildBatchPrompt(b, context));
  const row = tokenRow(drillgen, library, request, sample.seed);

  if (args.json) {
    console.log(JSON.stringify({ plan, seed: sample.seed, warnings: sample.warnings, batches, tokens: row }, null, 2));
    process.exit(0);
  }
  const phaseCounts = (positions) => {
    const counts = {};
    for (const p of positions) counts[p.gamePhase] = (counts[p.gamePhase] ?? 0) + 1;
    return Object.entries(counts).map(([phase, n]) => `${phase} ${n}`).join(", ");
  };

  console.log(`drillgen ${drillgen.version()}: ${plan.targetDrillCount} drills over ${plan.phases.join(", ")}, ` +
    `batches of ${plan.batchSize}, seed ${sample.seed} (pass --seed ${sample.seed} to replay)\n`);
  console.log("Plan (positions per phase = ceil(target / phases) + 2, capped; OPENING keeps all 21)");
  for (const [phase, n] of Object.entries(plan.perPhase)) console.log(`  ${phase.padEnd(8)} ${n}`);
  console.log(`  total    ${plan.totalPositions} positions, ${plan.batches} batches; estimate ` +
    `${plan.estimatedPromptTokens} tokens vs ${plan.baselinePromptTokens} for the spec's fixed loading`);
  for (const w of sample.warnings) console.log(`  warning ${w.code}: ${w.message}`);

  console.log("\nBatches");
  for (const [i, b] of batches.entries()) {
    const first = b.drillIndices[0], last = b.drillIndices.at(-1);
    console.log(`  ${String(b.batchIndex + 1).padStart(2)}/${b.totalBatches}  drills ${first}-${last}  ` +
      `${b.positions.length} positions (${phaseCounts(b.positions)}), prompt ${countTokens(prompts[i].user)} tokens`);
  }
  console.log(`  shared prefix (system, identical for every batch, cacheable): ${countTokens(prompts[0].system)} tokens`);

  console.log("\nPosition-data tokens (o200k)");
  console.log(formatTokenTable([row]).replace(/^/gm, "  "));
} catch (e) {
  if (e?.name === "DrillgenError") {
    console.error(`error ${e.code}: ${e.message}`);
    process.exit(2);
  }
  throw e;
}

// The main job: a whole drill-series generation on the sample position library.
// Plans, samples and partitions the request, then generates every batch concurrently against the
// embedded LLM simulator (or a real provider when DRILLGEN_BASE_URL / DRILLGEN_API_KEY /
// DRILLGEN_MODEL are set), shows a live progress bar, stores drills and the artifact in SQLite,
// and prints the series rebuilt from the database.
import { mkdirSync, readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { parseArgs } from "node:util";

// DRILLGEN_PACKAGE runs the job on an installed copy of the package (the tests use the packed tarball).
const drillgen = await import(process.env.DRILLGEN_PACKAGE ?? "../pkg/node.js");

import { startLlmSimulator } from "../tools/llm-simulator/llm-simulator.mjs";
import { progressBar } from "./lib/progress-bar.mjs";
import { openStore } from "./lib/sqlite-store.mjs";
import { countTokens, formatTokenTable, tokenRow } from "./lib/tokens.mjs";

const root = new URL("../", import.meta.url);
const { values: args } = parseArgs({
  options: {
    target: { type: "string", default: "25" },
    phases: { type: "string", default: "EARLY,MIDDLE,BEAROFF" },
    "batch-size": { type: "string" },
    "max-per-phase": { type: "string" },
    concurrency: { type: "string", default: "5" },
    mode: { type: "string", default: "batched" },
    seed: { type: "string" },
    db: { type: "string", default: resolve(new URL("out/drillgen.sqlite", root).pathname) },
    artifact: { type: "string" },
    resume: { type: "boolean", default: false },
    "fail-batch": { type: "string" },
    "fail-persist": { type: "string" },
    "plan-only": { type: "boolean", default: false },
    library: { type: "string", default: new URL("data/positions.json", root).pathname },
    help: { type: "boolean", default: false },
  },
});
if (args.help) {
  console.log(`usage: scripts/run [--target N] [--phases EARLY,MIDDLE|all] [--batch-size N] [--concurrency N]
                   [--mode batched|single] [--seed N] [--db file.sqlite] [--artifact ID [--resume]]
                   [--fail-batch N] [--fail-persist N] [--plan-only] [--library positions.json]
  Against a real provider: DRILLGEN_BASE_URL, DRILLGEN_API_KEY, DRILLGEN_MODEL
  (DRILLGEN_PROVIDER=openai|anthropic, DRILLGEN_RESPONSE_FORMAT=json_schema|json_object|text).
  --fail-batch N makes the simulator refuse batch N (1-based) with HTTP 422, and its top-up from
  spare positions too, to show a partial series; run again with --artifact ID --resume to generate
  only what is missing.
  --fail-persist N (test-only) makes persist fail for batch N (1-based): drillgen hands its drills
  back and the job stores them after the run.`);
  process.exit(0);
}

const library = JSON.parse(readFileSync(args.library, "utf8"));
const context = JSON.parse(readFileSync(new URL("data/context.json", root), "utf8"));
const request = {
  targetDrillCount: Number(args.target),
  ...(args.phases !== "all" && { gamePhases: args.phases.split(",").map((s) => s.trim().toUpperCase()) }),
  ...(args["batch-size"] && { batchSize: Number(args["batch-size"]) }),
  ...(args["max-per-phase"] && { maxPositionsPerPhase: Number(args["max-per-phase"]) }),
};
const out = (s = "") => console.log(s);

function printPlan({ plan, batches, ...sample }) {
  const prompts = batches.map((b) => drillgen.buildBatchPrompt(b, context));
  const phaseCounts = (positions) => {
    const counts = {};
    for (const p of positions) counts[p.gamePhase] = (counts[p.gamePhase] ?? 0) + 1;
    return Object.entries(counts)
      .map(([phase, n]) => `${phase} ${n}`)
      .join(", ");
  };
  out(
    `drillgen ${drillgen.version()}: ${plan.targetDrillCount} drills over ${plan.phases.join(", ")}, ` +
      `batches of ${plan.batchSize}, seed ${sample.seed}\n`,
  );
  out("Plan (positions per phase = ceil(target / phases) + 2, capped; OPENING keeps all 21)");
  for (const [phase, n] of Object.entries(plan.perPhase)) out(`  ${phase.padEnd(8)} ${n}`);
  out(`  total    ${plan.totalPositions} positions, ${plan.batches} batches`);
  for (const w of sample.warnings) out(`  warning ${w.code}: ${w.message}`);
  out("\nBatches");
  for (const [i, b] of batches.entries()) {
    out(
      `  ${String(b.batchIndex + 1).padStart(2)}/${b.totalBatches}  drills ${b.drillIndices[0]}-${b.drillIndices.at(-1)}  ` +
        `${b.positions.length} positions (${phaseCounts(b.positions)}), batch prompt ${countTokens(prompts[i].user)} tokens`,
    );
  }
  out(`  shared prefix (identical in every batch, cacheable): ${countTokens(prompts[0].system)} tokens`);
  out("\nPosition-data tokens (o200k)");
  out(formatTokenTable([tokenRow(drillgen, library, request, sample.seed)]).replace(/^/gm, "  "));
}

/** `--fail-persist N` (test-only): persist throws for batch N, every attempt. */
function persistWithFault(persist) {
  const failing = Number(args["fail-persist"]) || 0;
  return (drills, info) => {
    if (info.batchIndex + 1 === failing) throw new Error(`--fail-persist: persist refused batch ${failing}`);
    return persist(drills, info);
  };
}

/**
 * Stores the drills `persist` did not accept (stored + handed back = generated); the upsert by
 * drill_id makes re-writing any that did land harmless. Returns the result as the database now
 * has it, with `keptAfterRun` drills and the batches (0-based) they completed.
 */
function keepUnpersisted(store, request, result) {
  const handedBack = result.unpersistedDrills;
  if (!handedBack.length) return { ...result, keptAfterRun: 0, rescuedBatches: [] };
  store.putDrills(result.artifactId, handedBack);
  const stored = store.load(result.artifactId)();
  return { ...result, ...drillgen.reconcileResult(request, result, stored, library), keptAfterRun: handedBack.length };
}

async function main() {
  mkdirSync(dirname(args.db), { recursive: true });
  const store = openStore(args.db);
  const artifactId =
    args.artifact ??
    `series-${new Date()
      .toISOString()
      .replace(/[-:.TZ]/g, "")
      .slice(0, 14)}`;
  const previous = store.artifact(artifactId);
  if (previous && !args.resume) throw new Error(`artifact ${artifactId} exists in ${args.db}; pass --resume to complete it`);
  // A resume samples the same positions as the first run: its seed is on the artifact row.
  const seed = args.resume && previous?.seed != null ? Number(previous.seed) : args.seed ? Number(args.seed) : undefined;
  const series = drillgen.prepareSeries(request, library, context, seed === undefined ? {} : { seed });
  const { plan } = series;
  printPlan(series);
  if (args["plan-only"]) return store.close();

  const real = process.env.DRILLGEN_BASE_URL;
  const sim = real ? null : await startLlmSimulator({ latencyMs: 300, msPerOutputToken: 2 });
  if (sim && args["fail-batch"]) sim.script((Number(args["fail-batch"]) - 1) * plan.batchSize, [422, 422]); // the batch, then its top-up
  const llm = real
    ? {
        provider: process.env.DRILLGEN_PROVIDER ?? "openai",
        baseUrl: real,
        model: process.env.DRILLGEN_MODEL ?? "gpt-4o-mini",
        apiKey: process.env.DRILLGEN_API_KEY,
        ...(process.env.DRILLGEN_RESPONSE_FORMAT && { responseFormat: process.env.DRILLGEN_RESPONSE_FORMAT }),
      }
    : { provider: "openai", baseUrl: sim.url, model: "drillgen-simulator" };

  const runSeed = series.seed;
  store.begin(artifactId, plan.targetDrillCount, runSeed);

  out(
    `\nGenerating ${artifactId} with ${real ? `${llm.provider} ${llm.model} at ${real}` : "the local LLM simulator"}` +
      `, ${args.mode}, concurrency ${args.concurrency}${args.resume ? ", resuming" : ""}`,
  );
  const bar = progressBar({ totalBatches: args.mode === "single" ? 1 : plan.batches });
  const controller = new AbortController();
  process.once("SIGINT", () => controller.abort());
  const started = performance.now();
  const generated = await drillgen.generateDrillSeries({
    artifactId,
    request,
    positions: library,
    context,
    llm,
    concurrency: Number(args.concurrency),
    mode: args.mode,
    seed: runSeed,
    persist: persistWithFault(store.persist(artifactId)),
    load: store.load(artifactId),
    onProgress: bar.onProgress,
    signal: controller.signal,
  });
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  await sim?.close();
  const result = keepUnpersisted(store, request, generated);
  store.finish(result);

  out(`\nSeries ${result.artifactId}: ${result.status}, ${result.drills.length}/${plan.targetDrillCount} drills in ${seconds} s`);
  out(`  batchProgress ${JSON.stringify(result.batchProgress)}`);
  for (const b of result.batches) {
    const why = b.error ? `  ${b.error.code}: ${b.error.message}` : "";
    out(
      `  batch ${String(b.batchIndex + 1).padStart(2)}  ${b.status.padEnd(9)} attempts ${b.attempts}  drills ${b.drillIndices.join(",")}${why}`,
    );
  }
  const u = result.usage;
  out(`  tokens: ${u.inputTokens} in (${u.cachedInputTokens} from the prompt cache), ${u.outputTokens} out`);
  out(
    `  verification: ${result.verification.passed ? "passed" : `${result.verification.issues.length} issues: ${result.verification.issues.map((i) => i.code).join(", ")}`}`,
  );
  for (const w of result.warnings) out(`  warning ${w.code}: ${w.message}`);
  if (result.keptAfterRun) {
    const complete = result.rescuedBatches.length ? ` (batch ${result.rescuedBatches.map((b) => b + 1).join(", ")} now complete)` : "";
    out(`  stored after the run: ${result.keptAfterRun} drills persist had not accepted${complete}`);
  }
  const example = result.drills[0];
  if (example) {
    out(`\nDrill ${example.index} (${example.gamePhase}, ${example.positionId}): ${example.title}`);
    out(`  ${example.question}`);
    for (const o of example.options) out(`   ${o.id === example.correctOptionId ? "*" : " "} ${o.id}. ${o.text}`);
  }
  const counts = store
    .counts(artifactId)
    .map((c) => `${c.n} ${c.status}`)
    .join(", ");
  const row = store.artifact(artifactId);
  out(`\nSQLite ${args.db}: guru_artifact ${artifactId} status ${row.status}, batch_progress ${row.batch_progress}; drill rows: ${counts}`);
  if (result.status !== "COMPLETED" || result.missingIndices.length) {
    out(`Missing indices ${JSON.stringify(result.missingIndices)}: run again with --artifact ${artifactId} --resume`);
  }
  store.close();
  if (result.status === "FAILED") process.exitCode = 1;
}

main().catch((e) => {
  if (e?.name === "DrillgenError") {
    console.error(`error ${e.code}: ${e.message}`);
    process.exit(2);
  }
  console.error(e?.message ?? e);
  process.exit(1);
});

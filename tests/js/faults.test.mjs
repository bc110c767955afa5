// The provider side's fault corpus: every hostile answer the simulator can give, injected into runs
// through the built package and real fetch. For every run: stored + handed back = generated, no
// index stored twice, no credential in the result; across all of them the process's memory stays
// bounded. Prints a summary per fault class.

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { after, before, test } from "node:test";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import * as drillgen from "../../pkg/node.js";
import { startLlmSimulator } from "../../tools/llm-simulator/llm-simulator.mjs";
import { context, faultLlm, memoryStore, runSeries } from "./support/harness.mjs";

const positions = JSON.parse(readFileSync(new URL("../../data/positions.json", import.meta.url), "utf8"));
const longContext = { ...context, mentalModel: { ...context.mentalModel, notes: "Count shots before leaving a blot. ".repeat(150) } };
const classes = [
  "hugeError",
  "huge200",
  "oversized",
  "oversizedChunked",
  "deepNesting",
  "duplicateKeys",
  "badUsage",
  "protoKeys",
  "truncatedStream",
  "slowDrip",
  "malformed",
  "gibberish",
  "short",
  "extra",
  "blank",
  "fenced",
  "reset",
  "hang",
  "redirect",
  "echoKey",
  429,
  500,
  503,
  529,
];
const permanent = new Set(["redirect", "echoKey"]);
let sim;
before(async () => {
  sim = await startLlmSimulator();
});
after(() => sim.close());

async function one(fault, seed) {
  sim.reset();
  // truncatedStream needs a streamed answer: only the cache-warming first batch streams.
  const first = fault === "truncatedStream" ? 0 : [0, 5, 10, 15, 20][seed % 5];
  sim.script(first, [fault, fault]);
  const store = memoryStore();
  const { result } = await runSeries(drillgen, {
    baseUrl: sim.url,
    positions,
    store,
    seed,
    concurrency: 3,
    context: fault === "truncatedStream" ? longContext : context,
    llm: faultLlm(sim.url, { provider: seed % 2 ? "anthropic" : "openai" }),
    retry: { maxRetries: 3, baseDelayMs: 5, maxDelayMs: 20, maxRetryAfterMs: 2000 },
  });
  const generated = result.batches.flatMap((b) => b.drills.map((d) => d.drillId));
  const handed = new Set(result.unpersistedDrills.map((d) => d.drillId));
  const lost = generated.filter((id) => !store.rows.has(id) && !handed.has(id)).length;
  const written = store.writes.flatMap((w) => w.indices);
  return {
    result,
    generated: generated.length,
    lost,
    duplicates: written.length - new Set(written).size,
    leaked: JSON.stringify(result).includes("sk-test-secret-0042"),
  };
}

test("every provider fault: 0 lost, 0 duplicated, no credential, bounded memory", async () => {
  const rows = [];
  // A full collection before the baseline, so growth is the corpus's, not garbage left before it
  // (the flag set at run time gives a fresh context its `gc`; node needs no --expose-gc for it).
  setFlagsFromString("--expose-gc");
  runInNewContext("gc")();
  const rssBefore = process.memoryUsage().rss;
  let rssPeak = rssBefore;
  for (const fault of classes) {
    const row = { fault: String(fault), runs: 0, generated: 0, lost: 0, duplicates: 0, leaked: 0, completed: 0 };
    for (const seed of [1, 2, 3]) {
      const r = await one(fault, seed);
      Object.assign(row, {
        runs: row.runs + 1,
        generated: row.generated + r.generated,
        lost: row.lost + r.lost,
        duplicates: row.duplicates + r.duplicates,
        leaked: row.leaked + (r.leaked ? 1 : 0),
        completed: row.completed + (r.result.drills.length === 25 ? 1 : 0),
      });
      rssPeak = Math.max(rssPeak, process.memoryUsage().rss);
    }
    rows.push(row);
  }
  const table = [
    "fault              runs  full-series  drills  lost  duplicated  leaked",
    ...rows.map(
      (r) =>
        `${r.fault.padEnd(18)} ${String(r.runs).padStart(4)}  ${String(r.completed).padStart(11)}  ${String(r.generated).padStart(6)}  ${String(r.lost).padStart(4)}  ${String(r.duplicates).padStart(10)}  ${String(r.leaked).padStart(6)}`,
    ),
  ];
  const growth = (rssPeak - rssBefore) / 2 ** 20;
  console.log(
    `provider fault corpus: ${rows.length} classes, ${rows.length * 3} runs, peak RSS growth ${growth.toFixed(0)} MiB\n${table.join("\n")}`,
  );
  for (const r of rows) {
    assert.equal(r.lost, 0, `${r.fault}: lost drills`);
    assert.equal(r.duplicates, 0, `${r.fault}: a drill stored twice`);
    assert.equal(r.leaked, 0, `${r.fault}: the key leaked`);
    // Two transient faults then success still give a full series; a redirect or a rejected key is
    // permanent (never retried; a 401 stops the other batches too).
    if (permanent.has(r.fault)) assert.equal(r.completed, 0, r.fault);
    else assert.equal(r.completed, 3, `${r.fault}: ${r.completed}/3 full series`);
  }
  assert.ok(growth < 300, `RSS grew ${growth.toFixed(0)} MiB over the corpus`);
});

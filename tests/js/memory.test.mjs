// A long-lived Node process (a server generating series for many teachers) must stay flat, and a
// big run must print no warning.
//
// Memory: thousands of series through an in-process `fetch` (no sockets, so only drillgen's own
// objects can grow), the heap measured after full GCs and finalizer turns. Every wasm-bindgen
// closure that outlived its call (a `JsFuture` over a promise that never settled: a cleared timer,
// a raced fetch) once kept ~7 MB per 1,000 series; flat is a few hundred KB of noise.

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { after, before, test } from "node:test";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import * as drillgen from "../../pkg/node.js";
import { parseDrills, startLlmSimulator, writeDrills } from "../../tools/llm-simulator/llm-simulator.mjs";
import { context, memoryStore, simLlm } from "./support/harness.mjs";

const positions = JSON.parse(readFileSync(new URL("../../data/positions.json", import.meta.url), "utf8"));
// `gc` without --expose-gc on the command line (node --test runs each file in its own process).
setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc");

/** An OpenAI-compatible answer written in process from the request's user prompt. */
async function inProcessFetch(input, init) {
  const body = await new Request(input, init).json();
  const user = body.messages
    .filter((m) => m.role === "user")
    .map((m) => m.content)
    .join("\n");
  const text = JSON.stringify({ drills: writeDrills(parseDrills(user)) });
  const answer = {
    choices: [{ index: 0, message: { role: "assistant", content: text }, finish_reason: "stop" }],
    usage: { prompt_tokens: 1000, completion_tokens: 500 },
  };
  return new Response(JSON.stringify(answer), { headers: { "content-type": "application/json" } });
}

async function series(n, llm, extra = {}) {
  for (let i = 0; i < n; i++) {
    const store = memoryStore();
    const result = await drillgen.generateDrillSeries({
      artifactId: `series-${i}`,
      request: { targetDrillCount: 25, gamePhases: ["EARLY", "MIDDLE", "BEAROFF"] },
      positions,
      context,
      llm,
      seed: i,
      persist: store.persist,
      load: store.load,
      onProgress: () => {},
      ...extra,
    });
    assert.equal(result.status, "COMPLETED");
  }
}

async function settledHeap() {
  for (let i = 0; i < 4; i++) {
    gc();
    // wasm-bindgen frees closures from a FinalizationRegistry: give its callbacks turns to run.
    await new Promise((r) => setTimeout(r, 20));
  }
  return process.memoryUsage().heapUsed;
}

test("the JS heap stays flat over thousands of series in one process", { timeout: 600_000 }, async () => {
  const real = globalThis.fetch;
  globalThis.fetch = inProcessFetch;
  try {
    const llm = simLlm("http://127.0.0.1:9/v1");
    await series(300, llm); // warm-up: caches, JIT, the module's memory
    const heaps = [await settledHeap()];
    // Half the series with an onProgress whose promises never settle: the run stops waiting for
    // them at hostTimeoutMs, and what it awaited them with must not stay behind.
    const stuck = { onProgress: () => new Promise(() => {}), hostTimeoutMs: 5 };
    for (let round = 0; round < 2; round++) {
      await series(500, llm);
      await series(500, llm, stuck);
      heaps.push(await settledHeap());
    }
    const mb = heaps.map((h) => (h / 2 ** 20).toFixed(2));
    const growth = (heaps[2] - heaps[0]) / 2 / 2 ** 20;
    console.log(`heap after 300, 1,300, 2,300 series: ${mb.join(" → ")} MB (${growth.toFixed(2)} MB per 1,000 series)`);
    assert.ok(growth < 1.5, `the heap grows ${growth.toFixed(2)} MB per 1,000 series: ${mb.join(" → ")}`);
  } finally {
    globalThis.fetch = real;
  }
});

let sim;
before(async () => {
  sim = await startLlmSimulator();
});
after(() => sim.close());

test("a 500-drill run with a caller's signal prints no process warning", { timeout: 120_000 }, async () => {
  const warnings = [];
  const onWarning = (w) => warnings.push(`${w.name}: ${w.message}`);
  process.on("warning", onWarning);
  try {
    const store = memoryStore();
    const controller = new AbortController();
    const result = await drillgen.generateDrillSeries({
      artifactId: "big",
      request: { targetDrillCount: 500, batchSize: 10 },
      positions,
      context,
      llm: simLlm(sim.url, { timeoutMs: 5000 }),
      concurrency: 6,
      seed: 3,
      signal: controller.signal,
      persist: store.persist,
      load: store.load,
    });
    assert.equal(result.drills.length, 500);
    // Warnings are emitted on the next tick.
    await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(warnings, []);
  } finally {
    process.off("warning", onWarning);
  }
});

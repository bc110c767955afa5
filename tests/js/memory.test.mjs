// A long-lived Node process (a server generating series for many teachers) must stay flat, and a
// big run must print no warning.
//
// Memory: hundreds of series through an in-process `fetch` (no sockets, so only drillgen's own
// objects can grow), the heap measured after full GCs and finalizer turns. Every wasm-bindgen
// closure that outlived its call (a `JsFuture` over a promise that never settled: a cleared timer,
// a raced fetch) once kept ~7 MB per 1,000 series; flat is a few hundred KB of noise.
//
// How many series: the growth is the least-squares slope over five heaps, 100 series apart, after
// 200 series of warm-up. A leak of 7 MB per 1,000 in only one of the two kinds of series is 3.5 MB
// per 1,000 of the mix; 7 KB kept per stuck series, planted in this test once, measured 3.38 and
// failed it; without it the slope was -0.5 to +0.4 (the warm-up's last settling). The bound, 1.5, sits
// between the two. 600 series instead of 2,300: ~30 s instead of ~75 s.

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

/** Least-squares slope of `ys` over `xs`. */
function slope(xs, ys) {
  const mean = (v) => v.reduce((a, b) => a + b, 0) / v.length;
  const [mx, my] = [mean(xs), mean(ys)];
  const num = xs.reduce((s, x, i) => s + (x - mx) * (ys[i] - my), 0);
  return num / xs.reduce((s, x) => s + (x - mx) ** 2, 0);
}

test("the JS heap stays flat over hundreds of series in one process", { timeout: 600_000 }, async () => {
  const real = globalThis.fetch;
  globalThis.fetch = inProcessFetch;
  try {
    const llm = simLlm("http://127.0.0.1:9/v1");
    await series(200, llm); // warm-up: caches, JIT, the module's memory
    const counts = [0];
    const heaps = [await settledHeap()];
    // Half the series with an onProgress whose promises never settle: the run stops waiting for
    // them at hostTimeoutMs, and what it awaited them with must not stay behind.
    const stuck = { onProgress: () => new Promise(() => {}), hostTimeoutMs: 5 };
    for (let round = 1; round <= 4; round++) {
      await series(50, llm);
      await series(50, llm, stuck);
      counts.push(round * 100);
      heaps.push(await settledHeap());
    }
    const mb = heaps.map((h) => (h / 2 ** 20).toFixed(2));
    const growth = slope(counts, heaps) * (1000 / 2 ** 20);
    console.log(`heap after 200 + ${counts.join(", ")} series: ${mb.join(" → ")} MB (slope ${growth.toFixed(2)} MB per 1,000 series)`);
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

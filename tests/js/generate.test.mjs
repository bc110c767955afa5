// End to end through the built package and real fetch: generateDrillSeries in Node against the
// fault-injecting LLM simulator on 127.0.0.1.
import { test, before, after, beforeEach } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import * as drillgen from "../../pkg/node.js";
import { startLlmSimulator } from "../../scripts/lib/llm-simulator.mjs";
import { runSeries, invariantViolations, memoryStore } from "./support/harness.mjs";

const positions = JSON.parse(readFileSync(new URL("../../data/positions.json", import.meta.url), "utf8"));
let sim;
before(async () => { sim = await startLlmSimulator(); });
after(() => sim.close());
beforeEach(() => sim.reset());

const run = (overrides = {}) => runSeries(drillgen, { baseUrl: sim.url, positions, ...overrides });
const kinds = (events) => events.map((e) => e.type);

test("a full run persists every drill once and reports each batch", async () => {
  const outcome = await run();
  const { result, events } = outcome;
  assert.deepEqual(invariantViolations(outcome), []);
  assert.equal(result.status, "COMPLETED");
  assert.deepEqual(result.drills.map((d) => d.index), [...Array(25).keys()]);
  assert.equal(result.drills[3].drillId, "series-1:3");
  assert.ok(result.verification.passed, JSON.stringify(result.verification.issues));
  assert.deepEqual(result.batchProgress, { completed: 5, total: 5, failed: [] });
  assert.equal(sim.requests.length, 5);
  assert.equal(sim.requests[0].headers.authorization, "Bearer sk-test-secret-0042");
  assert.ok(result.usage.cachedInputTokens > 0, "the shared prefix was cached after the first call");
  const k = kinds(events);
  assert.equal(k.filter((x) => x === "batchStarted").length, 5);
  assert.equal(k.filter((x) => x === "batchCompleted").length, 5);
  assert.equal(k.at(-1), "runFinished");
  const done = events.filter((e) => e.type === "batchCompleted");
  assert.deepEqual(done.map((e) => e.completedDrills), [5, 10, 15, 20, 25]);
  for (const e of done) assert.match(e.message, new RegExp(`^Generated ${e.completedDrills}/25 drills \\(Batch ${e.batchIndex + 1}/5\\)$`));
  assert.equal(events.at(-1).message, "Generated 25/25 drills");
});

// One fault in batch 2 (first drill index 10), then success: the batch retries once.
const faults = [
  [429, "HTTP_ERROR", 429],
  [500, "HTTP_ERROR", 500],
  [503, "HTTP_ERROR", 503],
  [529, "HTTP_ERROR", 529],
  ["hang", "TIMEOUT"],
  ["reset", "NETWORK_ERROR"],
  ["malformed", "INVALID_OUTPUT"],
  ["wrongCount", "INVALID_OUTPUT"],
  ["foreignPosition", "INVALID_OUTPUT"],
  ["length", "INVALID_OUTPUT"],
  ["oversized", "RESPONSE_TOO_LARGE"],
  ["oversizedChunked", "RESPONSE_TOO_LARGE"],
];
for (const [fault, code, status] of faults) {
  test(`fault ${fault} in one batch is retried and nothing is lost`, async () => {
    sim.script(10, [fault]);
    const started = Date.now();
    const outcome = await run({ llm: { provider: "openai", baseUrl: sim.url, model: "sim-1", apiKey: "sk-test-secret-0042", timeoutMs: 400, maxResponseBytes: 1024 * 1024 } });
    const { result, events } = outcome;
    assert.deepEqual(invariantViolations(outcome), []);
    assert.equal(result.status, "COMPLETED");
    assert.equal(result.drills.length, 25);
    assert.equal(result.batches[2].attempts, 2);
    assert.deepEqual(result.batches.filter((b) => b.batchIndex !== 2).map((b) => b.attempts), [1, 1, 1, 1]);
    const retry = events.find((e) => e.type === "batchRetrying");
    assert.equal(retry.batchIndex, 2);
    assert.equal(retry.error.code, code);
    if (status) assert.equal(retry.error.status, status);
    assert.match(retry.message, /^Batch 3\/5: .* retrying in \d+\.\d s \(attempt 2 of 4\)$/);
    if (fault === 429) {
      assert.equal(retry.delayMs, 1000, "Retry-After: 1 is honoured");
      assert.ok(Date.now() - started >= 1000);
    }
    if (["malformed", "wrongCount", "foreignPosition"].includes(fault)) {
      const second = sim.requests.filter((r) => r.indices[0] === 10)[1];
      assert.match(second.body.messages[1].content, /Your previous answer for this batch was rejected/);
    }
  });
}

test("a permanent error fails its batch only; the run is COMPLETED with a warning", async () => {
  sim.script(5, [401]);
  const outcome = await run();
  const { result, events } = outcome;
  assert.deepEqual(invariantViolations(outcome), []);
  assert.equal(result.status, "COMPLETED");
  assert.deepEqual(result.missingIndices, [5, 6, 7, 8, 9]);
  assert.deepEqual(result.batchProgress.failed, [1]);
  assert.equal(result.batches[1].attempts, 1);
  assert.ok(result.warnings.some((w) => w.code === "BATCHES_FAILED"));
  assert.ok(events.some((e) => e.type === "batchFailed" && e.batchIndex === 1 && e.error.status === 401));
  assert.equal(events.at(-1).message, "Generated 20/25 drills; batch 2 failed");
});

test("all batches failing is FAILED and nothing is stored", async () => {
  sim.script("*", Array(20).fill(503));
  const { result, store } = await run({ retry: { maxRetries: 3, baseDelayMs: 5, maxDelayMs: 10, maxRetryAfterMs: 1000 } });
  assert.equal(result.status, "FAILED");
  assert.equal(store.rows.size, 0);
  assert.equal(sim.requests.length, 20);
});

test("a Retry-After beyond the limit fails the batch with RATE_LIMITED and retryAt", async () => {
  sim.script(0, [{ status: 429, headers: { "retry-after": "90" }, body: '{"error":{"message":"busy"}}' }]);
  const before = Date.now();
  const { result } = await run({ request: { targetDrillCount: 10, gamePhases: ["EARLY"] } });
  const error = result.batches[0].error;
  assert.equal(error.code, "RATE_LIMITED");
  assert.ok(error.retryAt >= before + 90_000 && error.retryAt <= Date.now() + 90_000);
});

test("Anthropic Messages: forced tool, cached prefix, same invariants", async () => {
  const outcome = await run({ llm: { provider: "anthropic", baseUrl: sim.url, model: "claude-sim", apiKey: "sk-test-secret-0042" } });
  assert.deepEqual(invariantViolations(outcome), []);
  assert.equal(outcome.result.drills.length, 25);
  const req = sim.requests[0];
  assert.equal(req.provider, "anthropic");
  assert.equal(req.headers["x-api-key"], "sk-test-secret-0042");
  assert.equal(req.headers["anthropic-version"], "2023-06-01");
  assert.equal(req.body.tool_choice.name, "submit_drills");
  assert.equal(req.body.system[0].cache_control.type, "ephemeral");
  assert.ok(outcome.result.usage.cachedInputTokens > 0);
});

for (const responseFormat of ["json_object", "text"]) {
  test(`OpenAI-compatible servers in ${responseFormat} mode`, async () => {
    const outcome = await run({ llm: { provider: "openai", baseUrl: sim.url, model: "llama", responseFormat } });
    assert.deepEqual(invariantViolations(outcome), []);
    assert.equal(outcome.result.drills.length, 25);
    const format = sim.requests[0].body.response_format;
    if (responseFormat === "text") assert.equal(format, undefined);
    else assert.equal(format.schema.properties.drills.maxItems, 5);
  });
}

test("abort mid-run: CANCELLED, and nothing is persisted after the abort", async () => {
  const controller = new AbortController();
  sim.script(10, ["hang"]);
  let abortedAt = 0;
  const outcome = await run({
    concurrency: 1,
    signal: controller.signal,
    onProgress: (e) => { if (e.type === "batchStarted" && e.batchIndex === 2) setTimeout(() => { abortedAt = Date.now(); controller.abort(); }, 50); },
  });
  const { result, store } = outcome;
  assert.equal(result.status, "CANCELLED");
  assert.deepEqual([...store.rows.values()].map((d) => d.index).sort((a, b) => a - b), [...Array(10).keys()]);
  assert.ok(store.writes.every((w) => w.at <= abortedAt));
  assert.deepEqual(result.batches.map((b) => b.status), ["COMPLETED", "COMPLETED", "CANCELLED", "CANCELLED", "CANCELLED"]);
  assert.equal(sim.requests.length, 3, "no request after the abort");
});

test("resume from the host's store generates only the missing batch", async () => {
  sim.script(15, [401]);
  const first = await run();
  assert.deepEqual(first.result.missingIndices, [15, 16, 17, 18, 19]);
  sim.reset();
  const second = await run({ store: first.store, seed: first.result.seed });
  assert.deepEqual(invariantViolations(second), []);
  assert.equal(second.result.status, "COMPLETED");
  assert.equal(second.result.drills.length, 25);
  assert.deepEqual(sim.requests.map((r) => r.indices), [[15, 16, 17, 18, 19]]);
  assert.equal(second.events[0].completedDrills, 20, "progress counts start from what exists");
  assert.deepEqual(second.result.batches.map((b) => b.status), ["SKIPPED", "SKIPPED", "SKIPPED", "COMPLETED", "SKIPPED"]);
});

test("a persist that rejects is retried without a new LLM call; one that keeps failing loses nothing", async () => {
  const store = memoryStore();
  let rejections = 2;
  const flaky = { ...store, persist: async (drills, info) => { if (info.batchIndex === 1 && rejections-- > 0) throw new Error("SQLITE_BUSY"); return store.persist(drills, info); } };
  const ok = await run({ store: flaky, persist: flaky.persist });
  assert.equal(ok.result.drills.length, 25);
  assert.equal(sim.requests.length, 5);

  sim.reset();
  const broken = memoryStore();
  const failing = await run({ store: broken, persist: async (drills, info) => { if (info.batchIndex === 3) throw new Error("disk full"); return broken.persist(drills, info); } });
  assert.equal(failing.result.batches[3].error.code, "PERSIST_FAILED");
  assert.deepEqual(failing.result.unpersistedDrills.map((d) => d.index), [15, 16, 17, 18, 19]);
  assert.equal(sim.requests.length, 5);
});

test("a throwing onProgress never breaks the run", async () => {
  const { result } = await run({ onProgress: () => { throw new Error("UI crashed"); } });
  assert.equal(result.drills.length, 25);
});

test("single mode makes one call for the whole series", async () => {
  const { result } = await run({ mode: "single" });
  assert.equal(sim.requests.length, 1);
  assert.equal(sim.requests[0].indices.length, 25);
  assert.equal(result.drills.length, 25);
});

test("bad options are rejected before any request, with coded errors", async () => {
  const cases = [
    [{ persist: undefined }, "INVALID_OPTIONS"],
    [{ llm: { provider: "openai", baseUrl: "no-scheme", model: "m" } }, "INVALID_OPTIONS"],
    [{ llm: { provider: "gemini", baseUrl: sim.url, model: "m" } }, "INVALID_OPTIONS"],
    [{ concurrency: 9 }, "INVALID_OPTIONS"],
    [{ request: { targetDrillCount: -1 } }, "INVALID_TARGET_COUNT"],
    [{ positions: "none" }, "INVALID_OPTIONS"],
  ];
  for (const [overrides, code] of cases) {
    await assert.rejects(run(overrides), (e) => e instanceof Error && e.name === "DrillgenError" && e.code === code);
  }
  assert.equal(sim.requests.length, 0);
});

test("generateBatch runs one batch for hosts that fan out", async () => {
  const plan = drillgen.planPositions({ targetDrillCount: 10, gamePhases: ["MIDDLE"] });
  const sample = drillgen.samplePositions(positions, plan, { seed: 3 });
  const [, second] = drillgen.partitionBatches({ targetDrillCount: 10 }, sample.positions);
  const stored = [];
  const outcome = await drillgen.generateBatch(second, {
    artifactId: "fan-1", context: { mentalModel: "m", curriculum: "c" },
    llm: { provider: "openai", baseUrl: sim.url, model: "sim-1" },
    persist: (drills) => { stored.push(...drills); },
  });
  assert.equal(outcome.status, "COMPLETED");
  assert.deepEqual(outcome.drills.map((d) => d.drillId), ["fan-1:5", "fan-1:6", "fan-1:7", "fan-1:8", "fan-1:9"]);
  assert.deepEqual(stored, outcome.drills);
});

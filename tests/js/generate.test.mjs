// End to end through the built package and real fetch: generateDrillSeries in Node against the
// fault-injecting LLM simulator on 127.0.0.1.

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { after, before, beforeEach, test } from "node:test";
import * as drillgen from "../../pkg/node.js";
import { startLlmSimulator } from "../../tools/llm-simulator/llm-simulator.mjs";
import { context, faultLlm, invariantViolations, memoryStore, runSeries, simLlm } from "./support/harness.mjs";

const positions = JSON.parse(readFileSync(new URL("../../data/positions.json", import.meta.url), "utf8"));
let sim;
before(async () => {
  sim = await startLlmSimulator();
});
after(() => sim.close());
beforeEach(() => sim.reset());

const run = (overrides = {}) => runSeries(drillgen, { baseUrl: sim.url, positions, ...overrides });
const longContext = {
  ...context,
  mentalModel: { ...context.mentalModel, notes: "Count shots before leaving a blot; prime before you attack. ".repeat(80) },
};
const kinds = (events) => events.map((e) => e.type);

test("a full run persists every drill once and reports each batch", async () => {
  const outcome = await run();
  const { result, events } = outcome;
  assert.deepEqual(invariantViolations(outcome), []);
  assert.equal(result.status, "COMPLETED");
  assert.deepEqual(
    result.drills.map((d) => d.index),
    [...Array(25).keys()],
  );
  assert.equal(result.drills[3].drillId, "series-1:3");
  assert.ok(result.verification.passed, JSON.stringify(result.verification.issues));
  assert.deepEqual(result.batchProgress, { completed: 5, total: 5, failed: [] });
  assert.equal(sim.requests.length, 5);
  assert.equal(sim.requests[0].headers.authorization, "Bearer sk-test-secret-0042");
  // The harness's context is short: a real provider caches nothing under 1,024 tokens, nor here.
  assert.equal(result.usage.cachedInputTokens, 0);
  // The estimate is the shared prefix (system prompt and the batch schema) at 4 bytes a token.
  const [batch] = drillgen.prepareSeries({ targetDrillCount: 25, gamePhases: ["EARLY", "MIDDLE", "BEAROFF"] }, positions, context).batches;
  const prefixBytes =
    Buffer.byteLength(drillgen.buildBatchPrompt(batch, context).system) +
    Buffer.byteLength(JSON.stringify(drillgen.batchOutputSchema(batch)));
  assert.ok(prefixBytes > 1000, `${prefixBytes}`);
  assert.deepEqual(result.cache, { prefixTokens: Math.floor(prefixBytes / 4), minimumTokens: 1024, cacheable: false, warmup: false });
  for (const d of result.drills) {
    const p = positions.find((q) => q.positionId === d.positionId);
    assert.equal(d.options.find((o) => o.id === d.correctOptionId).text, p.bestMove, "the engine's best move is the answer");
  }
  const k = kinds(events);
  assert.equal(k.filter((x) => x === "batchStarted").length, 5);
  assert.equal(k.filter((x) => x === "batchCompleted").length, 5);
  assert.equal(k.at(-1), "runFinished");
  const done = events.filter((e) => e.type === "batchCompleted");
  assert.deepEqual(
    done.map((e) => e.completedDrills),
    [5, 10, 15, 20, 25],
  );
  // The spec's shape; currentBatch counts finished batches, and the message is built from the fields.
  assert.deepEqual(
    done.map((e) => e.currentBatch),
    [1, 2, 3, 4, 5],
  );
  for (const e of events) {
    assert.equal(e.phase, "GENERATING_CONTENT");
    assert.deepEqual([e.current, e.total, e.totalBatches], [e.completedDrills, 25, 5]);
  }
  for (const e of done) assert.equal(e.message, `Generated ${e.current}/${e.total} drills (Batch ${e.currentBatch}/${e.totalBatches})`);
  assert.equal(events.at(-1).message, "Generated 25/25 drills (Batch 5/5)");
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
  ["gibberish", "INVALID_OUTPUT"],
  ["length", "INVALID_OUTPUT"],
  ["deepNesting", "INVALID_OUTPUT"],
  ["oversized", "RESPONSE_TOO_LARGE"],
  ["oversizedChunked", "RESPONSE_TOO_LARGE"],
];
for (const [fault, code, status] of faults) {
  test(`fault ${fault} in one batch is retried and nothing is lost`, async () => {
    sim.script(10, [fault]);
    const started = Date.now();
    // Plain answers: a fault fails the whole answer. (A streamed answer keeps the drills that
    // closed before a fault: the streaming tests below.)
    const outcome = await run({
      llm: faultLlm(sim.url, { stream: false }),
    });
    const { result, events } = outcome;
    assert.deepEqual(invariantViolations(outcome), []);
    assert.equal(result.status, "COMPLETED");
    assert.equal(result.drills.length, 25);
    assert.equal(result.batches[2].attempts, 2);
    assert.deepEqual(
      result.batches.filter((b) => b.batchIndex !== 2).map((b) => b.attempts),
      [1, 1, 1, 1],
    );
    const retry = events.find((e) => e.type === "batchRetrying");
    assert.equal(retry.batchIndex, 2);
    assert.equal(retry.error.code, code);
    if (status) assert.equal(retry.error.status, status);
    assert.match(retry.message, /^Batch 3\/5: .* retrying in \d+\.\d s \(attempt 2 of 4\)$/);
    if (fault === 429) {
      assert.equal(retry.delayMs, 1000, "Retry-After: 1 is honoured");
      assert.ok(Date.now() - started >= 1000);
    }
    if (["malformed", "gibberish"].includes(fault)) {
      const second = sim.requests.filter((r) => r.indices[0] === 10)[1];
      assert.match(second.body.messages[1].content, /Your previous answer for this batch was rejected/);
    }
  });
}

// A short answer keeps the drills it has and asks only for the rest.
for (const fault of ["short"]) {
  test(`fault ${fault}: the good drills are kept, only the rest is asked again`, async () => {
    sim.script(10, [fault]);
    const outcome = await run();
    assert.deepEqual(invariantViolations(outcome), []);
    assert.equal(outcome.result.drills.length, 25);
    const asked = sim.requests.filter((r) => r.indices[0] >= 10 && r.indices[0] < 15).map((r) => r.indices);
    assert.deepEqual(asked, [[10, 11, 12, 13, 14], [14]]);
    assert.match(sim.requests.at(-1).body.messages[1].content, /Your previous answer for this batch was rejected: drill 5 of 5 is missing/);
  });
}

// Wrappers a model adds are repaired without a retry, and counted.
for (const [fault, repair] of [
  ["fenced", "JSON_EXTRACTED"],
  ["extra", "EXTRA_DRILLS_DROPPED"],
  ["duplicateKeys", null],
  ["protoKeys", null],
]) {
  test(`fault ${fault} is read without a retry`, async () => {
    sim.script(10, [fault]);
    const outcome = await run();
    assert.deepEqual(invariantViolations(outcome), []);
    assert.equal(outcome.result.batches[2].attempts, 1);
    if (repair) assert.ok(outcome.result.batches[2].repairs[repair] >= 1, JSON.stringify(outcome.result.batches[2].repairs));
    assert.equal({}.polluted, undefined, "no prototype was touched");
  });
}

// A blank text is asked for again once (that drill only); blank again, it is filled from the analysis.
test("fault blank is asked again once, then filled from the analysis", async () => {
  sim.script(10, ["blank"]);
  const once = await run();
  assert.deepEqual(invariantViolations(once), []);
  assert.equal(once.result.batches[2].attempts, 2);
  assert.deepEqual(
    sim.requests.filter((r) => r.indices.includes(10)).map((r) => r.indices),
    [[10, 11, 12, 13, 14], [10]],
  );
  sim.reset();
  sim.script(10, ["blank"]);
  sim.script(10, ["blank"]);
  const twice = await run();
  assert.deepEqual(invariantViolations(twice), []);
  assert.equal(twice.result.batches[2].repairs.TEXT_FROM_ENGINE, 1);
  assert.ok(twice.result.drills.find((d) => d.index === 10).explanation.trim().length > 0);
});

for (const status of [401, 403, 404]) {
  test(`a ${status} fails fast: the other batches are not started or retried`, async () => {
    sim.script("*", Array(10).fill(status));
    const outcome = await run({ concurrency: 1 });
    assert.equal(outcome.result.status, "FAILED");
    assert.equal(sim.requests.length, 1, `one ${status}, then no further call on the same key or endpoint`);
    assert.ok(outcome.result.batches.every((b) => b.error.code === "HTTP_ERROR" && b.error.status === status));
  });
}

test("a permanent error fails its batch only; the run is COMPLETED with a warning", async () => {
  sim.script(5, [422, 422]); // the batch, then its top-up on spare positions
  const outcome = await run();
  const { result, events } = outcome;
  assert.deepEqual(invariantViolations(outcome), []);
  assert.equal(result.status, "COMPLETED");
  assert.deepEqual(result.missingIndices, [5, 6, 7, 8, 9]);
  assert.deepEqual(result.batchProgress.failed, [1]);
  assert.equal(result.batches[1].attempts, 1);
  assert.ok(result.warnings.some((w) => w.code === "BATCHES_FAILED"));
  assert.ok(events.some((e) => e.type === "batchFailed" && e.batchIndex === 1 && e.error.status === 422));
  assert.equal(events.at(-1).message, "Generated 20/25 drills (Batch 5/5); batch 2 failed");
});

test("a batch that fails for good is topped up on spare positions of the same phase", async () => {
  sim.script(10, [422]);
  const outcome = await run();
  const { result, store } = outcome;
  assert.deepEqual(invariantViolations(outcome), []);
  assert.deepEqual(result.missingIndices, []);
  assert.deepEqual(
    result.toppedUp.map((t) => t.index),
    [10, 11, 12, 13, 14],
  );
  const phase = (id) => positions.find((p) => p.positionId === id).gamePhase;
  for (const t of result.toppedUp) {
    assert.notEqual(t.positionId, t.replacedPositionId);
    assert.equal(phase(t.positionId), phase(t.replacedPositionId));
  }
  assert.deepEqual(result.batchProgress, { completed: 5, total: 5, failed: [] });
  assert.ok(result.warnings.some((w) => w.code === "DRILLS_TOPPED_UP"));
  assert.ok(!result.warnings.some((w) => w.code === "BATCHES_FAILED"));
  assert.deepEqual(
    result.batches.filter((b) => b.topUp).map((b) => [b.batchIndex, b.status, b.calls]),
    [[2, "COMPLETED", 1]],
  );
  const info = store.writes.find((w) => w.batchIndex === 2).info;
  assert.deepEqual([info.complete, info.missingIndices, info.calls], [true, [], 1]);
});

test("a batch that gives up after some drills tells persist it is partial", async () => {
  sim.script(10, ["short"]); // 4 of 5 drills
  sim.script(14, [422, 422]); // asking again for the last one is refused, and its top-up too
  const outcome = await run();
  const { result, store } = outcome;
  assert.deepEqual(invariantViolations(outcome), []);
  const info = store.writes.find((w) => w.batchIndex === 2).info;
  assert.deepEqual([info.complete, info.missingIndices, info.batchProgress.failed], [false, [14], [2]]);
  assert.deepEqual(result.batchProgress.failed, [2]);
  assert.equal(
    result.calls,
    result.batches.reduce((n, b) => n + b.calls, 0),
  );
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

test("Anthropic Messages: forced tool, cache_control only where the model can cache it", async () => {
  const llm = { provider: "anthropic", baseUrl: sim.url, model: "claude-sonnet-4-5", apiKey: "sk-test-secret-0042" };
  const short = await run({ llm });
  assert.deepEqual(invariantViolations(short), []);
  assert.equal(short.result.drills.length, 25);
  const req = sim.requests[0];
  assert.equal(req.provider, "anthropic");
  assert.equal(req.headers["x-api-key"], "sk-test-secret-0042");
  assert.equal(req.headers["anthropic-version"], "2023-06-01");
  assert.equal(req.headers["anthropic-dangerous-direct-browser-access"], undefined);
  assert.equal(req.body.tool_choice.name, "submit_drills");
  assert.equal(req.body.system[0].cache_control, undefined, "a short prefix is not marked");
  assert.ok(short.result.warnings.some((w) => w.code === "PREFIX_TOO_SHORT_TO_CACHE"));
  // A long teacher's context: marked, the first batch warms the cache, the others read it.
  sim.reset();
  const long = await run({ llm, context: longContext });
  assert.deepEqual(invariantViolations(long), []);
  assert.ok(long.result.cache.cacheable && long.result.cache.warmup);
  assert.equal(sim.requests[0].body.system[0].cache_control.type, "ephemeral");
  assert.equal(sim.requests[0].stream, true, "the warming batch streams");
  assert.ok(
    sim.requests.slice(1).every((r) => r.at >= sim.requests[0].at && r.cachedTokens > 0),
    "every later batch hit the cache",
  );
  // Opus 4.5 caches from 4,096 tokens: the same context is too short for it.
  sim.reset();
  const opus = await run({ llm: { ...llm, model: "claude-opus-4-5" }, context: longContext });
  assert.equal(opus.result.cache.minimumTokens, 4096);
  assert.equal(sim.requests[0].body.system[0].cache_control, undefined);
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

// Servers as they are: with default settings every one of them yields a full series.
const matrix = [
  ["vllm", "sim-1", "json_schema", "max_tokens", 5],
  ["openai", "gpt-5.1", "json_schema", "max_completion_tokens", 6],
  ["llama-cpp-python", "smollm2", "json_object", "max_tokens", 6],
  ["lmstudio", "qwen", "json_schema", "max_tokens", 5],
  ["text-only", "m", "text", "max_tokens", 7],
  ["strict-fields", "m", "json_schema", "max_tokens", 6], // streamed answers: stream_options refused once
];
for (const [personality, model, format, field, calls] of matrix) {
  test(`default settings work against a ${personality} server`, async () => {
    sim.personality = personality;
    const outcome = await run({ concurrency: 1, llm: simLlm(sim.url, { model }) });
    assert.deepEqual(invariantViolations(outcome), []);
    const { result } = outcome;
    assert.equal(result.status, "COMPLETED");
    assert.equal(result.drills.length, 25);
    assert.equal(result.negotiated.responseFormat, format);
    assert.equal(result.negotiated.maxTokensField, field);
    assert.ok(
      result.batches.every((b) => b.attempts === 1),
      "negotiation never counts as a retry",
    );
    assert.equal(result.calls, calls);
    console.log(
      `# negotiation ${personality}: ${format}, ${field}, ${result.calls} calls for 5 batches, ${sim.requests.filter((r) => r.refused).length} refused`,
    );
  });
}

test("a redirect is refused with a code and never followed with the key", async () => {
  sim.script(0, ["redirect", "redirect"]); // the batch, then its top-up on spare positions
  const { result } = await run();
  assert.equal(result.batches[0].error.code, "REDIRECT_REFUSED");
  assert.equal(result.batches[0].attempts, 1);
  const topUp = result.batches.find((b) => b.topUp);
  assert.deepEqual([topUp.batchIndex, topUp.error.code], [0, "REDIRECT_REFUSED"]);
  assert.equal(sim.requests.filter((r) => r.indices[0] === 0).length, 2, "one each, never followed");
});

test("a server that echoes the key or answers megabytes never gets it into the result", async () => {
  sim.script(0, ["echoKey"]);
  sim.script(5, ["hugeError", "hugeError", "hugeError", "hugeError"]);
  const outcome = await run({
    llm: simLlm(sim.url, { headers: { "x-proxy-auth": "proxy-secret-77" } }),
  });
  const text = JSON.stringify(outcome.result) + JSON.stringify(outcome.events);
  assert.ok(!text.includes("sk-test-secret-0042") && !text.includes("proxy-secret-77"));
  for (const e of outcome.events) assert.ok(e.message.length <= 2048 && (e.error?.message.length ?? 0) <= 2048);
  assert.ok(text.length < 400_000, `${text.length} characters of result and events`);
});

test("a body that drips past the timeout is a TIMEOUT, retried", async () => {
  sim.script(10, ["slowDrip"]);
  const { result } = await run({ llm: { provider: "openai", baseUrl: sim.url, model: "sim-1", timeoutMs: 300 } });
  assert.equal(result.drills.length, 25);
  assert.equal(result.batches[2].attempts, 2);
});

test("a stream cut short is invalid output, retried", async () => {
  sim.script(0, ["truncatedStream"]);
  const { result } = await run({ context: longContext });
  assert.ok(result.cache.warmup);
  assert.equal(result.drills.length, 25);
  assert.equal(result.batches[0].attempts, 2);
});

test("abort mid-run: CANCELLED, and nothing is persisted after the abort", async () => {
  const controller = new AbortController();
  sim.script(10, ["hang"]);
  let abortedAt = 0;
  const outcome = await run({
    concurrency: 1,
    signal: controller.signal,
    onProgress: (e) => {
      if (e.type === "batchStarted" && e.batchIndex === 2)
        setTimeout(() => {
          abortedAt = Date.now();
          controller.abort();
        }, 50);
    },
  });
  const { result, store } = outcome;
  assert.equal(result.status, "CANCELLED");
  assert.deepEqual(
    [...store.rows.values()].map((d) => d.index).sort((a, b) => a - b),
    [...Array(10).keys()],
  );
  assert.ok(store.writes.every((w) => w.at <= abortedAt));
  assert.deepEqual(
    result.batches.map((b) => b.status),
    ["COMPLETED", "COMPLETED", "CANCELLED", "CANCELLED", "CANCELLED"],
  );
  assert.equal(sim.requests.length, 3, "no request after the abort");
});

test("resume from the host's store generates only the missing batch", async () => {
  sim.script(15, [422, 422]); // the batch, then its top-up on spare positions
  const first = await run();
  assert.deepEqual(first.result.missingIndices, [15, 16, 17, 18, 19]);
  sim.reset();
  const second = await run({ store: first.store, seed: first.result.seed });
  assert.deepEqual(invariantViolations(second), []);
  assert.equal(second.result.status, "COMPLETED");
  assert.equal(second.result.drills.length, 25);
  assert.deepEqual(
    sim.requests.map((r) => r.indices),
    [[15, 16, 17, 18, 19]],
  );
  assert.equal(second.events[0].completedDrills, 20, "progress counts start from what exists");
  assert.deepEqual(
    second.result.batches.map((b) => b.status),
    ["SKIPPED", "SKIPPED", "SKIPPED", "COMPLETED", "SKIPPED"],
  );
});

test("a persist that rejects is retried without a new LLM call; one that keeps failing loses nothing", async () => {
  const store = memoryStore();
  let rejections = 2;
  const flaky = {
    ...store,
    persist: async (drills, info) => {
      if (info.batchIndex === 1 && rejections-- > 0) throw new Error("SQLITE_BUSY");
      return store.persist(drills, info);
    },
  };
  const ok = await run({ store: flaky, persist: flaky.persist });
  assert.equal(ok.result.drills.length, 25);
  assert.equal(sim.requests.length, 5);

  sim.reset();
  const broken = memoryStore();
  const failing = await run({
    store: broken,
    persist: async (drills, info) => {
      if (info.batchIndex === 3) throw new Error("disk full");
      return broken.persist(drills, info);
    },
  });
  assert.equal(failing.result.batches[3].error.code, "PERSIST_FAILED");
  assert.deepEqual(
    failing.result.unpersistedDrills.map((d) => d.index),
    [15, 16, 17, 18, 19],
  );
  assert.equal(sim.requests.length, 5);
});

test("a throwing onProgress never breaks the run", async () => {
  const { result } = await run({
    onProgress: () => {
      throw new Error("UI crashed");
    },
  });
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
    artifactId: "fan-1",
    context: { mentalModel: "m", curriculum: "c" },
    llm: { provider: "openai", baseUrl: sim.url, model: "sim-1" },
    persist: (drills) => {
      stored.push(...drills);
    },
  });
  assert.equal(outcome.status, "COMPLETED");
  assert.deepEqual(
    outcome.drills.map((d) => d.drillId),
    ["fan-1:5", "fan-1:6", "fan-1:7", "fan-1:8", "fan-1:9"],
  );
  assert.deepEqual(stored, outcome.drills);
  assert.equal(outcome.stored, true);
  const unstored = await drillgen.generateBatch(second, {
    artifactId: "fan-1",
    context: { mentalModel: "m", curriculum: "c" },
    llm: { provider: "openai", baseUrl: sim.url, model: "sim-1" },
  });
  assert.equal(unstored.stored, false, "without persist the outcome is the drills' only copy");
  assert.equal(unstored.drills.length, 5);
});

// The host-callback contract, case by case (the corpus in hostile.test.mjs covers the rest).
test("a persist that returns a lazy thenable (Prisma's PrismaPromise) is started and awaited", async () => {
  const store = memoryStore();
  let started = 0;
  const lazy = (drills, info) => ({
    then(resolve, reject) {
      started += 1;
      store.persist(drills, info).then(resolve, reject);
    },
  });
  const outcome = await run({ store, persist: lazy });
  assert.deepEqual(invariantViolations(outcome), []);
  assert.equal(started, 5);
  assert.equal(store.rows.size, 25, "the store received every drill");
});

test("a persist that never settles times out, is retried, then hands its drills back", async () => {
  const store = memoryStore();
  const hang = (drills, info) => (info.batchIndex === 1 ? new Promise(() => {}) : store.persist(drills, info));
  const started = Date.now();
  const { result } = await run({ store, persist: hang, hostTimeoutMs: 100, retry: { maxRetries: 3, baseDelayMs: 5, maxDelayMs: 10 } });
  assert.ok(Date.now() - started < 5000);
  assert.equal(result.batches[1].error.code, "PERSIST_FAILED");
  assert.match(result.batches[1].error.message, /did not settle within 100 ms/);
  assert.deepEqual(
    result.unpersistedDrills.map((d) => d.index),
    [5, 6, 7, 8, 9],
  );
  assert.equal(store.rows.size + result.unpersistedDrills.length, 25, "stored + handed back = generated");
});

test("an abort during a hanging persist settles after the 2 s grace as CANCELLED with the drills handed back", async () => {
  const controller = new AbortController();
  const store = memoryStore();
  const persist = (drills, info) => {
    if (info.batchIndex !== 0) return store.persist(drills, info);
    setTimeout(() => controller.abort(), 20);
    return new Promise(() => {});
  };
  const started = Date.now();
  const { result } = await run({ store, persist, signal: controller.signal, concurrency: 1, hostTimeoutMs: 60_000 });
  const took = Date.now() - started;
  assert.ok(took >= 2000 && took < 4000, `${took} ms: the grace, not hostTimeoutMs`);
  assert.equal(result.status, "CANCELLED");
  assert.deepEqual(
    result.unpersistedDrills.map((d) => d.index),
    [0, 1, 2, 3, 4],
  );
});

test("the grace never passes the deadline, nor the persist's own hostTimeoutMs", async () => {
  const hangFirst = (store) => (drills, info) => (info.batchIndex === 0 ? new Promise(() => {}) : store.persist(drills, info));
  // deadlineMs bounds the whole call: a persist still running at it is not waited for.
  let started = Date.now();
  const atDeadline = await run({ store: memoryStore(), persist: hangFirst(memoryStore()), concurrency: 1, deadlineMs: 300 });
  let took = Date.now() - started;
  assert.ok(took < 1500, `${took} ms: settled at the deadline, not 2 s after it`);
  assert.equal(atDeadline.result.status, "CANCELLED");
  assert.equal(atDeadline.result.batches[0].error.code, "DEADLINE_EXCEEDED");
  assert.deepEqual(
    atDeadline.result.unpersistedDrills.map((d) => d.index),
    [0, 1, 2, 3, 4],
  );
  // An abort 20 ms into a persist with hostTimeoutMs 400: the grace ends with the call's bound.
  const controller = new AbortController();
  const store = memoryStore();
  const persist = (drills, info) => {
    if (info.batchIndex === 0) setTimeout(() => controller.abort(), 20);
    return hangFirst(store)(drills, info);
  };
  started = Date.now();
  const aborted = await run({ store, persist, signal: controller.signal, concurrency: 1, hostTimeoutMs: 400 });
  took = Date.now() - started;
  assert.ok(took < 1500, `${took} ms: within hostTimeoutMs, not the full 2 s grace`);
  assert.equal(aborted.result.status, "CANCELLED");
  assert.equal(aborted.result.unpersistedDrills.length, 5);
});

test("a persist in flight at the abort is awaited: its drills are stored, not also handed back", async () => {
  const controller = new AbortController();
  const store = memoryStore();
  const persist = async (drills, info) => {
    if (info.batchIndex === 0) {
      controller.abort();
      await new Promise((r) => setTimeout(r, 300));
    }
    return store.persist(drills, info);
  };
  const { result } = await run({ store, persist, signal: controller.signal, concurrency: 1 });
  assert.equal(result.status, "CANCELLED");
  assert.equal(result.batches[0].status, "COMPLETED");
  assert.ok(result.batches[0].stored);
  assert.deepEqual(
    [...store.rows.values()].map((d) => d.index),
    [0, 1, 2, 3, 4],
  );
  assert.deepEqual(result.unpersistedDrills, [], "stored and handed back would be a double");
});

test("a promise whose own then throws is a rejection, never an exception out of wasm", async () => {
  const store = memoryStore();
  const hostile = () => {
    const p = Promise.resolve();
    p.then = () => {
      throw new Error("then exploded");
    };
    return p;
  };
  const persist = (drills, info) => (info.batchIndex === 2 ? hostile() : store.persist(drills, info));
  const { result } = await run({ store, persist, onProgress: hostile, retry: { maxRetries: 1, baseDelayMs: 5, maxDelayMs: 10 } });
  assert.equal(result.status, "COMPLETED");
  assert.equal(result.batches[2].error.code, "PERSIST_FAILED");
  assert.match(result.batches[2].error.message, /then exploded/);
  assert.deepEqual(
    result.unpersistedDrills.map((d) => d.index),
    [10, 11, 12, 13, 14],
  );
  assert.equal(store.rows.size + result.unpersistedDrills.length, 25);
});

test("a fetch that ignores its AbortSignal still ends at timeoutMs", async () => {
  const real = globalThis.fetch;
  // A patched global (an old polyfill, an instrumentation wrapper) that drops `signal`. gloo-net
  // hands fetch a Request.
  globalThis.fetch = async (request) => {
    const body = await request.clone().text();
    if (request.url.includes("/chat/") && body.includes("(index 10)")) return new Promise(() => {});
    return real(request.url, { method: request.method, headers: request.headers, body, redirect: "manual" });
  };
  try {
    const started = Date.now();
    const { result } = await run({
      llm: { provider: "openai", baseUrl: sim.url, model: "sim-1", timeoutMs: 300 },
      retry: { maxRetries: 0, baseDelayMs: 5, maxDelayMs: 10 },
    });
    assert.ok(Date.now() - started < 5000, `${Date.now() - started} ms`);
    assert.equal(result.batches[2].error.code, "TIMEOUT");
    assert.equal(result.drills.length, 20);
  } finally {
    globalThis.fetch = real;
  }
});

// gloo-net's own `send` panics on a rejection that is not an Error and on an answer that is not a
// Response, and its accessors throw through wasm on a patched one; a panic aborts the module.
// drillgen calls the global through a catching binding and reads the answer with catching reads:
// each case must be a coded NETWORK_ERROR, and the module must still work.
const patched = (change) => async (request) => change(await globalThis.realFetch(request));
const misbehavingFetches = [
  [
    "throws synchronously",
    () => {
      throw new TypeError("fetch is broken");
    },
    /fetch is broken/,
  ],
  ["rejects with a string", () => Promise.reject("offline"), /offline/],
  ["rejects with undefined", () => Promise.reject(undefined), /undefined/],
  ["resolves to a plain object", () => Promise.resolve({ status: 200, ok: true }), /headers cannot be read/],
  ["resolves to a string", () => Promise.resolve("200 OK"), /other than a Response/],
  [
    "resolves to a Response whose headers are not iterable",
    patched((r) => Object.defineProperty(r, "headers", { value: {} })),
    /headers cannot be read/,
  ],
  [
    "resolves to a Response whose headers throw when iterated",
    patched((r) => {
      r.headers[Symbol.iterator] = () => {
        throw "boom";
      };
      return r;
    }),
    /boom/,
  ],
  [
    "resolves to a Response whose type getter throws",
    patched((r) =>
      Object.defineProperty(r, "type", {
        get() {
          throw new Error("no type");
        },
      }),
    ),
    /no type/,
  ],
  [
    "resolves to a Response whose body is not a stream",
    patched((r) => Object.defineProperty(r, "body", { get: () => ({}) })),
    /no getReader/,
  ],
];
for (const [name, fake, message] of misbehavingFetches) {
  test(`a global fetch that ${name} is a NETWORK_ERROR, and the module keeps working`, async () => {
    const real = globalThis.fetch;
    globalThis.realFetch = real;
    globalThis.fetch = fake;
    let broken;
    try {
      broken = await run({ retry: { maxRetries: 0, baseDelayMs: 5, maxDelayMs: 10 } });
    } finally {
      globalThis.fetch = real;
    }
    assert.equal(broken.result.status, "FAILED");
    for (const b of broken.result.batches) {
      assert.equal(b.error.code, "NETWORK_ERROR");
      assert.match(b.error.message, message);
    }
    const after = await run();
    assert.equal(after.result.status, "COMPLETED");
    assert.equal(after.result.drills.length, 25);
  });
}

test("an answer shaped like a Response from another fetch (npm undici's, another realm's) is read", async () => {
  const real = globalThis.fetch;
  // Not an instance of this realm's Response, nor its headers a Headers: only the shape counts.
  globalThis.fetch = async (request) => {
    const r = await real(request);
    return { status: r.status, type: r.type, headers: new Map(r.headers), body: r.body };
  };
  try {
    const { result } = await run();
    assert.equal(result.status, "COMPLETED");
    assert.equal(result.drills.length, 25);
  } finally {
    globalThis.fetch = real;
  }
});

test("header values that are not secrets never corrupt the result or the drills", async () => {
  // `true` once turned `"stored":true` into invalid JSON; a long title (OpenRouter's X-Title) that
  // also occurs in drill text was replaced in the drills sent to persist.
  const title = "Which play is best?";
  const outcome = await run({
    llm: {
      provider: "openai",
      baseUrl: `${sim.url}?stream=false`,
      model: "sim-1",
      headers: { "x-debug": "true", "X-Title": title },
    },
  });
  assert.deepEqual(invariantViolations(outcome), []);
  assert.equal(outcome.result.status, "COMPLETED");
  assert.ok(outcome.result.batches.every((b) => b.stored === true));
  assert.ok([...outcome.store.rows.values()].every((d) => d.question.includes(title)));
  assert.ok(outcome.result.drills.every((d) => d.question.includes(title)));
  assert.equal(sim.requests[0].headers["x-title"], title);
  assert.ok(sim.requests[0].url.endsWith("?stream=false"));
});

test("a key pasted into the wrong option is not quoted back", async () => {
  const key = "sk-live-pasted-into-headers-0123456789";
  await assert.rejects(
    run({ llm: { provider: "openai", baseUrl: sim.url, model: "sim-1", headers: `Authorization: Bearer ${key}` } }),
    (e) => e.code === "INVALID_OPTIONS" && !e.message.includes("sk-live") && /llm\.headers/.test(e.message),
  );
});

test("a deadline ends the run with what it generated, and it can be resumed", async () => {
  sim.script(10, ["hang"]);
  const first = await run({
    concurrency: 1,
    deadlineMs: 600,
    llm: { provider: "openai", baseUrl: sim.url, model: "sim-1", timeoutMs: 60_000 },
  });
  assert.equal(first.result.status, "CANCELLED");
  assert.ok(first.result.warnings.some((w) => w.code === "DEADLINE_EXCEEDED"));
  assert.equal(first.result.batches[2].error.code, "DEADLINE_EXCEEDED");
  assert.deepEqual(
    first.result.drills.map((d) => d.index),
    [...Array(10).keys()],
  );
  sim.reset();
  const second = await run({ store: first.store, seed: first.result.seed });
  assert.equal(second.result.drills.length, 25);
});

test("onProgress promises are settled before the run resolves, never waited for in between", async () => {
  let settledLate = 0;
  const onProgress = () =>
    new Promise((resolve) =>
      setTimeout(() => {
        settledLate += 1;
        resolve();
      }, 50),
    );
  const started = Date.now();
  const { result } = await run({ onProgress });
  assert.equal(result.drills.length, 25);
  assert.equal(settledLate, 36, "5 started, 25 drills ready, 5 completed, 1 finished: every event's promise settled before the result");
  assert.ok(Date.now() - started < 36 * 50, "the run did not wait for each event in turn");
});

test("cache warm-up: the other batches are sent only once the first response has begun", async () => {
  // 300 ms to the first token: without the wait, the four other batches would go out at once.
  const slow = await startLlmSimulator({ latencyMs: 300 });
  try {
    const warmed = await run({ baseUrl: slow.url, llm: simLlm(slow.url, { timeoutMs: 5000 }), context: longContext, concurrency: 5 });
    assert.deepEqual(invariantViolations(warmed), []);
    assert.ok(warmed.result.cache.warmup, JSON.stringify(warmed.result.cache));
    const [first, ...others] = slow.requests;
    assert.equal(first.stream, true, "the warming batch streams, so the run sees its response begin");
    assert.equal(others.length, 4);
    for (const r of others) assert.ok(r.at - first.at >= 280, `a batch was sent ${r.at - first.at} ms after the first`);
    assert.ok(
      others.every((r) => r.cachedTokens > 0),
      "each read the cache the first one wrote",
    );
    // Off: every batch goes out at once.
    slow.reset();
    const off = await run({
      baseUrl: slow.url,
      llm: simLlm(slow.url, { timeoutMs: 5000 }),
      context: longContext,
      concurrency: 5,
      cacheWarmup: "off",
    });
    assert.equal(off.result.cache.warmup, false);
    const spread = Math.max(...slow.requests.map((r) => r.at)) - Math.min(...slow.requests.map((r) => r.at));
    assert.ok(spread < 280, `without the warm-up the batches went out over ${spread} ms`);
  } finally {
    await slow.close();
  }
});

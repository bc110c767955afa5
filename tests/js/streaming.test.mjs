// Drills on screen as they are written (`drillReady` while the answer streams), and the rate
// governor that series share (`createRateGovernor`, option `rateGovernor`), against the simulator.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { after, before, beforeEach, test } from "node:test";
import * as drillgen from "../../pkg/node.js";
import { startLlmSimulator } from "../../tools/llm-simulator/llm-simulator.mjs";
import { codeOf, invariantViolations, memoryStore, runSeries, simLlm } from "./support/harness.mjs";

const positions = JSON.parse(readFileSync(new URL("../../data/positions.json", import.meta.url), "utf8"));
let sim;
before(async () => {
  // 150 ms to the first token, then 1 ms a token: a batch's answer takes a few hundred ms.
  sim = await startLlmSimulator({ latencyMs: 150, msPerOutputToken: 1 });
});
after(() => sim.close());
beforeEach(() => sim.reset());

const run = (overrides = {}) => runSeries(drillgen, { baseUrl: sim.url, positions, ...overrides });

/** The page after the events: drills shown, minus those withdrawn. */
function page(events) {
  const shown = new Map();
  for (const e of events) {
    if (e.type === "drillReady") {
      assert.ok(!shown.has(e.drillIndex), `drill ${e.drillIndex} shown twice`);
      assert.equal(e.drill.index, e.drillIndex);
      shown.set(e.drillIndex, e.drill);
    }
    if (e.type === "drillWithdrawn") shown.delete(e.drillIndex);
  }
  return [...shown.values()].sort((a, b) => a.index - b.index);
}

test("each drill is shown while its batch's answer is still streaming, as it is then stored", async () => {
  const timed = [];
  const outcome = await run({ onProgress: (e) => timed.push({ ...e, at: Date.now() }) });
  assert.deepEqual(invariantViolations(outcome), []);
  const { result } = outcome;
  assert.equal(result.drills.length, 25);
  assert.ok(
    sim.requests.every((r) => r.stream === true),
    "answers stream by default",
  );
  assert.deepEqual(page(timed), result.drills, "the page shows exactly the stored drills");
  for (const b of result.batches) {
    const ready = timed.filter((e) => e.type === "drillReady" && e.batchIndex === b.batchIndex);
    const done = timed.find((e) => e.type === "batchCompleted" && e.batchIndex === b.batchIndex);
    assert.equal(ready.length, 5);
    assert.ok(ready[0].at < done.at - 20, `batch ${b.batchIndex}: first drill ${done.at - ready[0].at} ms before the batch completed`);
    assert.ok(ready.every((e) => e.current < 25 && e.message.startsWith(`Batch ${b.batchIndex + 1}/5: drill`)));
  }
});

test("plain answers (llm.stream: false) still show every drill once, when its answer has been read", async () => {
  const outcome = await run({ llm: simLlm(sim.url, { timeoutMs: 5000, stream: false }) });
  assert.deepEqual(invariantViolations(outcome), []);
  assert.ok(sim.requests.every((r) => r.stream === false));
  assert.deepEqual(page(outcome.events), outcome.result.drills);
});

test("a stream cut short keeps the drills that closed before the cut and asks only for the rest", async () => {
  sim.script(10, ["truncatedStream"]);
  const outcome = await run();
  assert.deepEqual(invariantViolations(outcome), []);
  const { result, events } = outcome;
  assert.equal(result.drills.length, 25);
  const asked = sim.requests.filter((r) => r.indices.some((i) => i >= 10 && i < 15)).map((r) => r.indices);
  assert.equal(asked.length, 2, JSON.stringify(asked));
  assert.ok(asked[1].length < 5 && asked[1][0] > 10, `the retry asks only for the rest: ${JSON.stringify(asked)}`);
  assert.deepEqual(page(events), result.drills);
});

test("series sharing a rate governor are paused together by a 429 and counted once", async () => {
  const governor = drillgen.createRateGovernor();
  sim.script(10, [429]); // retry-after: 1
  const runs = await Promise.all(
    ["a", "b"].map((id) => run({ artifactId: `series-${id}`, rateGovernor: governor, concurrency: 2, store: memoryStore() })),
  );
  for (const outcome of runs) assert.deepEqual(invariantViolations(outcome), []);
  const calls = runs.reduce((n, o) => n + o.result.calls, 0);
  const stats = governor.stats();
  assert.equal(stats.admitted, calls, "every call went through the governor");
  assert.equal(stats.throttled, 1);
  const throttled = sim.requests.find((r) => r.fault === 429);
  const paused = sim.requests.filter((r) => r.at > throttled.at + 50 && r.at < throttled.at + 900);
  assert.deepEqual(
    paused.map((r) => r.indices[0]),
    [],
    "no series sent a call while the key was paused",
  );
});

test("createRateGovernor and rateGovernor refuse what they cannot use, with a code", async () => {
  assert.equal(
    codeOf(() => drillgen.createRateGovernor({ requestsPerMinute: 0 })),
    "INVALID_OPTIONS",
  );
  assert.equal(
    codeOf(() => drillgen.createRateGovernor({ tokensPerMinute: 1.5 })),
    "INVALID_OPTIONS",
  );
  const forged = await run({ rateGovernor: { governorId: 1e9 } }).catch((e) => e);
  assert.equal(forged.code, "INVALID_OPTIONS");
  assert.match(forged.message, /createRateGovernor/);
  assert.equal(sim.requests.length, 0);
});

test("acquire and complete pace calls a host makes itself (a Durable Object's permits)", async () => {
  const governor = drillgen.createRateGovernor({ requestsPerMinute: 2 });
  const first = await governor.acquire(100);
  assert.equal(governor.complete(first, { status: 200, headers: {}, usedTokens: 80 }), true);
  assert.equal(governor.complete(first, { status: 200 }), false, "a permit settles once");
  assert.equal(governor.complete(12345, { status: 200 }), false, "an unknown permit changes nothing");
  const second = await governor.acquire(100);
  // A report that is not a PermitReport is refused with a code, and the permit stays held.
  assert.equal(
    codeOf(() => governor.complete(second, { status: "200" })),
    "INVALID_OPTIONS",
  );
  assert.equal(governor.complete(second, { status: 200 }), true);
  // The bucket of 2 is empty: the next permit is 30 s away, past this wait.
  const late = await governor.acquire(100, 200).catch((e) => e);
  assert.equal(late.code, "PERMIT_TIMEOUT");
  assert.equal(governor.stats().admitted, 2);
  // A 429's retry-after pauses the next permit; a retry-after of a year pauses it a minute at most.
  const reset = drillgen.createRateGovernor();
  reset.complete(await reset.acquire(10), { status: 429, headers: { "retry-after": "1" } });
  const started = Date.now();
  reset.complete(await reset.acquire(10), { status: 429, headers: { "retry-after": "31536000" } });
  assert.ok(Date.now() - started >= 900, `${Date.now() - started} ms`);
  const year = await reset.acquire(10, 1_000).catch((e) => e);
  assert.equal(year.code, "PERMIT_TIMEOUT", "paused by the 429");
  assert.equal(reset.stats().throttled, 2);
});

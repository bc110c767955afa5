// End to end in headless Chromium: the built package (web target, async init) in a page on one
// origin, real fetch to the fault-injecting LLM simulator on another (CORS), driven by playwright-core.

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { after, before, beforeEach, test } from "node:test";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";
import { chromiumLaunchOptions, startStaticServer } from "../../scripts/lib/static-server.mjs";
import { startLlmSimulator } from "../../tools/llm-simulator/llm-simulator.mjs";
import { faultLlm } from "./support/harness.mjs";

const root = fileURLToPath(new URL("../../", import.meta.url));
let sim, site, browser, page;

before(async () => {
  sim = await startLlmSimulator();
  site = await startStaticServer(root);
  browser = await chromium.launch(chromiumLaunchOptions);
  page = await browser.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(e));
  await page.goto(`${site.url}/tests/js/support/browser.html`);
  await page
    .waitForFunction(() => window.ready === true, null, { timeout: 15000 })
    .catch((e) => {
      throw errors[0] ?? e;
    });
});
after(async () => {
  await browser?.close();
  await site?.close();
  await sim?.close();
});
beforeEach(() => sim.reset());

const scenario = (args = {}) => page.evaluate((a) => window.runScenario(a), { baseUrl: sim.url, ...args });

test("a full run in the page", async () => {
  const { result, events, violations } = await scenario();
  assert.deepEqual(violations, []);
  assert.equal(result.status, "COMPLETED");
  assert.equal(result.drills.length, 25);
  assert.ok(result.verification.passed);
  assert.equal(sim.requests.length, 5);
  assert.ok(
    sim.requests.every((r) => r.headers.origin === site.url),
    "cross-origin requests",
  );
  assert.deepEqual(
    events.filter((e) => e.type === "batchCompleted").map((e) => e.completedDrills),
    [5, 10, 15, 20, 25],
  );
});

for (const [fault, code] of [
  [429, "HTTP_ERROR"],
  [503, "HTTP_ERROR"],
  ["hang", "TIMEOUT"],
  ["reset", "NETWORK_ERROR"],
  ["malformed", "INVALID_OUTPUT"],
  ["gibberish", "INVALID_OUTPUT"],
  ["oversizedChunked", "RESPONSE_TOO_LARGE"],
]) {
  test(`fault ${fault} in the page is retried`, async () => {
    sim.script(10, [fault]);
    const { result, events, violations } = await scenario({
      llm: faultLlm(sim.url),
    });
    assert.deepEqual(violations, []);
    assert.equal(result.drills.length, 25);
    assert.equal(result.batches[2].attempts, 2);
    const retry = events.find((e) => e.type === "batchRetrying");
    assert.equal(retry.batchIndex, 2, "the faulted batch, not another one timing out");
    assert.equal(retry.error.code, code);
    if (fault === 429) assert.equal(retry.delayMs, 1000, "Retry-After is readable through CORS");
  });
}

test("Anthropic in the page", async () => {
  const { result, violations } = await scenario({
    llm: { provider: "anthropic", baseUrl: sim.url, model: "claude-sim", apiKey: "sk-test-secret-0042" },
  });
  assert.deepEqual(violations, []);
  assert.equal(result.drills.length, 25);
});

test("Cancel in the page stops the run and persists nothing after", async () => {
  sim.script(10, ["hang"]);
  const { result, writesAfterAbort, storedIndices } = await scenario({ concurrency: 1, abortOnBatch: 2 });
  assert.equal(result.status, "CANCELLED");
  assert.equal(writesAfterAbort, 0);
  assert.deepEqual(storedIndices, [...Array(10).keys()]);
  assert.equal(sim.requests.length, 3);
});

test("resume in the page generates only what is missing", async () => {
  sim.script(20, [422, 422]); // the batch, then its top-up on spare positions
  const first = await scenario({ storeName: "resume" });
  assert.deepEqual(first.result.missingIndices, [20, 21, 22, 23, 24]);
  sim.reset();
  const second = await scenario({ storeName: "resume", seed: first.result.seed });
  assert.deepEqual(second.violations, []);
  assert.equal(second.result.drills.length, 25);
  assert.deepEqual(
    sim.requests.map((r) => r.indices),
    [[20, 21, 22, 23, 24]],
  );
});

test("the hostile corpus in Chromium: settled, coded, nothing lost, nothing leaked, nothing escaped", async () => {
  const started = Date.now();
  const report = await page.evaluate((url) => window.runHostileCorpus(url), sim.url);
  const { summary } = await import("./support/hostile-corpus.mjs");
  console.log(`hostile corpus, Chromium, ${((Date.now() - started) / 1000).toFixed(1)} s\n${summary(report)}`);
  const readme = readFileSync(new URL("../../README.md", import.meta.url), "utf8");
  assert.equal(report.total, Number(readme.match(/hostile corpus \((\d+) inputs/)[1]), "README.md's figure");
  assert.deepEqual(report.failures, [], JSON.stringify(report.seen));
});

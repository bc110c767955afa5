// The hostile corpus (tests/js/support/hostile-corpus.mjs) against the built package in Node: every
// export, as many inputs as README.md and ARCHITECTURE.md say, each must settle, reject only with a coded DrillgenError or resolve
// with coded outcomes, lose no drill, leak no credential, and let no exception escape.

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { after, before, test } from "node:test";
import * as drillgen from "../../pkg/node.js";
import { startLlmSimulator } from "../../tools/llm-simulator/llm-simulator.mjs";
import { context } from "./support/harness.mjs";
import { declaredCodes, hostileCases, runCorpus, summary } from "./support/hostile-corpus.mjs";

const positions = JSON.parse(readFileSync(new URL("../../data/positions.json", import.meta.url), "utf8"));
const dts = readFileSync(new URL("../../pkg/drillgen.d.ts", import.meta.url), "utf8");
const uncaught = { count: 0 };
const count = (e) => {
  uncaught.count += 1;
  console.log(`# escaped: ${e?.message ?? e}`);
};
let sim;
before(async () => {
  process.on("uncaughtException", count);
  process.on("unhandledRejection", count);
  sim = await startLlmSimulator();
});
after(() => sim.close());

test("the hostile corpus in Node: settled, coded, nothing lost, nothing leaked, nothing escaped", async () => {
  const cases = hostileCases({ simUrl: sim.url, positions, context });
  const doc = (file, pattern) => Number(readFileSync(new URL(`../../${file}`, import.meta.url), "utf8").match(pattern)[1]);
  assert.equal(cases.length, doc("README.md", /hostile corpus \((\d+) inputs/), "README.md's figure");
  assert.equal(cases.length, doc("ARCHITECTURE.md", /hostile\.test\.mjs`, (\d+) cases/), "ARCHITECTURE.md's figure");
  const started = Date.now();
  const report = await runCorpus(drillgen, cases, declaredCodes(dts), uncaught);
  console.log(`hostile corpus, Node, ${((Date.now() - started) / 1000).toFixed(1)} s\n${summary(report)}`);
  assert.deepEqual(report.failures, []);
});

// The built package (pkg/) as a Node consumer sees it: its entry, exports, types and errors.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";

const pkgDir = new URL("../../pkg/", import.meta.url);
const manifest = JSON.parse(readFileSync(new URL("package.json", pkgDir), "utf8"));
const drillgen = await import(new URL("node.js", pkgDir));
const library = JSON.parse(readFileSync(new URL("../../data/positions.json", import.meta.url), "utf8"));

test("the manifest names every entry the runtimes need", () => {
  assert.equal(manifest.name, "drillgen");
  assert.equal(manifest.type, "module");
  const root = manifest.exports["."];
  assert.deepEqual(Object.keys(root), ["types", "workerd", "edge-light", "node", "browser", "import", "default"]);
  for (const file of manifest.files) readFileSync(new URL(file, pkgDir));
  assert.equal(manifest.version, readFileSync(new URL("../../Cargo.toml", import.meta.url), "utf8").match(/^version = "(.+)"/m)[1]);
});

/** Node's exports resolution: the first key, in the map's order, that the resolver's conditions hold. */
function resolveExport(conditions) {
  let target = manifest.exports["."];
  while (typeof target === "object") {
    const key = Object.keys(target).find((k) => k === "default" || conditions.includes(k));
    target = target[key];
  }
  return target;
}

test("every runtime's and bundler's conditions reach the entry that instantiates there", () => {
  const cases = [
    ["Node 20 (import)", ["node", "import"], "./node.js"],
    ["Node 20.19+ (require of ESM)", ["node", "require", "module-sync"], "./node.js"],
    ["Bun", ["bun", "node", "import"], "./node.js"],
    ["Deno", ["deno", "node", "import"], "./node.js"],
    ["Next.js nodejs runtime, server components and route handlers", ["react-server", "node", "import", "module", "webpack", "production"], "./node.js"],
    ["Next.js nodejs runtime, SSR of client components", ["node", "import", "module", "webpack", "production"], "./node.js"],
    ["Next.js edge runtime (react-server layer)", ["react-server", "edge-light", "browser", "worker", "import", "module", "production"], "./edge.js"],
    ["Vercel Edge Functions", ["edge-light", "worker", "browser", "import"], "./edge.js"],
    ["Cloudflare Workers (wrangler)", ["workerd", "worker", "browser", "import"], "./workerd.js"],
    ["Vite SSR", ["node", "import", "module", "production"], "./node.js"],
    ["browsers (Vite, Next.js client, webpack)", ["browser", "import", "module", "production"], "./drillgen.js"],
    ["web workers", ["worker", "browser", "import"], "./drillgen.js"],
    ["anything else", ["import"], "./drillgen.js"],
    ["TypeScript", ["types", "node", "import"], "./drillgen.d.ts"],
  ];
  for (const [who, conditions, entry] of cases) assert.equal(resolveExport(conditions), entry, who);
});

test("the public .d.ts has no `any` and types every export", () => {
  const dts = readFileSync(new URL("drillgen.d.ts", pkgDir), "utf8");
  const code = dts.replace(/\/\*[\s\S]*?\*\//g, "").replace(/\/\/.*$/gm, "");
  assert.doesNotMatch(code, /\bany\b/);
  for (const name of ["planPositions", "samplePositions", "partitionBatches", "buildBatchPrompt", "mergeDrills", "verifyArtifact"]) {
    assert.match(code, new RegExp(`export function ${name}\\(`), name);
  }
  assert.match(code, /export function planPositions\(request: DrillRequest, pool\?: Position\[\] \| null\): Plan;/);
  for (const type of ["Position", "Plan", "Sample", "BatchSpec", "Drill", "Artifact", "VerificationReport", "DrillgenError"]) {
    assert.match(code, new RegExp(`export (interface|type) ${type}\\b`), type);
  }
});

test("the error codes in the .d.ts are the ones thrown", () => {
  const dts = readFileSync(new URL("drillgen.d.ts", pkgDir), "utf8");
  const codes = [...dts.match(/export type DrillgenErrorCode =([^;]+);/)[1].matchAll(/"([A-Z_]+)"/g)].map((m) => m[1]);
  const thrown = new Set();
  const attempt = (f) => { try { f(); } catch (e) { thrown.add(e.code); } };
  attempt(() => drillgen.planPositions({ targetDrillCount: 0 }));
  attempt(() => drillgen.planPositions({ batchSize: 99 }));
  attempt(() => drillgen.planPositions({ maxPositionsPerPhase: -2 }));
  attempt(() => drillgen.planPositions({ gamePhases: [] }));
  attempt(() => drillgen.planPositions(7));
  for (const code of thrown) assert.ok(codes.includes(code), code);
  assert.equal(thrown.size, 5);
});

test("a Node consumer plans, samples and partitions the sample library", () => {
  const request = { targetDrillCount: 20, gamePhases: ["EARLY", "MIDDLE"] };
  const plan = drillgen.planPositions(request);
  assert.deepEqual(plan.perPhase, { EARLY: 12, MIDDLE: 12 });
  assert.equal(plan.baselinePositions, 96);
  assert.equal(plan.savingsPercent, 75);
  const first = drillgen.samplePositions(library, plan, { seed: 99 });
  const again = drillgen.samplePositions(library, plan, { seed: first.seed });
  assert.deepEqual(again.positions.map((p) => p.positionId), first.positions.map((p) => p.positionId));
  assert.equal(first.positions.length, 24);
  const batches = drillgen.partitionBatches(request, first.positions);
  assert.deepEqual(batches.map((b) => b.drillIndices), [[0, 1, 2, 3, 4], [5, 6, 7, 8, 9], [10, 11, 12, 13, 14], [15, 16, 17, 18, 19]]);
  const all = batches.flatMap((b) => b.positions.map((p) => p.positionId)).sort();
  assert.deepEqual(all, first.positions.map((p) => p.positionId).sort());
});

test("planPositions without phases counts the phases in the pool", () => {
  const pool = library.filter((p) => p.gamePhase === "EARLY" || p.gamePhase === "BEAROFF");
  const plan = drillgen.planPositions({ targetDrillCount: 20 }, pool);
  assert.deepEqual(plan.perPhase, { EARLY: 12, BEAROFF: 12 });
});

test("errors are real Errors with a name, a stable code and no panic", () => {
  const cases = [
    [() => drillgen.planPositions({ targetDrillCount: -5 }), "INVALID_TARGET_COUNT", /-5/],
    [() => drillgen.planPositions({ targetDrillCount: 1e9 }), "INVALID_TARGET_COUNT", /1000000000/],
    [() => drillgen.planPositions({ gamePhases: ["OPENING", "ENDGAME"] }), "INVALID_PHASES", /ENDGAME/],
    [() => drillgen.planPositions({ batchSize: 0 }), "INVALID_BATCH_SIZE", /batchSize/],
    [() => drillgen.samplePositions("pool", drillgen.planPositions({})), "INVALID_POSITIONS", /must be an array, got string/],
    [() => drillgen.samplePositions([{ positionId: "x", gamePhase: "EARLY" }], drillgen.planPositions({})), "INVALID_POSITIONS", /positions\[0\]: missing field `diceRoll`/],
    [() => drillgen.samplePositions([library[30], library[30]], drillgen.planPositions({})), "DUPLICATE_POSITION_ID", new RegExp(library[30].positionId)],
    [() => drillgen.partitionBatches({ targetDrillCount: 25 }, library.slice(0, 3)), "INSUFFICIENT_POSITIONS", /5 batches/],
    [() => drillgen.mergeDrills({}, { drills: [] }), "INVALID_DRILLS", /must be an array/],
    [() => drillgen.buildBatchPrompt({ batchIndex: 0, totalBatches: 1, drillIndices: [0], positions: [library[0]] }, { mentalModel: "", curriculum: "c" }), "INVALID_CONTEXT", /mentalModel/],
  ];
  for (const [call, code, message] of cases) {
    assert.throws(call, (e) => {
      assert.ok(e instanceof Error, "an Error instance");
      assert.equal(e.name, "DrillgenError");
      assert.equal(e.code, code);
      assert.equal(e.retryable, false);
      assert.match(e.message, message);
      assert.ok(typeof e.stack === "string");
      return true;
    });
  }
  // The module is still usable after every error (no poisoned state after a throw).
  assert.equal(drillgen.planPositions({}).targetDrillCount, 21);
});

test("the batch schema pins the batch's positions and indices", () => {
  const batch = { batchIndex: 1, totalBatches: 2, drillIndices: [5, 6], positions: [library[40], library[80]] };
  const schema = drillgen.batchOutputSchema(batch);
  const item = schema.properties.drills.items;
  assert.equal(schema.properties.drills.minItems, 2);
  assert.deepEqual(item.properties.index.enum, [5, 6]);
  assert.deepEqual(item.properties.positionId.enum, [library[40].positionId, library[80].positionId]);
});

// The built package (pkg/) as a Node consumer sees it: its entry, exports, types and errors.

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { codeOf } from "./support/harness.mjs";

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
    [
      "Next.js nodejs runtime, server components and route handlers",
      ["react-server", "node", "import", "module", "webpack", "production"],
      "./node.js",
    ],
    ["Next.js nodejs runtime, SSR of client components", ["node", "import", "module", "webpack", "production"], "./node.js"],
    [
      "Next.js edge runtime (react-server layer)",
      ["react-server", "edge-light", "browser", "worker", "import", "module", "production"],
      "./edge.js",
    ],
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
  assert.match(code, /export function planPositions\(request: DrillRequest, pool\?: Position\[\]\): Plan;/);
  assert.match(code, /export function generateDrillSeries\(options: GenerateSeriesOptions\): Promise<GenerationResult>;/);
  assert.match(code, /export function renderBoard\(xgid: string, options\?: BoardOptions\): string;/);
  // Every type a declaration mentions is declared (a Rust type renamed without its TS name fails here).
  const declared = new Set([...code.matchAll(/export (?:interface|type|class) (\w+)/g)].map((m) => m[1]));
  const builtins = new Set([
    "Promise",
    "PromiseLike",
    "Partial",
    "Record",
    "AbortSignal",
    "Error",
    "WebAssembly",
    "Response",
    "BufferSource",
    "RequestInfo",
    "URL",
    "SyncInitInput",
    "InitInput",
    "InitOutput",
    "string",
    "number",
    "boolean",
    "unknown",
    "void",
    "null",
    "undefined",
  ]);
  const mentioned = [...code.matchAll(/:\s*([A-Z]\w+)/g)].map((m) => m[1]);
  for (const name of mentioned) assert.ok(declared.has(name) || builtins.has(name), `${name} is used but not declared`);
  for (const type of [
    "Position",
    "Plan",
    "Sample",
    "BatchSpec",
    "Drill",
    "Artifact",
    "VerificationReport",
    "DrillgenError",
    "DrillgenErrorCode",
    "GenerateSeriesOptions",
    "GenerateBatchOptions",
  ]) {
    assert.match(code, new RegExp(`export (interface|type) ${type}\\b`), type);
  }
});

test("the error codes in the .d.ts are the ones thrown", () => {
  const dts = readFileSync(new URL("drillgen.d.ts", pkgDir), "utf8");
  const codes = [...dts.match(/export type DrillgenErrorCode =([^;]+);/)[1].matchAll(/"([A-Z_]+)"/g)].map((m) => m[1]);
  const request = { targetDrillCount: 10, gamePhases: ["EARLY"] };
  const plan = drillgen.planPositions(request);
  const [batch] = drillgen.partitionBatches(request, library.filter((p) => p.gamePhase === "EARLY").slice(0, 10));
  const context = { mentalModel: "m", curriculum: "c" };
  const cases = [
    ["INVALID_TARGET_COUNT", () => drillgen.planPositions({ targetDrillCount: 0 })],
    ["INVALID_BATCH_SIZE", () => drillgen.planPositions({ batchSize: 99 })],
    ["INVALID_MAX_POSITIONS", () => drillgen.planPositions({ maxPositionsPerPhase: -2 })],
    ["INVALID_PHASES", () => drillgen.planPositions({ gamePhases: [] })],
    ["INVALID_REQUEST", () => drillgen.planPositions(7)],
    ["INVALID_SEED", () => drillgen.samplePositions(library, plan, { seed: -1 })],
    ["INVALID_POSITIONS", () => drillgen.checkPositions("pool")],
    ["DUPLICATE_POSITION_ID", () => drillgen.checkPositions([library[0], library[0]])],
    [
      "EMPTY_POOL",
      () =>
        drillgen.samplePositions(
          library.filter((p) => p.gamePhase === "BEAROFF"),
          plan,
        ),
    ],
    ["INSUFFICIENT_POSITIONS", () => drillgen.partitionBatches({ targetDrillCount: 25 }, library.slice(0, 3))],
    ["INVALID_CONTEXT", () => drillgen.checkContext({ mentalModel: "", curriculum: "c" })],
    ["INVALID_TEMPLATE", () => drillgen.buildBatchPrompt(batch, context, { userPromptTemplate: "{{nope}}" })],
    ["INVALID_DRILLS", () => drillgen.mergeDrills(request, "drills")],
    ["INVALID_ARTIFACT", () => drillgen.verifyArtifact("artifact", library)],
    ["INVALID_OPTIONS", () => drillgen.batchOutputSchema({ ...batch, drillIndices: "x" })],
    ["INVALID_XGID", () => drillgen.renderBoard("not an xgid")],
  ];
  for (const [expected, call] of cases) {
    let code = "no error";
    try {
      call();
    } catch (e) {
      code = e.code;
    }
    assert.equal(code, expected);
    assert.ok(codes.includes(code), `${code} is in the .d.ts union`);
  }
  assert.equal(codes.length, 31, "the union is every code of DrillgenErrorCode");
});

test("warning and repair codes are unions generated from Rust, and warningCodes() gives the warning codes as values", () => {
  const dts = readFileSync(new URL("drillgen.d.ts", pkgDir), "utf8");
  const union = (name) => [...dts.match(new RegExp(`export type ${name} =([^;]+);`))[1].matchAll(/"([A-Z_]+)"/g)].map((m) => m[1]);
  const warnings = union("WarningCode");
  const repairs = union("RepairCode");
  assert.equal(warnings.length, 17);
  assert.equal(repairs.length, 10);
  assert.deepEqual(union("DrillFlag"), ["EXPLANATION_MISMATCH"]);
  assert.match(dts, /export interface Warning \{\s*code: WarningCode;/);
  assert.match(dts, /repairs: Partial<Record<RepairCode, number>>;/);
  const values = drillgen.warningCodes();
  assert.deepEqual(Object.keys(values).sort(), [...warnings].sort());
  for (const [k, v] of Object.entries(values)) assert.equal(k, v);
  // A warning the library reports carries a code of the union.
  const plan = drillgen.planPositions({ targetDrillCount: 20, gamePhases: ["EARLY"] });
  const short = drillgen.samplePositions(library.filter((p) => p.gamePhase === "EARLY").slice(0, 20), plan, { seed: 1 });
  assert.deepEqual(
    short.warnings.map((w) => w.code),
    [values.POOL_TOO_SMALL],
  );
});

test("prepareSeries is the chain plan → sample → partition, with the context and pool checked as a run checks them", () => {
  const request = { targetDrillCount: 20, gamePhases: ["EARLY", "MIDDLE"] };
  const context = JSON.parse(readFileSync(new URL("../../data/context.json", import.meta.url), "utf8"));
  const series = drillgen.prepareSeries(request, library, context, { seed: 99 });
  const plan = drillgen.planPositions(request, library);
  const sample = drillgen.samplePositions(library, plan, { seed: 99 });
  assert.deepEqual(series.plan, plan);
  assert.deepEqual(series.positions, sample.positions);
  assert.deepEqual(series.spares, sample.spares);
  assert.equal(series.seed, sample.seed);
  assert.deepEqual(series.batches, drillgen.partitionBatches(request, sample.positions));
  assert.equal(drillgen.prepareSeries(request, library, context, { mode: "single" }).batches.length, 1);

  assert.equal(
    codeOf(() => drillgen.prepareSeries(request, library, { mentalModel: "", curriculum: "c" })),
    "INVALID_CONTEXT",
  );
  assert.equal(
    codeOf(() => drillgen.checkContext({ curriculum: "c" })),
    "INVALID_CONTEXT",
  );
  assert.equal(
    codeOf(() => drillgen.checkContext(context, { userPromptTemplate: "{{positons}}" })),
    "INVALID_TEMPLATE",
  );
  assert.equal(
    codeOf(() => drillgen.checkContext(context)),
    "no error",
  );
  assert.equal(
    codeOf(() => drillgen.checkPositions([library[3], library[3]])),
    "DUPLICATE_POSITION_ID",
  );
  assert.equal(
    codeOf(() => drillgen.checkPositions({})),
    "INVALID_POSITIONS",
  );
  assert.equal(
    codeOf(() => drillgen.checkPositions(library)),
    "no error",
  );
});

test("a Node consumer plans, samples and partitions the sample library", () => {
  const request = { targetDrillCount: 20, gamePhases: ["EARLY", "MIDDLE"] };
  const plan = drillgen.planPositions(request);
  assert.deepEqual(plan.perPhase, { EARLY: 12, MIDDLE: 12 });
  assert.equal(plan.baselinePositions, 96);
  assert.equal(plan.savingsPercent, 75);
  const first = drillgen.samplePositions(library, plan, { seed: 99 });
  const again = drillgen.samplePositions(library, plan, { seed: first.seed });
  assert.deepEqual(
    again.positions.map((p) => p.positionId),
    first.positions.map((p) => p.positionId),
  );
  // The plan loads 12 a phase: 10 go into the series, the other 2 of each phase are spares.
  assert.equal(first.positions.length, 20);
  assert.equal(first.spares.length, 4);
  assert.deepEqual(
    again.spares.map((p) => p.positionId),
    first.spares.map((p) => p.positionId),
  );
  const batches = drillgen.partitionBatches(request, first.positions);
  assert.deepEqual(
    batches.map((b) => b.drillIndices),
    [
      [0, 1, 2, 3, 4],
      [5, 6, 7, 8, 9],
      [10, 11, 12, 13, 14],
      [15, 16, 17, 18, 19],
    ],
  );
  // One position per drill, each used once; the spares of the "+2" buffer stay out.
  const all = batches.flatMap((b) => b.positions.map((p) => p.positionId));
  assert.equal(all.length, 20);
  assert.equal(new Set(all).size, 20);
  assert.ok(all.every((id) => first.positions.some((p) => p.positionId === id)));
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
    [() => drillgen.samplePositions("pool", drillgen.planPositions({})), "INVALID_POSITIONS", /must be an array, got string "pool"/],
    [
      () => drillgen.samplePositions([{ positionId: "x", gamePhase: "EARLY" }], drillgen.planPositions({})),
      "INVALID_POSITIONS",
      /positions\[0\]: missing field `diceRoll`/,
    ],
    [
      () => drillgen.samplePositions([library[30], library[30]], drillgen.planPositions({})),
      "DUPLICATE_POSITION_ID",
      new RegExp(library[30].positionId),
    ],
    [() => drillgen.partitionBatches({ targetDrillCount: 25 }, library.slice(0, 3)), "INSUFFICIENT_POSITIONS", /5 batches/],
    [() => drillgen.mergeDrills({}, { drills: [] }), "INVALID_DRILLS", /must be an array/],
    [
      () =>
        drillgen.buildBatchPrompt(
          { batchIndex: 0, totalBatches: 1, drillIndices: [0], positions: [library[0]] },
          { mentalModel: "", curriculum: "c" },
        ),
      "INVALID_CONTEXT",
      /mentalModel/,
    ],
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

test("the batch schema is the same for every batch of a size, so providers can cache it", () => {
  const a = drillgen.batchOutputSchema({ batchIndex: 1, totalBatches: 2, drillIndices: [5, 6], positions: [library[40], library[80]] });
  const b = drillgen.batchOutputSchema({ batchIndex: 0, totalBatches: 2, drillIndices: [0, 1], positions: [library[41], library[81]] });
  assert.deepEqual(a, b);
  assert.equal(a.properties.drills.minItems, 2);
  assert.deepEqual(Object.keys(a.properties.drills.items.properties), ["title", "principle", "question", "explanation", "difficulty"]);
  // No pattern and no length keywords: llama.cpp drops the whole schema on an unanchored pattern and
  // OpenAI strict mode refuses maxLength (out/real-model-facts.md, platforms notes).
  const texts = Object.values(a.properties.drills.items.properties).filter((p) => p.type === "string" && !p.enum);
  assert.ok(texts.every((p) => !("pattern" in p) && !("maxLength" in p) && !("minLength" in p)));
});

test("positions keep the host's own fields through sampling and partitioning", () => {
  const pool = library.map((p, i) => ({ ...p, id: 1000 + i, createdAt: "2026-11-01T00:00:00Z", tags: ["club"] }));
  const request = { targetDrillCount: 10, gamePhases: ["MIDDLE"] };
  const sample = drillgen.samplePositions(pool, drillgen.planPositions(request), { seed: 3 });
  const [batch] = drillgen.partitionBatches(request, sample.positions);
  const original = pool.find((p) => p.positionId === batch.positions[0].positionId);
  assert.deepEqual(batch.positions[0], original);
  assert.doesNotMatch(drillgen.formatPosition(original), /createdAt|club/, "never shown to the model");
});

test("renderBoard draws an accessible board and refuses bad XGIDs with a code", () => {
  const svg = drillgen.renderBoard(library[60].xgid, { idPrefix: "b60" });
  assert.match(svg, /^<svg[^>]+role="img"/);
  assert.match(svg, /<title id="b60-title">/);
  assert.match(svg, new RegExp(`${library[60].pipCount.player}`));
  assert.throws(
    () => drillgen.renderBoard("XGID=zzz"),
    (e) => e.code === "INVALID_XGID",
  );
  for (const [xgid, message] of [
    [42, /must be a string/],
    ["X".repeat(50_000_000), /at most 200 bytes long, got a string of 50000000 characters/],
  ]) {
    assert.throws(
      () => drillgen.renderBoard(xgid),
      (e) => e.code === "INVALID_XGID" && message.test(e.message),
    );
  }
  assert.throws(
    () => drillgen.renderBoard(library[60].xgid, { idPrefix: "1 bad" }),
    (e) => e.code === "INVALID_OPTIONS",
  );
});

test("a host's own fields named __proto__, constructor and prototype go in and come out as own properties", () => {
  // serde-wasm-bindgen writes keys with obj[key] = value: unguarded, `__proto__` would become the
  // object's prototype. Inputs are read by a walk over own keys (JSON.parse makes `__proto__` one).
  const pool = library.map((p) =>
    JSON.parse(`{"__proto__":{"polluted":true},"constructor":"mine","prototype":{"x":1},${JSON.stringify(p).slice(1)}`),
  );
  const request = { targetDrillCount: 10, gamePhases: ["EARLY", "MIDDLE"] };
  const plan = drillgen.planPositions(request);
  const { positions } = drillgen.samplePositions(pool, plan, { seed: 5 });
  const [batch] = drillgen.partitionBatches(request, positions);
  for (const p of [...positions, ...batch.positions]) {
    assert.equal(Object.getPrototypeOf(p), Object.prototype);
    assert.ok(Object.hasOwn(p, "__proto__"), "__proto__ is an own property");
    assert.deepEqual(Object.keys(p).slice(-3), ["__proto__", "constructor", "prototype"], "in the order they came");
    assert.deepEqual(Object.getOwnPropertyDescriptor(p, "__proto__").value, { polluted: true });
    assert.equal(p.polluted, undefined);
    assert.equal(p.constructor, "mine");
    assert.deepEqual(p.prototype, { x: 1 });
    const again = JSON.parse(JSON.stringify(p));
    assert.deepEqual(Object.getOwnPropertyDescriptor(again, "__proto__").value, { polluted: true }, "serialised back");
  }
  assert.equal({}.polluted, undefined, "Object.prototype untouched");
});

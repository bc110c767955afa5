// The packed tarball as users get it: installed into throw-away projects under out/consumers and
// used from a Node 20 script, a TypeScript file (tsc --noEmit), a Vite build of a page (loaded in
// Chromium), a Worker under miniflare, and the README's main job.

import assert from "node:assert/strict";
import { execFile, execFileSync } from "node:child_process";
import { copyFileSync, mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { Miniflare } from "miniflare";
import { chromium } from "playwright-core";
import { chromiumLaunchOptions, startStaticServer } from "../../scripts/lib/static-server.mjs";
import { startLlmSimulator } from "../../tools/llm-simulator/llm-simulator.mjs";
import { TSC_STRICT } from "./support/tsc.mjs";
import { bundleWorker, workerOptions } from "./support/worker-host.mjs";

const root = fileURLToPath(new URL("../../", import.meta.url));
const here = fileURLToPath(new URL("./", import.meta.url));
const work = join(root, "out/consumers");
const bin = (name) => join(root, "node_modules/.bin", name);
const run = (cmd, args, opts = {}) => execFileSync(cmd, args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], ...opts });
// For children that call the simulator in this process: a sync exec would block its event loop.
const runAsync = async (cmd, args, opts = {}) => (await promisify(execFile)(cmd, args, { encoding: "utf8", ...opts })).stdout;
let tarball, sim;

before(async () => {
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  const packed = run(join(root, "scripts/pack"), []);
  tarball = join(root, packed.match(/^(out\/drillgen-[^:]+\.tgz)/m)[1]);
  console.log(`# ${packed.split("\n")[0]}`);
  writeFileSync(join(work, "package.json"), JSON.stringify({ name: "consumer", private: true, type: "module" }));
  run("npm", ["install", "--no-audit", "--no-fund", "--ignore-scripts", "--loglevel=error", tarball], { cwd: work });
  sim = await startLlmSimulator();
});
after(() => sim?.close());

test("the tarball holds the package and nothing else", () => {
  const files = run("tar", ["tzf", tarball]).trim().split("\n").sort();
  assert.deepEqual(files, [
    "package/README.md",
    "package/drillgen.d.ts",
    "package/drillgen.js",
    "package/drillgen_bg.wasm",
    "package/drillgen_bg.wasm.d.ts",
    "package/edge.js",
    "package/node.js",
    "package/package.json",
    "package/workerd.js",
  ]);
  const size = statSync(tarball).size;
  console.log(`# tarball ${size} bytes`);
  assert.ok(size < 400 * 1024, `${size} bytes`);
});

test("a Node 20 script imports it with no flags and runs a generation", async () => {
  writeFileSync(
    join(work, "script.mjs"),
    `
    import { planPositions, generateDrillSeries } from "drillgen";
    import { readFileSync } from "node:fs";
    const positions = JSON.parse(readFileSync(process.argv[2], "utf8"));
    const plan = planPositions({ targetDrillCount: 10, gamePhases: ["MIDDLE"] });
    const stored = [];
    const result = await generateDrillSeries({ artifactId: "n1", request: { targetDrillCount: 10, gamePhases: ["MIDDLE"] },
      positions, context: { mentalModel: "m", curriculum: "c" }, llm: { provider: "openai", baseUrl: process.env.SIM_URL, model: "s" },
      persist: (d) => { stored.push(...d); } });
    console.log(JSON.stringify({ perPhase: plan.perPhase, status: result.status, drills: result.drills.length, stored: stored.length }));
  `,
  );
  const out = JSON.parse(
    await runAsync(process.execPath, ["script.mjs", join(root, "data/positions.json")], {
      cwd: work,
      env: { ...process.env, SIM_URL: sim.url },
    }),
  );
  assert.deepEqual(out, { perPhase: { MIDDLE: 12 }, status: "COMPLETED", drills: 10, stored: 10 });
});

test("TypeScript type-checks a full generateDrillSeries call, and rejects wrong ones", () => {
  for (const f of ["consumer.ts", "consumer-bad.ts"]) copyFileSync(join(here, f), join(work, f));
  const flags = TSC_STRICT;
  run(bin("tsc"), [...flags, "consumer.ts"], { cwd: work });
  let failure = "";
  try {
    run(bin("tsc"), [...flags, "consumer-bad.ts"], { cwd: work });
  } catch (e) {
    failure = e.stdout + e.stderr;
  }
  assert.match(failure, /LATE_GAME/);
  assert.match(failure, /gemini/);
});

test("a Vite build of a page uses it, and the built page runs in Chromium", async () => {
  const app = join(work, "vite-app");
  mkdirSync(app, { recursive: true });
  writeFileSync(
    join(app, "index.html"),
    `<!doctype html><title>vite consumer</title><pre id="out">loading</pre><script type="module" src="/main.js"></script>`,
  );
  writeFileSync(
    join(app, "main.js"),
    `
    import init, { planPositions } from "drillgen";
    await init();
    const plan = planPositions({ targetDrillCount: 20, gamePhases: ["EARLY", "MIDDLE"] });
    document.getElementById("out").textContent = JSON.stringify(plan.perPhase);
  `,
  );
  run(bin("vite"), ["build", "--logLevel", "error", "--outDir", "dist", "--emptyOutDir"], { cwd: app });
  const assets = readdirSync(join(app, "dist/assets"));
  assert.ok(
    assets.some((f) => f.endsWith(".wasm")),
    `the .wasm is emitted as an asset: ${assets}`,
  );
  const site = await startStaticServer(join(app, "dist"));
  const browser = await chromium.launch(chromiumLaunchOptions);
  try {
    const page = await browser.newPage();
    await page.goto(`${site.url}/index.html`);
    await page.waitForFunction(() => document.getElementById("out").textContent.startsWith("{"), null, { timeout: 15000 });
    assert.deepEqual(JSON.parse(await page.textContent("#out")), { EARLY: 12, MIDDLE: 12 });
  } finally {
    await browser.close();
    await site.close();
  }
});

test("a Worker under miniflare imports it through the workerd condition", async () => {
  const dir = join(work, "worker-smoke");
  await bundleWorker(join(here, "worker-smoke.js"), dir, join(work, "node_modules"));
  const mf = new Miniflare(workerOptions(dir, { scriptPath: join(dir, "worker-smoke.js") }));
  try {
    const body = await (await mf.dispatchFetch("http://worker/")).json();
    assert.deepEqual(body.plan.perPhase, { EARLY: 12, MIDDLE: 12 });
  } finally {
    await mf.dispose();
  }
});

const withoutDrillgenEnv = () => Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("DRILLGEN_")));

test("the README's main job runs from the packed tarball", async () => {
  const out = await runAsync(
    process.execPath,
    [join(root, "scripts/main.mjs"), "--target", "10", "--phases", "EARLY", "--db", join(work, "main.sqlite")],
    {
      // Without the host's DRILLGEN_* (a set DRILLGEN_BASE_URL would make the job call a real LLM).
      env: { ...withoutDrillgenEnv(), DRILLGEN_PACKAGE: join(work, "node_modules/drillgen/node.js") },
    },
  );
  assert.match(out, /Series series-\d+: COMPLETED, 10\/10 drills/);
  assert.match(out, /drill rows: 10 COMPLETED/);
});

// The packed tarball in fresh Next.js App Router projects with no next.config, as a new user makes
// them: Next.js 15 (webpack) and 16 (Turbopack, its default). Each is built with `next build`, served
// with `next start`, and exercised: a `nodejs` and an `edge` route handler, a server action and the
// README's "Use with Next.js" route each plan and run a full generation against the LLM simulator; a
// client component calls `init()` and `planPositions` in Chromium. No warning about the wasm may
// appear in the build, the server's log or the browser's console. Every phase is timed (`# …` lines).
//
// The projects live in the system's temp dir, not under out/: a package-lock.json above a project
// (this repo's) makes Next.js take the repo for the workspace root, which a fresh project never has.
// Then, per version, the one setup the README asks for: `output: "standalone"` deployments.

import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";
import { chromiumLaunchOptions } from "../../scripts/lib/static-server.mjs";
import { startLlmSimulator } from "../../tools/llm-simulator/llm-simulator.mjs";
import { build, install, readme, readmeFiles, run, start, startStandalone, writeProject } from "./support/nextjs.mjs";

const root = fileURLToPath(new URL("../../", import.meta.url));
// One directory per checkout: worktrees of this repo may run this file at the same time.
const work =
  process.env.DRILLGEN_NEXT_WORK ?? join(tmpdir(), `drillgen-nextjs-${createHash("sha256").update(root).digest("hex").slice(0, 8)}`);
const REACT = "19.3.1";
const TYPES = { typescript: "5.9.3", "@types/react": "19.3.0", "@types/node": "20.19.9" };
const VERSIONS = [
  // `tracedAsset`: whether its Node server bundles read a copy of the .wasm that Next.js traces (Turbopack's
  // server components and route handlers do; webpack's bundles and Turbopack's SSR read node_modules').
  // `missedByTrace`: what then fails in an `output: "standalone"` deployment without the README's
  // `serverExternalPackages`; run for real where the build is cheap (Turbopack), else from the traces.
  {
    name: "next15",
    label: "Next.js 15 (webpack)",
    next: "15.5.29",
    banner: /Next\.js 15\.5\.29\n/,
    tracedAsset: false,
    missedByTrace: null,
  },
  {
    name: "next16",
    label: "Next.js 16 (Turbopack)",
    next: "16.4.6",
    banner: /Next\.js 16\.4\.6 \(Turbopack\)/,
    tracedAsset: true,
    missedByTrace: ["/ssr"],
  },
];
// Next.js's own notices about the edge runtime; any other build warning fails the test.
// Next's own notices, not about us. "No build cache found" is printed only when CI is set
// (next/dist/build: `isCI && !hasCache`), so it appears on CI and not at a desk.
const EXPECTED_BUILD_WARNINGS = [
  /Using edge runtime on a page currently disables static generation/,
  /The Edge Runtime is deprecated/,
  /No build cache found/,
];
const WASM_TROUBLE = /instantiateStreaming|MIME|WebAssembly|wasm|drillgen/i;

const seconds = (ms) => `${(ms / 1000).toFixed(1)} s`;
let sim, browser, tarball;

before(async () => {
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  const packed = await run("npm", ["pack", join(root, "pkg"), "--pack-destination", work, "--silent"]);
  tarball = join(work, packed.output.trim().split("\n").at(-1));
  const text = readme();
  for (const v of VERSIONS) writeProject(join(work, v.name), { next: v.next, react: REACT, types: TYPES, tarball, readme: text });
  // Both installs at once, through the one npm cache: the download is what takes time.
  const started = Date.now();
  const installs = await Promise.all(VERSIONS.map((v) => install(join(work, v.name))));
  console.log(
    `npm install of ${VERSIONS.map((v) => `next@${v.next}`).join(" and ")} (in parallel): ${seconds(Date.now() - started)}` +
      ` (${installs.map((r, i) => `${VERSIONS[i].name} ${seconds(r.ms)}`).join(", ")})`,
  );
  sim = await startLlmSimulator();
  browser = await chromium.launch(chromiumLaunchOptions);
});

after(async () => {
  await browser?.close();
  await sim?.close();
  // ~1 GB of node_modules per checkout: kept only when asked for (DRILLGEN_NEXT_WORK).
  if (!process.env.DRILLGEN_NEXT_WORK) rmSync(work, { recursive: true, force: true });
});

/** A page that records its console warnings/errors and the .wasm responses it got. */
async function openPage() {
  const page = await browser.newPage();
  const problems = [];
  const wasm = [];
  page.on("console", (m) => {
    if (m.location().url.endsWith("/favicon.ico")) return; // the fixture has none: not ours
    if (m.type() === "warning" || m.type() === "error") problems.push(`${m.type()}: ${m.text()} (${m.location().url})`);
  });
  page.on("pageerror", (e) => problems.push(`pageerror: ${e.message}`));
  page.on("response", (r) => {
    if (new URL(r.url()).pathname.endsWith(".wasm")) wasm.push({ status: r.status(), type: r.headers()["content-type"] });
  });
  return { page, problems, wasm };
}

for (const v of VERSIONS) {
  describe(v.label, () => {
    const dir = join(work, v.name);
    const db = join(dir, ".db");
    const env = () => ({ LLM_BASE_URL: sim.url, LLM_MODEL: "sim", DRILLS_DB: db });
    let server, buildOutput;

    before(async () => {
      const built = await build(dir, env());
      buildOutput = built.output;
      console.log(`${v.name} next build: ${seconds(built.ms)}`);
      server = await start(dir, env());
    });
    after(() => server?.close());

    test("next build passes with no next.config, and warns about nothing of ours", () => {
      assert.deepEqual(
        readdirSync(dir).filter((f) => f.startsWith("next.config")),
        [],
      );
      assert.match(buildOutput, v.banner);
      assert.match(buildOutput, /ƒ \/api\/edge/);
      const warnings = buildOutput.split("\n").filter((l) => /⚠|warn/i.test(l));
      assert.deepEqual(
        warnings.filter((l) => !EXPECTED_BUILD_WARNINGS.some((w) => w.test(l))),
        [],
      );
      assert.doesNotMatch(buildOutput, WASM_TROUBLE);
    });

    test("its traces (what output: standalone and Vercel copy) hold no node_modules .wasm, as the README says", () => {
      for (const bundle of ["app/api/node/route.js", "app/ssr/page.js"]) {
        const { files } = JSON.parse(readFileSync(join(dir, ".next/server", `${bundle}.nft.json`), "utf8"));
        assert.deepEqual(
          files.filter((f) => f.endsWith("node_modules/drillgen/drillgen_bg.wasm")),
          [],
          bundle,
        );
      }
      const { files } = JSON.parse(readFileSync(join(dir, ".next/server/app/api/node/route.js.nft.json"), "utf8"));
      assert.equal(
        files.some((f) => f.endsWith(".wasm")),
        v.tracedAsset,
        "the route handler's trace holds a .wasm of the build's own",
      );
    });

    for (const [runtime, count, perPhase] of [
      ["nodejs", 10, { EARLY: 7, MIDDLE: 7 }],
      ["edge", 12, { EARLY: 8, MIDDLE: 8 }],
    ]) {
      test(`${runtime === "edge" ? "an" : "a"} ${runtime} route handler plans and runs a full generation`, async () => {
        const started = Date.now();
        const res = await fetch(`${server.url}/api/${runtime === "nodejs" ? "node" : "edge"}?count=${count}`);
        assert.equal(res.status, 200, await res.clone().text());
        assert.deepEqual(await res.json(), { where: runtime, perPhase, status: "COMPLETED", drills: count, stored: count, verified: true });
        console.log(`${v.name} ${runtime} route: ${seconds(Date.now() - started)}`);
      });
    }

    test("a dynamic page's server component and the SSR of its client component load it per request", async () => {
      const res = await fetch(`${server.url}/ssr`);
      const html = await res.text();
      assert.equal(res.status, 200, html);
      assert.match(html, /<pre id="server-plan">\{&quot;EARLY&quot;:15,&quot;MIDDLE&quot;:15\}<\/pre>/);
      assert.match(html, /<pre id="plan">loading<\/pre>/);
    });

    test("a server action plans and runs a full generation, submitted from its page's form", async () => {
      const started = Date.now();
      const { page, problems } = await openPage();
      try {
        await page.goto(`${server.url}/action`);
        await page.waitForFunction(() => document.querySelector("#generate") && !document.querySelector("#generate").disabled);
        await page.fill("input[name=count]", "15");
        await page.click("#generate");
        await page.waitForFunction(() => document.getElementById("result").textContent.startsWith("{"), null, { timeout: 30000 });
        assert.deepEqual(JSON.parse(await page.textContent("#result")), {
          where: "action",
          perPhase: { EARLY: 10, MIDDLE: 10 },
          status: "COMPLETED",
          drills: 15,
          stored: 15,
          verified: true,
        });
        assert.deepEqual(problems, []);
      } finally {
        await page.close();
      }
      console.log(`${v.name} server action: ${seconds(Date.now() - started)}`);
    });

    test("a client component calls init() and planPositions in Chromium", async () => {
      const started = Date.now();
      const { page, problems, wasm } = await openPage();
      try {
        await page.goto(`${server.url}/client`);
        await page.waitForFunction(() => document.getElementById("plan").textContent.startsWith("{"), null, { timeout: 15000 });
        assert.deepEqual(JSON.parse(await page.textContent("#plan")), { EARLY: 12, MIDDLE: 12 });
        assert.deepEqual(wasm, [{ status: 200, type: "application/wasm" }], "the .wasm is fetched once, as application/wasm");
        assert.deepEqual(problems, []);
      } finally {
        await page.close();
      }
      console.log(`${v.name} client component: ${seconds(Date.now() - started)}`);
    });

    /** Clicks the README page's button; its lines once the run's last line is shown. */
    async function generateOnPage() {
      const { page, problems } = await openPage();
      try {
        await page.goto(`${server.url}/series`);
        await page.waitForLoadState("networkidle");
        await page.click("text=Generate 25 drills");
        await page.waitForFunction(
          () => [...document.querySelectorAll("li")].some((li) => /^(COMPLETED|FAILED)/.test(li.textContent)),
          null,
          { timeout: 60000 },
        );
        const lines = await page.$$eval("li", (items) => items.map((li) => li.textContent));
        const cards = await page.$$eval("article h3", (items) => items.map((h) => h.textContent));
        assert.deepEqual(problems, []);
        return Object.assign(lines, { cards });
      } finally {
        await page.close();
      }
    }

    test("the README's route persists every batch to the app's database and streams progress to its page", async () => {
      const started = Date.now();
      const lines = await generateOnPage();
      const last = lines.at(-1);
      assert.match(last, /^COMPLETED: 25 drills saved in (series-\d+)$/);
      assert.ok(lines.includes("Generated 25/25 drills (Batch 5/5)"), lines.join("\n"));
      // Five batches, then the run's last line (the same words: finished batches are counted).
      assert.ok(lines.filter((l) => /^Generated \d+\/25 drills \(Batch \d\/5\)$/.test(l)).length === 6, lines.join("\n"));
      // Each drill was streamed to the page as a card as soon as it was written.
      assert.equal(lines.cards.length, 25, lines.cards.join("\n"));
      assert.match(lines.cards[0], /^1\. \S/);
      const seriesId = last.match(/(series-\d+)$/)[1];
      const row = JSON.parse(readFileSync(join(db, `${seriesId}.json`), "utf8"));
      assert.deepEqual(
        row.drills.map((d) => d.index).sort((a, b) => a - b),
        [...Array(25).keys()],
      );
      assert.ok(row.drills.every((d) => d.batchStatus === "COMPLETED" && d.drillId === `${seriesId}:${d.index}`));
      assert.deepEqual(row.batchProgress.total, 5);
      console.log(`${v.name} README route and page: ${seconds(Date.now() - started)}`);
    });

    test("the README's route stores the final outcome, also with a batch that failed for good", async () => {
      // Batch 2 (indices 10-14) fails every attempt, its top-up from spares too: no persist for it.
      sim.reset();
      sim.script(10, Array(8).fill(500));
      let lines;
      try {
        lines = await generateOnPage();
      } finally {
        sim.reset();
      }
      const last = lines.at(-1);
      assert.match(last, /^COMPLETED: 20 drills saved in (series-\d+)$/, lines.join("\n"));
      assert.equal(lines.cards.length, 20, "no card for the batch that failed");
      const row = JSON.parse(readFileSync(join(db, `${last.match(/(series-\d+)$/)[1]}.json`), "utf8"));
      assert.equal(row.status, "COMPLETED");
      assert.deepEqual(row.batchProgress.failed, [2]);
      assert.ok(row.warnings.includes("BATCHES_FAILED"), row.warnings.join());
      assert.deepEqual(
        row.drills.map((d) => d.index).sort((a, b) => a - b),
        [...Array(25).keys()].filter((i) => i < 10 || i >= 15),
      );
    });

    test("the server logged no warning or error", async () => {
      await server.close();
      const log = server.log();
      assert.doesNotMatch(log, WASM_TROUBLE);
      assert.doesNotMatch(log, /⨯|error|warn/i, log);
    });

    // The one setup the README asks for, and why: a standalone build copied elsewhere (the project
    // renamed away meanwhile, so no path into it still works) misses the .wasm without it.
    const deployed = join(work, `${v.name}-deployed`);
    async function deployStandalone(config) {
      writeFileSync(join(dir, "next.config.mjs"), config);
      const built = await build(dir, env());
      rmSync(deployed, { recursive: true, force: true });
      cpSync(join(dir, ".next/standalone"), deployed, { recursive: true, verbatimSymlinks: true }); // keeps the relative links of Turbopack's externals
      cpSync(join(dir, ".next/static"), join(deployed, ".next/static"), { recursive: true });
      renameSync(dir, `${dir}-away`);
      try {
        return { ms: built.ms, server: await startStandalone(deployed, env()) };
      } catch (e) {
        renameSync(`${dir}-away`, dir);
        throw e;
      }
    }
    async function undeploy(server) {
      await server?.close();
      if (existsSync(`${dir}-away`)) renameSync(`${dir}-away`, dir);
    }
    const get = async (url) => {
      const res = await fetch(url);
      return { status: res.status, text: await res.text() };
    };

    if (v.missedByTrace)
      test("output: standalone without serverExternalPackages misses the .wasm where the README says", async () => {
        const { ms, server: deployedServer } = await deployStandalone(`export default { output: "standalone" };\n`);
        try {
          for (const path of v.missedByTrace) assert.equal((await get(`${deployedServer.url}${path}`)).status, 500, path);
          assert.match(deployedServer.log(), /drillgen: drillgen_bg\.wasm not found/);
          assert.equal((await get(`${deployedServer.url}/api/edge?count=5`)).status, 200, "the edge route has its .wasm");
        } finally {
          await undeploy(deployedServer);
        }
        console.log(`${v.name} standalone build, without serverExternalPackages: ${seconds(ms)}`);
      });

    test("output: standalone with the README's next.config serves everything", async () => {
      const [config] = readmeFiles(readme(), "Use with Next.js").filter((f) => f.path === "next.config.mjs");
      const { ms, server: deployedServer } = await deployStandalone(config.code);
      try {
        for (const [path, count] of [
          ["node", 5],
          ["edge", 6],
        ]) {
          const { status, text } = await get(`${deployedServer.url}/api/${path}?count=${count}`);
          assert.equal(status, 200, text);
          assert.deepEqual(JSON.parse(text), {
            where: path === "node" ? "nodejs" : "edge",
            perPhase: { EARLY: 5, MIDDLE: 5 },
            status: "COMPLETED",
            drills: count,
            stored: count,
            verified: true,
          });
        }
        const ssr = await get(`${deployedServer.url}/ssr`);
        assert.equal(ssr.status, 200, ssr.text);
        assert.match(ssr.text, /<pre id="server-plan">\{&quot;EARLY&quot;:15,&quot;MIDDLE&quot;:15\}<\/pre>/);
        assert.doesNotMatch(deployedServer.log(), /⨯|error|warn/i, deployedServer.log());
      } finally {
        await undeploy(deployedServer);
        rmSync(join(dir, "next.config.mjs"));
      }
      console.log(`${v.name} standalone build, with the README's serverExternalPackages: ${seconds(ms)}`);
    });
  });
}

test("the projects were built from the tarball, not from the repo", () => {
  for (const v of VERSIONS) {
    const installed = join(work, v.name, "node_modules/drillgen");
    assert.ok(existsSync(join(installed, "edge.js")));
    assert.equal(readFileSync(join(installed, "node.js"), "utf8"), readFileSync(join(root, "pkg/node.js"), "utf8"));
  }
});

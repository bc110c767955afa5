// The www demo page in headless Chromium, as a teacher uses it: Generate, watch the bar advance,
// see a failing batch, fix it with "Retry failed batches", reload and find the series, Cancel a run,
// and keep the drills `persist` could not store.

import assert from "node:assert/strict";
import { mkdirSync, readFileSync } from "node:fs";
import { after, before, test } from "node:test";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";
import { chromiumLaunchOptions, startStaticServer } from "../../scripts/lib/static-server.mjs";
import { startLlmSimulator } from "../../tools/llm-simulator/llm-simulator.mjs";

const root = fileURLToPath(new URL("../../", import.meta.url));
const shots = `${root}out/screenshots`;
const library = JSON.parse(readFileSync(`${root}data/positions.json`, "utf8"));
const diceOf = new Map(library.map((p) => [p.positionId, p.diceRoll]));
let sim, site, browser, page;

before(async () => {
  mkdirSync(shots, { recursive: true });
  sim = await startLlmSimulator({ latencyMs: 150, msPerOutputToken: 0.5 });
  site = await startStaticServer(root, { routes: { "/config.json": () => ({ simulatorUrl: sim.url }) } });
  browser = await chromium.launch(chromiumLaunchOptions);
  page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  page.on("pageerror", (e) => console.error("page error:", e));
  await open();
});
after(async () => {
  await browser?.close();
  await site?.close();
  await sim?.close();
});

async function open(query = "") {
  await page.goto(`${site.url}/www/${query}`);
  await page.waitForSelector("body[data-ready=true]", { timeout: 15000 });
  // Records every text the progress line shows, to see the bar advance in steps.
  await page.evaluate(() => {
    window.progressLog = [];
    window.chipLog = [];
    new MutationObserver(() => window.progressLog.push(document.getElementById("progress-text").textContent)).observe(
      document.getElementById("progress-text"),
      { childList: true, characterData: true, subtree: true },
    );
    new MutationObserver(() => window.chipLog.push(...[...document.querySelectorAll(".chip")].map((c) => c.textContent))).observe(
      document.getElementById("chips"),
      { childList: true, characterData: true, subtree: true, attributes: true },
    );
  });
}

const cards = () => page.locator(".drill").count();
const chipClasses = () => page.$$eval(".chip", (cs) => cs.map((c) => c.className.replace("chip ", "")));
const waitIdle = () => page.waitForSelector("body[data-running=false]", { timeout: 30000 });

test("Generate: the bar advances batch by batch; retries and a failing batch are shown", async () => {
  sim.reset();
  sim.script(5, [503]); // batch 2 fails once, then succeeds
  sim.script(10, [422, 422]); // batch 3 is refused (a permanent error of that batch alone), its top-up too
  await page.click("#generate");
  await waitIdle();
  const log = await page.evaluate(() => window.progressLog);
  // The last line adds which batches failed to the same words.
  const steps = [...new Set(log.filter((t) => /^Generated \d+\/25 drills \(Batch \d\/5\)(; .*)?$/.test(t)))];
  assert.ok(steps.length >= 4, `progress steps seen: ${JSON.stringify(log)}`);
  const counts = steps.map((t) => Number(t.match(/Generated (\d+)/)[1]));
  assert.deepEqual(
    counts,
    [...counts].sort((a, b) => a - b),
    "the count only grows",
  );
  assert.equal(await cards(), 20);
  assert.deepEqual(await chipClasses(), ["completed", "completed", "failed", "completed", "completed"]);
  const chips = await page.evaluate(() => window.chipLog);
  assert.ok(chips.includes("Batch 2 · retrying (attempt 2)"), "the retrying chip names the attempt");
  assert.ok(chips.includes("Batch 1 · generating"));
  assert.match(await page.textContent("#status"), /batch 3 failed/);
  assert.equal(await page.isEnabled("#retry"), true);
  assert.match(await page.textContent("#saving"), /% fewer position tokens/);
});

test("Retry failed batches generates only the missing batch", async () => {
  sim.reset();
  await page.click("#retry");
  await waitIdle();
  assert.equal(await cards(), 25);
  assert.deepEqual(await chipClasses(), ["completed", "completed", "completed", "completed", "completed"]);
  assert.deepEqual(
    sim.requests.map((r) => r.indices),
    [[10, 11, 12, 13, 14]],
  );
  assert.match(await page.textContent("#status"), /^Done: 25 drills/);
  assert.equal(await page.isEnabled("#retry"), false);
  await page.screenshot({ path: `${shots}/demo.png`, fullPage: true });
});

/** Per card: its position, its boards' titles, and every id inside it. */
const boards = () =>
  page.$$eval(".drill", (ds) =>
    ds.map((d) => ({
      positionId: d.dataset.positionId,
      titles: [...d.querySelectorAll("svg[role=img]")].map((svg) => svg.querySelector(":scope > title")?.textContent ?? null),
      ids: [...d.querySelectorAll("[id]")].map((e) => e.id),
      missing: d.querySelectorAll(".board-missing").length,
    })),
  );

test("every card shows its board, titled with the drill's dice, with ids unique on the page", async () => {
  const shown = await boards();
  assert.equal(shown.length, 25);
  for (const b of shown) {
    assert.equal(b.titles.length, 1, `${b.positionId}: one board`);
    assert.ok(b.titles[0], `${b.positionId}: the board has a <title>`);
    assert.ok(b.titles[0].includes(diceOf.get(b.positionId)), `${b.titles[0]} names ${diceOf.get(b.positionId)}`);
  }
  const ids = await page.$$eval("[id]", (es) => es.map((e) => e.id));
  assert.equal(new Set(ids).size, ids.length, "no id twice on the page");
  assert.ok(
    shown.every((b) => b.ids.length >= 2),
    "each board labels itself by its own title and desc ids",
  );
  // The board is drawn above the question and is sized for a card, not the SVG's own 556 px.
  const layout = await page.$eval(".drill", (d) => ({
    boardBottom: d.querySelector(".board").getBoundingClientRect().bottom,
    questionTop: d.querySelector(".question").getBoundingClientRect().top,
    width: d.querySelector(".board svg").getBoundingClientRect().width,
  }));
  assert.ok(layout.boardBottom <= layout.questionTop, "board above the question");
  assert.ok(layout.width > 200 && layout.width <= 360, `board width ${layout.width}`);
  await page
    .locator(".drill")
    .first()
    .screenshot({ path: `${shots}/demo-card.png` });
});

test("a position without a drawable XGID shows a note, and the card stays whole", async () => {
  const [first, second] = (await boards()).map((b) => b.positionId);
  const pool = library.map((p) =>
    p.positionId === first ? { ...p, xgid: undefined } : p.positionId === second ? { ...p, xgid: "XGID=nonsense" } : p,
  );
  await page.route("**/data/positions.json", (route) => route.fulfill({ json: pool }));
  try {
    await open();
    const shown = await boards();
    assert.equal(shown.length, 25);
    assert.deepEqual(
      shown.slice(0, 2).map((b) => [b.titles.length, b.missing]),
      [
        [0, 1],
        [0, 1],
      ],
    );
    assert.ok(shown.slice(2).every((b) => b.titles.length === 1 && b.missing === 0));
    assert.match(await page.textContent(".drill .board-missing"), new RegExp(`Board not available for ${first}`));
    const whole = await page.$eval(".drill", (d) =>
      [".question", ".explanation", "ol li.correct"].map((s) => d.querySelectorAll(s).length),
    );
    assert.deepEqual(whole, [1, 1, 1], "question, explanation and answer are still there");
  } finally {
    await page.unroute("**/data/positions.json");
  }
});

test("a reload shows the stored series from IndexedDB", async () => {
  await open();
  assert.equal(await cards(), 25);
  assert.match(await page.textContent("#progress-text"), /Stored series: 25\/25 drills/);
  const order = await page.$$eval(".drill", (ds) => ds.map((d) => Number(d.dataset.index)));
  assert.deepEqual(order, [...Array(25).keys()]);
});

test("Cancel stops a run mid-way and keeps what was stored", async () => {
  sim.reset();
  sim.script(5, ["hang"]);
  sim.script(10, ["hang"]);
  sim.script(15, ["hang"]);
  sim.script(20, ["hang"]);
  await page.fill("input[name=concurrency]", "1");
  await page.click("#generate");
  // Batch 1 stored (its cards are shown earlier, unsaved, while its answer streams).
  await page.waitForFunction(() => document.querySelectorAll('.drill:not([data-saved="false"])').length === 5, null, {
    timeout: 15000,
  });
  await page.click("#cancel");
  await waitIdle();
  assert.match(await page.textContent("#status"), /^Cancelled: 5 drills kept/);
  assert.equal(await cards(), 5);
  assert.equal(sim.requests.length, 2, "no request after Cancel");
  assert.deepEqual(await chipClasses(), ["completed", "cancelled", "cancelled", "cancelled", "cancelled"]);
  await page.screenshot({ path: `${shots}/demo-cancelled.png` });
});

test("drills persist could not store are stored after the run, and a reload shows every one", async () => {
  sim.reset();
  await open("?failPersistBatch=2"); // test-only hook of app.js: persist refuses batch 2 every time
  await page.click("#generate");
  await waitIdle();
  assert.match(await page.textContent("#status"), /^Done: 25 drills, verification passed; 5 stored after the run/);
  assert.equal(await page.textContent("#progress-text"), "Stored 25/25 drills (5 after the run)");
  assert.equal(await cards(), 25);
  assert.deepEqual(await chipClasses(), ["completed", "completed", "completed", "completed", "completed"]);
  assert.equal(sim.requests.length, 5, "no batch generated twice");
  await page.screenshot({ path: `${shots}/demo-kept-after-run.png`, animations: "disabled" });
  const stored = await page.evaluate(async () => {
    const store = await (await import("/www/store.js")).openStore();
    const artifact = await store.latestArtifact();
    return { artifact, indices: (await store.loadDrills(artifact.id)).map((d) => d.index) };
  });
  assert.deepEqual(stored.indices, [...Array(25).keys()], "IndexedDB holds every drill");
  assert.deepEqual(stored.artifact.batchProgress, { completed: 5, total: 5, failed: [] });
  assert.equal(stored.artifact.status, "COMPLETED");
  await open();
  assert.equal(await cards(), 25);
  assert.match(await page.textContent("#progress-text"), /Stored series: 25\/25 drills/);
  assert.deepEqual(await chipClasses(), ["completed", "completed", "completed", "completed", "completed"]);
});

test("cards appear as the model writes each drill, before their batch is stored", async () => {
  sim.reset();
  await open();
  // Every card added to the page, and whether it was still unsaved when it came.
  await page.evaluate(() => {
    window.cardLog = [];
    new MutationObserver((changes) => {
      for (const c of changes)
        for (const n of c.addedNodes) if (n.classList?.contains("drill")) window.cardLog.push(n.dataset.saved ?? "saved");
    }).observe(document.getElementById("drills"), { childList: true });
  });
  await page.click("#generate");
  await waitIdle();
  const log = await page.evaluate(() => window.cardLog);
  assert.equal(log.filter((s) => s === "false").length, 25, "each drill first shown unsaved, as it closed");
  assert.equal(await page.locator('.drill[data-saved="false"]').count(), 0, "every card is stored by the end");
  assert.equal(await cards(), 25);
});

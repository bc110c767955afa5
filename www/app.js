// The demo page: a teacher asks for a drill series, watches it arrive batch by batch, and finds it
// again after a reload. drillgen does the planning, the LLM calls and the merge; this page only
// draws and stores (IndexedDB).
import init, { generateDrillSeries, mergeDrills, planPositions, reconcileResult, renderBoard } from "../pkg/drillgen.js";
import { openStore } from "./store.js";

const $ = (id) => document.getElementById(id);
const form = $("request");
let positions,
  positionsById,
  context,
  store,
  current = null,
  controller = null;

async function boot() {
  await init();
  const [pool, ctx, config] = await Promise.all([
    fetch("../data/positions.json").then((r) => r.json()),
    fetch("../data/context.json").then((r) => r.json()),
    fetch("/config.json")
      .then((r) => (r.ok ? r.json() : {}))
      .catch(() => ({})),
  ]);
  positions = pool;
  positionsById = new Map(pool.map((p) => [p.positionId, p]));
  context = ctx;
  form.baseUrl.value = config.simulatorUrl ?? "http://127.0.0.1:8787/v1";
  store = await openStore();
  current = await store.latestArtifact();
  if (current) await showStored(current);
  document.body.dataset.ready = "true";
}

function readRequest() {
  const phases = [...form.querySelectorAll("input[name=phase]:checked")].map((i) => i.value);
  return {
    targetDrillCount: Number(form.target.value),
    ...(phases.length && { gamePhases: phases }),
    batchSize: Number(form.batchSize.value),
  };
}

const readLlm = () => ({
  provider: form.provider.value,
  baseUrl: form.baseUrl.value.trim(),
  model: form.model.value.trim(),
  ...(form.apiKey.value && { apiKey: form.apiKey.value }), // memory only: never stored
});

function showTokens(plan) {
  const n = (x) => x.toLocaleString("en-US");
  $("base-pos").textContent = n(plan.baselinePositions);
  $("base-tok").textContent = `~${n(plan.baselinePromptTokens)}`;
  $("plan-pos").textContent = n(plan.totalPositions);
  $("plan-tok").textContent = `~${n(plan.estimatedPromptTokens)}`;
  $("saving").textContent = `${plan.savingsPercent} % fewer position tokens`;
}

function setChips(total, states = []) {
  $("chips").replaceChildren(
    ...Array.from({ length: total }, (_, i) => {
      const li = document.createElement("li");
      li.className = `chip ${states[i] ?? "pending"}`;
      li.dataset.batch = String(i);
      li.textContent = `Batch ${i + 1} · ${states[i] ?? "pending"}`;
      return li;
    }),
  );
}

function setChip(index, state, detail = "") {
  const chip = $("chips").children[index];
  if (!chip) return;
  chip.className = `chip ${state}`;
  chip.textContent = `Batch ${index + 1} · ${state}${detail}`;
}

function setProgress(done, total, text) {
  const pct = total ? Math.round((100 * done) / total) : 0;
  $("bar-fill").style.width = `${pct}%`;
  document.querySelector(".bar").setAttribute("aria-valuenow", String(pct));
  $("progress-text").textContent = text;
}

function setStatus(text, kind = "") {
  $("status").textContent = text;
  $("status").className = `status ${kind}`;
}

/** An element with text content only: drill texts come from a model and never go through HTML. */
function el(tag, className, ...children) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  node.append(...children);
  return node;
}

/**
 * The drill's position as an SVG board, or a short note when it cannot be drawn. The SVG is
 * parsed as XML and adopted as a node (no innerHTML), so nothing but renderBoard's output is parsed.
 */
function board(drill) {
  const xgid = positionsById.get(drill.positionId)?.xgid;
  try {
    if (!xgid) throw new Error("no XGID");
    const doc = new DOMParser().parseFromString(renderBoard(xgid, { idPrefix: `board-${drill.index}` }), "image/svg+xml");
    if (doc.documentElement.localName !== "svg") throw new Error("not an SVG");
    return el("figure", "board", document.importNode(doc.documentElement, true));
  } catch {
    return el("p", "board board-missing", `Board not available for ${drill.positionId}.`);
  }
}

function option(o, correctId) {
  const li = el("li", o.id === correctId ? "correct" : "", el("b", "", `${o.id}.`), el("span", "", o.text));
  if (o.id === correctId) li.append(el("span", "answer", "Best move"));
  return li;
}

function card(drill) {
  const node = el(
    "article",
    "drill",
    el("header", "", el("h3", "", `${drill.index + 1}. ${drill.title}`), el("span", "badge", drill.gamePhase.toLowerCase())),
    el("p", "meta", `${drill.positionId} · ${drill.difficulty.toLowerCase()} · ${drill.principle}`),
    board(drill),
    el("p", "question", drill.question),
    el("ol", "", ...drill.options.map((o) => option(o, drill.correctOptionId))),
    el("p", "explanation", drill.explanation),
  );
  node.dataset.index = String(drill.index);
  node.dataset.positionId = drill.positionId;
  return node;
}

/** Adds drills in index order, replacing any card already shown for the same index. */
function showDrills(drills) {
  const box = $("drills");
  for (const d of drills) {
    box.querySelector(`[data-index="${d.index}"]`)?.remove();
    const next = [...box.children].find((c) => Number(c.dataset.index) > d.index);
    box.insertBefore(card(d), next ?? null);
  }
}

async function showStored(artifact) {
  const plan = planPositions(artifact.request, positions);
  const drills = await store.loadDrills(artifact.id);
  const incomplete = mergeDrills(artifact.request, drills).incompleteBatches;
  const states = Array.from({ length: plan.batches }, (_, b) =>
    !incomplete.includes(b) ? "completed" : artifact.status === "GENERATING" ? "pending" : "failed",
  );
  showTokens(plan);
  setChips(plan.batches, states);
  $("drills").replaceChildren();
  showDrills(drills);
  setProgress(drills.length, plan.targetDrillCount, `Stored series: ${drills.length}/${plan.targetDrillCount} drills`);
  setStatus(`${artifact.id} · ${artifact.status.toLowerCase()}`, artifact.status === "COMPLETED" ? "" : "failed");
  $("retry").disabled = drills.length >= plan.targetDrillCount;
}

function onEvent(event) {
  // A drill is shown the moment its answer has written it, marked unsaved until its batch is
  // stored (persistBatch redraws it); a withdrawn drill leaves the page.
  if (event.type === "drillReady") {
    showDrills([event.drill]);
    $("drills").querySelector(`[data-index="${event.drillIndex}"]`).dataset.saved = "false";
    return;
  }
  if (event.type === "drillWithdrawn") {
    $("drills").querySelector(`[data-index="${event.drillIndex}"]`)?.remove();
    return;
  }
  if (event.batchIndex !== undefined) {
    const state = { batchStarted: "generating", batchRetrying: "retrying", batchCompleted: "completed", batchFailed: "failed" }[event.type];
    const detail = event.type === "batchRetrying" ? ` (attempt ${event.attempt + 1})` : "";
    setChip(event.batchIndex, state, detail);
  }
  setProgress(event.current, event.total, event.message);
}

/**
 * Test-only hook: `?failPersistBatch=N` makes `persist` refuse batch N (1-based) every time, so a
 * test can show that drills drillgen hands back in `unpersistedDrills` are still stored.
 */
const failPersistBatch = Number(new URLSearchParams(location.search).get("failPersistBatch")) || 0;

async function persistBatch(artifact, drills, info) {
  if (info.batchIndex + 1 === failPersistBatch) throw new Error(`test hook: persist refused batch ${failPersistBatch}`);
  await store.putDrills(artifact.id, drills, info.batchProgress);
  showDrills(drills);
}

/**
 * Stores the drills `persist` did not accept (stored + handed back = generated). Some may have
 * been written already: the store is keyed by drillId, so writing them again changes nothing.
 * Returns the result as storage now has it, with `keptAfterRun` drills and the batches they completed.
 */
async function keepUnpersisted(artifact, result) {
  const handedBack = result.unpersistedDrills;
  if (!handedBack.length) return { ...result, keptAfterRun: 0, rescuedBatches: [] };
  showDrills(handedBack.filter((d) => d.batchStatus === "COMPLETED")); // what a reload will show
  await store.putDrills(artifact.id, handedBack).catch((e) => {
    throw new Error(`${handedBack.length} generated drills could not be stored: ${e.message}`);
  });
  const stored = await store.loadDrills(artifact.id);
  return { ...result, ...reconcileResult(artifact.request, result, stored, positions), keptAfterRun: handedBack.length };
}

function statusText(final, target) {
  const failed = final.batchProgress.failed;
  const why = final.batches.find((b) => failed.includes(b.batchIndex) && b.error)?.error.message ?? "";
  const text =
    final.status === "CANCELLED"
      ? `Cancelled: ${final.drills.length} drills kept`
      : failed.length
        ? `${final.drills.length}/${target} drills; batch ${failed.map((b) => b + 1).join(", ")} failed (${why})`
        : `Done: ${final.drills.length} drills, verification ${final.verification.passed ? "passed" : "found issues"}`;
  return final.keptAfterRun ? `${text}; ${final.keptAfterRun} stored after the run (persist had not accepted them)` : text;
}

async function finish(artifact, result) {
  const final = await keepUnpersisted(artifact, result);
  // Batches stopped by Cancel are shown as such, not left "generating"; a batch whose drills were
  // stored after the run is complete.
  for (const b of final.batches) {
    const state = { COMPLETED: "completed", SKIPPED: "completed", FAILED: "failed", CANCELLED: "cancelled" }[b.status];
    setChip(b.batchIndex, final.rescuedBatches.includes(b.batchIndex) ? "completed" : state);
  }
  const target = artifact.request.targetDrillCount;
  if (final.keptAfterRun)
    setProgress(final.drills.length, target, `Stored ${final.drills.length}/${target} drills (${final.keptAfterRun} after the run)`);
  current = { ...artifact, status: final.status, batchProgress: final.batchProgress };
  await store.putArtifact(current);
  const failed = final.batchProgress.failed.length;
  setStatus(
    statusText(final, target),
    final.status === "CANCELLED" ? "cancelled" : final.status === "COMPLETED" && !failed ? "" : "failed",
  );
  $("retry").disabled = final.missingIndices.length === 0;
}

async function run(artifact, { resume }) {
  controller = new AbortController();
  $("generate").disabled = $("retry").disabled = true;
  $("cancel").disabled = false;
  setStatus(resume ? "Generating the missing drills…" : "Generating…");
  try {
    const result = await generateDrillSeries({
      artifactId: artifact.id,
      request: artifact.request,
      positions,
      context,
      llm: readLlm(),
      concurrency: Number(form.concurrency.value),
      seed: artifact.seed,
      signal: controller.signal,
      persist: (drills, info) => persistBatch(artifact, drills, info),
      load: () => store.loadDrills(artifact.id),
      onProgress: onEvent,
    });
    await finish(artifact, result);
  } catch (e) {
    setStatus(`${e.code ?? "ERROR"}: ${e.message}`, "failed");
  } finally {
    controller = null;
    $("generate").disabled = false;
    $("cancel").disabled = true;
  }
}

/** `data-running` tells (tests, styles) whether a click's work is still going on. */
function busy(work) {
  return async (ev) => {
    ev.preventDefault();
    document.body.dataset.running = "true";
    try {
      await work();
    } finally {
      document.body.dataset.running = "false";
    }
  };
}

form.addEventListener(
  "submit",
  busy(async () => {
    const request = readRequest();
    let plan;
    try {
      plan = planPositions(request, positions);
    } catch (e) {
      return setStatus(`${e.code}: ${e.message}`, "failed");
    }
    showTokens(plan);
    setChips(plan.batches);
    $("drills").replaceChildren();
    setProgress(0, plan.targetDrillCount, `Generated 0/${plan.targetDrillCount} drills`);
    current = { id: `series-${Date.now()}`, request, seed: Math.floor(Math.random() * 2 ** 53), status: "GENERATING" };
    await store.putArtifact(current);
    await run(current, { resume: false });
  }),
);

$("cancel").addEventListener("click", () => controller?.abort());
$("retry").addEventListener(
  "click",
  busy(async () => {
    if (!current) return;
    await showStored({ ...current, status: "GENERATING" });
    await run(current, { resume: true });
  }),
);

boot().catch((e) => setStatus(`Could not start: ${e.message}`, "failed"));

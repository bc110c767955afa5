// The Worker host for several tenants (issue 17), under miniflare like worker.test.mjs: tenant
// isolation on every route, the versioned library, series snapshots against poisoning,
// Idempotency-Key, spend caps, stale-series recovery, and budgets that count format negotiation.

import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { Miniflare } from "miniflare";
import { startLlmSimulator } from "../../tools/llm-simulator/llm-simulator.mjs";
import { applyMigrations, bundleWorkerHost, hostOptions, installPackedDrillgen, root } from "./support/worker-host.mjs";

const work = join(root, "out/consumers-worker-tenants");
const bundle = join(work, "bundle");
const positions = JSON.parse(readFileSync(join(root, "data/positions.json"), "utf8"));
const context = JSON.parse(readFileSync(join(root, "data/context.json"), "utf8"));
const SERIES = { targetDrillCount: 25, gamePhases: ["EARLY", "MIDDLE", "BEAROFF"] };
const ALPHA = randomBytes(24).toString("hex");
const BETA = randomBytes(24).toString("hex");
const CRASH_SEED = 4242; // CRASH_BEFORE_CREATE_SEED: a start that dies between its insert and create()
const STALE_AFTER_MS = 3000;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const indices = (n, from = 0) => Array.from({ length: n }, (_, k) => from + k);

let sim;
let host;
let drillgen; // the packed drillgen, for its `batchWorstCase`
const mfs = [];
const seen = [];

async function startHost(simulator, bindings = {}, { rateLimit } = {}) {
  const mf = new Miniflare(
    hostOptions(bundle, {
      rateLimit,
      bindings: {
        API_TOKEN: `alpha:${ALPHA},beta:${BETA}`,
        LLM_PROVIDER: "openai",
        LLM_BASE_URL: simulator.url,
        LLM_MODEL: "sim",
        CONCURRENCY: "4",
        SUBREQUEST_BUDGET: "10000",
        STEP_RETRY_DELAY_MS: "100",
        RETRY_BASE_DELAY_MS: "20",
        RETRY_MAX_DELAY_MS: "100",
        ...bindings,
      },
    }),
  );
  mfs.push(mf);
  const db = await mf.getD1Database("DB");
  await applyMigrations(db);
  const call = async (method, path, body, { token = ALPHA, headers = {} } = {}) => {
    const res = await mf.dispatchFetch(`http://worker${path}`, {
      method,
      body: body === undefined ? undefined : JSON.stringify(body),
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json", ...headers },
    });
    const text = await res.text();
    seen.push(text);
    return { status: res.status, body: JSON.parse(text), headers: res.headers };
  };
  const finished = async (id, token = ALPHA, timeoutMs = 30_000) => {
    for (const end = Date.now() + timeoutMs; Date.now() < end; await sleep(50)) {
      const { body } = await call("GET", `/series/${id}`, undefined, { token });
      if (body.status !== "GENERATING") return body;
    }
    throw new Error(`series ${id} did not finish`);
  };
  return { mf, db, call, finished };
}

before(async () => {
  installPackedDrillgen(work);
  await bundleWorkerHost(bundle, join(work, "node_modules"));
  drillgen = await import(join(work, "node_modules/drillgen/node.js"));
  sim = await startLlmSimulator({ latencyMs: 50 });
  host = await startHost(sim, {
    STALE_AFTER_MS: String(STALE_AFTER_MS),
    CRASH_BEFORE_CREATE_SEED: String(CRASH_SEED),
    LIBRARY_MAX_POSITIONS: "140",
    LLM_TIMEOUT_MS: "30000", // the stuck-run test's hung call outlives the test
    DAILY_LLM_CALLS: "1000",
  });
  assert.deepEqual((await host.call("PUT", "/context", context)).body, { stored: true });
  assert.deepEqual((await host.call("POST", "/positions", positions)).body, { inserted: 129, versioned: 0, unchanged: 0 });
});

after(async () => {
  for (const mf of mfs) await mf.dispose();
  await sim?.close();
  for (const text of seen) for (const secret of [ALPHA, BETA]) assert.ok(!text.includes(secret), text.slice(0, 200));
});

test("two tenants: each sees only its own library, context and series; another tenant's series is a 404 like a missing one", async () => {
  sim.reset();
  const beta = (method, path, body, opts = {}) => host.call(method, path, body, { ...opts, token: BETA });
  // Beta's library is its own: a few EARLY positions, with another best move than alpha's.
  const early = positions.filter((p) => p.gamePhase === "EARLY").slice(0, 3);
  assert.deepEqual((await beta("POST", "/positions", early)).body, { inserted: 3, versioned: 0, unchanged: 0 });
  assert.deepEqual((await beta("GET", "/positions")).body.byPhase, { OPENING: 0, EARLY: 3, MIDDLE: 0, BEAROFF: 0 });
  assert.deepEqual((await host.call("GET", "/positions")).body.byPhase, { OPENING: 21, EARLY: 36, MIDDLE: 36, BEAROFF: 36 });
  // Beta has no context: alpha's is not visible to it. A request that is wrong in itself is told
  // so first (drillgen's validation before the context check).
  const noContext = await beta("POST", "/series", SERIES);
  assert.deepEqual([noContext.status, noContext.body.error.code], [409, "NO_CONTEXT"]);
  const invalid = await beta("POST", "/series", { ...SERIES, gamePhases: ["ENDGAME"] });
  assert.deepEqual([invalid.status, invalid.body.error.code], [400, "INVALID_PHASES"]);

  const started = await host.call("POST", "/series", SERIES);
  assert.equal(started.status, 202);
  const id = started.body.id;
  const missing = "00000000-0000-4000-8000-000000000000";
  for (const [method, path] of [
    ["GET", `/series/${id}`],
    ["POST", `/series/${id}/resume`],
  ]) {
    const theirs = await beta(method, path);
    const none = await beta(method, path.replace(id, missing));
    assert.deepEqual([theirs.status, theirs.body.error.code], [404, "SERIES_NOT_FOUND"], `${method} ${path}`);
    assert.deepEqual([none.status, none.body.error.code], [404, "SERIES_NOT_FOUND"]);
  }
  assert.deepEqual((await beta("GET", "/series")).body.series, [], "beta lists none of alpha's series");
  const listed = await host.call("GET", "/series");
  assert.ok(listed.body.series.some((s) => s.id === id));
  // Deleting a position alpha holds, as beta: not found in beta's library, alpha's untouched.
  const alphaOnly = positions.find((p) => p.gamePhase === "BEAROFF").positionId;
  assert.deepEqual((await beta("DELETE", `/positions/${alphaOnly}`)).body.error.code, "POSITION_NOT_FOUND");
  assert.equal((await host.call("GET", "/positions?phase=BEAROFF")).body.byPhase.BEAROFF, 36);
  // Beta cannot resume or read it even once finished; alpha can.
  const done = await host.finished(id);
  assert.equal(done.status, "COMPLETED");
  assert.equal((await beta("GET", `/series/${id}`)).status, 404);
  const page = await host.call("GET", "/series?status=COMPLETED&limit=1");
  assert.equal(page.body.series.length, 1);
  assert.deepEqual([page.body.series[0].status, page.body.series[0].drills, page.body.series[0].targetDrillCount], ["COMPLETED", 25, 25]);
});

test("library: imports are insert-only (a change is a new version), counts per phase, delete, and a coded cap", async () => {
  const gamma = positions.filter((p) => p.gamePhase === "MIDDLE").slice(0, 4);
  const call = (method, path, body) => host.call(method, path, body, { token: BETA });
  await call("POST", "/positions", gamma);
  // Same content (keys in another order): nothing written.
  const reordered = gamma.map((p) => Object.fromEntries(Object.entries(p).reverse()));
  assert.deepEqual((await call("POST", "/positions", reordered)).body, { inserted: 0, versioned: 0, unchanged: 4 });
  const changed = { ...gamma[0], bestMove: "8/2 6/2" };
  assert.deepEqual((await call("POST", "/positions", [changed, gamma[1]])).body, { inserted: 0, versioned: 1, unchanged: 1 });
  const listed = (await call("GET", "/positions?phase=MIDDLE")).body;
  assert.equal(listed.byPhase.MIDDLE, 4);
  const row = listed.positions.find((p) => p.position.positionId === gamma[0].positionId);
  assert.deepEqual([row.version, row.position.bestMove], [2, changed.bestMove]);
  assert.deepEqual(
    (
      await host.db
        .prepare("SELECT count(*) AS n FROM library_position WHERE tenant = 'beta' AND position_id = ?")
        .bind(gamma[0].positionId)
        .first()
    ).n,
    2,
    "the replaced version is kept, not overwritten",
  );
  assert.equal((await call("DELETE", `/positions/${gamma[0].positionId}`)).status, 200);
  assert.equal((await call("DELETE", `/positions/${gamma[0].positionId}`)).body.error.code, "POSITION_NOT_FOUND");
  // Alpha holds 129 positions; the cap is 140: 12 new ones are refused whole, with a clear message.
  const extra = indices(12).map((k) => ({ ...positions[0], positionId: `extra-${k}` }));
  const full = await host.call("POST", "/positions", extra);
  assert.equal(full.status, 413);
  assert.equal(full.body.error.code, "LIBRARY_FULL");
  assert.match(full.body.error.message, /at most 140 .*nothing was imported/);
  assert.equal((await host.call("GET", "/positions")).body.total, 129);
  assert.deepEqual((await host.call("POST", "/positions", extra.slice(0, 11))).body, { inserted: 11, versioned: 0, unchanged: 0 });
  for (const p of extra.slice(0, 11)) await host.call("DELETE", `/positions/${p.positionId}`);
});

test("a series is immutable: poisoning the library between the 202 and the run changes nothing it teaches", async () => {
  sim.reset();
  const started = await host.call("POST", "/series", { ...SERIES, seed: 7 });
  assert.equal(started.status, 202);
  // Every position rewritten with a wrong best move while the series runs.
  const poisoned = positions.map((p) => ({ ...p, bestMove: "25/1 25/1" }));
  assert.deepEqual((await host.call("POST", "/positions", poisoned)).body, { inserted: 0, versioned: 129, unchanged: 0 });
  const done = await host.finished(started.body.id);
  assert.equal(done.status, "COMPLETED");
  assert.ok(done.verification.passed, JSON.stringify(done.verification));
  const original = new Map(positions.map((p) => [p.positionId, p.bestMove]));
  for (const d of done.drills) {
    const correct = d.options.find((o) => o.id === d.correctOptionId).text;
    assert.ok(correct.includes(original.get(d.positionId)), `drill ${d.index} teaches ${correct}`);
    assert.ok(!correct.includes("25/1 25/1"));
  }
  // The library did change: a series started now, same seed, teaches the poisoned move.
  const after = await host.finished((await host.call("POST", "/series", { ...SERIES, seed: 7 })).body.id);
  assert.ok(after.drills.every((d) => d.options.find((o) => o.id === d.correctOptionId).text.includes("25/1 25/1")));
  await host.call("POST", "/positions", positions); // back to the real moves
});

test("Idempotency-Key: a retried start starts one series and gets the first answer; another body is 409", async () => {
  sim.reset();
  sim.script(10, [422]); // batch 2 fails for good: the series ends COMPLETED with something to resume
  const count = async () => (await host.db.prepare("SELECT count(*) AS n FROM guru_artifact WHERE tenant = 'alpha'").first()).n;
  const before = await count();
  const headers = { "idempotency-key": "start-1" };
  const [a, b] = await Promise.all([host.call("POST", "/series", SERIES, { headers }), host.call("POST", "/series", SERIES, { headers })]);
  const first = a.status === 202 ? a : b;
  assert.equal(first.status, 202);
  const other = first === a ? b : a;
  assert.ok(
    (other.status === 202 && other.body.id === first.body.id) ||
      (other.status === 409 && other.body.error.code === "IDEMPOTENCY_KEY_IN_USE"),
    JSON.stringify(other.body),
  );
  const retried = await host.call("POST", "/series", SERIES, { headers });
  assert.deepEqual([retried.status, retried.body], [202, first.body]);
  assert.equal(retried.headers.get("idempotent-replayed"), "true");
  assert.equal(await count(), before + 1, "one series started");
  const reused = await host.call("POST", "/series", { ...SERIES, targetDrillCount: 10 }, { headers });
  assert.deepEqual([reused.status, reused.body.error.code], [409, "IDEMPOTENCY_KEY_REUSED"]);
  // Another tenant's key space is its own.
  assert.notEqual((await host.call("POST", "/series", SERIES, { headers, token: BETA })).body.error?.code, "IDEMPOTENCY_KEY_REUSED");
  assert.deepEqual((await host.finished(first.body.id)).batchProgress.failed, [2]);
  // Resume: the same key twice is one run.
  const resumeHeaders = { "idempotency-key": "resume-1" };
  const r1 = await host.call("POST", `/series/${first.body.id}/resume`, undefined, { headers: resumeHeaders });
  const r2 = await host.call("POST", `/series/${first.body.id}/resume`, undefined, { headers: resumeHeaders });
  assert.deepEqual([r1.status, r1.body], [202, { id: first.body.id, run: 2 }]);
  assert.deepEqual([r2.status, r2.body], [202, { id: first.body.id, run: 2 }]);
  const resumed = await host.finished(first.body.id);
  assert.deepEqual([resumed.run, resumed.drills.length], [2, 25]);
  assert.equal(sim.requests.filter((r) => r.indices[0] === 0).length, 1, "one series' batch 0 was generated, once");
});

test("the rate limit comes after the Idempotency-Key: replays and 409s use no slot, a 429 says Retry-After, a complete series is not resumed", async () => {
  sim.reset();
  // Miniflare's limiter is a fixed window aligned to the clock's minutes: start well inside one.
  if (Date.now() % 60_000 > 40_000) await sleep(60_000 - (Date.now() % 60_000) + 100);
  const limited = await startHost(sim, {}, { rateLimit: { limit: 2, period: 60 } });
  await limited.call("PUT", "/context", context);
  await limited.call("POST", "/positions", positions); // its own key (`import:alpha`)
  const headers = { "idempotency-key": "limited-1" };
  const first = await limited.call("POST", "/series", SERIES, { headers }); // slot 1 of 2
  assert.equal(first.status, 202);
  // Retries of the accepted request get the stored answer, and use no slot (else the 2nd would be 429).
  for (let k = 0; k < 3; k++) {
    const again = await limited.call("POST", "/series", SERIES, { headers });
    assert.deepEqual([again.status, again.body, again.headers.get("idempotent-replayed")], [202, first.body, "true"]);
  }
  // The key with another body, and a key whose first request is still being answered (its
  // reservation, as a concurrent request leaves it): 409s, no slot either.
  for (let k = 0; k < 2; k++) {
    const reused = await limited.call("POST", "/series", { ...SERIES, targetDrillCount: 10 }, { headers });
    assert.deepEqual([reused.status, reused.body.error.code], [409, "IDEMPOTENCY_KEY_REUSED"]);
  }
  const fingerprint = createHash("sha256")
    .update(`POST /series\n${JSON.stringify(SERIES)}`)
    .digest("hex");
  await limited.db.prepare("INSERT INTO idempotency (tenant, key, fingerprint) VALUES ('alpha', 'limited-2', ?)").bind(fingerprint).run();
  for (let k = 0; k < 2; k++) {
    const inUse = await limited.call("POST", "/series", SERIES, { headers: { "idempotency-key": "limited-2" } });
    assert.deepEqual([inUse.status, inUse.body.error.code, inUse.headers.get("retry-after")], [409, "IDEMPOTENCY_KEY_IN_USE", "5"]);
  }
  // So one slot is left: a second start is accepted, a third refused with the limiter's period.
  const second = await limited.call("POST", "/series", SERIES);
  assert.equal(second.status, 202);
  const third = await limited.call("POST", "/series", SERIES);
  assert.deepEqual([third.status, third.body.error.code, third.headers.get("retry-after")], [429, "RATE_LIMITED", "60"]);
  // While the tenant is limited, the accepted key still gets its answer.
  const replay = await limited.call("POST", "/series", SERIES, { headers });
  assert.deepEqual([replay.status, replay.body], [202, first.body]);
  // A resume of a series with every drill stored is refused (no run, no slot): 409 SERIES_COMPLETE,
  // not the rate limit's 429 nor a 202 for a run with nothing to do.
  const done = await limited.finished(first.body.id);
  assert.deepEqual([done.status, done.drills.length], ["COMPLETED", 25]);
  const resumed = await limited.call("POST", `/series/${first.body.id}/resume`, undefined, { headers: { "idempotency-key": "r-1" } });
  assert.deepEqual([resumed.status, resumed.body.error.code], [409, "SERIES_COMPLETE"]);
  assert.equal((await limited.call("GET", `/series/${first.body.id}`)).body.run, 1, "no new run");
  assert.equal(
    (await limited.db.prepare("SELECT count(*) AS n FROM idempotency WHERE key = 'r-1'").first()).n,
    0,
    "the refusal is not kept: the key is free",
  );
  // A missing series is a 404 before the rate limit too.
  const missing = await limited.call("POST", "/series/00000000-0000-4000-8000-000000000000/resume");
  assert.deepEqual([missing.status, missing.body.error.code], [404, "SERIES_NOT_FOUND"]);
  await limited.finished(second.body.id);
});

test("spend caps: calls and tokens are counted per tenant and day; a start at the cap is a 429 until UTC midnight", async () => {
  sim.reset();
  // No row yet when nothing was spent today (the UTC day may have just turned).
  const today = async () =>
    (await host.db.prepare("SELECT llm_calls, tokens FROM spend WHERE tenant = 'alpha' AND day = date('now')").first()) ?? {
      llm_calls: 0,
      tokens: 0,
    };
  const before = await today();
  const done = await host.finished((await host.call("POST", "/series", SERIES)).body.id);
  const now = await today();
  assert.equal(now.llm_calls - before.llm_calls, sim.requests.length, "every LLM call counted once");
  assert.equal(now.tokens - before.tokens, done.usage.inputTokens + done.usage.outputTokens);
  assert.equal(
    await host.db
      .prepare("SELECT count(*) AS n FROM spend WHERE tenant = 'beta'")
      .first()
      .then((r) => r.n),
    0,
  );

  // At the cap (DAILY_LLM_CALLS 1000): starts and resumes are refused with the reset time.
  await host.db.prepare("UPDATE spend SET llm_calls = 1000 WHERE tenant = 'alpha' AND day = date('now')").run();
  const refused = await host.call("POST", "/series", SERIES);
  assert.deepEqual([refused.status, refused.body.error.code], [429, "SPEND_LIMIT"]);
  const midnight = new Date();
  midnight.setUTCHours(24, 0, 0, 0);
  assert.equal(refused.body.error.resetAt, midnight.toISOString());
  const retryAfter = Number(refused.headers.get("retry-after"));
  assert.ok(Math.abs(retryAfter - (midnight.getTime() - Date.now()) / 1000) < 5, `Retry-After ${retryAfter}`);
  // A resume too (of a series missing a drill: one with every drill is 409 SERIES_COMPLETE first).
  await host.db.prepare("DELETE FROM drill WHERE artifact_id = ? AND idx = 24").bind(done.id).run();
  assert.equal((await host.call("POST", `/series/${done.id}/resume`)).body.error.code, "SPEND_LIMIT");
  assert.notEqual((await host.call("POST", "/series", SERIES, { token: BETA })).body.error.code, "SPEND_LIMIT", "beta's spend is its own");
  // The day turns (the counter row becomes yesterday's): starts are accepted again.
  await host.db.prepare("UPDATE spend SET day = date('now', '-1 day') WHERE tenant = 'alpha' AND day = date('now')").run();
  const next = await host.call("POST", "/series", SERIES);
  assert.equal(next.status, 202);
  await host.finished(next.body.id);
});

test("budgets count format negotiation: the refusals of a JSON-less server fit the budget, are counted, and time out in time", async () => {
  sim.reset();
  sim.personality = "text-only"; // refuses json_schema, then json_object: 2 refused calls per batch
  try {
    const started = await host.call("POST", "/series", SERIES);
    const { budget } = started.body;
    // drillgen's worst case for this host's batches: 4 attempts + the refusals (format ladder,
    // token field, streaming) a server that is not api.openai.com can answer with.
    const worst = drillgen.batchWorstCase({
      artifactId: "x",
      context,
      llm: { provider: "openai", baseUrl: sim.url, model: "sim", timeoutMs: 120_000 },
      retry: { maxRetries: 3 },
    });
    assert.equal(budget.batchLlmCalls, worst.llmCalls);
    assert.equal(budget.maxLlmCalls, 5 * worst.llmCalls * 3);
    const done = await host.finished(started.body.id);
    assert.equal(done.status, "COMPLETED");
    assert.deepEqual(
      done.batches.map((b) => b.llmCalls),
      Array(5).fill(3),
      "each batch's refused calls are counted",
    );
    assert.equal(sim.requests.length, 15);
    assert.ok(sim.requests.length <= budget.maxLlmCalls);
  } finally {
    sim.personality = "vllm";
  }
});

test("recovery: a start that died before create() is listed, refused while fresh, and resumed after STALE_AFTER_MS", async () => {
  sim.reset();
  const crashed = await host.call("POST", "/series", { ...SERIES, seed: CRASH_SEED });
  assert.deepEqual([crashed.status, crashed.body.error.code], [500, "INTERNAL"]);
  const ghost = (await host.call("GET", "/series?status=GENERATING")).body.series[0];
  assert.equal(ghost.status, "GENERATING");
  const fresh = await host.call("POST", `/series/${ghost.id}/resume`);
  assert.deepEqual([fresh.status, fresh.body.error.code], [409, "SERIES_RUNNING"]);
  assert.ok(fresh.body.error.resumableInMs > 0 && fresh.body.error.resumableInMs <= STALE_AFTER_MS);
  await sleep(fresh.body.error.resumableInMs + 1100); // D1's datetime('now') has 1 s resolution
  const resumed = await host.call("POST", `/series/${ghost.id}/resume`);
  assert.deepEqual([resumed.status, resumed.body], [202, { id: ghost.id, run: 2 }]);
  const done = await host.finished(ghost.id);
  assert.equal(done.status, "COMPLETED");
  assert.deepEqual(
    done.drills.map((d) => d.index),
    indices(25),
  );
});

test("recovery: a run stuck `running` (a call that never answers) is taken over after STALE_AFTER_MS; the old one is fenced", async () => {
  sim.reset();
  sim.script(10, ["hang"]); // batch 2's call never answers (LLM_TIMEOUT_MS 30 s)
  const id = (await host.call("POST", "/series", SERIES)).body.id;
  for (let end = Date.now() + 10_000; ; await sleep(100)) {
    const { body } = await host.call("GET", `/series/${id}`);
    if (body.batchProgress?.completed === 4) break;
    assert.ok(Date.now() < end, "the other batches finished");
  }
  const early = await host.call("POST", `/series/${id}/resume`);
  assert.deepEqual([early.status, early.body.error.code], [409, "SERIES_RUNNING"]);
  assert.equal((await host.call("GET", `/series/${id}`)).body.workflow.status, "running");
  await sleep(early.body.error.resumableInMs + 1100);
  const resumed = await host.call("POST", `/series/${id}/resume`);
  assert.deepEqual([resumed.status, resumed.body], [202, { id, run: 2 }]);
  const done = await host.finished(id);
  assert.equal(done.status, "COMPLETED");
  assert.equal(done.run, 2);
  assert.deepEqual(
    done.drills.map((d) => d.index),
    indices(25),
  );
  assert.deepEqual(
    await host.db.prepare("SELECT count(*) AS n, count(DISTINCT idx) AS d FROM drill WHERE artifact_id = ?").bind(id).first(),
    { n: 25, d: 25 },
  );
  assert.deepEqual(
    sim.requests.map((r) => r.indices[0]).sort((a, b) => a - b),
    [0, 5, 10, 10, 15, 20],
    "only the stuck batch was generated again",
  );
});

test("the step timeout and STALE_AFTER_MS outlast drillgen's worst case with the default timings, negotiation, streaming and persist retries included", async () => {
  // Defaults: 120 s per call, Retry-After up to 60 s, backoff to 8 s, persist 30 s × 4.
  const options = {
    artifactId: "x",
    context,
    llm: { provider: "openai", baseUrl: "https://api.openai.com/v1", model: "m", timeoutMs: 120_000 },
    retry: { maxRetries: 3, baseDelayMs: 500, maxDelayMs: 8_000, maxRetryAfterMs: 60_000 },
    hostTimeoutMs: 30_000,
  };
  const worst = drillgen.batchWorstCase(options);
  // Pinned, so that a change in drillgen's worst case is noticed here: 4 attempts + 6 refusals
  // (format ladder 2, token field 1, prompt cache key 1, stream_options and stream 2) at 120 s
  // plus 1 s of fetch grace each, 3 Retry-After waits of 60 s, 4 persists of 30 s, 3 backoffs of
  // 8 s, and 30 s for onProgress's promises: 10 × 121 + 180 + 120 + 24 + 30 = 1,564 s, past the
  // 720 s step timeout this host once had.
  assert.deepEqual(worst, { llmCalls: 10, durationMs: 10 * (120_000 + 1_000) + 3 * 60_000 + 4 * 30_000 + 3 * 8_000 + 30_000 });
  assert.equal(worst.durationMs, 1_564_000);
  // The host as deployed: default vars but for the LLM URL (api.openai.com is never called: no series runs here).
  // The crash hook stores the series and never creates its instance: nothing calls api.openai.com.
  const prod = await startHost(sim, {
    LLM_BASE_URL: "https://api.openai.com/v1",
    RETRY_BASE_DELAY_MS: "",
    RETRY_MAX_DELAY_MS: "",
    STEP_RETRY_DELAY_MS: "",
    CRASH_BEFORE_CREATE_SEED: String(CRASH_SEED),
  });
  await prod.call("PUT", "/context", context);
  await prod.call("POST", "/positions", positions);
  assert.equal((await prod.call("POST", "/series", { ...SERIES, seed: CRASH_SEED })).status, 500);
  const row = await prod.db.prepare("SELECT id, budget FROM guru_artifact").first();
  const budget = JSON.parse(row.budget);
  assert.equal(budget.batchLlmCalls, worst.llmCalls);
  // drillgen's worst case + the longest wait for the governor's permit (GOVERNOR_MAX_WAIT_MS,
  // 120 s) + a minute for the step's own D1 writes: 1,564 + 120 + 60 = 1,744 s.
  assert.equal(budget.stepTimeoutMs, worst.durationMs + 120_000 + 60_000);
  assert.equal(budget.stepTimeoutMs, 1_744_000);
  // STALE_AFTER_MS by default: the step timeout + the wait before the last step retry (10 s × 2) +
  // a minute: 1,744 + 20 + 60 = 1,824 s (about 30 min). The ghost series is resumable after that
  // long, not before.
  const early = await prod.call("POST", `/series/${row.id}/resume`);
  assert.deepEqual([early.status, early.body.error.code], [409, "SERIES_RUNNING"]);
  const staleMs = budget.stepTimeoutMs + 10_000 * 2 + 60_000;
  assert.equal(staleMs, 1_824_000);
  assert.ok(
    early.body.error.resumableInMs <= staleMs && early.body.error.resumableInMs > staleMs - 10_000,
    `${early.body.error.resumableInMs}`,
  );
});

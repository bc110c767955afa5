// A Cloudflare Worker host of drillgen: a secured HTTP API in front of one Workflow instance per
// run of a drill series (src/workflow.js), with D1 as the store.
//   PUT  /context              body: PromptContext           the teacher's material (mentalModel, curriculum, …)
//   POST /positions            body: Position[]              imports the position library
//   POST /series               body: DrillRequest & {seed?, context?}  202 { id, plan, budget, warnings }
//   GET  /series/:id                                         the artifact row, progress, batches, drills, instance status
//   POST /series/:id/resume                                  202: a new run that generates only the missing batches
// Every route needs `Authorization: Bearer <API_TOKEN>`. Bindings: DB (D1), SERIES_WORKFLOW (Workflow),
// SERIES_RATE_LIMITER (rate limiting); secrets API_TOKEN, LLM_API_KEY; vars in wrangler.toml.
import { checkContext, checkPositions, prepareSeries } from "drillgen";
import { fitBudget, HostError, settings } from "./config.js";
import { loadDrills, loadPositions, parse } from "./db.js";

export { DrillSeriesWorkflow } from "./workflow.js";

const json = (body, status = 200, headers = {}) =>
  new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json", ...headers } });

function errorResponse(e) {
  if (e instanceof HostError) {
    const headers = e.status === 401 ? { "www-authenticate": 'Bearer realm="drillgen"' } : {};
    return json({ error: { code: e.code, message: e.message } }, e.status, headers);
  }
  // drillgen's coded errors describe the caller's request (API keys are already removed from them).
  if (e?.name === "DrillgenError") return json({ error: { code: e.code, message: e.message } }, 400);
  console.error("drillgen worker: internal error", e);
  return json({ error: { code: "INTERNAL", message: "internal error" } }, 500);
}

// ---- authentication: constant-time comparison of SHA-256 digests (equal lengths whatever the token)

const encoder = new TextEncoder();
const sha256 = async (text) => new Uint8Array(await crypto.subtle.digest("SHA-256", encoder.encode(text)));

function equalDigests(a, b) {
  if (typeof crypto.subtle.timingSafeEqual === "function") return crypto.subtle.timingSafeEqual(a, b);
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i] ^ b[i];
  return diff === 0;
}

/** Returns the caller's rate-limit key (a digest prefix, never the token) or throws 401. */
async function authenticate(request, env) {
  // API_TOKEN may hold several tokens separated by commas (one per client, or old + new while rotating).
  const tokens = String(env.API_TOKEN ?? "")
    .split(",")
    .map((t) => t.trim())
    .filter(Boolean);
  if (tokens.length === 0) throw new HostError(500, "NOT_CONFIGURED", "secret API_TOKEN is not set");
  const header = request.headers.get("authorization") ?? "";
  const match = /^Bearer[ ]+(\S+)[ ]*$/i.exec(header);
  if (!match) throw new HostError(401, "UNAUTHENTICATED", "send Authorization: Bearer <token>");
  const given = await sha256(match[1]);
  let ok = false;
  for (const token of tokens) ok = equalDigests(given, await sha256(token)) || ok; // no early exit
  if (!ok) throw new HostError(401, "INVALID_TOKEN", "the bearer token is not valid");
  return [...given.slice(0, 8)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

async function rateLimit(env, key) {
  if (!env.SERIES_RATE_LIMITER) throw new HostError(500, "NOT_CONFIGURED", "binding SERIES_RATE_LIMITER is missing");
  const { success } = await env.SERIES_RATE_LIMITER.limit({ key });
  if (!success) throw new HostError(429, "RATE_LIMITED", "too many series started with this token; try again in a minute");
}

// ---- request bodies: size cap while streaming (Content-Length may be absent or wrong), JSON

async function readJson(request, maxBytes) {
  const declared = Number(request.headers.get("content-length") ?? NaN);
  const tooLarge = () => new HostError(413, "BODY_TOO_LARGE", `the body exceeds ${maxBytes} bytes`);
  if (declared > maxBytes) throw tooLarge();
  if (!request.body) throw new HostError(400, "INVALID_JSON", "the body is empty");
  const chunks = [];
  let size = 0;
  const reader = request.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > maxBytes) {
      await drain(reader);
      throw tooLarge();
    }
    chunks.push(value);
  }
  const bytes = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    bytes.set(c, at);
    at += c.byteLength;
  }
  try {
    return JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    throw new HostError(400, "INVALID_JSON", "the body is not valid JSON");
  }
}

const isObject = (v) => v !== null && typeof v === "object" && !Array.isArray(v);

// ---- routes

async function putContext(request, env, cfg) {
  const context = await readJson(request, cfg.maxBodyBytes);
  checkContext(context); // INVALID_CONTEXT: what a run would refuse
  await env.DB.prepare(
    `INSERT INTO setting (key, value) VALUES ('context', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value,
       updated_at = datetime('now')`,
  )
    .bind(JSON.stringify(context))
    .run();
  return json({ stored: true });
}

async function importPositions(request, env, cfg) {
  const positions = await readJson(request, cfg.maxBodyBytes);
  if (Array.isArray(positions) && positions.length > cfg.maxImportPositions) {
    throw new HostError(413, "TOO_MANY_POSITIONS", `at most ${cfg.maxImportPositions} positions per import (MAX_IMPORT_POSITIONS)`);
  }
  checkPositions(positions); // INVALID_POSITIONS, DUPLICATE_POSITION_ID: what a run would refuse
  const db = env.DB;
  for (let k = 0; k < positions.length; k += 100) {
    await db.batch(
      positions
        .slice(k, k + 100)
        .map((p) =>
          db
            .prepare("INSERT OR REPLACE INTO position (position_id, game_phase, data) VALUES (?, ?, ?)")
            .bind(p.positionId, p.gamePhase, JSON.stringify(p)),
        ),
    );
  }
  return json({ imported: positions.length });
}

async function startSeries(request, env, cfg, key) {
  await rateLimit(env, key);
  const body = await readJson(request, cfg.maxBodyBytes);
  if (!isObject(body)) throw new HostError(400, "INVALID_REQUEST", "the body must be a DrillRequest object");
  const { seed: givenSeed, context: givenContext, ...drillRequest } = body;
  if (typeof drillRequest.targetDrillCount === "number" && drillRequest.targetDrillCount > cfg.maxTargetDrills) {
    throw new HostError(400, "TARGET_OVER_LIMIT", `targetDrillCount is capped at ${cfg.maxTargetDrills} here (MAX_TARGET_DRILLS)`);
  }
  const db = env.DB;
  let context = givenContext;
  if (context === undefined) {
    const row = await db.prepare("SELECT value FROM setting WHERE key = 'context'").first();
    if (!row) throw new HostError(409, "NO_CONTEXT", "store the teacher's context first (PUT /context) or pass `context`");
    context = JSON.parse(row.value);
  }
  // The series the Workflow's plan step makes, so that a bad request or context is a 400 now, not a
  // FAILED later.
  const series = prepareSeries(drillRequest, await loadPositions(db), context, givenSeed === undefined ? {} : { seed: givenSeed });
  const budget = fitBudget({
    batches: series.batches.length,
    maxRetries: cfg.maxRetries,
    stepRetries: cfg.stepRetries,
    budget: cfg.subrequestBudget,
    policy: cfg.budgetPolicy,
  });

  const id = crypto.randomUUID();
  const instanceId = `${id}-1`;
  await db
    .prepare(
      `INSERT INTO guru_artifact (id, status, request, seed, context, instance_id, batch_progress)
     VALUES (?, 'GENERATING', ?, ?, ?, ?, ?)`,
    )
    .bind(
      id,
      JSON.stringify(drillRequest),
      series.seed,
      JSON.stringify(context),
      instanceId,
      JSON.stringify({ completed: 0, total: series.batches.length, failed: [] }),
    )
    .run();
  await createInstance(env, id, instanceId);
  const { warning, ...limits } = budget;
  return json({ id, plan: series.plan, budget: limits, warnings: [...series.warnings, ...(warning ? [warning] : [])] }, 202);
}

async function createInstance(env, artifactId, instanceId) {
  try {
    await env.SERIES_WORKFLOW.create({ id: instanceId, params: { artifactId } });
  } catch (e) {
    console.error("drillgen worker: Workflow create failed", e);
    await env.DB.prepare("UPDATE guru_artifact SET status = 'FAILED', error = ? WHERE id = ? AND instance_id = ?")
      .bind(JSON.stringify({ code: "WORKFLOW_UNAVAILABLE", message: "the run could not be started; resume it" }), artifactId, instanceId)
      .run();
    throw new HostError(503, "WORKFLOW_UNAVAILABLE", `the run of series ${artifactId} could not be started; resume it later`);
  }
}

/** The Workflow instance's status, or "unknown" when it cannot be read (never its error text). */
async function instanceStatus(env, instanceId) {
  try {
    const instance = await env.SERIES_WORKFLOW.get(instanceId);
    return (await instance.status()).status ?? "unknown";
  } catch {
    return "unknown";
  }
}

const LIVE = new Set(["queued", "running", "waiting", "paused", "waitingForPause", "unknown"]);

async function resumeSeries(env, key, id) {
  await rateLimit(env, key);
  const db = env.DB;
  const row = await db
    .prepare("SELECT status, instance_id, run, updated_at < datetime('now', '-1 day') AS silent FROM guru_artifact WHERE id = ?")
    .bind(id)
    .first();
  if (!row) throw new HostError(404, "NOT_FOUND", `no series ${id}`);
  // GENERATING is a lease held by row.instance_id. It is taken over only when that instance is
  // over (errored, terminated, or complete without writing a final status), or cannot be read any
  // more (instance state is kept 3 to 30 days) and the artifact has not moved for a day.
  let stale = 0;
  if (row.status === "GENERATING") {
    const status = await instanceStatus(env, row.instance_id);
    if (LIVE.has(status) && !(status === "unknown" && row.silent === 1)) {
      throw new HostError(409, "SERIES_RUNNING", "this series is still generating; resume it once it has finished");
    }
    stale = 1;
  }
  const instanceId = `${id}-${row.run + 1}`;
  const taken = await db
    .prepare(
      `UPDATE guru_artifact SET status = 'GENERATING', instance_id = ?3, run = run + 1, error = NULL, updated_at = datetime('now')
     WHERE id = ?1 AND instance_id = ?2 AND (status != 'GENERATING' OR ?4 = 1)`,
    )
    .bind(id, row.instance_id, instanceId, stale)
    .run();
  if (taken.meta.changes !== 1) {
    throw new HostError(409, "SERIES_RUNNING", "another run of this series has just started");
  }
  await createInstance(env, id, instanceId);
  return json({ id, run: row.run + 1 }, 202);
}

async function readSeries(env, id) {
  const db = env.DB;
  const row = await db.prepare("SELECT * FROM guru_artifact WHERE id = ?").bind(id).first();
  if (!row) throw new HostError(404, "NOT_FOUND", `no series ${id}`);
  const [{ results: runs }, drills, workflowStatus] = await Promise.all([
    db
      .prepare("SELECT batch_index, status, llm_calls, step_attempts, error FROM batch_run WHERE artifact_id = ? ORDER BY batch_index")
      .bind(id)
      .all(),
    loadDrills(db, id),
    instanceStatus(env, row.instance_id),
  ]);
  const request = parse(row.request);
  const batchProgress = parse(row.batch_progress);
  const totalDrills = request.targetDrillCount ?? 21;
  // The spec's progress shape; `currentBatch` counts finished batches (a PARTIAL one is failed).
  const done = (s) => s === "COMPLETED" || s === "FAILED" || s === "PARTIAL";
  const finished = runs.filter((r) => done(r.status)).length;
  const failed = runs.filter((r) => r.status === "FAILED" || r.status === "PARTIAL").map((r) => r.batch_index + 1);
  const totalBatches = batchProgress?.total ?? runs.length;
  let message = `Generated ${drills.length}/${totalDrills} drills (Batch ${finished}/${totalBatches})`;
  if (row.status === "GENERATING" && runs.length === 0) message = "Planning";
  else if (row.status !== "GENERATING" && failed.length) message += `; batch${failed.length > 1 ? "es" : ""} ${failed.join(", ")} failed`;
  const budget = parse(row.budget);
  const { sampleWarnings, ...plan } = parse(row.plan) ?? {};
  return json({
    id: row.id,
    status: row.status,
    run: row.run,
    request,
    seed: row.seed,
    plan: row.plan ? plan : null,
    batchProgress,
    progress: {
      phase: "GENERATING_CONTENT",
      current: drills.length,
      total: totalDrills,
      currentBatch: finished,
      totalBatches: batchProgress?.total ?? null,
      completedDrills: drills.length,
      totalDrills,
      finishedBatches: finished,
      message,
    },
    budget: budget && {
      maxRetries: budget.maxRetries,
      stepRetries: budget.stepRetries,
      maxLlmCalls: budget.maxLlmCalls,
      subrequestBudget: budget.subrequestBudget,
    },
    batches: runs.map((r) => ({
      batchIndex: r.batch_index,
      status: r.status,
      llmCalls: r.llm_calls,
      stepAttempts: r.step_attempts,
      error: parse(r.error),
    })),
    usage: parse(row.usage),
    verification: parse(row.verification),
    warnings: parse(row.warnings),
    error: parse(row.error),
    workflow: { instanceId: row.instance_id, status: workflowStatus },
    drills,
  });
}

export default {
  async fetch(request, env) {
    try {
      const key = await authenticate(request, env);
      const cfg = settings(env);
      const { pathname } = new URL(request.url);
      const { method } = request;
      if (method === "PUT" && pathname === "/context") return await putContext(request, env, cfg);
      if (method === "POST" && pathname === "/positions") return await importPositions(request, env, cfg);
      if (method === "POST" && pathname === "/series") return await startSeries(request, env, cfg, key);
      const match = pathname.match(/^\/series\/([0-9a-f-]{36})(\/resume)?$/);
      if (match && method === "GET" && !match[2]) return await readSeries(env, match[1]);
      if (match && method === "POST" && match[2]) return await resumeSeries(env, key, match[1]);
      throw new HostError(404, "NOT_FOUND", `no route ${method} ${pathname}`);
    } catch (e) {
      await discardBody(request);
      return errorResponse(e);
    }
  },
};

/**
 * Reads and drops what is left of a refused request's body, up to 1 MiB, so that the client gets
 * the error response rather than a reset connection while it is still sending; then cancels.
 */
async function drain(reader) {
  try {
    for (let size = 0; size <= 1024 * 1024; ) {
      const { done, value } = await reader.read();
      if (done) return;
      size += value.byteLength;
    }
    await reader.cancel();
  } catch {
    // the client went away: nothing to answer
  }
}

async function discardBody(request) {
  if (request.body && !request.bodyUsed && !request.body.locked) await drain(request.body.getReader());
}

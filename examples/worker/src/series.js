// The series routes: start (POST /series), read (GET /series/:id), list (GET /series), resume
// (POST /series/:id/resume). A series belongs to the tenant that started it: another tenant's
// id is answered 404 SERIES_NOT_FOUND, exactly like an id that does not exist.
import { planPositions, prepareSeries } from "drillgen";
import { rateLimit } from "./auth.js";
import { seriesBudget } from "./budget.js";
import { batchOptions, HostError, staleAfterMs } from "./config.js";
import { loadDrills, parse } from "./db.js";
import { isObject, json, limitParam, parseJson, readBytes } from "./http.js";
import { idempotent } from "./idempotency.js";
import { loadContext, loadLibrary } from "./library.js";
import { checkSpend } from "./spend.js";
import { batchWorstCase } from "./worst-case.js";

const notFound = (id) => new HostError(404, "SERIES_NOT_FOUND", `no series ${id}`);

/** The 202 of POST /series, from the stored row (so a recovered answer is the same answer). */
function startAnswer(row) {
  const { sampleWarnings, ...plan } = JSON.parse(row.plan);
  const { warning, ...budget } = JSON.parse(row.budget);
  return { status: 202, body: { id: row.id, plan, budget, warnings: [...(sampleWarnings ?? []), ...(warning ? [warning] : [])] } };
}

export async function startSeries(request, env, cfg, tenant) {
  const bytes = await readBytes(request, cfg.maxBodyBytes);
  const db = env.DB;
  return idempotent(request, db, tenant, new TextDecoder().decode(bytes), {
    // After the Idempotency-Key lookup: a replay never uses a rate-limit slot.
    admit: () => rateLimit(env, cfg, tenant, "series"),
    recover: async (id) => {
      const row = await db.prepare("SELECT id, plan, budget FROM guru_artifact WHERE id = ? AND tenant = ?").bind(id, tenant).first();
      return row ? startAnswer(row) : null;
    },
    run: async (reserve) => {
      const body = parseJson(bytes);
      if (!isObject(body)) throw new HostError(400, "INVALID_REQUEST", "the body must be a DrillRequest object");
      const { seed: givenSeed, context: givenContext, ...drillRequest } = body;
      if (typeof drillRequest.targetDrillCount === "number" && drillRequest.targetDrillCount > cfg.maxTargetDrills) {
        throw new HostError(400, "TARGET_OVER_LIMIT", `targetDrillCount is capped at ${cfg.maxTargetDrills} here (MAX_TARGET_DRILLS)`);
      }
      // The request alone first (drillgen's codes: INVALID_TARGET_COUNT, INVALID_PHASES, …), so a bad
      // request is told what is wrong with it before it is told about the tenant's spend or context.
      planPositions(drillRequest);
      await checkSpend(db, tenant, cfg);
      const context = givenContext ?? (await loadContext(db, tenant));
      if (context == null) throw new HostError(409, "NO_CONTEXT", "store the teacher's context first (PUT /context) or pass `context`");
      // The series as it will run: validated now (a bad request is a 400, not a FAILED later), and
      // its sampled positions (whole rows: best move, alternatives) stored with it, the snapshot
      // every step reads. Later imports cannot change it.
      const series = prepareSeries(
        drillRequest,
        await loadLibrary(db, tenant),
        context,
        givenSeed === undefined ? {} : { seed: givenSeed },
      );
      const id = crypto.randomUUID();
      const budget = seriesBudget(env, cfg, series.batches.length, { artifactId: id, context, seed: series.seed });
      await reserve(id);
      const row = {
        id,
        plan: JSON.stringify({ ...series.plan, sampleWarnings: series.warnings }),
        budget: JSON.stringify(budget),
      };
      await db
        .prepare(
          `INSERT INTO guru_artifact (id, tenant, status, request, seed, context, instance_id, plan, batches, budget, batch_progress)
           VALUES (?, ?, 'GENERATING', ?, ?, ?, ?, ?, ?, ?, ?)`,
        )
        .bind(
          id,
          tenant,
          JSON.stringify(drillRequest),
          series.seed,
          JSON.stringify(context),
          `${id}-1`,
          row.plan,
          JSON.stringify(series.batches),
          row.budget,
          JSON.stringify({ completed: 0, total: series.batches.length, failed: [] }),
        )
        .run();
      if (series.seed === cfg.crashBeforeCreateSeed) {
        const crash = new Error("simulated Worker restart before the Workflow instance was created (CRASH_BEFORE_CREATE_SEED, test only)");
        crash.simulatedCrash = true;
        throw crash;
      }
      await createInstance(env, id, `${id}-1`);
      return startAnswer(row);
    },
  });
}

async function createInstance(env, artifactId, instanceId) {
  try {
    await env.SERIES_WORKFLOW.create({ id: instanceId, params: { artifactId } });
  } catch (e) {
    console.error("drillgen worker: Workflow create failed", e);
    await env.DB.prepare("UPDATE guru_artifact SET status = 'FAILED', error = ? WHERE id = ? AND instance_id = ?")
      .bind(JSON.stringify({ code: "WORKFLOW_UNAVAILABLE", message: "the run could not be started; resume it" }), artifactId, instanceId)
      .run();
    const refused = new HostError(503, "WORKFLOW_UNAVAILABLE", `the run of series ${artifactId} could not be started; resume it later`);
    refused.details = { seriesId: artifactId };
    refused.committed = true; // the series exists: a retry with the same Idempotency-Key gets this answer
    throw refused;
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

/** Stops a run whose lease was taken over; it may be gone or unreadable already: errors ignored. */
async function terminateQuietly(env, instanceId) {
  try {
    const instance = await env.SERIES_WORKFLOW.get(instanceId);
    await instance.terminate();
  } catch {
    // never created, already over, or unreadable: the fence keeps it from writing anyway
  }
}

const LIVE = new Set(["queued", "running", "waiting", "paused", "waitingForPause", "unknown"]);

/** Milliseconds since anything of the series last moved: its row or any of its batch rows. */
const IDLE_MS = `(julianday('now') - julianday(max(a.updated_at,
  coalesce((SELECT max(updated_at) FROM batch_run WHERE artifact_id = a.id), a.updated_at)))) * 86400000`;

/**
 * A drill index is done when a drill of the series holds it with batch status COMPLETED (what the
 * plan step counts): a COMPLETED series with every index of its snapshot done has nothing to resume.
 */
const NOTHING_MISSING = `a.status = 'COMPLETED' AND a.batches IS NOT NULL
  AND (SELECT count(DISTINCT d.idx) FROM drill d WHERE d.artifact_id = a.id AND d.batch_status = 'COMPLETED')
    >= (SELECT coalesce(sum(json_array_length(b.value, '$.drillIndices')), 0) FROM json_each(a.batches) b)`;

export async function resumeSeries(request, env, cfg, tenant, id) {
  const db = env.DB;
  return idempotent(request, db, tenant, "", {
    // After the Idempotency-Key lookup (a replay of an earlier resume is answered as it was): a
    // missing series or one with nothing left to generate is refused before the rate limit.
    admit: async () => {
      const row = await db
        .prepare(`SELECT ${NOTHING_MISSING} AS complete FROM guru_artifact a WHERE a.id = ? AND a.tenant = ?`)
        .bind(id, tenant)
        .first();
      if (!row) throw notFound(id);
      if (row.complete) {
        throw new HostError(409, "SERIES_COMPLETE", "this series is complete: every drill is stored, there is nothing to resume");
      }
      await rateLimit(env, cfg, tenant, "series");
    },
    recover: async () => {
      const row = await db.prepare("SELECT run FROM guru_artifact WHERE id = ? AND tenant = ?").bind(id, tenant).first();
      return row ? { status: 202, body: { id, run: row.run } } : null;
    },
    run: async (reserve) => {
      const row = await db
        .prepare(
          `SELECT a.status, a.instance_id, a.run, a.context, ${IDLE_MS} AS idle_ms FROM guru_artifact a WHERE a.id = ? AND a.tenant = ?`,
        )
        .bind(id, tenant)
        .first();
      if (!row) throw notFound(id);
      await checkSpend(db, tenant, cfg);
      // GENERATING is a lease held by row.instance_id. It is taken over when that instance is over
      // (errored, terminated, complete without a final write), or, whatever it says (never created,
      // unreadable, `running` with no step finishing), when nothing has moved for STALE_AFTER_MS.
      let takeOver = 0;
      if (row.status === "GENERATING") {
        const staleMs = staleAfterMs(
          cfg,
          batchWorstCase(batchOptions(env, cfg, { artifactId: id, context: JSON.parse(row.context), maxRetries: cfg.maxRetries })),
        );
        const stale = row.idle_ms >= staleMs;
        if (!stale && LIVE.has(await instanceStatus(env, row.instance_id))) {
          const e = new HostError(409, "SERIES_RUNNING", "this series is still generating; resume it once it has finished");
          e.details = { resumableInMs: Math.ceil(staleMs - row.idle_ms) };
          throw e;
        }
        takeOver = 1;
      }
      await reserve(id);
      const instanceId = `${id}-${row.run + 1}`;
      const taken = await db
        .prepare(
          `UPDATE guru_artifact SET status = 'GENERATING', instance_id = ?3, run = run + 1, error = NULL, updated_at = datetime('now')
           WHERE id = ?1 AND instance_id = ?2 AND (status != 'GENERATING' OR ?4 = 1)`,
        )
        .bind(id, row.instance_id, instanceId, takeOver)
        .run();
      if (taken.meta.changes !== 1) throw new HostError(409, "SERIES_RUNNING", "another run of this series has just started");
      // The lease is ours: the old instance can no longer write. Stop it so it stops paying for calls.
      if (takeOver) await terminateQuietly(env, row.instance_id);
      await createInstance(env, id, instanceId);
      return { status: 202, body: { id, run: row.run + 1 } };
    },
  });
}

export async function readSeries(env, tenant, id) {
  const db = env.DB;
  const row = await db.prepare("SELECT * FROM guru_artifact WHERE id = ? AND tenant = ?").bind(id, tenant).first();
  if (!row) throw notFound(id);
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
  const { warning, ...budget } = parse(row.budget) ?? {};
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
    budget: row.budget ? budget : null,
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

const STATUSES = ["GENERATING", "COMPLETED", "FAILED"];

/**
 * `GET /series?status=&limit=&before=`: the tenant's series, newest first, a page at a time
 * (`next` is the `before` of the next page). A client whose start was cut off finds its series here.
 */
export async function listSeries(env, tenant, url) {
  const status = url.searchParams.get("status");
  if (status !== null && !STATUSES.includes(status))
    throw new HostError(400, "INVALID_QUERY", `status must be one of ${STATUSES.join(", ")}`);
  const limit = limitParam(url, 50, 200);
  const before = Number(url.searchParams.get("before") ?? Number.MAX_SAFE_INTEGER);
  if (!Number.isSafeInteger(before)) throw new HostError(400, "INVALID_QUERY", "before must be the `next` of a previous page");
  const { results } = await env.DB.prepare(
    `SELECT a.rowid AS cursor, a.id, a.status, a.run, a.created_at, a.updated_at, a.request, a.batch_progress,
       (SELECT count(*) FROM drill d WHERE d.artifact_id = a.id AND d.batch_status = 'COMPLETED') AS drills
     FROM guru_artifact a WHERE a.tenant = ?1 AND (?2 IS NULL OR a.status = ?2) AND a.rowid < ?3
     ORDER BY a.rowid DESC LIMIT ?4`,
  )
    .bind(tenant, status, before, limit + 1)
    .all();
  const page = results.slice(0, limit);
  return json({
    series: page.map((r) => ({
      id: r.id,
      status: r.status,
      run: r.run,
      createdAt: r.created_at,
      updatedAt: r.updated_at,
      targetDrillCount: parse(r.request).targetDrillCount ?? 21,
      drills: r.drills,
      batchProgress: parse(r.batch_progress),
    })),
    next: results.length > limit ? page.at(-1).cursor : null,
  });
}

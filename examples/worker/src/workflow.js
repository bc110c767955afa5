// One Cloudflare Workflow instance per run of a series: the spec's parent job (plan, fan out the
// batches, merge) made durable. Steps:
//   plan       the batches still missing drills, from the series' snapshot (the batches and their
//              positions stored by POST /series, never the live library); budget, batch rows
//   batch-<i>  one per batch still missing drills, at most CONCURRENCY (≤ 6) in flight: a permit of
//              the deployment's rate governor (RATE_GOVERNOR, src/governor.js), then generateBatch
//              (drillgen's provider-aware retries), drills upserted to D1 by drillId in one transaction
//   store-<i>  only when D1 refused batch i's drills: stores the drills batch-<i> handed back in its
//              result, so that no drill is lost and no LLM call is paid twice
//   merge      mergeDrills + verifyArtifact over what D1 holds, against the snapshot; the final status
// A batch that fails permanently (a 4xx, retries exhausted) is a step that *completes* with a FAILED
// outcome; only exceptions (crash, eviction, D1 errors) make the Workflow retry a step. Step results
// stay small (counts and codes), except a batch's drills when D1 refused them.
import { WorkflowEntrypoint } from "cloudflare:workers";
import { checkContext, generateBatch, mergeDrills, verifyArtifact } from "drillgen";
import { seriesBudget } from "./budget.js";
import { batchOptions, HostError, settings, WARNING } from "./config.js";
import { LEASE, loadDrills, markFailed, parse, setBatch, updateProgress, upsertDrill } from "./db.js";
import { estimateTokens, governorOf, withPermit } from "./governor.js";
import { addSpend, tokensOf } from "./spend.js";

/**
 * Drills handed back by a batch step travel in its result up to this size: Workflows keeps a step's
 * result up to 1 MiB (2^20 bytes; developers.cloudflare.com/workflows/reference/limits/, "Maximum
 * non-stream step result per step"), and the rest of the result needs room. Larger: a staging row.
 */
const STEP_RESULT_BYTES = 1_000_000;

const coded = (e) => e?.name === "DrillgenError" || e instanceof HostError;
const errorInfo = (e) => ({ code: e.code, message: e.message, ...(e.retryable === undefined ? {} : { retryable: e.retryable }) });

/** Runs `fn` over `items` with at most `limit` in flight; never rejects (each result says ok or not). */
async function pool(items, limit, fn) {
  const results = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const k = next++;
      results[k] = await fn(items[k]).then(
        (value) => ({ ok: true, value }),
        (error) => ({ ok: false, error }),
      );
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

export class DrillSeriesWorkflow extends WorkflowEntrypoint {
  async run(event, step) {
    const { artifactId } = event.payload;
    const instanceId = event.instanceId;
    const env = this.env;
    let short = { retries: { limit: 2, delay: 10_000, backoff: "exponential" }, timeout: "5 minutes" };
    try {
      const cfg = settings(env);
      short = { ...short, retries: { limit: cfg.stepRetries, delay: cfg.stepRetryDelayMs, backoff: "exponential" } };
      const plan = await step.do("plan", short, () => planStep(env, artifactId, instanceId));
      if (!plan.run) return { artifactId, status: plan.status };
      const batchConfig = {
        retries: { limit: plan.stepRetries, delay: cfg.stepRetryDelayMs, backoff: "exponential" },
        timeout: plan.stepTimeoutMs,
      };
      const results = await pool(plan.todo, cfg.concurrency, async (i) => {
        let done = await step.do(`batch-${i}`, batchConfig, () => batchStep(env, artifactId, instanceId, i, plan));
        // In line behind other series on the same key for longer than a step may wait: sleep
        // (Workflows' own sleep holds no isolate and uses no step retry), then line up again.
        for (let n = 1; done.status === "NO_PERMIT"; n++) {
          if (n > cfg.permitRounds) throw new Error(`batch ${i}: no permit from the rate governor in ${cfg.permitRounds} rounds`);
          await step.sleep(`permit-wait-${i}-${n}`, cfg.stepRetryDelayMs);
          done = await step.do(`batch-${i}-permit-${n}`, batchConfig, () => batchStep(env, artifactId, instanceId, i, plan));
        }
        if (done.status !== "UNSTORED") return done;
        // D1 refused the drills: they are in `done` (kept by the Workflow), stored by their own step.
        return step.do(`store-${i}`, short, () => storeStep(env, artifactId, instanceId, i, plan, done));
      });
      // A step that still threw after its retries: the batch failed, the run goes on to the merge.
      const crashed = plan.todo.filter((_, k) => !results[k].ok);
      for (const r of results) if (!r.ok) console.error(`drillgen workflow ${instanceId}: a batch step gave up`, r.error);
      return await step.do("merge", short, () => mergeStep(env, artifactId, instanceId, crashed));
    } catch (e) {
      // plan or merge kept throwing: leave a final status instead of GENERATING for ever.
      await step.do("give-up", short, () =>
        markFailed(env.DB, artifactId, instanceId, { code: "RUN_FAILED", message: "the run stopped on an internal error; resume it" }),
      );
      throw e;
    }
  }
}

async function planStep(env, artifactId, instanceId) {
  const db = env.DB;
  const cfg = settings(env);
  const row = await db
    .prepare("SELECT tenant, seed, context, instance_id, batches FROM guru_artifact WHERE id = ?")
    .bind(artifactId)
    .first();
  if (!row || row.instance_id !== instanceId) return { run: false, status: "FENCED" };
  try {
    // The snapshot taken by POST /series: the same positions and partition on every run, whatever
    // the library holds now.
    const batches = parse(row.batches);
    if (!batches)
      throw new HostError(409, "NO_SNAPSHOT", "this series has no stored positions (started before snapshots); start a new one");
    const context = JSON.parse(row.context);
    checkContext(context); // INVALID_CONTEXT before any LLM call
    const { results } = await db
      .prepare("SELECT idx FROM drill WHERE artifact_id = ? AND batch_status = 'COMPLETED'")
      .bind(artifactId)
      .all();
    const done = new Set(results.map((r) => r.idx));
    const todo = batches.filter((b) => b.drillIndices.some((i) => !done.has(i))).map((b) => b.batchIndex);
    const budget = seriesBudget(env, cfg, todo.length, { artifactId, context, seed: row.seed });
    const statements = [
      db
        .prepare(`UPDATE guru_artifact SET budget = ?3,
                    batch_progress = json_object('completed', 0, 'total', ?4, 'failed', json('[]')), updated_at = datetime('now')
                  WHERE id = ?1 AND instance_id = ?2`)
        .bind(artifactId, instanceId, JSON.stringify(budget), batches.length),
      ...batches.map((b) => {
        const pending = todo.includes(b.batchIndex);
        return db
          .prepare(
            `INSERT INTO batch_run (artifact_id, batch_index, status) SELECT ?1, ?3, ?4 WHERE ${LEASE}
           ON CONFLICT (artifact_id, batch_index) DO UPDATE SET status = excluded.status,
             llm_calls = CASE WHEN excluded.status = 'PENDING' THEN 0 ELSE llm_calls END,
             step_attempts = CASE WHEN excluded.status = 'PENDING' THEN 0 ELSE step_attempts END,
             error = CASE WHEN excluded.status = 'PENDING' THEN NULL ELSE error END,
             updated_at = datetime('now')`,
          )
          .bind(artifactId, instanceId, b.batchIndex, pending ? "PENDING" : "COMPLETED");
      }),
      updateProgress(db, artifactId, instanceId),
    ];
    await db.batch(statements);
    return {
      run: true,
      tenant: row.tenant,
      todo,
      totalBatches: batches.length,
      maxRetries: budget.maxRetries,
      stepRetries: budget.stepRetries,
      stepTimeoutMs: budget.stepTimeoutMs,
    };
  } catch (e) {
    if (!coded(e)) throw e; // D1 trouble: the Workflow retries the step
    await markFailed(db, artifactId, instanceId, errorInfo(e));
    return { run: false, status: "FAILED" };
  }
}

async function batchStep(env, artifactId, instanceId, batchIndex, plan) {
  const db = env.DB;
  const cfg = settings(env);
  const [started, specRow, storedRows] = await db.batch([
    db
      .prepare(`UPDATE batch_run SET step_attempts = step_attempts + 1,
                  status = CASE WHEN status = 'COMPLETED' THEN status ELSE 'GENERATING' END, updated_at = datetime('now')
                WHERE artifact_id = ?1 AND batch_index = ?3 AND ${LEASE} RETURNING step_attempts`)
      .bind(artifactId, instanceId, batchIndex),
    db
      .prepare("SELECT json_extract(batches, ?2) AS spec, context, seed FROM guru_artifact WHERE id = ?1")
      .bind(artifactId, `$[${batchIndex}]`),
    db
      .prepare("SELECT idx FROM drill WHERE artifact_id = ? AND batch_index = ? AND batch_status = 'COMPLETED'")
      .bind(artifactId, batchIndex),
  ]);
  if (started.results.length === 0) return { batchIndex, status: "FENCED" };
  const stepAttempt = started.results[0].step_attempts;
  const { spec: specJson, context, seed } = specRow.results[0];
  const spec = JSON.parse(specJson);
  const stored = new Set(storedRows.results.map((r) => r.idx));
  const todo = spec.drillIndices.filter((i) => !stored.has(i));

  if (todo.length === 0) {
    // A retried step whose drills a previous attempt already stored: no LLM call is paid twice.
    await db.batch([setBatch(db, artifactId, instanceId, batchIndex, { status: "COMPLETED" }), updateProgress(db, artifactId, instanceId)]);
    return { batchIndex, status: "COMPLETED", llmCalls: 0, reused: true, stepAttempt };
  }

  // LLM calls already written to the batch row (by `persist`), so the final write adds only the rest.
  let written = 0;
  let fenced = false;
  let outcome;
  const asked = { ...spec, drillIndices: todo };
  const options = batchOptions(env, cfg, { artifactId, context: JSON.parse(context), seed, maxRetries: plan.maxRetries });
  // The deployment's rate governor (a Durable Object per provider key; none when not bound): one
  // permit for this batch, always completed with its outcome (src/governor.js).
  const governor = await governorOf(env);
  try {
    const estimatedTokens = governor ? estimateTokens(asked, options.context, options.llm) : 0;
    outcome = await withPermit(governor, { estimatedTokens, cfg, leaseMs: plan.stepTimeoutMs, priority: spec.batchIndex }, (onProgress) =>
      generateBatch(asked, {
        ...options,
        ...(onProgress ? { onProgress } : {}),
        // One D1 transaction: the drills, the batch row (with the LLM calls it took), the progress
        // and the tenant's spend. A batch that gave up after reading some drills is PARTIAL, never
        // COMPLETED: its drills are kept, and a lost final write still leaves it counted as failed.
        persist: async (drills, batch) => {
          const store = cfg.failPersistOnce.includes(batchIndex) && stepAttempt === 1 ? unavailable(db) : db;
          const [first] = await store.batch([
            setBatch(db, artifactId, instanceId, batchIndex, {
              status: batch.complete ? "COMPLETED" : "PARTIAL",
              llm_calls_add: batch.calls - written,
              error: null,
            }),
            ...drills.map((d) => upsertDrill(db, artifactId, instanceId, d)),
            updateProgress(db, artifactId, instanceId),
            addSpend(db, plan.tenant, batch.calls - written, 0),
          ]);
          if (first.meta.changes === 0) fenced = true;
          else written = batch.calls;
        },
      }),
    );
  } catch (e) {
    if (!coded(e)) throw e;
    outcome = { status: "FAILED", calls: 0, error: errorInfo(e), usage: null }; // bad options: permanent, no call made
  }
  if (fenced) return { batchIndex, status: "FENCED" };
  if (outcome.status === "NO_PERMIT") return { batchIndex, status: "NO_PERMIT", stepAttempt };
  if (outcome.error?.code === "PERSIST_FAILED") return handBack(db, artifactId, instanceId, batchIndex, todo, outcome, stepAttempt);
  const usage = outcome.usage ? JSON.stringify(outcome.usage) : null;
  // Paid calls count against the tenant's spend even when the lease was lost meanwhile.
  const spend = addSpend(db, plan.tenant, outcome.calls - written, tokensOf(outcome.usage));
  if (outcome.status === "COMPLETED") {
    await db.batch([setBatch(db, artifactId, instanceId, batchIndex, { usage }), spend]);
  } else if (!cfg.loseFinalWrite.includes(batchIndex)) {
    await db.batch([
      setBatch(db, artifactId, instanceId, batchIndex, {
        status: "FAILED",
        llm_calls_add: outcome.calls - written,
        error: JSON.stringify(outcome.error ?? null),
        usage,
      }),
      updateProgress(db, artifactId, instanceId),
      spend,
    ]);
  }
  if (cfg.crashAfterPersistOnce.includes(batchIndex) && stepAttempt === 1) {
    throw new Error(`simulated eviction after batch ${batchIndex} was stored (CRASH_AFTER_PERSIST_ONCE, test only)`);
  }
  return {
    batchIndex,
    status: outcome.status,
    llmCalls: outcome.calls,
    stepAttempt,
    ...(outcome.error ? { error: { code: outcome.error.code, retryable: outcome.error.retryable, status: outcome.error.status } } : {}),
  };
}

/** TEST ONLY (FAIL_PERSIST_ONCE): the D1 binding as it is while D1 is down: every batch throws. */
const unavailable = (db) => ({
  batch: async () => {
    throw new Error("D1_ERROR: simulated outage of the D1 binding (FAIL_PERSIST_ONCE, test only)");
  },
  prepare: (sql) => db.prepare(sql),
});

/**
 * drillgen could not store the batch (`persist` failed 4 times) and handed its drills back: the step
 * completes with them in its result (kept by the Workflow, even while D1 is down), or, past the
 * step-result limit, in a staging row; `store-<i>` stores them. Throwing instead would make the
 * Workflow's retry pay for every LLM call again, and lose the drills if D1 stayed down.
 */
async function handBack(db, artifactId, instanceId, batchIndex, asked, outcome, stepAttempt) {
  const kept = { drills: outcome.drills, calls: outcome.calls, usage: outcome.usage ?? null, asked };
  const head = { batchIndex, status: "UNSTORED", stepAttempt };
  if (new TextEncoder().encode(JSON.stringify(kept)).byteLength <= STEP_RESULT_BYTES) return { ...head, ...kept };
  // Too large to travel in the result: a staging row. If D1 refuses that too, the step throws and
  // its retry generates the batch again: nothing else can hold the drills.
  await db
    .prepare(
      `INSERT INTO drill_staging (artifact_id, batch_index, instance_id, outcome) VALUES (?, ?, ?, ?)
     ON CONFLICT (artifact_id, batch_index) DO UPDATE SET instance_id = excluded.instance_id, outcome = excluded.outcome`,
    )
    .bind(artifactId, batchIndex, instanceId, JSON.stringify(kept))
    .run();
  return { ...head, staged: true, calls: kept.calls, asked };
}

/** Stores what `handBack` kept: the drills, the batch's calls and usage, the spend; once. */
async function storeStep(env, artifactId, instanceId, batchIndex, plan, handed) {
  const db = env.DB;
  const current = await db
    .prepare(`SELECT status FROM batch_run WHERE artifact_id = ?1 AND batch_index = ?3 AND ${LEASE}`)
    .bind(artifactId, instanceId, batchIndex)
    .first();
  if (!current) return { batchIndex, status: "FENCED" };
  if (current.status !== "GENERATING") return { batchIndex, status: current.status, stored: "already" }; // a retry after the commit
  let kept = handed;
  if (handed.staged) {
    const row = await db
      .prepare("SELECT outcome FROM drill_staging WHERE artifact_id = ? AND batch_index = ? AND instance_id = ?")
      .bind(artifactId, batchIndex, instanceId)
      .first();
    kept = JSON.parse(row.outcome);
  }
  const got = new Set(kept.drills.map((d) => d.index));
  const missing = kept.asked.filter((i) => !got.has(i));
  const status = missing.length === 0 ? "COMPLETED" : "FAILED";
  const error =
    missing.length === 0
      ? null
      : {
          code: "INCOMPLETE_BATCH",
          message: `the batch gave up with ${missing.length} of ${kept.asked.length} drills missing`,
          retryable: true,
        };
  const [first] = await db.batch([
    setBatch(db, artifactId, instanceId, batchIndex, {
      status,
      llm_calls_add: kept.calls,
      error: error && JSON.stringify(error),
      usage: kept.usage && JSON.stringify(kept.usage),
    }),
    ...kept.drills.map((d) => upsertDrill(db, artifactId, instanceId, d)),
    updateProgress(db, artifactId, instanceId),
    addSpend(db, plan.tenant, kept.calls, tokensOf(kept.usage)),
    db.prepare("DELETE FROM drill_staging WHERE artifact_id = ? AND batch_index = ?").bind(artifactId, batchIndex),
  ]);
  if (first.meta.changes === 0) return { batchIndex, status: "FENCED" };
  return { batchIndex, status, llmCalls: kept.calls, stored: kept.drills.length, from: handed.staged ? "staging" : "step-result" };
}

async function mergeStep(env, artifactId, instanceId, crashed) {
  const db = env.DB;
  const row = await db
    .prepare("SELECT request, plan, batches, budget, instance_id FROM guru_artifact WHERE id = ?")
    .bind(artifactId)
    .first();
  if (!row || row.instance_id !== instanceId) return { artifactId, status: "FENCED" };
  if (crashed.length > 0) {
    const error = JSON.stringify({
      code: "STEP_FAILED",
      message: "the batch step kept failing after the Workflow's retries",
      retryable: true,
    });
    await db.batch(
      crashed.map((i) =>
        db
          .prepare(
            `UPDATE batch_run SET status = 'FAILED', error = ?4, updated_at = datetime('now')
       WHERE artifact_id = ?1 AND batch_index = ?3 AND status != 'COMPLETED' AND ${LEASE}`,
          )
          .bind(artifactId, instanceId, i, error),
      ),
    );
  }
  const request = JSON.parse(row.request);
  const plan = JSON.parse(row.plan);
  const batches = JSON.parse(row.batches);
  const budget = JSON.parse(row.budget);
  const artifact = mergeDrills(request, await loadDrills(db, artifactId));
  const positions = [...new Map(batches.flatMap((b) => b.positions).map((p) => [p.positionId, p])).values()];
  const verification = verifyArtifact(artifact, positions);
  const { results: runs } = await db
    .prepare("SELECT batch_index, status, error, usage FROM batch_run WHERE artifact_id = ? ORDER BY batch_index")
    .bind(artifactId)
    .all();
  // A PARTIAL row is a batch whose final FAILED write was lost: failed all the same.
  const failed = runs.filter((r) => r.status === "FAILED" || r.status === "PARTIAL");
  const usage = { inputTokens: 0, cachedInputTokens: 0, outputTokens: 0 };
  for (const r of runs) for (const [k, v] of Object.entries(parse(r.usage) ?? {})) usage[k] = (usage[k] ?? 0) + v;
  const warnings = [...(plan.sampleWarnings ?? []), ...(budget.warning ? [budget.warning] : []), ...artifact.warnings];
  if (failed.length > 0) {
    const names = failed.map((r) => `${r.batch_index + 1} (${parse(r.error)?.code ?? "?"})`);
    warnings.push({ code: WARNING.BATCHES_FAILED, message: `${failed.length} of ${batches.length} batches failed: ${names.join(", ")}` });
  }
  const status = artifact.drills.length === 0 ? "FAILED" : "COMPLETED";
  const progress = {
    completed: runs.filter((r) => r.status === "COMPLETED").length,
    total: batches.length,
    failed: failed.map((r) => r.batch_index),
  };
  const error = status === "FAILED" ? { code: "NO_DRILLS", message: "every batch failed; see warnings and batches" } : null;
  await db
    .prepare(
      `UPDATE guru_artifact SET status = ?3, batch_progress = ?4, usage = ?5, verification = ?6, warnings = ?7, error = ?8,
       updated_at = datetime('now') WHERE id = ?1 AND instance_id = ?2`,
    )
    .bind(
      artifactId,
      instanceId,
      status,
      JSON.stringify(progress),
      JSON.stringify(usage),
      JSON.stringify(verification),
      JSON.stringify(warnings),
      error && JSON.stringify(error),
    )
    .run();
  return { artifactId, status, drills: artifact.drills.length, failed: progress.failed };
}

// A Cloudflare Worker host of drillgen: starts drill-series generations and serves their progress
// and drills from D1.
//   POST /positions          body: Position[]            imports the position library
//   POST /series             body: DrillRequest & {seed?}  202 { id, plan }; generation continues in waitUntil
//   GET  /series/:id                                      the artifact row and its stored drills
//   POST /series/:id/resume                               generates only the drills still missing
// Bindings: DB (D1); vars LLM_PROVIDER, LLM_BASE_URL, LLM_MODEL, CONCURRENCY (≤ 6),
// SUBREQUEST_BUDGET (50 on the free plan), BUDGET_POLICY (reduce | fail); secret LLM_API_KEY.
import { generateDrillSeries, planPositions } from "drillgen";
import context from "./context.json";
import { SCHEMA } from "./schema.js";

const json = (body, status = 200) =>
  new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } });

const errorResponse = (e, status = 400) =>
  json({ error: { code: e?.code ?? "INTERNAL", message: e?.message ?? String(e) } }, e?.name === "DrillgenError" ? status : 500);

async function ensureSchema(db) {
  await db.batch(SCHEMA.map((sql) => db.prepare(sql)));
}

async function loadPositions(db) {
  const { results } = await db.prepare("SELECT data FROM position").all();
  return results.map((r) => JSON.parse(r.data));
}

function storage(db, artifactId) {
  return {
    // One D1 batch (a transaction) per drill batch: drills and batchProgress land together.
    persist: async (drills, info) => {
      const statements = drills.map((d) =>
        db.prepare(`INSERT INTO drill (drill_id, artifact_id, idx, batch_index, batch_status, position_id, game_phase, content)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                    ON CONFLICT (drill_id) DO UPDATE SET batch_index = excluded.batch_index,
                      batch_status = excluded.batch_status, content = excluded.content`)
          .bind(d.drillId, artifactId, d.index, d.batchIndex, d.batchStatus, d.positionId, d.gamePhase, JSON.stringify(d)));
      statements.push(db.prepare("UPDATE guru_artifact SET batch_progress = ?, updated_at = datetime('now') WHERE id = ?")
        .bind(JSON.stringify(info.batchProgress), artifactId));
      await db.batch(statements);
    },
    load: async () => {
      const { results } = await db.prepare(
        "SELECT content FROM drill WHERE artifact_id = ? AND batch_status = 'COMPLETED' ORDER BY idx").bind(artifactId).all();
      return results.map((r) => JSON.parse(r.content));
    },
  };
}

async function generate(env, artifactId, request, seed) {
  const db = env.DB;
  try {
    const result = await generateDrillSeries({
      artifactId,
      request,
      positions: await loadPositions(db),
      context,
      llm: { provider: env.LLM_PROVIDER ?? "openai", baseUrl: env.LLM_BASE_URL, model: env.LLM_MODEL, apiKey: env.LLM_API_KEY },
      // Workers allow 6 simultaneous connections per invocation.
      concurrency: Math.min(6, Number(env.CONCURRENCY ?? 4)),
      subrequestBudget: Number(env.SUBREQUEST_BUDGET ?? 50),
      budgetPolicy: env.BUDGET_POLICY ?? "reduce",
      seed,
      ...storage(db, artifactId),
    });
    await db.prepare(`UPDATE guru_artifact SET status = ?, batch_progress = ?, usage = ?, verification = ?, warnings = ?,
                      updated_at = datetime('now') WHERE id = ?`)
      .bind(result.status, JSON.stringify(result.batchProgress), JSON.stringify(result.usage),
        JSON.stringify(result.verification), JSON.stringify(result.warnings), artifactId)
      .run();
  } catch (e) {
    await db.prepare("UPDATE guru_artifact SET status = 'FAILED', error = ?, updated_at = datetime('now') WHERE id = ?")
      .bind(JSON.stringify({ code: e?.code ?? "INTERNAL", message: e?.message ?? String(e) }), artifactId)
      .run();
  }
}

async function startSeries(request, env, ctx) {
  const body = await request.json();
  const { seed: given, ...drillRequest } = body ?? {};
  const plan = planPositions(drillRequest, await loadPositions(env.DB)); // coded 400 on a bad request
  const id = crypto.randomUUID();
  const seed = Number.isSafeInteger(given) ? given : Math.floor(Math.random() * 2 ** 53);
  await env.DB.prepare("INSERT INTO guru_artifact (id, status, request, seed, batch_progress) VALUES (?, 'GENERATING', ?, ?, ?)")
    .bind(id, JSON.stringify(drillRequest), seed, JSON.stringify({ completed: 0, total: plan.batches, failed: [] }))
    .run();
  ctx.waitUntil(generate(env, id, drillRequest, seed));
  return json({ id, plan }, 202);
}

async function readSeries(env, id) {
  const row = await env.DB.prepare("SELECT * FROM guru_artifact WHERE id = ?").bind(id).first();
  if (!row) return json({ error: { code: "NOT_FOUND", message: `no series ${id}` } }, 404);
  const drills = await storage(env.DB, id).load();
  const parse = (v) => (v == null ? null : JSON.parse(v));
  return json({
    id: row.id, status: row.status, request: parse(row.request), seed: row.seed,
    batchProgress: parse(row.batch_progress), usage: parse(row.usage), verification: parse(row.verification),
    warnings: parse(row.warnings), error: parse(row.error), drills,
  });
}

async function resumeSeries(env, ctx, id) {
  const row = await env.DB.prepare("SELECT request, seed FROM guru_artifact WHERE id = ?").bind(id).first();
  if (!row) return json({ error: { code: "NOT_FOUND", message: `no series ${id}` } }, 404);
  await env.DB.prepare("UPDATE guru_artifact SET status = 'GENERATING', error = NULL WHERE id = ?").bind(id).run();
  ctx.waitUntil(generate(env, id, JSON.parse(row.request), row.seed));
  return json({ id }, 202);
}

export default {
  async fetch(request, env, ctx) {
    try {
      await ensureSchema(env.DB);
      const { pathname } = new URL(request.url);
      if (request.method === "POST" && pathname === "/positions") {
        const positions = await request.json();
        planPositions({}, positions); // validates the pool (coded errors)
        await env.DB.batch(positions.map((p) =>
          env.DB.prepare("INSERT OR REPLACE INTO position (position_id, game_phase, data) VALUES (?, ?, ?)")
            .bind(p.positionId, p.gamePhase, JSON.stringify(p))));
        return json({ imported: positions.length });
      }
      if (request.method === "POST" && pathname === "/series") return await startSeries(request, env, ctx);
      const match = pathname.match(/^\/series\/([\w-]+)(\/resume)?$/);
      if (match && request.method === "GET" && !match[2]) return await readSeries(env, match[1]);
      if (match && request.method === "POST" && match[2]) return await resumeSeries(env, ctx, match[1]);
      return json({ error: { code: "NOT_FOUND", message: `${request.method} ${pathname}` } }, 404);
    } catch (e) {
      return errorResponse(e);
    }
  },
};

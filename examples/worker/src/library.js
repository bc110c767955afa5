// Each tenant's library: the teacher's context and the positions series sample from. Imports are
// insert-only: a position whose content changed gets a new version row (the old one kept, no
// longer current); a series never reads this table after its start (it keeps a snapshot), so no
// import or delete can change a series that already started.
import { checkContext, checkPositions } from "drillgen";
import { rateLimit } from "./auth.js";
import { HostError } from "./config.js";
import { json, limitParam, readJson } from "./http.js";

/** D1 binds at most 100 parameters per query (developers.cloudflare.com/d1/platform/limits/). */
const IDS_PER_QUERY = 90;

/** JSON with object keys sorted: identical content gives identical text, whatever the key order sent. */
export function canonical(value) {
  if (Array.isArray(value)) return `[${value.map(canonical).join(",")}]`;
  if (value !== null && typeof value === "object") {
    return `{${Object.keys(value)
      .sort()
      .filter((k) => value[k] !== undefined)
      .map((k) => `${JSON.stringify(k)}:${canonical(value[k])}`)
      .join(",")}}`;
  }
  return JSON.stringify(value);
}

export async function loadLibrary(db, tenant) {
  const { results } = await db
    .prepare("SELECT data FROM library_position WHERE tenant = ? AND current = 1 ORDER BY position_id")
    .bind(tenant)
    .all();
  return results.map((r) => JSON.parse(r.data));
}

export async function loadContext(db, tenant) {
  const row = await db.prepare("SELECT value FROM tenant_setting WHERE tenant = ? AND key = 'context'").bind(tenant).first();
  return row ? JSON.parse(row.value) : null;
}

export async function putContext(request, env, cfg, tenant) {
  const context = await readJson(request, cfg.maxBodyBytes);
  checkContext(context); // INVALID_CONTEXT: what a run would refuse
  await env.DB.prepare(
    `INSERT INTO tenant_setting (tenant, key, value) VALUES (?, 'context', ?) ON CONFLICT (tenant, key)
     DO UPDATE SET value = excluded.value, updated_at = datetime('now')`,
  )
    .bind(tenant, JSON.stringify(context))
    .run();
  return json({ stored: true });
}

/** The live version and content of each of `ids` this tenant holds. */
async function currentRows(db, tenant, ids) {
  const found = new Map();
  for (let k = 0; k < ids.length; k += IDS_PER_QUERY) {
    const chunk = ids.slice(k, k + IDS_PER_QUERY);
    const { results } = await db
      .prepare(
        `SELECT position_id, version, data FROM library_position WHERE tenant = ?1 AND current = 1
         AND position_id IN (${chunk.map((_, i) => `?${i + 2}`).join(",")})`,
      )
      .bind(tenant, ...chunk)
      .all();
    for (const r of results) found.set(r.position_id, r);
  }
  return found;
}

export async function importPositions(request, env, cfg, tenant) {
  await rateLimit(env, cfg, tenant, "import");
  const positions = await readJson(request, cfg.maxBodyBytes);
  if (Array.isArray(positions) && positions.length > cfg.maxImportPositions) {
    throw new HostError(413, "TOO_MANY_POSITIONS", `at most ${cfg.maxImportPositions} positions per import (MAX_IMPORT_POSITIONS)`);
  }
  checkPositions(positions); // INVALID_POSITIONS, DUPLICATE_POSITION_ID: what a run would refuse
  const db = env.DB;
  const existing = await currentRows(
    db,
    tenant,
    positions.map((p) => p.positionId),
  );
  const inserted = [];
  const versioned = [];
  let unchanged = 0;
  for (const p of positions) {
    const data = canonical(p);
    const row = existing.get(p.positionId);
    if (!row) inserted.push({ p, data });
    else if (row.data !== data) versioned.push({ p, data });
    else unchanged++;
  }
  await checkCapacity(db, tenant, cfg, inserted.length);
  const statements = [
    ...inserted.map(({ p, data }) => insertVersion(db, tenant, p, data)),
    ...versioned.flatMap(({ p, data }) => [
      db.prepare("UPDATE library_position SET current = 0 WHERE tenant = ? AND position_id = ? AND current = 1").bind(tenant, p.positionId),
      insertVersion(db, tenant, p, data),
    ]),
  ];
  // Chunks of 100 statements; each is a transaction. A failed chunk leaves the earlier ones
  // stored: importing the same file again stores the rest (what is stored is `unchanged`).
  for (let k = 0; k < statements.length; k += 100) await db.batch(statements.slice(k, k + 100));
  return json({ inserted: inserted.length, versioned: versioned.length, unchanged });
}

function insertVersion(db, tenant, p, data) {
  return db
    .prepare(
      `INSERT INTO library_position (tenant, position_id, version, current, game_phase, data)
       VALUES (?1, ?2, (SELECT coalesce(max(version), 0) + 1 FROM library_position WHERE tenant = ?1 AND position_id = ?2), 1, ?3, ?4)`,
    )
    .bind(tenant, p.positionId, p.gamePhase, data);
}

/** 413 LIBRARY_FULL when `adding` new positions would take the tenant past LIBRARY_MAX_POSITIONS. */
async function checkCapacity(db, tenant, cfg, adding) {
  if (adding === 0) return;
  const { n } = await db.prepare("SELECT count(*) AS n FROM library_position WHERE tenant = ? AND current = 1").bind(tenant).first();
  if (n + adding > cfg.libraryMaxPositions) {
    throw new HostError(
      413,
      "LIBRARY_FULL",
      `this import adds ${adding} positions to the ${n} stored; the library holds at most ${cfg.libraryMaxPositions} ` +
        "(LIBRARY_MAX_POSITIONS): nothing was imported; delete positions (DELETE /positions/:id) or import fewer",
    );
  }
}

/** Removes a position and its replaced versions from the library (started series keep their snapshot). */
export async function deletePosition(env, tenant, positionId) {
  const { meta } = await env.DB.prepare("DELETE FROM library_position WHERE tenant = ? AND position_id = ?").bind(tenant, positionId).run();
  if (meta.changes === 0) throw new HostError(404, "POSITION_NOT_FOUND", `no position ${positionId} in this library`);
  return json({ deleted: positionId });
}

const PHASES = ["OPENING", "EARLY", "MIDDLE", "BEAROFF"]; // drillgen's GamePhase

/** `GET /positions?phase=&limit=&after=`: counts per phase, and a page of live positions by id. */
export async function listPositions(env, tenant, url) {
  const phase = url.searchParams.get("phase");
  if (phase !== null && !PHASES.includes(phase)) throw new HostError(400, "INVALID_QUERY", `phase must be one of ${PHASES.join(", ")}`);
  const limit = limitParam(url, 100, 1000);
  const after = url.searchParams.get("after") ?? "";
  const db = env.DB;
  const [counts, page] = await db.batch([
    db.prepare("SELECT game_phase, count(*) AS n FROM library_position WHERE tenant = ? AND current = 1 GROUP BY game_phase").bind(tenant),
    db
      .prepare(
        `SELECT position_id, game_phase, version, created_at, data FROM library_position
         WHERE tenant = ?1 AND current = 1 AND (?2 IS NULL OR game_phase = ?2) AND position_id > ?3
         ORDER BY position_id LIMIT ?4`,
      )
      .bind(tenant, phase, after, limit + 1),
  ]);
  const byPhase = Object.fromEntries(PHASES.map((p) => [p, 0]));
  for (const r of counts.results) byPhase[r.game_phase] = r.n;
  const rows = page.results.slice(0, limit);
  return json({
    total: Object.values(byPhase).reduce((a, b) => a + b, 0),
    byPhase,
    positions: rows.map((r) => ({ version: r.version, storedAt: r.created_at, position: JSON.parse(r.data) })),
    next: page.results.length > limit ? rows.at(-1).position_id : null,
  });
}

// D1 access of the host. Every write a Workflow step makes is fenced by the artifact's lease: it
// only lands while `guru_artifact.instance_id` names the writing instance, so a run that lost the
// lease (a resume took over) can never write into the artifact again.

/** `?1` = artifact id, `?2` = the writing Workflow instance. */
export const LEASE = "EXISTS (SELECT 1 FROM guru_artifact WHERE id = ?1 AND instance_id = ?2)";

export const parse = (v) => (v == null ? null : JSON.parse(v));

export async function loadDrills(db, artifactId) {
  const { results } = await db
    .prepare("SELECT content FROM drill WHERE artifact_id = ? AND batch_status = 'COMPLETED' ORDER BY idx")
    .bind(artifactId)
    .all();
  return results.map((r) => JSON.parse(r.content));
}

/** Idempotent by `drillId`: a replayed batch overwrites its own rows, never adds new ones. */
export function upsertDrill(db, artifactId, instanceId, d) {
  return db
    .prepare(
      `INSERT INTO drill (drill_id, artifact_id, idx, batch_index, batch_status, position_id, game_phase, content)
     SELECT ?3, ?1, ?4, ?5, ?6, ?7, ?8, ?9 WHERE ${LEASE}
     ON CONFLICT (drill_id) DO UPDATE SET batch_index = excluded.batch_index, batch_status = excluded.batch_status,
       position_id = excluded.position_id, game_phase = excluded.game_phase, content = excluded.content`,
    )
    .bind(artifactId, instanceId, d.drillId, d.index, d.batchIndex, d.batchStatus, d.positionId, d.gamePhase, JSON.stringify(d));
}

/** Recomputes the artifact's batchProgress from the batch rows in one statement (no lost updates). */
export function updateProgress(db, artifactId, instanceId) {
  return db
    .prepare(
      `UPDATE guru_artifact SET batch_progress = json_object(
       'completed', (SELECT count(*) FROM batch_run WHERE artifact_id = ?1 AND status = 'COMPLETED'),
       'total', json_extract(batch_progress, '$.total'),
       'failed', json((SELECT json_group_array(batch_index) FROM
         (SELECT batch_index FROM batch_run WHERE artifact_id = ?1 AND status IN ('FAILED', 'PARTIAL') ORDER BY batch_index)))),
       updated_at = datetime('now')
     WHERE id = ?1 AND instance_id = ?2`,
    )
    .bind(artifactId, instanceId);
}

export function setBatch(db, artifactId, instanceId, batchIndex, fields) {
  const names = Object.keys(fields);
  const sets = names.map((n, k) => (n === "llm_calls_add" ? `llm_calls = llm_calls + ?${k + 4}` : `${n} = ?${k + 4}`));
  return db
    .prepare(
      `UPDATE batch_run SET ${sets.join(", ")}, updated_at = datetime('now')
     WHERE artifact_id = ?1 AND batch_index = ?3 AND ${LEASE}`,
    )
    .bind(artifactId, instanceId, batchIndex, ...names.map((n) => fields[n]));
}

export async function markFailed(db, artifactId, instanceId, error) {
  await db
    .prepare(
      `UPDATE guru_artifact SET status = 'FAILED', error = ?3, updated_at = datetime('now')
     WHERE id = ?1 AND instance_id = ?2`,
    )
    .bind(artifactId, instanceId, JSON.stringify(error))
    .run();
}

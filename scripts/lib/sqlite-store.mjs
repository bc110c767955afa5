// The host's storage for the main job: the spec's Drill and GuruArtifact tables in a SQLite file.
// drillgen hands each finished batch to `persist`; `load` is what the series is rebuilt from.
import Database from "better-sqlite3";

export function openStore(path) {
  const db = new Database(path);
  db.pragma("journal_mode = WAL");
  db.exec(`
    CREATE TABLE IF NOT EXISTS guru_artifact (
      id TEXT PRIMARY KEY,
      status TEXT NOT NULL,
      target_drill_count INTEGER NOT NULL,
      seed INTEGER,
      batch_progress TEXT,            -- JSON { completed, total, failed: [] }
      usage TEXT,                     -- JSON { inputTokens, cachedInputTokens, outputTokens }
      verification TEXT,              -- JSON report of verifyArtifact on the rebuilt series
      updated_at TEXT NOT NULL
    );
    CREATE TABLE IF NOT EXISTS drill (
      drill_id TEXT PRIMARY KEY,      -- artifactId:index, so a retried write cannot duplicate
      artifact_id TEXT NOT NULL REFERENCES guru_artifact(id),
      idx INTEGER NOT NULL,
      batch_index INTEGER NOT NULL,
      batch_status TEXT NOT NULL,     -- PENDING | GENERATING | COMPLETED | FAILED
      position_id TEXT NOT NULL,
      game_phase TEXT NOT NULL,
      content TEXT NOT NULL,          -- the drill as JSON
      UNIQUE (artifact_id, idx)
    );`);

  const upsertDrill = db.prepare(`
    INSERT INTO drill (drill_id, artifact_id, idx, batch_index, batch_status, position_id, game_phase, content)
    VALUES (@drillId, @artifactId, @index, @batchIndex, @batchStatus, @positionId, @gamePhase, @content)
    ON CONFLICT (drill_id) DO UPDATE SET batch_index = excluded.batch_index, batch_status = excluded.batch_status,
      position_id = excluded.position_id, game_phase = excluded.game_phase, content = excluded.content`);
  const upsertArtifact = db.prepare(`
    INSERT INTO guru_artifact (id, status, target_drill_count, seed, batch_progress, updated_at)
    VALUES (@id, @status, @target, @seed, @progress, datetime('now'))
    ON CONFLICT (id) DO UPDATE SET status = excluded.status, batch_progress = COALESCE(excluded.batch_progress, batch_progress),
      seed = COALESCE(excluded.seed, seed), updated_at = excluded.updated_at`);
  const setProgress = db.prepare(`UPDATE guru_artifact SET batch_progress = ?, updated_at = datetime('now') WHERE id = ?`);
  const finish = db.prepare(`UPDATE guru_artifact SET status = ?, batch_progress = ?, usage = ?, verification = ?, seed = ?,
    updated_at = datetime('now') WHERE id = ?`);
  const selectDrills = db.prepare(`SELECT content FROM drill WHERE artifact_id = ? AND batch_status = 'COMPLETED' ORDER BY idx`);

  return {
    path,
    begin(id, target, seed) {
      upsertArtifact.run({ id, status: "GENERATING", target, seed: seed ?? null, progress: null });
    },
    /** One transaction per batch: its drills and the artifact's batchProgress land together. */
    persist: (artifactId) =>
      db.transaction((drills, info) => {
        for (const d of drills) upsertDrill.run({ ...d, artifactId, content: JSON.stringify(d) });
        setProgress.run(JSON.stringify(info.batchProgress), artifactId);
      }),
    /** Drills `persist` did not accept, written after the run; the same upsert, so a re-write is harmless. */
    putDrills: db.transaction((artifactId, drills) => {
      for (const d of drills) upsertDrill.run({ ...d, artifactId, content: JSON.stringify(d) });
    }),
    load: (artifactId) => () => selectDrills.all(artifactId).map((row) => JSON.parse(row.content)),
    finish(result) {
      finish.run(
        result.status,
        JSON.stringify(result.batchProgress),
        JSON.stringify(result.usage),
        JSON.stringify(result.verification),
        result.seed,
        result.artifactId,
      );
    },
    artifact: (id) => db.prepare("SELECT * FROM guru_artifact WHERE id = ?").get(id),
    counts: (id) =>
      db.prepare(`SELECT batch_status AS status, COUNT(*) AS n FROM drill WHERE artifact_id = ? GROUP BY batch_status`).all(id),
    close: () => db.close(),
  };
}

// D1 tables: the spec's Drill (with batchIndex, batchStatus) and GuruArtifact (with batchProgress),
// plus the host's position library.
export const SCHEMA = [
  `CREATE TABLE IF NOT EXISTS position (
     position_id TEXT PRIMARY KEY,
     game_phase TEXT NOT NULL,
     data TEXT NOT NULL)`,
  `CREATE TABLE IF NOT EXISTS guru_artifact (
     id TEXT PRIMARY KEY,
     status TEXT NOT NULL,              -- GENERATING | COMPLETED | FAILED | CANCELLED
     request TEXT NOT NULL,             -- JSON DrillRequest
     seed INTEGER NOT NULL,             -- replays the sample on resume
     batch_progress TEXT,               -- JSON { completed, total, failed: [] }
     usage TEXT,
     verification TEXT,
     warnings TEXT,
     error TEXT,                        -- JSON { code, message } when the run was refused
     updated_at TEXT NOT NULL DEFAULT (datetime('now')))`,
  `CREATE TABLE IF NOT EXISTS drill (
     drill_id TEXT PRIMARY KEY,         -- artifactId:index
     artifact_id TEXT NOT NULL,
     idx INTEGER NOT NULL,
     batch_index INTEGER NOT NULL,
     batch_status TEXT NOT NULL,
     position_id TEXT NOT NULL,
     game_phase TEXT NOT NULL,
     content TEXT NOT NULL,
     UNIQUE (artifact_id, idx))`,
];

-- drillgen Worker host: the spec's GuruArtifact (with batchProgress) and Drill (with batchIndex,
-- batchStatus), the host's position library and teacher context, and one row per batch of a run.
-- Applied by `wrangler d1 migrations apply drillgen` (and by the tests, the same way).

CREATE TABLE position (
  position_id TEXT PRIMARY KEY,
  game_phase  TEXT NOT NULL,
  data        TEXT NOT NULL                -- JSON Position, verbatim as imported
);

-- Host settings; key 'context' holds the teacher's PromptContext (PUT /context).
CREATE TABLE setting (
  key        TEXT PRIMARY KEY,
  value      TEXT NOT NULL,
  updated_at TEXT NOT NULL DEFAULT (datetime('now'))
);

CREATE TABLE guru_artifact (
  id             TEXT PRIMARY KEY,
  status         TEXT NOT NULL,            -- GENERATING | COMPLETED | FAILED
  request        TEXT NOT NULL,            -- JSON DrillRequest
  seed           INTEGER NOT NULL,         -- replays the sample on resume
  context        TEXT NOT NULL,            -- JSON PromptContext, snapshot taken when the series started
  instance_id    TEXT NOT NULL,            -- the Workflow instance holding the lease: only it may write
  run            INTEGER NOT NULL DEFAULT 1,
  plan           TEXT,                     -- JSON Plan
  batches        TEXT,                     -- JSON BatchSpec[], written once by the first plan step
  budget         TEXT,                     -- JSON: retries per layer and the worst-case LLM calls
  batch_progress TEXT,                     -- JSON { completed, total, failed: [] }
  usage          TEXT,
  verification   TEXT,
  warnings       TEXT,
  error          TEXT,                     -- JSON { code, message } when the run failed or was refused
  created_at     TEXT NOT NULL DEFAULT (datetime('now')),
  updated_at     TEXT NOT NULL DEFAULT (datetime('now'))
);

CREATE TABLE drill (
  drill_id     TEXT PRIMARY KEY,           -- artifactId:index, the idempotency key
  artifact_id  TEXT NOT NULL,
  idx          INTEGER NOT NULL,
  batch_index  INTEGER NOT NULL,
  batch_status TEXT NOT NULL,
  position_id  TEXT NOT NULL,
  game_phase   TEXT NOT NULL,
  content      TEXT NOT NULL,              -- JSON Drill
  UNIQUE (artifact_id, idx)
);

-- One row per batch of the current run: what the polling client and the merge step read.
CREATE TABLE batch_run (
  artifact_id   TEXT NOT NULL,
  batch_index   INTEGER NOT NULL,
  status        TEXT NOT NULL,             -- PENDING | GENERATING | COMPLETED | PARTIAL (some drills stored) | FAILED
  llm_calls     INTEGER NOT NULL DEFAULT 0,  -- LLM calls this run made for the batch, all step attempts
  step_attempts INTEGER NOT NULL DEFAULT 0,  -- Workflow step attempts (more than 1 after a crash)
  error         TEXT,                      -- JSON ErrorInfo of a FAILED batch
  usage         TEXT,
  updated_at    TEXT NOT NULL DEFAULT (datetime('now')),
  PRIMARY KEY (artifact_id, batch_index)
);

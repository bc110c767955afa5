-- Tenants (issue 17): every row a tenant owns carries its name; what 0001 stored belongs to tenant
-- 'default' (the tenant of a plain API_TOKEN without a `tenant:` prefix).

-- The position library, per tenant and versioned: an import never rewrites a row. A changed
-- position gets a new version row (the old one kept with current = 0); series never read this
-- table after their start (they snapshot their positions), so nothing here changes a started series.
CREATE TABLE library_position (
  tenant      TEXT NOT NULL,
  position_id TEXT NOT NULL,
  version     INTEGER NOT NULL,
  current     INTEGER NOT NULL DEFAULT 1,  -- 1: the live version; 0: replaced
  game_phase  TEXT NOT NULL,
  data        TEXT NOT NULL,               -- JSON Position, keys sorted (identical content = identical text)
  created_at  TEXT NOT NULL DEFAULT (datetime('now')),
  PRIMARY KEY (tenant, position_id, version)
);
-- At most one live version of a position per tenant.
CREATE UNIQUE INDEX library_position_current ON library_position (tenant, position_id) WHERE current = 1;
CREATE INDEX library_position_phase ON library_position (tenant, current, game_phase);
INSERT INTO library_position (tenant, position_id, version, current, game_phase, data)
  SELECT 'default', position_id, 1, 1, game_phase, data FROM position;
DROP TABLE position;

-- Settings per tenant; key 'context' holds the teacher's PromptContext (PUT /context).
CREATE TABLE tenant_setting (
  tenant     TEXT NOT NULL,
  key        TEXT NOT NULL,
  value      TEXT NOT NULL,
  updated_at TEXT NOT NULL DEFAULT (datetime('now')),
  PRIMARY KEY (tenant, key)
);
INSERT INTO tenant_setting (tenant, key, value, updated_at) SELECT 'default', key, value, updated_at FROM setting;
DROP TABLE setting;

-- Series are owned: every read and resume is `WHERE id = ? AND tenant = ?`.
ALTER TABLE guru_artifact ADD COLUMN tenant TEXT NOT NULL DEFAULT 'default';
CREATE INDEX guru_artifact_tenant ON guru_artifact (tenant, status);

-- Idempotency-Key of POST /series and resume: the first answer, replayed for 24 h. `response` is
-- NULL while the first request is still being answered.
CREATE TABLE idempotency (
  tenant      TEXT NOT NULL,
  key         TEXT NOT NULL,
  fingerprint TEXT NOT NULL,               -- SHA-256 of method, path and body
  series_id   TEXT,                        -- the series the first request created or resumed
  status      INTEGER,
  response    TEXT,
  created_at  TEXT NOT NULL DEFAULT (datetime('now')),
  PRIMARY KEY (tenant, key)
);

-- LLM calls and tokens per tenant per UTC day, counted after each batch step (spend caps).
CREATE TABLE spend (
  tenant    TEXT NOT NULL,
  day       TEXT NOT NULL,                 -- UTC, YYYY-MM-DD
  llm_calls INTEGER NOT NULL DEFAULT 0,
  tokens    INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (tenant, day)
);

-- Drills a batch step generated but could not store (D1 refused them) and too large to travel in
-- the step's result (1 MiB): the follow-up store step reads them from here.
CREATE TABLE drill_staging (
  artifact_id TEXT NOT NULL,
  batch_index INTEGER NOT NULL,
  instance_id TEXT NOT NULL,
  outcome     TEXT NOT NULL,               -- JSON { drills, calls, usage, missingIndices }
  created_at  TEXT NOT NULL DEFAULT (datetime('now')),
  PRIMARY KEY (artifact_id, batch_index)
);

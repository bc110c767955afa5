// The main job as a user runs it, in a child process: when `persist` keeps failing for a batch,
// drillgen hands that batch's drills back in `unpersistedDrills` and the job stores them after the
// run, so the SQLite file ends with every drill generated (stored + handed back = generated).

import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import Database from "better-sqlite3";

const main = fileURLToPath(new URL("../../scripts/main.mjs", import.meta.url));

/** Runs the job on the embedded simulator (never a real provider, whatever the environment says). */
async function runJob(args) {
  const { DRILLGEN_BASE_URL, ...env } = process.env;
  return promisify(execFile)(process.execPath, [main, ...args], { env, timeout: 20_000 });
}

test("--fail-persist 1: the drills persist refused are in SQLite after the run, and the output says so", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "drillgen-main-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const db = join(dir, "job.sqlite");
  const { stdout } = await runJob(["--target", "10", "--phases", "EARLY", "--fail-persist", "1", "--db", db, "--artifact", "kept"]);

  assert.match(stdout, /batch {2}1 {2}FAILED .*PERSIST_FAILED/, "persist really failed for batch 1");
  assert.match(stdout, /stored after the run: 5 drills persist had not accepted \(batch 1 now complete\)/);
  assert.match(stdout, /Series kept: COMPLETED, 10\/10 drills/);

  const sqlite = new Database(db, { readonly: true });
  t.after(() => sqlite.close());
  const rows = sqlite.prepare("SELECT idx, batch_status, content FROM drill WHERE artifact_id = ? ORDER BY idx").all("kept");
  assert.deepEqual(
    rows.map((r) => r.idx),
    [...Array(10).keys()],
    "every drill is stored, none twice",
  );
  assert.ok(rows.every((r) => r.batch_status === "COMPLETED" && JSON.parse(r.content).drillId === `kept:${r.idx}`));
  const artifact = sqlite.prepare("SELECT status, batch_progress FROM guru_artifact WHERE id = ?").get("kept");
  assert.equal(artifact.status, "COMPLETED");
  assert.deepEqual(JSON.parse(artifact.batch_progress), { completed: 2, total: 2, failed: [] });
});

// The main job as a user runs it, in a child process: when `persist` keeps failing for a batch,
// drillgen hands that batch's drills back in `unpersistedDrills` and the job stores them after the
// run, so the SQLite file ends with every drill generated (stored + handed back = generated). A
// failed batch and a Ctrl-C both leave a series that `--resume` completes.

import assert from "node:assert/strict";
import { execFile, spawn } from "node:child_process";
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

/** A SQLite path in a directory removed after test `t`. */
function tempDb(t) {
  const dir = mkdtempSync(join(tmpdir(), "drillgen-main-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return join(dir, "job.sqlite");
}

test("--fail-persist 1: the drills persist refused are in SQLite after the run, and the output says so", async (t) => {
  const db = tempDb(t);
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

test("--fail-batch 2 leaves a partial series that --resume completes, generating only batch 2", async (t) => {
  const db = tempDb(t);
  const first = await runJob(["--target", "10", "--phases", "EARLY", "--fail-batch", "2", "--db", db, "--artifact", "part"]);
  assert.match(first.stdout, /batch {2}2 {2}FAILED .*HTTP_ERROR/);
  assert.match(first.stdout, /Missing indices \[5,6,7,8,9\]: run again with --artifact part --resume/);
  const resumed = await runJob(["--target", "10", "--phases", "EARLY", "--db", db, "--artifact", "part", "--resume"]);
  assert.match(resumed.stdout, /batch {2}1 {2}SKIPPED {3}attempts 0/, "the stored batch is not generated again");
  assert.match(resumed.stdout, /batch {2}2 {2}COMPLETED attempts 1/);
  assert.match(resumed.stdout, /Series part: COMPLETED, 10\/10 drills/);
  const sqlite = new Database(db, { readonly: true });
  t.after(() => sqlite.close());
  const idx = sqlite.prepare("SELECT idx FROM drill WHERE artifact_id = ? ORDER BY idx").all("part");
  assert.deepEqual(
    idx.map((r) => r.idx),
    [...Array(10).keys()],
  );
});

test("Ctrl-C cancels the run: CANCELLED in the output and in SQLite, and --resume completes it", async (t) => {
  const db = tempDb(t);
  const { DRILLGEN_BASE_URL, ...env } = process.env;
  const child = spawn(process.execPath, [main, "--target", "25", "--db", db, "--artifact", "stop"], { env });
  let stdout = "";
  let progress = "";
  child.stdout.on("data", (chunk) => {
    stdout += chunk;
  });
  const exited = new Promise((resolve) => child.on("exit", resolve));
  // The progress bar (on stderr) shows the first batch under way: stop the run there.
  await new Promise((resolve) => {
    child.stderr.on("data", (chunk) => {
      progress += chunk;
      if (progress.includes("Generating batch")) resolve();
    });
  });
  child.kill("SIGINT");
  assert.equal(await exited, 0);
  assert.match(stdout, /Series stop: CANCELLED/);
  const sqlite = new Database(db, { readonly: true });
  t.after(() => sqlite.close());
  assert.equal(sqlite.prepare("SELECT status FROM guru_artifact WHERE id = ?").get("stop").status, "CANCELLED");
  const resumed = await runJob(["--target", "25", "--db", db, "--artifact", "stop", "--resume"]);
  assert.match(resumed.stdout, /Series stop: COMPLETED, 25\/25 drills/);
});

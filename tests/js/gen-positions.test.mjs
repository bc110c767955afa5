// tools/gen-positions.mjs is deterministic (seeded streams, no clock): run it into a temp dir and
// require the committed data/positions.json byte for byte, so a refactor of the generator or an edit
// of its tables (data/gen/) cannot change the library silently.

import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

const script = fileURLToPath(new URL("../../tools/gen-positions.mjs", import.meta.url));
const committed = readFileSync(new URL("../../data/positions.json", import.meta.url));
let dir;
let generated;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), "gen-positions-"));
  const out = join(dir, "positions.json");
  await promisify(execFile)(process.execPath, [script, out]);
  generated = readFileSync(out);
});
after(() => rmSync(dir, { recursive: true, force: true }));

test("the generator reproduces data/positions.json byte for byte", () => {
  if (generated.equals(committed)) return;
  // name the first position that differs rather than dumping two 140 kB strings
  const fresh = JSON.parse(generated);
  const old = JSON.parse(committed);
  const i = fresh.findIndex((p, k) => JSON.stringify(p) !== JSON.stringify(old[k]));
  assert.fail(
    `output differs (${fresh.length} vs ${old.length} positions), first at ${fresh[i]?.positionId ?? old[i]?.positionId ?? `index ${i}`}`,
  );
});

test("every phase is complete and every position is a usable answer key", () => {
  const positions = JSON.parse(generated);
  const counts = {};
  for (const p of positions) counts[p.gamePhase] = (counts[p.gamePhase] ?? 0) + 1;
  assert.deepEqual(counts, { OPENING: 21, EARLY: 36, MIDDLE: 36, BEAROFF: 36 });
  // the same play written in another order must not count as a different answer
  const play = (move) => move.split(" ").sort().join(" ");
  for (const p of positions) {
    assert.match(p.xgid, /^XGID=[-a-oA-O]{26}:0:0:1:[1-6]{2}:0:0:0:0:10$/, p.positionId);
    assert.ok(p.alternatives.length >= 2 && p.alternatives.length <= 4, p.positionId);
    const plays = [p.bestMove, ...p.alternatives.map((a) => a.move)].map(play);
    assert.equal(new Set(plays).size, plays.length, `${p.positionId}: a play is listed twice`);
    const equities = [p.bestMoveEquity, ...p.alternatives.map((a) => a.equity)];
    for (const [k, e] of equities.slice(1).entries()) assert.ok(e < equities[k], `${p.positionId}: equities not strictly falling`);
  }
});

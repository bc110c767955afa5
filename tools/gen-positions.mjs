#!/usr/bin/env node
/**
 * gen-positions.mjs - writes data/positions.json, the sample position library
 * that ships with drillgen.
 *
 *   node tools/gen-positions.mjs [output-path]
 *
 * The output path defaults to data/positions.json (the test writes elsewhere).
 *
 * Node 20+, no dependencies. Every random choice comes from seeded mulberry32
 * streams (no Math.random, no clock), so two runs give byte-identical files;
 * tests/js/gen-positions.test.mjs holds the committed library to that.
 *
 * How the library is made:
 * - OPENING: the 21 first rolls from the real starting position, with the
 *   standard plays and hand-written notes (data/gen/opening-book.json).
 * - EARLY / MIDDLE / BEAROFF: positions are snapshots of short self-play games
 *   driven by a small hand-written evaluator. The same evaluator ranks every
 *   legal play for the assigned dice: the top play is the "best move", the
 *   runners-up are the alternatives. The analysis is assembled from what the
 *   plays really do (points made, hits, shots left, checkers off, ...), so the
 *   prose, the XGID and the pip counts agree with each other.
 * The evaluator is a heuristic, not a neural net: equities are plausible,
 * not rollout-accurate.
 * - Size: each analysis is fitted so that the whole position, formatted the way
 *   prompts show it, comes to about TOKENS_GOAL (280) o200k tokens, which is
 *   roughly 90-125 words of prose. The prose draws on the same random streams
 *   as the position sampling, so a writer change that alters how many numbers
 *   it draws (or rejects a text) reshuffles every later position of its phase.
 *
 * The code is in tools/positions/: board and evaluate (rules, moves,
 * evaluator), facts (what positions and plays do), opening and phases (the
 * four phases), fit, words, reasons, critique and analysis (the prose), and
 * validate. The phrasings it draws from are in data/gen/phrases.json.
 *
 * The script validates its own output (counts, ids, word counts, equity gaps,
 * unique texts) and throws instead of writing a library that breaks them.
 * GEN_TIMING=1 prints how long each phase took.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { generateOpening } from "./positions/opening.mjs";
import { generateBearoff, generateEarly, generateMiddle } from "./positions/phases.mjs";
import { validate } from "./positions/validate.mjs";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const OUT_FILE = process.argv[2] ? resolve(process.argv[2]) : resolve(ROOT, "data", "positions.json");

const timed = (name, fn) => {
  const t0 = Date.now();
  const out = fn();
  if (process.env.GEN_TIMING) console.error(`${name}: ${Date.now() - t0} ms`);
  return out;
};
const positions = [
  ...timed("opening", generateOpening),
  ...timed("early", generateEarly),
  ...timed("middle", generateMiddle),
  ...timed("bearoff", generateBearoff),
];
validate(positions);
mkdirSync(dirname(OUT_FILE), { recursive: true });
writeFileSync(OUT_FILE, `${JSON.stringify(positions, null, 2)}\n`);
console.log(`wrote ${positions.length} positions to ${OUT_FILE}`);

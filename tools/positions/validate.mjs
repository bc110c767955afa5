// The contract of the library, checked before anything is written.
import { PER_PHASE, WORDS_MAX, WORDS_MIN } from "./config.mjs";
import { round3, wordCount } from "./text.mjs";

/** Fails loudly rather than shipping a library that breaks the documented contract. */
export function validate(positions) {
  const ids = new Set();
  const texts = new Set();
  const counts = {};
  for (const p of positions) {
    const where = p.positionId;
    if (ids.has(p.positionId)) throw new Error(`duplicate id ${where}`);
    ids.add(p.positionId);
    counts[p.gamePhase] = (counts[p.gamePhase] ?? 0) + 1;
    if (!/^[1-6]-[1-6]$/.test(p.diceRoll) || p.diceRoll[0] < p.diceRoll[2]) throw new Error(`${where}: dice ${p.diceRoll}`);
    if (!/^XGID=[-a-oA-O]{26}:0:0:1:[1-6]{2}:0:0:0:0:10$/.test(p.xgid)) throw new Error(`${where}: xgid ${p.xgid}`);
    if (p.alternatives.length < 2 || p.alternatives.length > 4) throw new Error(`${where}: alternatives`);
    for (const a of p.alternatives) {
      const gap = round3(p.bestMoveEquity - a.equity);
      if (!(a.equity < p.bestMoveEquity) || gap < 0.005 || gap > 0.25) throw new Error(`${where}: alternative ${a.move}`);
      if (a.move === p.bestMove) throw new Error(`${where}: alternative repeats best move`);
    }
    const words = wordCount(p.analysis);
    if (words < WORDS_MIN || words > WORDS_MAX) throw new Error(`${where}: ${words} words`);
    if (texts.has(p.analysis)) throw new Error(`${where}: duplicate analysis`);
    texts.add(p.analysis);
  }
  const expected = { OPENING: 21, EARLY: PER_PHASE, MIDDLE: PER_PHASE, BEAROFF: PER_PHASE };
  for (const [phase, n] of Object.entries(expected)) {
    if (counts[phase] !== n) throw new Error(`${phase}: ${counts[phase]} positions, expected ${n}`);
    const rolls = new Set(positions.filter((p) => p.gamePhase === phase).map((p) => p.diceRoll));
    if (rolls.size !== 21) throw new Error(`${phase}: only ${rolls.size} distinct rolls`);
  }
}

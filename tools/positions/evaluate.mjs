// The hand-written evaluator that ranks plays.
//
// Scores are rough equities for the side that just moved (opponent on roll).
// The terms are the ones a coach talks about - race, made points, primes,
// builders, stacks, blot exposure, checkers on the bar - which is what lets the
// analysis text explain the ranking honestly.
import { ALL_ROLLS, borneOff, checkerTotal, hasContact, highestPoint, homePoints, legalMoves, outsideHome, pipCount } from "./board.mjs";

// Value of owning a point, in our coordinates: the 5-, 6-, 4- and bar points
// lead; anchors (18..24) are valued as the opponent's 5-, 4-, bar point etc.
export const POINT_VALUE = [
  0, 0.1, 0.2, 0.35, 0.55, 0.75, 0.7, 0.55, 0.35, 0.2, 0.15, 0.1, 0.08, 0.12, 0.04, 0.04, 0.05, 0.08, 0.2, 0.25, 0.4, 0.35, 0.25, 0.18,
  0.15,
];
const PRIME_BONUS = [0, 0, 0.05, 0.15, 0.35, 0.6, 1.0];

/** Pip count with Keith-style penalties for stacked low points and gaps on the high points. */
export function effectivePips(side) {
  let k = pipCount(side);
  k += 2 * Math.max(0, side[1] - 1) + Math.max(0, side[2] - 1) + Math.max(0, side[3] - 3);
  for (const p of [4, 5, 6]) if (side[p] === 0) k += 1;
  k += 1.5 * outsideHome(side); // a checker still outside delays the whole bearoff
  k *= 8 / 7;
  return Math.max(k, 4.1 * checkerTotal(side)); // a roll clears at most two checkers
}

/** Race equity for us with the opponent on roll; the spread narrows as the race gets shorter. */
export function raceEquity(b) {
  if (checkerTotal(b.me) === 0) return 1.5;
  const ours = effectivePips(b.me);
  const theirs = effectivePips(b.op);
  const scale = 2 + (0.09 * (ours + theirs)) / 2;
  const pOpp = 1 / (1 + Math.exp(-(ours - theirs + 4) / scale));
  return 1 - 2 * pOpp;
}

/** Longest block of consecutive points that still has opposing checkers behind it. */
export function primeInfo(me, op) {
  let best = { length: 0, low: 0, high: 0, trapped: 0 };
  let run = 0;
  for (let p = 1; p <= 25; p++) {
    if (p <= 24 && me[p] >= 2) {
      run++;
      continue;
    }
    if (run > 0) {
      const low = p - run;
      // opposing checkers behind the block: their points above 25 - low, plus their bar
      let trapped = 0;
      for (let j = 26 - low; j <= 25; j++) trapped += op[j];
      if (trapped > 0 && run > best.length) best = { length: run, low, high: p - 1, trapped };
    }
    run = 0;
  }
  return best;
}

function structure(me, op) {
  let s = 0;
  for (let p = 1; p <= 24; p++) {
    if (me[p] >= 2) s += POINT_VALUE[p];
    if (me[p] > 3) s -= 0.05 * (me[p] - 3) + 0.03 * (me[p] - 3) ** 2; // stacks waste checkers
    if (p <= 2 && me[p] > 2) s -= 0.08 * (me[p] - 2); // buried checkers are out of play
  }
  s += PRIME_BONUS[Math.min(6, primeInfo(me, op).length)];
  // builders: spare checkers within direct range of the key open points
  for (const target of [4, 5, 7]) {
    if (me[target] >= 2) continue;
    let spares = 0;
    for (let q = target + 1; q <= target + 6; q++) spares += me[q] === 1 ? 1 : Math.max(0, me[q] - 2);
    s += 0.03 * Math.min(spares, 3);
  }
  s += 0.08 * borneOff(me);
  s -= 0.2 * me[25];
  return s;
}

/** Can an opposing checker at our coordinate `q` reach our blot on `p` with this roll? */
function canHit(b, q, p, d1, d2, onBar) {
  const dist = p - q;
  if (dist <= 0) return false;
  const open = (x) => x < 1 || x > 24 || b.me[x] < 2;
  if (onBar >= 2) return dist === d1 || dist === d2; // both hands busy entering
  if (d1 === d2) {
    for (let k = 1; k <= 4; k++) {
      if (dist !== k * d1) continue;
      let clear = true;
      for (let i = 1; i < k; i++) if (!open(q + i * d1)) clear = false;
      return clear;
    }
    return false;
  }
  if (dist === d1 || dist === d2) return true;
  return dist === d1 + d2 && (open(q + d1) || open(q + d2));
}

/**
 * Shots (out of 36) at our blots on points up to `maxPoint`, and the expected
 * cost of being hit, scaled by the opponent's board. The prose passes 18: a
 * blot deep in the opponent's board is hit cheaply and is not what players
 * mean by "leaving a shot".
 */
export function blotRisk(b, maxPoint = 24) {
  const blots = [];
  for (let p = 1; p <= maxPoint; p++) if (b.me[p] === 1) blots.push(p);
  if (blots.length === 0) return { shots: 0, risk: 0 };
  const onBar = b.op[25];
  const sources = [];
  if (onBar > 0) sources.push(0);
  else for (let j = 1; j <= 24; j++) if (b.op[j] > 0) sources.push(25 - j);
  const board = homePoints(b.op);
  // once we are bearing off, a hit throws away a won race, so it costs far more
  const bearing = highestPoint(b.me) <= 6 ? 2.2 : 1;
  const cost = (p) => (0.03 + 0.011 * (25 - p)) * (1 + 0.22 * board) * bearing;
  let shots = 0;
  let risk = 0;
  for (const [d1, d2] of ALL_ROLLS) {
    const weight = d1 === d2 ? 1 : 2; // 21 distinct rolls; non-doubles come up two ways
    let worst = 0;
    for (const p of blots) {
      if (sources.some((q) => canHit(b, q, p, d1, d2, onBar))) worst = Math.max(worst, cost(p));
    }
    if (worst > 0) {
      shots += weight;
      risk += weight * worst;
    }
  }
  return { shots, risk: risk / 36 };
}

function evaluate(b) {
  const race = raceEquity(b);
  if (!hasContact(b)) return race;
  const shape = structure(b.me, b.op) - structure(b.op, b.me);
  const attack = b.op[25] * (0.05 + 0.035 * homePoints(b.me));
  return 0.5 * race + 0.25 * shape - blotRisk(b).risk + attack;
}

/** Legal plays, best first by the evaluator; ties broken by position key so the order is stable. */
export function rankMoves(b, dice) {
  return legalMoves(b, dice)
    .map((m) => ({ ...m, score: evaluate(m.board) }))
    .sort((x, y) => y.score - x.score || (x.key < y.key ? -1 : x.key > y.key ? 1 : 0));
}

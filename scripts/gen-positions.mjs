#!/usr/bin/env node
/**
 * gen-positions.mjs - writes data/positions.json, the sample position library
 * that ships with drillgen.
 *
 *   node scripts/gen-positions.mjs [output-path]
 *
 * The output path defaults to data/positions.json (the test writes elsewhere).
 *
 * Node 20+, no dependencies. Every random choice comes from seeded mulberry32
 * streams (no Math.random, no clock), so two runs give byte-identical files.
 *
 * How the library is made:
 * - OPENING: the 21 first rolls from the real starting position, with the
 *   standard plays and hand-written notes.
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
 * The script validates its own output (counts, ids, word counts, equity gaps,
 * unique texts) and throws instead of writing a library that breaks them.
 * GEN_TIMING=1 prints how long each phase took.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const OUT_FILE = process.argv[2] ? resolve(process.argv[2]) : resolve(ROOT, 'data', 'positions.json');
const PER_PHASE = 36;
/** Target size of one position as a prompt shows it, in o200k tokens (header plus analysis). */
const TOKENS_GOAL = 280;
const WORDS_MIN = 85;
const WORDS_MAX = 130;
/** The hand-written tables (opening book, phrase pools) live in data/gen/ as JSON. */
const readData = (name) => JSON.parse(readFileSync(resolve(ROOT, 'data', 'gen', name), 'utf8'));

// ===================================================================== random

/** mulberry32: tiny, well-mixed 32-bit PRNG; plenty for sampling games and prose. */
function mulberry32(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** One independent stream per phase, so editing one phase's templates does not reshuffle the others. */
function makeRng(seed) {
  const next = mulberry32(seed);
  const rng = {
    next,
    int: (lo, hi) => lo + Math.floor(next() * (hi - lo + 1)),
    pick: (items) => items[Math.floor(next() * items.length)],
    chance: (p) => next() < p,
    shuffle: (items) => {
      const a = items.slice();
      for (let i = a.length - 1; i > 0; i--) {
        const j = Math.floor(next() * (i + 1));
        [a[i], a[j]] = [a[j], a[i]];
      }
      return a;
    },
    /** Deals a pool in shuffled order and reshuffles when empty, so no phrasing repeats before the pool is used up. */
    deck: (items) => {
      let hand = [];
      return () => {
        if (hand.length === 0) hand = rng.shuffle(items);
        return hand.pop();
      };
    },
  };
  return rng;
}

const round3 = (x) => Math.round(x * 1000) / 1000;
const clamp = (x, lo, hi) => Math.min(hi, Math.max(lo, x));
const fmtEq = (x) => x.toFixed(3);
const signedEq = (x) => (x >= 0 ? '+' : '') + x.toFixed(3);
const wordCount = (text) => text.split(/\s+/).filter(Boolean).length;
const plural = (n, one, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;
const capitalize = (s) => s.charAt(0).toUpperCase() + s.slice(1);
const NUMBER_WORDS = ['no', 'one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine', 'ten'];
const numWord = (n) => NUMBER_WORDS[n] ?? String(n);
const pluralW = (n, one, many = `${one}s`) => `${numWord(n)} ${n === 1 ? one : many}`;

// ====================================================================== dice

const ALL_ROLLS = [];
for (let hi = 1; hi <= 6; hi++) for (let lo = 1; lo <= hi; lo++) ALL_ROLLS.push([hi, lo]);

const diceText = ([hi, lo]) => `${hi}-${lo}`;
const diceName = ([hi, lo]) => (hi === lo ? `double ${hi}s` : `${hi}-${lo}`);

function rollDice(rng) {
  const a = rng.int(1, 6);
  const b = rng.int(1, 6);
  return a >= b ? [a, b] : [b, a];
}

/** 36 rolls per phase: each of the 21 combinations once, plus 15 drawn with real dice odds. */
function phaseDice(rng) {
  const extra = [];
  while (extra.length < PER_PHASE - ALL_ROLLS.length) extra.push(rollDice(rng));
  return rng.shuffle([...ALL_ROLLS, ...extra]);
}

// ===================================================================== board
//
// A board is { me, op }: two arrays of 26 counts, each in its owner's own
// coordinates (index 1..24 = points, 25 = bar; borne-off checkers are implicit).
// `me` is the side to move. The opponent's point j is our point 25 - j, so
// flipping the side to move is just swapping the arrays.

function startBoard() {
  const side = new Array(26).fill(0);
  side[24] = 2;
  side[13] = 5;
  side[8] = 3;
  side[6] = 5;
  return { me: side, op: side.slice() };
}

const cloneBoard = (b) => ({ me: b.me.slice(), op: b.op.slice() });
const flip = (b) => ({ me: b.op.slice(), op: b.me.slice() });
const boardKey = (b) => `${b.me.join(',')}|${b.op.join(',')}`;
const pipCount = (side) => side.reduce((sum, n, p) => sum + n * p, 0);
const checkerTotal = (side) => side.reduce((sum, n) => sum + n, 0);
const borneOff = (side) => 15 - checkerTotal(side);
const homePoints = (side) => [1, 2, 3, 4, 5, 6].filter((p) => side[p] >= 2).length;
const outsideHome = (side) => side.slice(7).reduce((sum, n) => sum + n, 0);

function highestPoint(side) {
  for (let p = 25; p >= 1; p--) if (side[p] > 0) return p;
  return 0;
}

/** Contact exists while some opposing checker still has to pass one of ours. */
const hasContact = (b) => highestPoint(b.me) + highestPoint(b.op) > 25;

/** XGID position field: char 0 = opponent's bar, 1..24 = our points, 25 = our bar; upper case = side to move. */
function xgid(b, dice) {
  const cell = (n, upper) => (n === 0 ? '-' : String.fromCharCode((upper ? 65 : 97) + n - 1));
  let pos = cell(b.op[25], false);
  for (let p = 1; p <= 24; p++) {
    pos += b.me[p] > 0 ? cell(b.me[p], true) : cell(b.op[25 - p], false);
  }
  pos += cell(b.me[25], true);
  return `XGID=${pos}:0:0:1:${dice[0]}${dice[1]}:0:0:0:0:10`;
}

// ============================================================ move generation

/** Plays one die for the checker on `from`; returns null when the rules forbid it. */
function applyStep(b, from, die) {
  const { me, op } = b;
  if (me[from] === 0) return null;
  if (me[25] > 0 && from !== 25) return null; // checkers on the bar must enter first
  let to = from - die;
  if (to <= 0) {
    if (highestPoint(me) > 6) return null; // bearing off needs every checker home
    if (to < 0) {
      // a larger die may only bear off from the highest occupied point
      for (let p = from + 1; p <= 6; p++) if (me[p] > 0) return null;
    }
    to = 0;
  } else if (op[25 - to] >= 2) {
    return null; // blocked point
  }
  const next = cloneBoard(b);
  next.me[from]--;
  let hit = false;
  if (to > 0) {
    next.me[to]++;
    if (next.op[25 - to] === 1) {
      next.op[25 - to] = 0;
      next.op[25]++;
      hit = true;
    }
  }
  return { board: next, step: { from, to, die, hit } };
}

/**
 * All legal plays, one per distinct resulting position. Enforces "use both dice
 * if possible, otherwise the larger one". Doubles only move checkers from the
 * same or lower points than the previous step: any legal order can be
 * rearranged that way, and it cuts the search from thousands of permutations.
 */
function legalMoves(b, dice) {
  const [d1, d2] = dice;
  const doubles = d1 === d2;
  const found = new Map();
  let most = 0;
  const record = (board, steps) => {
    most = Math.max(most, steps.length);
    const key = boardKey(board);
    const prev = found.get(key);
    if (!prev || steps.length > prev.steps.length) found.set(key, { board, steps, key });
  };
  const walk = (board, remaining, steps, maxFrom) => {
    let moved = false;
    if (remaining.length > 0) {
      for (let from = maxFrom; from >= 1; from--) {
        const r = applyStep(board, from, remaining[0]);
        if (!r) continue;
        moved = true;
        walk(r.board, remaining.slice(1), [...steps, r.step], doubles ? from : 25);
      }
    }
    if (!moved) record(board, steps);
  };
  if (doubles) walk(b, [d1, d1, d1, d1], [], 25);
  else {
    walk(b, [d1, d2], [], 25);
    walk(b, [d2, d1], [], 25);
  }
  let moves = [...found.values()].filter((m) => m.steps.length === most);
  if (!doubles && most === 1 && moves.some((m) => m.steps[0].die === d1)) {
    moves = moves.filter((m) => m.steps[0].die === d1);
  }
  return moves;
}

/** Adds standard notation to a play; only done for plays that end up in print (it is the slow part). */
const withText = (m) => (m.text ? m : { ...m, text: notation(m.steps) });

const pointLabel = (p) => (p === 25 ? 'bar' : p === 0 ? 'off' : String(p));

/**
 * Standard notation as XG prints it: one checker's steps are chained
 * ("24/18 18/13" -> "24/13", an intermediate hit stays visible: "24/18*\/13"),
 * identical moves are grouped ("13/11(2)"), highest starting point first.
 */
function notation(steps) {
  const paths = [];
  const ordered = steps.slice().sort((a, b) => b.from - a.from);
  for (const s of ordered) {
    const path = paths.find((q) => q.at === s.from && q.at !== 0);
    if (path) {
      path.nodes.push(s);
      path.at = s.to;
    } else {
      paths.push({ start: s.from, at: s.to, nodes: [s] });
    }
  }
  const parts = paths.map((q) => {
    let text = pointLabel(q.start);
    q.nodes.forEach((n, i) => {
      if (n.hit || i === q.nodes.length - 1) text += `/${pointLabel(n.to)}${n.hit ? '*' : ''}`;
    });
    return { text, start: q.start, end: q.at };
  });
  parts.sort((a, b) => b.start - a.start || b.end - a.end);
  const grouped = [];
  for (const part of parts) {
    const last = grouped[grouped.length - 1];
    if (last && last.text === part.text) last.count++;
    else grouped.push({ text: part.text, count: 1 });
  }
  return grouped.map((g) => (g.count > 1 ? `${g.text}(${g.count})` : g.text)).join(' ');
}

// ================================================================ evaluation
//
// Scores are rough equities for the side that just moved (opponent on roll).
// The terms are the ones a coach talks about - race, made points, primes,
// builders, stacks, blot exposure, checkers on the bar - which is what lets the
// analysis text explain the ranking honestly.

// Value of owning a point, in our coordinates: the 5-, 6-, 4- and bar points
// lead; anchors (18..24) are valued as the opponent's 5-, 4-, bar point etc.
const POINT_VALUE = [
  0, 0.1, 0.2, 0.35, 0.55, 0.75, 0.7, 0.55, 0.35, 0.2, 0.15, 0.1, 0.08, 0.12,
  0.04, 0.04, 0.05, 0.08, 0.2, 0.25, 0.4, 0.35, 0.25, 0.18, 0.15,
];
const PRIME_BONUS = [0, 0, 0.05, 0.15, 0.35, 0.6, 1.0];

/** Pip count with Keith-style penalties for stacked low points and gaps on the high points. */
function effectivePips(side) {
  let k = pipCount(side);
  k += 2 * Math.max(0, side[1] - 1) + Math.max(0, side[2] - 1) + Math.max(0, side[3] - 3);
  for (const p of [4, 5, 6]) if (side[p] === 0) k += 1;
  k += 1.5 * outsideHome(side); // a checker still outside delays the whole bearoff
  k *= 8 / 7;
  return Math.max(k, 4.1 * checkerTotal(side)); // a roll clears at most two checkers
}

/** Race equity for us with the opponent on roll; the spread narrows as the race gets shorter. */
function raceEquity(b) {
  if (checkerTotal(b.me) === 0) return 1.5;
  const ours = effectivePips(b.me);
  const theirs = effectivePips(b.op);
  const scale = 2 + (0.09 * (ours + theirs)) / 2;
  const pOpp = 1 / (1 + Math.exp(-(ours - theirs + 4) / scale));
  return 1 - 2 * pOpp;
}

/** Longest block of consecutive points that still has opposing checkers behind it. */
function primeInfo(me, op) {
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
function blotRisk(b, maxPoint = 24) {
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
function rankMoves(b, dice) {
  return legalMoves(b, dice)
    .map((m) => ({ ...m, score: evaluate(m.board) }))
    .sort((x, y) => y.score - x.score || (x.key < y.key ? -1 : x.key > y.key ? 1 : 0));
}

// ================================================================= self-play

/** Mostly the top play, sometimes the 2nd or 3rd, so sampled games wander into varied structures. */
function playPly(rng, b, dice) {
  const ranked = rankMoves(b, dice);
  const r = rng.next();
  const idx = ranked.length > 2 && r > 0.93 ? 2 : ranked.length > 1 && r > 0.75 ? 1 : 0;
  return flip(ranked[idx].board);
}

// ============================================================ describing play

function pointName(p) {
  if (p === 25) return 'the bar';
  if (p === 13) return 'the midpoint';
  if (p === 7) return 'the bar point';
  if (p === 1) return 'the ace point';
  if (p <= 12) return `the ${p}-point`;
  if (p === 18) return "the opponent's bar point";
  if (p === 24) return "the opponent's ace point";
  return `the opponent's ${25 - p}-point`;
}

/** Name of our point p when the opponent's checkers sit there ("our 5-point"). */
function ourPointName(p) {
  if (p === 13) return 'our midpoint';
  if (p === 7) return 'our bar point';
  if (p === 1) return 'our ace point';
  return `our ${p}-point`;
}

const listText = (items) =>
  items.length <= 1 ? items.join('') : `${items.slice(0, -1).join(', ')} and ${items[items.length - 1]}`;
const pointList = (ps) => listText(ps.map(pointName));
/** For negative clauses: "does not make the 5-point or the 3-point". */
const pointListOr = (ps) => listText(ps.map(pointName)).replace(/ and (?=the |our )/, ' or ');
const shotText = (n) => (n === 0 ? 'no shots' : n === 1 ? 'a single shot' : `${n} shots`);
const pct = (n) => `${Math.round((n / 36) * 100)}%`;

/** Facts about the position before the move, shared by all phases' prose. */
function positionFacts(b) {
  const opBackPoints = []; // opponent checkers still in our home board or outfield (our coordinates)
  for (let j = 13; j <= 24; j++) if (b.op[j] > 0) opBackPoints.push(25 - j);
  const opBlots = [];
  for (let j = 1; j <= 24; j++) if (b.op[j] === 1) opBlots.push(25 - j);
  return {
    myPip: pipCount(b.me),
    opPip: pipCount(b.op),
    myHome: homePoints(b.me),
    opHome: homePoints(b.op),
    myOff: borneOff(b.me),
    opOff: borneOff(b.op),
    opBar: b.op[25],
    myBack: b.me.slice(18).reduce((s, n) => s + n, 0),
    opBack: b.op.slice(18).reduce((s, n) => s + n, 0),
    myAnchors: [18, 19, 20, 21, 22, 23, 24].filter((p) => b.me[p] >= 2),
    opAnchors: [18, 19, 20, 21, 22, 23, 24].filter((j) => b.op[j] >= 2).map((j) => 25 - j),
    opBackPoints,
    opBlots,
    opBlotsInHome: opBlots.filter((p) => p <= 6),
    opAt: Array.from({ length: 26 }, (_, q) => (q >= 1 && q <= 24 ? b.op[25 - q] : 0)),
    myPrime: primeInfo(b.me, b.op),
    opPrime: primeInfo(b.op, b.me),
    outside: outsideHome(b.me),
    contact: hasContact(b),
  };
}

/** What a play does, measured against the position before it. */
function moveFeatures(pre, move) {
  const post = move.board;
  const made = [];
  const broken = [];
  const cleared = [];
  for (let p = 1; p <= 24; p++) {
    if (post.me[p] >= 2 && pre.me[p] < 2) made.push(p);
    if (pre.me[p] >= 2 && post.me[p] < 2) broken.push(p);
    if (pre.me[p] > 0 && post.me[p] === 0) cleared.push(p);
  }
  const blots = [];
  for (let p = 1; p <= 24; p++) if (post.me[p] === 1) blots.push(p);
  const backBefore = pre.me.slice(18).reduce((s, n) => s + n, 0);
  const backAfter = post.me.slice(18).reduce((s, n) => s + n, 0);
  const top = highestPoint(post.me);
  const gaps = [];
  for (let p = 2; p < Math.min(top, 7); p++) if (post.me[p] === 0) gaps.push(p);
  const used = move.steps.reduce((s, st) => s + st.die, 0);
  const risk = hasContact(post) ? blotRisk(post, 18) : { shots: 0, risk: 0 };
  return {
    hits: move.steps.filter((s) => s.hit).length,
    pipLoss: pipCount(post.op) - pipCount(pre.op),
    made,
    broken,
    cleared,
    blots,
    shots: risk.shots,
    slotted: blots.filter((p) => p >= 2 && p <= 7 && pre.me[p] === 0),
    builders: blots.filter((p) => p >= 7 && p <= 11 && pre.me[p] === 0),
    split: move.steps.some((s) => s.from >= 19 && s.from <= 24 && s.to >= 18 && pre.me[s.from] >= 2),
    escaped: Math.max(0, backBefore - backAfter),
    entered: pre.me[25] - post.me[25],
    off: borneOff(post.me) - borneOff(pre.me),
    gaps,
    wasted: Math.max(0, used - (pipCount(pre.me) - pipCount(post.me))),
    maxStack: Math.max(...post.me.slice(1, 25)),
    stackPoint: post.me.indexOf(Math.max(...post.me.slice(1, 25))),
    prime: primeInfo(post.me, post.op),
    homePts: homePoints(post.me),
    outside: outsideHome(post.me),
    contact: hasContact(post),
  };
}

/** Why a newly made point matters, as a noun phrase ("It makes the 5-point, <note>."). */
function pointNote(p) {
  return PHRASES.pointNotes[p] ?? PHRASES.pointNotes.other;
}

// ============================================================== prose engine
//
// An analysis is a list of sentences, each with a drop rank: 0 is required,
// higher ranks are the first to go when the text runs long. After the phase
// writer assembles them, `fitLength` drops optional sentences or adds
// fact-based filler sentences ({ text, early, skip }) until the formatted
// position is near its token target, staying inside the word window.

/**
 * Rough o200k token count: one token per word (with its leading space), per
 * group of up to three digits and per run of punctuation. Measured against the
 * real tokenizer it is within a few per cent on both the prose and the header,
 * which is all the length targeting needs (and it keeps the script dependency-free).
 */
const approxTokens = (text) => (text.match(/ ?[A-Za-z]+|\d{1,3}|[^\sA-Za-z\d]+|\s+/g) ?? []).length;

/**
 * Sizes one analysis. `header` is the rest of the position as a prompt shows it
 * (id, dice, XGID, moves); the whole block should come to about TOKENS_GOAL
 * tokens, so the prose gets what the header leaves, within the word window.
 */
function fitLength(rng, sentences, fillers, header, best) {
  const goal = rng.int(TOKENS_GOAL - 8, TOKENS_GOAL + 8);
  const fixed = approxTokens(`${header}\nAnalysis: `);
  const out = sentences.slice();
  const text = () => out.map((s) => s.text).join(' ');
  const tokens = () => fixed + approxTokens(text());
  const words = () => wordCount(text());
  const floor = WORDS_MIN + 6;
  const ceiling = WORDS_MAX - 6;
  // too long: drop optional sentences, highest rank first, latest first within a rank
  for (;;) {
    if (tokens() <= goal + 10 && words() <= ceiling) break;
    let victim = -1;
    out.forEach((s, i) => {
      if (s.drop > 0 && (victim < 0 || s.drop >= out[victim].drop)) victim = i;
    });
    if (victim < 0 || words() - wordCount(out[victim].text) < floor) break;
    out.splice(victim, 1);
  }
  // too short: add fillers that fit, in the order given
  for (const filler of fillers) {
    const short = tokens() < goal - 10 || words() < floor;
    if (!short) break;
    // never state the same fact twice
    if (text().includes(filler.text) || (filler.skip && text().includes(filler.skip))) continue;
    const size = approxTokens(filler.text) + 1;
    if (words() >= floor && tokens() + size > goal + 12) continue; // would overshoot; try a shorter one
    if (words() + wordCount(filler.text) > ceiling) continue;
    // position descriptions follow the opening sentence; the rest go before the closing lesson
    const at = filler.early ? 1 : Math.max(1, out.length - 1);
    out.splice(at, 0, { text: filler.text, drop: 9 });
  }
  // a dropped sentence may have been the one naming the play, so "It makes ..." may need its
  // subject back; and two sentences in a row that open with the play read better as "X ... It ..."
  let named = false;
  let prevOpens = false;
  for (const s of out) {
    const opens = s.text.startsWith(`${best} `) && /^[a-z]/.test(s.text.slice(best.length + 1));
    if (!named && /^It (?!is |all )/.test(s.text)) s.text = `${best}${s.text.slice(2)}`;
    else if (opens && prevOpens) s.text = `It${s.text.slice(best.length)}`;
    prevOpens = opens;
    if (s.text.includes(best)) named = true;
  }
  return text();
}

/** The non-analysis part of a position as prompts format it (mirrors format_position in src/prompt.rs). */
function promptHeader(p) {
  const alts = p.alternatives.map((a) => `${a.move} (${signedEq(a.equity)})`).join('; ');
  return [
    `### Position ${p.positionId} (${p.gamePhase})`,
    `Dice: ${p.diceRoll} | Pips: ${p.pipCount.player} vs ${p.pipCount.opponent}`,
    `XGID: ${p.xgid}`,
    `Best move: ${p.bestMove} (equity ${signedEq(p.bestMoveEquity)})`,
    `Alternatives: ${alts}`,
  ].join('\n');
}

const req = (text) => ({ text, drop: 0 });
/** An optional sentence; `rank` orders the drops (higher goes first). */
const opt = (text, rank = 5) => ({ text, drop: rank });

/** How big an error is, in the words a coach would use. */
function errorSize(err) {
  if (err < 0.02) return 'a close decision';
  if (err < 0.05) return 'a clear but modest error';
  if (err < 0.1) return 'a real error';
  return 'a blunder';
}

function raceText(myPip, opPip) {
  const d = opPip - myPip;
  if (Math.abs(d) <= 4) return `the race is roughly level (${myPip} pips to ${opPip})`;
  if (d > 0) return `we lead the race by ${d} pips (${myPip} to ${opPip})`;
  return `we trail in the race by ${-d} pips (${myPip} to ${opPip})`;
}

/**
 * Turns a phrase from data/gen/phrases.json into text. `slots` maps each
 * {name} to a function, so only the facts a phrase names are worked out;
 * {Name} gives the value capitalized. A phrase { when, then, else } picks
 * its text by the yes/no slot `when`.
 */
function fill(phrase, slots) {
  const slot = (name) => {
    if (!slots[name]) throw new Error(`unknown phrase slot {${name}}`);
    return slots[name]();
  };
  const text = typeof phrase === 'string' ? phrase : slot(phrase.when) ? phrase.then : phrase.else;
  return text.replace(/\{(\w+)\}/g, (_, name) => {
    const lower = name.charAt(0).toLowerCase() + name.slice(1);
    const value = String(slot(lower));
    return lower === name ? value : capitalize(value);
  });
}

// ============================================================= opening book
//
// Standard plays for the 21 first rolls, with hand-set equities and notes
// ({a1} / {e1}: the first alternative and how much it loses), in
// data/gen/opening-book.json. Doubles cannot be the very first roll of a game;
// they are included as the player's first move with doubles from the starting
// position.

const OPENING_BOOK = readData('opening-book.json');
/** Every pool of phrasings (intros, contexts, fillers, lessons, remarks); see data/gen/README.md. */
const PHRASES = readData('phrases.json');

function openingAnalysis(rng, entry, ctx, fillerDeck, lessonDeck) {
  // doubles cannot start a game, so their positions are introduced as our first turn
  const intros = entry.dice[0] === entry.dice[1] ? PHRASES.opening.doublesIntros : PHRASES.opening.intros;
  const sentences = [req(fill(rng.pick(intros), ctx.slots)), ...entry.notes.map((n) => req(fill(n, ctx.slots)))];
  sentences.push(req(lessonDeck()));
  // drawn lazily, so a remark is only used up when a text needs it and repeats stay rare
  const fillers = (function* () {
    for (let i = 0; i < 4; i++) yield { text: fillerDeck(), early: false };
  })();
  return fitLength(rng, sentences, fillers, ctx.header, entry.best);
}

// ============================================================== phase prose
//
// The phase writers pick from pools of phrasings keyed on what the best play
// and its main rival actually do, add computed next-turn facts (cover numbers,
// entry odds, bearoff counts), and vary the order of the blocks, so the texts
// read like individual notes rather than one template.

/** The most valuable point we still want: not ours yet and not held by the opponent. */
function keyTarget(board) {
  for (const p of [5, 4, 7, 3]) if (board.me[p] < 2 && board.op[25 - p] < 2) return p;
  return 0;
}

/** Spare checkers within direct range (1-6 pips) above a target point. */
function buildersFor(side, target) {
  let n = 0;
  for (let q = target + 1; q <= Math.min(24, target + 6); q++) n += side[q] === 1 ? 1 : Math.max(0, side[q] - 2);
  return n;
}

/** How many of our 36 rolls next turn (opponent's reply ignored) allow a play reaching `goal`. */
function rollsWhere(board, goal) {
  let n = 0;
  for (const [hi, lo] of ALL_ROLLS) {
    if (legalMoves(board, [hi, lo]).some((m) => goal(m.board))) n += hi === lo ? 1 : 2;
  }
  return n;
}

/** Rolls for which even our best reply next turn leaves a shot; the contact-bearoff worry. */
function awkwardRolls(board) {
  let n = 0;
  for (const [hi, lo] of ALL_ROLLS) {
    const best = rankMoves(board, [hi, lo])[0];
    if (best && hasContact(best.board) && blotRisk(best.board, 24).shots > 0) n += hi === lo ? 1 : 2;
  }
  return n;
}

/** Opponent rolls that fail to bring every checker in from the bar. */
function entryFailures(board) {
  const onBar = board.op[25];
  if (onBar === 0) return 0;
  const open = (d) => board.me[d] < 2; // their entry point for die d is our point d
  let fails = 0;
  for (let d1 = 1; d1 <= 6; d1++) {
    for (let d2 = 1; d2 <= 6; d2++) {
      const entering = d1 === d2 ? (open(d1) ? 4 : 0) : (open(d1) ? 1 : 0) + (open(d2) ? 1 : 0);
      if (entering < onBar) fails++;
    }
  }
  return fails;
}

/** Rough number of rolls a side needs to bear off: an average roll moves 8.17 pips and at most two checkers. */
const rollsNeeded = (side) => Math.max(1, Math.ceil(checkerTotal(side) / 2), Math.round(effectivePips(side) / 8.17));

/** Next-turn facts for the plays we write about (too slow to compute for every candidate). */
function planFacts(c) {
  const plan = {};
  const post = c.post;
  if (c.phase !== 'BEAROFF') {
    plan.target = keyTarget(post);
    if (plan.target) {
      plan.coverBest = rollsWhere(post, (x) => x.me[plan.target] >= 2);
      plan.coverAlt = rollsWhere(c.altBoard, (x) => x.me[plan.target] >= 2);
      plan.buildersBest = buildersFor(post.me, plan.target);
      plan.buildersAlt = buildersFor(c.altBoard.me, plan.target);
    }
  } else {
    plan.rollsUs = rollsNeeded(post.me);
    plan.rollsThem = rollsNeeded(post.op);
    if (!c.fb.contact && c.fb.outside === 0 && checkerTotal(post.me) >= 2) {
      plan.twoOff = rollsWhere(post, (x) => borneOff(x.me) - borneOff(post.me) >= 2);
      plan.twoOffAlt = rollsWhere(c.altBoard, (x) => borneOff(x.me) - borneOff(c.altBoard.me) >= 2);
    }
    if (c.fb.contact) {
      plan.awkBest = awkwardRolls(post);
      plan.awkAlt = awkwardRolls(c.altBoard);
    }
  }
  plan.fails = entryFailures(post);
  return plan;
}

/**
 * Picks a phrasing variant from the position itself (pip counts), so the
 * describing helpers stay pure functions of the facts yet vary between positions.
 */
const vary = (F, n, salt = 0) => (F.myPip * 7 + F.opPip * 13 + salt) % n;

/** "The opponent holds our 5-point and has made three home-board points." */
function opponentText(F, first = false) {
  const bits = [];
  if (F.opBar > 0) bits.push(`has ${F.opBar === 1 ? 'a checker' : `${numWord(F.opBar)} checkers`} on the bar`);
  const anchors = F.opAnchors.filter((q) => q <= 11);
  const loose = F.opBlots.filter((q) => q <= 11);
  if (anchors.length === 1 && anchors[0] === 1 && F.opAt[1] === 2 && loose.length === 0 && F.opBar === 0) {
    bits.push(['still has both back checkers on our ace point', 'keeps both back checkers on our ace point', 'has not moved the back checkers yet'][vary(F, 3)]);
  } else if (anchors.length) {
    bits.push(`${['holds', 'has anchored on', 'owns'][vary(F, 3)]} ${listText(anchors.map(ourPointName))}`);
  }
  if (loose.length) {
    bits.push(`${vary(F, 2, 1) ? 'has left' : 'has'} ${loose.length === 1 ? 'a loose checker' : 'loose checkers'} on ${listText(loose.map(ourPointName))}`);
  }
  if (F.opHome >= 2) bits.push([`has made ${numWord(F.opHome)} home-board points`, `owns ${numWord(F.opHome)} points in their board`][vary(F, 2, 2)]);
  else if (F.opHome === 1) bits.push(['owns just one home-board point', 'has only one point in their board'][vary(F, 2, 3)]);
  else bits.push(['has no home-board points yet', 'has yet to make a home-board point'][vary(F, 2, 4)]);
  // "Meanwhile" needs something before it; a text that opens with the opponent starts plainly
  const lead = first ? 'The opponent' : ['The opponent', 'On the other side, the opponent', 'Meanwhile the opponent'][vary(F, 3, 5)];
  return `${lead} ${listText(bits)}.`;
}

/** Our own structure before the roll, phrased a few different ways. */
function ourText(F, b) {
  const bits = [];
  const backBlots = [19, 20, 21, 22, 23, 24].filter((p) => b.me[p] === 1);
  if (b.me[24] === 2 && F.myBack === 2) {
    bits.push(['our back checkers are still together on the opponent\'s ace point', 'both our back checkers still sit on the opponent\'s ace point'][vary(F, 2, 6)]);
  } else if (F.myAnchors.length) {
    bits.push(`we hold ${pointList(F.myAnchors)}`);
  } else if (backBlots.length >= 2) {
    bits.push('our back checkers are already split');
  } else if (F.myBack === 0) {
    bits.push('all our back checkers have escaped');
  }
  if (F.myHome) bits.push([`we own ${pluralW(F.myHome, 'home-board point')}`, `we have ${pluralW(F.myHome, 'point')} in our board`][vary(F, 2, 7)]);
  if (F.myPrime.length >= 3) bits.push(`our best block is ${F.myPrime.length} points long`);
  if (bits.length === 0) return null;
  const text = listText(bits);
  return [`${capitalize(text)}.`, `So far ${text}.`, `Before the roll ${text}.`][vary(F, 3, 8)];
}

/** One theme-specific observation for middle-game positions (timing, shots to come, gammons). */
function middleInsight(c) {
  const F = c.facts;
  const b = c.pre;
  const passing = (p) => {
    let n = b.op[25];
    for (let q = 1; q < p; q++) n += F.opAt[q];
    return n;
  };
  const deficit = F.myPip - F.opPip;
  switch (c.theme) {
    case 'HOLDING':
    case 'BACKGAME': {
      // the context already names the anchors; count the traffic past the front one
      const anchor = Math.min(...F.myAnchors);
      const n = passing(anchor);
      const ours = F.myAnchors.length > 1 ? 'our anchors' : 'our anchor';
      return n > 0
        ? `The opponent still has ${pluralW(n, 'checker')} to bring home past ${ours}, so more shots are likely to come.`
        : `Every opposing checker is already past ${ours}, so the waiting game is running out of time.`;
    }
    case 'PRIMING':
      if (F.myPrime.length >= 4) {
        if (Math.abs(deficit) <= 4) return 'With the race about even, the side whose structure lasts longer will win this priming battle.';
        return deficit > 0
          ? 'Trailing in the race actually helps our timing: the opponent is more likely to crack first.'
          : 'Because we are ahead in the race, our own timing is the worry: we need spare checkers so the prime does not have to break.';
      }
      // the context has just described the opponent's block
      return 'What matters now is how many more rolls we can play without breaking our own points.';
    case 'BLITZ': {
      const targets = F.opBar + F.opBlotsInHome.length;
      if (targets > 1) return `${capitalize(numWord(targets))} opposing checkers are within reach, so a successful attack can end in a gammon.`;
      return [
        'With one opposing checker to attack, every tempo we gain raises our gammon chances.',
        'As long as the opponent\'s exposed checker stays in trouble, a gammon is a realistic result.',
        'Keeping the opponent\'s exposed checker under fire is where our gammon chances come from.',
      ][vary(F, 3, 10)];
    }
    default:
      if (F.myBack > 0 && F.opBack > 0) {
        return `We still have ${pluralW(F.myBack, 'checker')} back against the opponent's ${numWord(F.opBack)}, so both sides have work to do before the race.`;
      }
      if (F.myBack > 0) return `We still have ${pluralW(F.myBack, 'checker')} back while the opponent has none, so bringing them home safely is the main job.`;
      return `Our back checkers are out while the opponent still has ${pluralW(F.opBack, 'checker')} back, so we are the one doing the attacking.`;
  }
}

/** What the best play achieves, most important first; each entry carries a tag for the lesson. */
function bestReasons(rng, c) {
  const f = c.fb;
  const out = [];
  const homeMade = f.made.filter((p) => p <= 12);
  const anchorMade = f.made.filter((p) => p >= 18);
  if (f.entered > 0 && f.hits === 0 && homeMade.length === 0) {
    out.push({ tag: 'ENTER', text: rng.pick([
      `${c.best} brings the checker in from the bar first, as it must, and then finds the most useful spot for the rest of the roll.`,
      `Entering comes first; the rest of ${c.best} is about keeping our structure intact while we do it.`,
    ]) });
  }
  if (f.hits > 0 && f.pipLoss < 7) {
    // a hit deep in our board gains few pips; its value is tempo
    out.push({ tag: 'HIT', text: rng.pick([
      `The hit costs the opponent only ${pluralW(f.pipLoss, 'pip')}, but it takes away half of their next roll, which is what matters here.`,
      `${c.best} hits, and although the checker loses just ${pluralW(f.pipLoss, 'pip')}, the opponent has to spend part of the next roll coming in.`,
    ]) });
  } else if (f.hits > 0) {
    const two = f.hits > 1;
    out.push({ tag: 'HIT', text: rng.pick([
      `${c.best} ${two ? 'hits twice' : 'hits'}, costing the opponent ${f.pipLoss} pips and forcing them to spend part of their next roll entering instead of building.`,
      `The hit is the heart of the play: it sends ${two ? 'two checkers' : 'a checker'} back ${f.pipLoss} pips and takes the initiative away from the opponent.`,
      `Hitting gains ${f.pipLoss} pips and, just as important, tempo: with ${two ? 'two checkers' : 'a checker'} on the bar the opponent cannot use the full roll against us.`,
      `${two ? 'A double hit' : 'The hit'} puts the opponent on the defensive; ${f.pipLoss} pips change hands and ${two ? 'both checkers have' : 'the checker has'} to come in before they can do anything else.`,
    ]) });
  }
  if (homeMade.length > 0) {
    const p = homeMade.reduce((a, b) => (POINT_VALUE[b] > POINT_VALUE[a] ? b : a));
    const others = homeMade.filter((x) => x !== p);
    const extra = others.length ? `, and ${pointList(others)} as well` : '';
    out.push({ tag: 'POINT', text: rng.pick([
      `It makes ${pointName(p)}, ${pointNote(p)}${extra}.`,
      `Owning ${pointName(p)} is the main gain, since it is ${pointNote(p)}${others.length ? `; ${pointList(others)} comes as a bonus` : ''}.`,
      `${c.best} secures ${pointName(p)}, ${pointNote(p)}${extra}.`,
      `The play builds ${pointName(p)}, ${pointNote(p)}${extra}.`,
    ]) });
    if (f.prime.length >= 4 && f.prime.length > c.facts.myPrime.length) {
      out.push({ tag: 'PRIME', text: `Our block now runs ${f.prime.length} points, from ${pointName(f.prime.low)} to ${pointName(f.prime.high)}, with ${pluralW(f.prime.trapped, 'opposing checker')} behind it.` });
    }
  }
  if (anchorMade.length > 0) {
    const p = anchorMade[0];
    out.push({ tag: 'ANCHOR', text: rng.pick([
      `It establishes an anchor on ${pointName(p)}, ${pointNote(p)}, so our back checkers are no longer a target.`,
      `${c.best} anchors on ${pointName(p)}, ${pointNote(p)}, and the opponent's attacking plans lose most of their force.`,
    ]) });
  }
  if (f.escaped > 0 && f.entered === 0) {
    out.push({ tag: 'RUN', text: rng.pick([
      `Running ${f.escaped === 1 ? 'a back checker' : `${numWord(f.escaped)} back checkers`} gets ${f.escaped === 1 ? 'it' : 'them'} out before the opponent's blockade grows.`,
      `The play escapes ${f.escaped === 1 ? 'a back checker' : 'back checkers'} while the path is still open, which also improves our racing chances.`,
      `Moving out from the back now avoids the risk of being primed later.`,
    ]) });
  }
  if (f.split && f.hits === 0 && anchorMade.length === 0 && f.escaped === 0) {
    out.push({ tag: 'SPLIT', text: rng.pick([
      'Splitting the back checkers gives them more ways to make an advanced anchor and discourages the opponent from bringing builders into range.',
      'The split adds flexibility in the back: next turn many rolls make an anchor or hit a loose opposing checker.',
      c.facts.opHome <= 2
        ? 'Moving up in the back now, while the opponent has little to attack with, is cheaper than doing it later.'
        : 'Moving up in the back keeps the back checkers from being trapped on the opponent\'s deep points.',
    ]) });
  }
  if (f.slotted.length > 0 && f.hits === 0 && !f.made.includes(f.slotted[0])) {
    const p = f.slotted[0];
    out.push({ tag: 'SLOT', text: rng.pick([
      `It ${out.length ? 'also ' : ''}slots ${pointName(p)}, ${f.shots > 0 ? 'accepting some risk' : 'at no real risk'} to make that point next turn.`,
      `The checker left on ${pointName(p)} is a deliberate slot aimed at owning the point next turn.`,
    ]) });
  } else if (f.builders.length > 0 && f.hits === 0) {
    out.push({ tag: 'BUILD', text: rng.pick([
      `A new builder lands on ${pointName(f.builders[0])}, adding ways to make the key points next turn.`,
      `The checker on ${pointName(f.builders[0])} is a useful builder for the points we still want.`,
      `Bringing a checker to ${pointName(f.builders[0])} diversifies our builders.`,
    ]) });
  }
  if (out.length === 0) {
    out.push({ tag: f.shots === 0 ? 'SAFE' : 'BUILD', text: f.shots === 0
      ? rng.pick([
        `${c.best} is the quiet play: it keeps every point intact and gives the opponent nothing to aim at.`,
        `Nothing spectacular is available, so ${c.best} simply keeps the position tidy and safe.`,
        `${c.best} improves the distribution without giving anything away.`,
      ])
      : rng.pick([
        `${c.best} keeps the checkers connected and in play, even at the cost of a blot.`,
        `${c.best} puts the checkers where they work best for the next exchange.`,
      ]) });
  }
  return out;
}

/** One sentence on the blots the best play leaves, with honest shot counts. */
function safetySentence(rng, c) {
  const f = c.fb;
  if (!f.contact) return null;
  if (f.blots.filter((p) => p <= 18).length === 0) {
    return rng.pick([
      'Just as important, it leaves no loose checkers where a hit would hurt.',
      'Not a single checker is exposed on our side of the board.',
      'Every checker that matters stays on a made point.',
      'Nothing is left for the opponent to hit.',
      'Best of all, the opponent gets no shot next turn.',
      `The position stays safe: there is no blot ${c.phase === 'BEAROFF' ? 'in our home board' : 'on our side of the board'}.`,
      'It all comes at no risk.',
    ]);
  }
  if (f.shots === 0) {
    return rng.pick([
      `The blot it leaves on ${pointName(f.blots.find((p) => p <= 18))} is out of the opponent's direct reach.`,
      'The blots it leaves cannot be hit next turn.',
    ]);
  }
  if (f.shots <= 2) {
    return rng.pick([
      `Only ${f.shots === 1 ? 'one roll hits' : 'two rolls hit'} the blot it leaves, a negligible risk.`,
      `The opponent has just ${f.shots === 1 ? 'a single hitting roll' : 'two hitting rolls'} next turn.`,
    ]);
  }
  return rng.pick([
    `The price is ${shotText(f.shots)} (${pct(f.shots)}), a risk the position can afford.`,
    `It does leave ${shotText(f.shots)} out of 36, but the reward justifies the exposure.`,
    `The opponent hits back with ${f.shots} of 36 rolls, which is acceptable here.`,
    `Of the opponent's 36 rolls, ${f.shots} hit us back; that is the accepted cost of the play.`,
  ]);
}

/** A next-turn sentence built from the computed plan facts. */
function planSentence(rng, c) {
  const P = c.plan;
  const out = [];
  if (P.fails >= 4) {
    out.push(rng.pick([
      `The opponent fails to enter with ${P.fails} of 36 rolls, and every miss gives us another free turn.`,
      `Against our board the opponent stays on the bar with ${P.fails} rolls (${pct(P.fails)}).`,
    ]));
  }
  if (P.target && P.coverBest > 0) {
    const name = pointName(P.target);
    if (c.fb.slotted.includes(P.target)) {
      out.push(rng.pick([
        `If the slot survives, ${P.coverBest} rolls cover it next turn.`,
        `When the opponent misses, ${P.coverBest} of our 36 rolls make ${name}.`,
      ]));
    } else if (P.coverBest > P.coverAlt + 2) {
      out.push(rng.pick([
        `Next turn ${P.coverBest} rolls make ${name}, against ${P.coverAlt} after ${c.alt}.`,
        `It also prepares ${name}: ${P.coverBest} rolls make it next turn, compared with ${P.coverAlt} after ${c.alt}.`,
      ]));
    } else if (P.buildersBest >= 2) {
      out.push(rng.pick([
        `We keep ${numWord(Math.min(P.buildersBest, 10))} builders aimed at ${name}, and ${P.coverBest} rolls make it next turn.`,
        `${capitalize(name)} is the next target; ${P.coverBest} of our rolls make it if the opponent does not interfere.`,
      ]));
    }
  }
  return out;
}

/** Clauses describing what the main alternative does worse, and what it does better. */
function altClauses(c) {
  const { fb, fa, phase } = c;
  const worse = [];
  const better = [];
  if (fb.hits > fa.hits) worse.push(fa.hits === 0 ? 'passes up the hit' : 'hits fewer checkers');
  if (fa.hits > fb.hits) better.push(fb.hits === 0 ? 'hits' : 'hits more');
  // in a pure race points are irrelevant; only checkers off and distribution count
  const pointsMatter = phase !== 'BEAROFF' || fb.contact || fa.contact;
  const lost = pointsMatter ? fb.made.filter((p) => !fa.made.includes(p)) : [];
  if (lost.length) worse.push(`does not make ${pointListOr(lost.sort((a, b) => POINT_VALUE[b] - POINT_VALUE[a]))}`);
  const gained = pointsMatter ? fa.made.filter((p) => !fb.made.includes(p)) : [];
  if (gained.length) better.push(`makes ${pointList(gained)}`);
  const anchorLost = fa.broken.filter((p) => p >= 18 && !fb.broken.includes(p));
  const pointLost = pointsMatter ? fa.broken.filter((p) => p < 18 && !fb.broken.includes(p)) : [];
  if (anchorLost.length) worse.push(`gives up the anchor on ${pointName(anchorLost[0])}`);
  if (pointLost.length) worse.push(`breaks ${pointList(pointLost)}`);
  if (fa.shots > fb.shots + 1) worse.push(`leaves ${shotText(fa.shots)} instead of ${fb.shots === 0 ? 'none' : fb.shots}`);
  if (fa.shots + 1 < fb.shots) better.push(`is safer (${fa.shots === 0 ? 'no shots' : shotText(fa.shots)} instead of ${fb.shots})`);
  if (fb.escaped > fa.escaped && fb.entered === 0) worse.push('leaves the back checker behind');
  if (fa.escaped > fb.escaped && fa.entered === 0) better.push('runs a back checker');
  if (fa.off < fb.off) worse.push(fa.off === 0 ? 'bears off nothing' : `bears off only ${numWord(fa.off)}`);
  if (phase === 'BEAROFF' && fa.maxStack >= 4 && fa.maxStack > fb.maxStack && fa.stackPoint <= 2) {
    worse.push(`buries another checker on ${pointName(fa.stackPoint)}`);
  }
  if (phase === 'BEAROFF' && fa.gaps.length > fb.gaps.length) {
    worse.push(`leaves a gap on ${pointList(fa.gaps.filter((p) => !fb.gaps.includes(p)))}`);
  }
  if (fa.wasted > fb.wasted + 1) worse.push(`wastes ${fa.wasted} pips of the roll`);
  if (phase === 'BEAROFF' && fa.outside > fb.outside) worse.push(`leaves ${pluralW(fa.outside, 'checker')} outside`);
  if (fa.maxStack >= 5 && fa.maxStack > fb.maxStack && !(phase === 'BEAROFF' && fa.stackPoint <= 2)) worse.push(`piles ${numWord(fa.maxStack)} checkers on ${pointName(fa.stackPoint)}`);
  const P = c.plan;
  if (P.buildersAlt !== undefined && P.buildersAlt + 1 < P.buildersBest && !fa.made.includes(P.target)) worse.push(`leaves fewer builders for ${pointName(P.target)}`);
  if (P.awkBest !== undefined && P.awkAlt > P.awkBest + 2) worse.push(`leaves ${P.awkAlt} awkward rolls next turn instead of ${P.awkBest || 'none'}`);
  return { worse: worse.slice(0, 2), better: better.slice(0, 1) };
}

function altCritique(rng, c) {
  const { alt, err } = c;
  const e = fmtEq(err);
  const { worse, better } = altClauses(c);
  const cls = listText(worse);
  if (worse.length && better.length) {
    return rng.pick([
      `${alt} ${better[0]}, but it ${cls}; the cost is ${e}.`,
      `The main alternative, ${alt}, ${better[0]}, yet it ${cls}, which costs ${e}.`,
      `True, ${alt} ${better[0]}. But it ${cls}, and that makes it ${errorSize(err)} (${e}).`,
    ]);
  }
  if (worse.length) {
    return rng.pick([
      `${alt} ${cls}, ${errorSize(err)} of ${e}.`,
      `What is wrong with ${alt}? It ${cls}, which costs ${e}.`,
      `Compared with the best play, ${alt} ${cls}; the difference is ${e}.`,
      `The runner-up, ${alt}, ${cls}, losing ${e}.`,
    ]);
  }
  if (better.length) {
    return rng.pick([
      `${alt} ${better[0]}, but that does not make up for the weaker structure it leaves; it costs ${e}.`,
      `It is tempting that ${alt} ${better[0]}, yet the resulting position is ${e} worse.`,
    ]);
  }
  return rng.pick([
    `The closest alternative, ${alt}, is ${e} worse: the checkers end up less well placed for the next exchange.`,
    `${alt} is the main rival, but it leaves a slightly clumsier distribution and costs ${e}.`,
    `${alt} is playable, yet ${e} worse because it does less for our structure.`,
    `The runner-up ${alt} costs ${e}; the difference is about flexibility rather than immediate risk.`,
  ]);
}

function otherAltSentence(rng, c) {
  if (c.alts.length < 2) return null;
  const a = c.alts[1];
  const rest = c.alts.length > 2 ? ` and ${c.alts.length - 2 === 1 ? 'the last candidate trails further' : 'the remaining candidates trail further'}` : '';
  return rng.pick([
    `${a.move} trails by ${fmtEq(a.err)}${rest}.`,
    `Further down the list, ${a.move} loses ${fmtEq(a.err)}${rest}.`,
    `${a.move} also deserves a look but costs ${fmtEq(a.err)}.`,
    `The third choice, ${a.move}, is ${fmtEq(a.err)} worse.`,
  ]);
}

function verdictSentence(rng, c) {
  const e = fmtEq(c.err);
  return rng.pick([
    `${c.best} is ${c.err < 0.02 ? 'narrowly' : 'clearly'} the best play here (${signedEq(c.eq)}).`,
    `The top choice is ${c.best}, ${c.err < 0.02 ? `only ${e} ahead of ${c.alt}` : `${e} clear of ${c.alt}`}.`,
    `${c.best} rates best at ${signedEq(c.eq)}.`,
    `Best is ${c.best}, and the gap to the next play is ${e}.`,
  ]);
}

function lessonText(rng, c, decks, themeDeck) {
  const tag = c.reasons[0]?.tag ?? 'BUILD';
  const pool = themeDeck && rng.chance(0.5) ? themeDeck : decks[tag] ?? decks.BUILD;
  return withLeadIn(rng.pick(PHRASES.leadIns), pool());
}

/** Fact-based filler sentences for when the text is short; each is skipped if its fact was already mentioned. */
/** "three on the 6-point, two on the 4-point and one on the ace point" */
function distributionText(side) {
  const parts = [];
  for (let p = 12; p >= 1; p--) if (side[p] > 0) parts.push(`${numWord(side[p])} on ${pointName(p)}`);
  return parts.length ? listText(parts) : 'nothing left';
}

/** Race outlook from the equity, with the practical priority it implies. */
function outlookText(eq, variant) {
  // bands from the best outlook down; the last one (above: null) takes the rest
  const { texts } = PHRASES.bearoff.outlook.find((band) => band.above === null || eq > band.above);
  return texts[variant % texts.length];
}

function fillers(rng, c) {
  const F = c.facts;
  const early = [];
  const late = [];
  // the race sentence is skipped when the pip count was already quoted
  late.push({ text: `${capitalize(raceText(F.myPip, F.opPip))}.`, skip: `${F.myPip} ` });
  if (c.phase !== 'BEAROFF') {
    early.push({ text: opponentText(F), skip: 'The opponent ' });
    const ours = ourText(F, c.pre);
    // skip our inventory if the context already talked about our anchor
    if (ours) early.push({ text: ours, skip: F.myAnchors.length ? pointName(F.myAnchors[0]) : undefined });
  }
  if (c.fb.hits > 0) late.push({ text: `After the hit the pip count reads ${pipCount(c.post.me)} to ${pipCount(c.post.op)}.` });
  if (c.phase === 'BEAROFF') {
    const { rollsUs, rollsThem } = c.plan;
    late.push({ text: rollsUs === rollsThem
      ? `We need about ${pluralW(rollsUs, 'roll')} to finish, the same as the opponent, who rolls next.`
      : `We need about ${pluralW(rollsUs, 'roll')} to finish; the opponent needs about ${numWord(rollsThem)}.` });
    // when checker count and pip count disagree, say so: it is the point of many bearoff lessons
    const ourLeft = checkerTotal(c.post.me);
    const theirLeft = checkerTotal(c.post.op);
    if (!F.contact && ((c.eq > 0.1 && F.myPip > F.opPip) || (c.eq < -0.1 && F.myPip < F.opPip))) {
      late.push({ text: `The pip count is misleading here: we have ${pluralW(ourLeft, 'checker')} left against the opponent's ${numWord(theirLeft)}.` });
    }
    if (F.myOff > 0) early.push({ text: F.myOff === 1 ? 'One of our checkers is already off.' : `${capitalize(numWord(F.myOff))} of our checkers are already off.`, skip: 'already off' });
    if (F.opOff > 0) early.push({ text: `The opponent has borne off ${pluralW(F.opOff, 'checker')}.` });
    late.push({ text: rng.pick([`After ${c.best} we have ${distributionText(c.post.me)}.`, `That leaves ${distributionText(c.post.me)}.`]) });
    if (!F.contact) late.push({ text: outlookText(c.eq, vary(F, 2, 9)) });
    else if (F.opHome === 0) late.push({ text: 'Their board is empty, so even getting hit would not be a disaster, but it would cost the race.' });
    else {
      late.push({ text: `${F.opBar ? 'The opponent must first bring the hit checker in, but their' : 'Their'} board has ${pluralW(F.opHome, 'closed point')}${F.opHome >= 4 ? ', so getting hit now would probably cost the game' : ', which sets the price of a hit'}.` });
    }
  }
  if (c.phase !== 'BEAROFF') {
    const prime = c.fb.prime.length;
    late.push({ text: `After ${c.best} we own ${pluralW(c.fb.homePts, 'home-board point')}${prime >= 3 ? ` and a ${prime}-point block` : ''}.` });
    const target = F.opBlots.find((q) => q >= 2 && q <= 18);
    if (target && c.post.op[25 - target] === 1) {
      const n = rollsWhere(c.post, (x) => x.op[25] > c.post.op[25]);
      if (n > 0) late.push({ text: `If the opponent leaves the blot on ${ourPointName(target)} alone, ${n} of our rolls hit a checker next turn.` });
    }
  }
  if (c.alts.length >= 3) late.push({ text: `${c.alts[2].move} is further behind at ${fmtEq(c.alts[2].err)}.` });
  const tag = (list, isEarly) => list.map((f) => ({ ...f, early: isEarly }));
  const general = c.general ? [c.general(), c.general()].map((text) => ({ text, early: false })) : [];
  // position facts first; the general remarks only top up texts that are still short
  return [...rng.shuffle([...tag(early, true), ...tag(late, false)]), ...general];
}

/** The facts a context phrase may name (listed in data/gen/README.md). */
function contextSlots(c) {
  const F = c.facts;
  const holding = F.myAnchors.filter((p) => p <= 21);
  return {
    dice: () => c.diceName,
    myPip: () => F.myPip,
    opPip: () => F.opPip,
    deficit: () => F.myPip - F.opPip,
    race: () => raceText(F.myPip, F.opPip),
    opponent: () => opponentText(F),
    opponentFirst: () => opponentText(F, true),
    anchors: () => pointList(F.myAnchors),
    holdingAnchors: () => pointList(holding),
    holdingAnchor: () => pointName(holding[0]),
    myHome: () => numWord(F.myHome),
    opponentOnBar: () => F.opBar > 0,
    opBarCheckers: () => (F.opBar === 1 ? 'a checker' : `${numWord(F.opBar)} checkers`),
    opHomeBlot: () => ourPointName(F.opBlotsInHome[0]),
    ourPrime: () => F.myPrime.length >= 4,
    myPrime: () => F.myPrime.length,
    myPrimeLow: () => pointName(F.myPrime.low),
    myPrimeHigh: () => pointName(F.myPrime.high),
    myPrimeTrapped: () => pluralW(F.myPrime.trapped, 'opposing checker'),
    opPrime: () => F.opPrime.length,
    someOff: () => F.myOff > 0,
    offCheckers: () => plural(F.myOff, 'checker'),
    opponentBack: () => contactText(F),
    outside: () => numWord(F.outside),
    outsideCheckers: () => pluralW(F.outside, 'checker'),
    contact: () => F.contact,
  };
}

// ---------------------------------------------------------------- EARLY

// ---------------------------------------------------------------- MIDDLE

function middleTheme(F) {
  const deficit = F.myPip - F.opPip;
  if (F.myAnchors.length >= 2 && deficit >= 30) return 'BACKGAME';
  if ((F.opBar > 0 || F.opBlotsInHome.length > 0) && F.myHome >= 3) return 'BLITZ';
  if (F.myPrime.length >= 4 || F.opPrime.length >= 4) return 'PRIMING';
  if (F.myAnchors.some((p) => p >= 18 && p <= 21) && deficit >= 5) return 'HOLDING';
  return 'TIMING';
}

// --------------------------------------------------------------- BEAROFF

function bearoffTheme(F) {
  if (F.outside > 0) return 'BEARIN';
  if (F.contact) return 'CONTACT';
  return 'RACE';
}

/** "an opposing checker on the bar", "two opposing checkers on our 2-point" - who we bear off against. */
function contactText(F) {
  const bits = [];
  if (F.opBar > 0) bits.push(`${F.opBar === 1 ? 'a checker' : `${numWord(F.opBar)} checkers`} on the bar`);
  const back = F.opBackPoints.filter((q) => q <= 12);
  for (const q of back) bits.push(`${numWord(F.opAt[q])} ${F.opAt[q] === 1 ? 'checker' : 'checkers'} on ${ourPointName(q)}`);
  return bits.length ? listText(bits) : 'checkers that still have to pass ours';
}

function bearoffReasons(rng, c) {
  const f = c.fb;
  const P = c.plan;
  // a late hit is the headline whenever it happens
  const out = bestReasons(rng, c).filter((r) => r.tag === 'HIT').map((r) => r.text);
  if (f.outside === 0 && c.facts.outside > 0) {
    out.push(rng.pick([
      'It brings the last checkers home, so every die can be used for bearing off from the next roll on.',
      'The priority is getting home, and this play completes the bear-in.',
    ]));
  } else if (f.outside < c.facts.outside) {
    out.push(`It reduces the checkers outside from ${c.facts.outside} to ${f.outside}.`);
  }
  if (f.off > 0) {
    const standing = P.rollsUs < P.rollsThem ? 'keeps us ahead in' : P.rollsUs === P.rollsThem ? 'keeps us level in' : 'is the only way to catch up in';
    out.push(rng.pick([
      `It bears off ${pluralW(f.off, 'checker')}, which is what wins races.`,
      `${capitalize(numWord(f.off))} ${f.off === 1 ? 'checker comes' : 'checkers come'} off, bringing us a step closer to the finish.`,
      `Taking ${numWord(f.off)} off now ${standing} the count of rolls.`,
    ]));
  }
  const clearedHome = f.cleared.filter((p) => p <= 6);
  if (clearedHome.length > 0) {
    const p = Math.max(...clearedHome);
    out.push(rng.pick([
      `It clears ${pointName(p)}, following the principle of clearing from the back.`,
      `${capitalize(pointName(p))} is cleared, so high numbers will bear off rather than be played inside.`,
    ]));
  }
  if (f.gaps.length === 0 && f.outside === 0 && checkerTotal(c.post.me) > 3) {
    out.push(rng.pick([
      'The remaining checkers are spread without gaps, so almost every number is useful next turn.',
      'It keeps a smooth distribution with no gaps in the home board.',
      'No gap opens up, so next turn\'s numbers will not be wasted.',
      'The home board stays evenly covered, which keeps future wastage low.',
    ]));
  }
  const rolls = (n) => (n === 36 ? 'every roll' : `${n} of our 36 rolls`);
  if (P.twoOff !== undefined && P.twoOff > P.twoOffAlt) {
    out.push(`Next turn ${rolls(P.twoOff)} ${P.twoOff === 36 ? 'bears' : 'bear'} off two checkers, compared with ${P.twoOffAlt} after ${c.alt}.`);
  } else if (P.twoOff !== undefined && P.twoOff > 0) {
    out.push(P.twoOff === 36 ? 'Next turn every roll takes two checkers off.' : `Next turn ${P.twoOff} of 36 rolls take two checkers off.`);
  }
  if (P.awkBest !== undefined) {
    out.push(P.awkBest === 0
      ? 'Better still, no roll next turn forces us to leave a shot.'
      : `Next turn ${P.awkBest <= 10 ? 'only ' : ''}${P.awkBest} rolls would force us to leave a shot${P.awkAlt > P.awkBest ? `, against ${P.awkAlt} after ${c.alt}` : ''}.`);
  }
  if (f.wasted === 0 && f.off > 0) {
    out.push(rng.pick([
      'Not a single pip of the roll is wasted.',
      'Every pip of the roll is used.',
      'There is no wastage at all with this play.',
    ]));
  } else if (f.wasted > 0 && f.off > 0 && f.wasted <= 3) {
    out.push(`Only ${pluralW(f.wasted, 'pip')} of the roll ${f.wasted === 1 ? 'is' : 'are'} wasted.`);
  }
  return out;
}

// ============================================================ phase builders

function selectAlternatives(rng, ranked, scale) {
  const wanted = rng.pick([2, 3, 3, 4]);
  const best = ranked[0];
  const alts = [];
  let floor = 0;
  for (const m of ranked.slice(1)) {
    if (alts.length === wanted) break;
    // error grows with the evaluator's gap; plays further off than 0.25 are not
    // "alternatives" a student would weigh, so they are skipped
    const raw = (best.score - m.score) * scale;
    if (raw > 0.25) break;
    // near-ties still print as a small but visible error (0.005-0.009)
    let err = raw < 0.005 ? round3(0.005 + rng.int(0, 4) / 1000) : clamp(round3(raw), 0.005, 0.25);
    if (err <= floor) err = round3(floor + 0.001 + rng.int(0, 3) / 1000); // keep the list strictly ordered
    if (err > 0.25) break;
    floor = err;
    alts.push({ m, err });
  }
  return alts;
}

function reportedEquity(rng, phase, best) {
  // Scores are equity-like already. Contact scores are squashed with tanh to stay
  // in the money-game range; races use the race formula as is. A little jitter
  // stops similar positions from printing identical numbers.
  const jitter = (rng.next() - 0.5) * 0.02;
  if (!hasContact(best.board)) return round3(clamp(best.score + jitter, -0.99, 0.99));
  const squash = phase === 'EARLY' ? 0.8 : phase === 'BEAROFF' ? 1.4 : 0.95;
  return round3(clamp(Math.tanh(best.score * squash) + jitter, -0.97, 0.97));
}

function buildPosition(rng, phase, index, b, dice, theme, writer) {
  const ranked = rankMoves(b, dice).slice(0, 6).map(withText);
  if (ranked.length < 3 || ranked[0].steps.length === 0) return null;
  const alts = selectAlternatives(rng, ranked, phase === 'BEAROFF' ? 0.6 : 0.75);
  if (alts.length < 2) return null;
  const eq = reportedEquity(rng, phase, ranked[0]);
  const facts = positionFacts(b);
  const ctx = {
    phase,
    theme,
    dice: diceText(dice),
    diceName: diceName(dice),
    facts,
    pre: b,
    post: ranked[0].board,
    best: ranked[0].text,
    fb: moveFeatures(b, ranked[0]),
    alt: alts[0].m.text,
    altBoard: alts[0].m.board,
    fa: moveFeatures(b, alts[0].m),
    err: alts[0].err,
    eq,
    alts: alts.map((a) => ({ move: a.m.text, err: a.err })),
  };
  ctx.plan = planFacts(ctx);
  const position = {
    positionId: `${phase}-${String(index + 1).padStart(3, '0')}`,
    gamePhase: phase,
    diceRoll: diceText(dice),
    xgid: xgid(b, dice),
    pipCount: { player: facts.myPip, opponent: facts.opPip },
    bestMove: ranked[0].text,
    bestMoveEquity: eq,
    alternatives: alts.map((a) => ({ move: a.m.text, equity: round3(eq - a.err) })),
    analysis: '',
  };
  ctx.header = promptHeader(position);
  position.analysis = writer(rng, ctx);
  return position;
}

/** "Remember: " + "Make the points ..." reads "Remember: make the points ...". */
/** A lesson that has a colon of its own reads better without a second one in front. */
const withLeadIn = (lead, lesson) =>
  lead && !lesson.includes(':') ? `${lead}${lesson.charAt(0).toLowerCase()}${lesson.slice(1)}` : lesson;

/**
 * Shared skeleton for EARLY and MIDDLE prose, in one of three block orders.
 * Required: the context, the main reason, the critique of the runner-up and the
 * lesson; the rest is optional and ranked for `fitLength` to drop.
 */
function contactAnalysis(rng, c, context, lessonDecks, themeDeck) {
  const insight = c.phase === 'MIDDLE' ? middleInsight(c) : null;
  c.reasons = bestReasons(rng, c);
  const reasons = c.reasons.slice(0, 3).map((r, i) => (i === 0 ? req(r.text) : opt(r.text, i === 1 ? 2 : 4)));
  const safety = safetySentence(rng, c);
  const plan = planSentence(rng, c).map((t) => opt(t, 4));
  const critique = altCritique(rng, c);
  const other = otherAltSentence(rng, c);
  const layout = rng.int(0, 2);
  const s = [];
  if (layout === 0) {
    s.push(req(context));
    if (insight) s.push(opt(insight, 3));
    s.push(...reasons);
    if (safety) s.push(opt(safety, 2));
    s.push(...plan, req(critique));
  } else if (layout === 1) {
    s.push(opt(verdictSentence(rng, c), 3), req(context));
    if (insight) s.push(opt(insight, 3));
    s.push(...reasons, ...plan);
    if (safety) s.push(opt(safety, 3));
    s.push(req(critique));
  } else {
    s.push(req(context));
    if (insight) s.push(opt(insight, 3));
    s.push(opt(rng.pick([
      `The natural-looking alternative is ${c.alt}, but ${c.best} is better.`,
      `Many players would reach for ${c.alt}; the stronger play is ${c.best}.`,
      `${c.best} beats the tempting ${c.alt}.`,
    ]), 3), ...reasons);
    if (safety) s.push(opt(safety, 2));
    s.push(req(critique), ...plan);
  }
  if (other) s.push(opt(other, 5));
  s.push(req(lessonText(rng, c, lessonDecks, themeDeck)));
  return fitLength(rng, s, fillers(rng, c), c.header, c.best);
}

function bearoffAnalysis(rng, c, themeDecks) {
  c.reasons = [{ tag: c.fb.contact ? 'SAFE' : 'BUILD' }];
  const context = fill(rng.pick(PHRASES.bearoff.contexts[c.theme]), contextSlots(c));
  const reasons = bearoffReasons(rng, c);
  const s = [req(context)];
  if (rng.chance(0.5)) s.push(opt(verdictSentence(rng, c), 3));
  else s.push(opt(rng.pick([
    `The play is ${c.best}.`,
    `${c.best} is right.`,
    `We play ${c.best}.`,
  ]), 3));
  s.push(...reasons.slice(0, 4).map((t, i) => (i === 0 ? req(t) : opt(t, i === 1 ? 2 : 4))));
  const safety = c.fb.contact ? safetySentence(rng, c) : null;
  if (safety) s.push(opt(safety, 2));
  s.push(req(altCritique(rng, c)));
  const other = otherAltSentence(rng, c);
  if (other) s.push(opt(other, 5));
  s.push(req(withLeadIn(rng.pick(PHRASES.leadIns), themeDecks[c.theme]())));
  return fitLength(rng, s, fillers(rng, c), c.header, c.best);
}

// --------------------------------------------------------------- generators

function generateOpening() {
  const rng = makeRng(0x0be11a);
  const fillerDeck = rng.deck(PHRASES.opening.fillers);
  const lessonDeck = rng.deck(PHRASES.opening.lessons);
  // order: the 15 non-double rolls by high die, then the doubles
  const order = [...OPENING_BOOK].sort((a, b) => {
    const da = a.dice[0] === a.dice[1];
    const db = b.dice[0] === b.dice[1];
    return da - db || a.dice[0] - b.dice[0] || a.dice[1] - b.dice[1];
  });
  return order.map((entry) => {
    assertLegalOpening(entry);
    const eq = entry.equity;
    const position = {
      positionId: `OPENING-${entry.dice[0]}${entry.dice[1]}`,
      gamePhase: 'OPENING',
      diceRoll: diceText(entry.dice),
      xgid: `XGID=-b----E-C---eE---c-e----B-:0:0:1:${entry.dice[0]}${entry.dice[1]}:0:0:0:0:10`,
      pipCount: { player: 167, opponent: 167 },
      bestMove: entry.best,
      bestMoveEquity: eq,
      alternatives: entry.alternatives.map(({ move, equity }) => ({ move, equity })),
      analysis: '',
    };
    // {a1} is the first alternative and {e1} what it loses, as the book notes name them
    const slots = { dice: () => diceName(entry.dice), myPip: () => 167 };
    entry.alternatives.forEach((a, i) => {
      slots[`a${i + 1}`] = () => a.move;
      slots[`e${i + 1}`] = () => fmtEq(round3(eq - a.equity));
    });
    const ctx = { slots, header: promptHeader(position) };
    position.analysis = openingAnalysis(rng, entry, ctx, fillerDeck, lessonDeck);
    return position;
  });
}

/** The hand-written book must describe legal plays; compare token sets so word order does not matter. */
function assertLegalOpening(entry) {
  const legal = new Set(legalMoves(startBoard(), entry.dice).map((m) => notation(m.steps).split(' ').sort().join(' ')));
  for (const move of [entry.best, ...entry.alternatives.map((a) => a.move)]) {
    if (!legal.has(move.split(' ').sort().join(' '))) throw new Error(`opening ${diceText(entry.dice)}: illegal play ${move}`);
  }
}

/** Heuristic self-play sometimes piles checkers up; library positions keep stacks to what strong players allow. */
const realistic = (b) =>
  [b.me, b.op].every((side) => Math.max(...side.slice(1, 25)) <= 6 && side[1] <= 5 && side[2] <= 5);

/**
 * Fills one phase. Self-play games feed a pool of candidate positions (several
 * snapshots per game, which is far cheaper than one game per slot); each of
 * the 36 dice slots then takes a pooled position with the wanted theme that
 * gives a real decision (3+ distinct plays) and prose of the right length.
 */
function generatePhase(phase, seed, { collect, fits, theme, quotas, play, writer }) {
  const rng = makeRng(seed);
  const general = rng.deck(PHRASES[phase.toLowerCase()].remarks);
  const diceList = phaseDice(rng);
  const themes = rng.shuffle(quotas);
  const pool = [];
  const used = new Set();
  const texts = new Set();
  const out = [];
  const playGame = () => {
    let b = startBoard();
    for (let ply = 0; ply < play.maxPly; ply++) {
      if (checkerTotal(b.me) === 0 || checkerTotal(b.op) === 0) return;
      if (ply >= play.minPly && realistic(b) && collect(b) && rng.chance(play.take)) {
        pool.push({ board: b, theme: theme(b), key: boardKey(b) });
      }
      let dice = rollDice(rng);
      while (ply === 0 && dice[0] === dice[1]) dice = rollDice(rng); // no doubles on the opening roll
      b = playPly(rng, b, dice);
    }
  };
  for (let i = 0; i < PER_PHASE; i++) {
    const dice = diceList[i];
    const tried = new Set();
    let position = null;
    for (let games = 0; !position && games < 400; games++) {
      const strict = games < 60; // relax the theme only if it proves scarce
      for (const cand of rng.shuffle(pool)) {
        if (used.has(cand.key) || tried.has(cand.key)) continue;
        if (strict && cand.theme !== themes[i]) continue;
        if (!fits(cand.board, dice)) continue;
        tried.add(cand.key);
        const built = buildPosition(rng, phase, i, cand.board, dice, cand.theme, (r, c) => writer(r, { ...c, general }));
        if (!built || texts.has(built.analysis)) continue;
        const words = wordCount(built.analysis);
        if (words < WORDS_MIN || words > WORDS_MAX) continue;
        used.add(cand.key);
        texts.add(built.analysis);
        position = built;
        break;
      }
      if (!position) playGame();
    }
    if (!position) throw new Error(`${phase}: could not build position ${i + 1} (${diceText(dice)})`);
    out.push(position);
  }
  return out;
}

/** One deck per key of a pool table, so each theme deals its own phrasings without repeats. */
const decksFor = (rng, pools) => Object.fromEntries(Object.entries(pools).map(([k, v]) => [k, rng.deck(v)]));

function generateEarly() {
  const rng = makeRng(0xea71);
  const decks = decksFor(rng, PHRASES.lessons);
  const intros = rng.deck(PHRASES.early.intros);
  return generatePhase('EARLY', 0xea7100, {
    collect: (b) => {
      const my = pipCount(b.me);
      const op = pipCount(b.op);
      return my >= 140 && my <= 165 && op >= 135 && op <= 167 && hasContact(b) && b.me[25] === 0;
    },
    fits: () => true,
    theme: () => 'EARLY',
    quotas: new Array(PER_PHASE).fill('EARLY'),
    play: { minPly: 2, maxPly: 7, take: 0.4 },
    writer: (r, c) => contactAnalysis(r, c, fill(intros(), contextSlots(c)), decks, null),
  });
}

function generateMiddle() {
  const rng = makeRng(0x3dd1e);
  const decks = decksFor(rng, PHRASES.lessons);
  const themeDecks = decksFor(rng, PHRASES.middle.lessons);
  const contexts = decksFor(rng, PHRASES.middle.contexts);
  const quotas = [
    ...new Array(10).fill('PRIMING'),
    ...new Array(8).fill('BLITZ'),
    ...new Array(8).fill('HOLDING'),
    ...new Array(3).fill('BACKGAME'),
    ...new Array(7).fill('TIMING'),
  ];
  return generatePhase('MIDDLE', 0x3dd1e00, {
    collect: (b) => {
      const my = pipCount(b.me);
      const op = pipCount(b.op);
      return my >= 90 && my <= 140 && op >= 80 && op <= 150 && hasContact(b) && borneOff(b.me) === 0 && borneOff(b.op) === 0;
    },
    fits: () => true,
    theme: (b) => middleTheme(positionFacts(b)),
    quotas,
    play: { minPly: 8, maxPly: 40, take: 0.25 },
    writer: (r, c) => contactAnalysis(r, c, fill(contexts[c.theme](), contextSlots(c)), decks, themeDecks[c.theme]),
  });
}

function generateBearoff() {
  const rng = makeRng(0xbea2);
  const themeDecks = decksFor(rng, PHRASES.bearoff.lessons);
  const quotas = [...new Array(16).fill('RACE'), ...new Array(12).fill('CONTACT'), ...new Array(8).fill('BEARIN')];
  return generatePhase('BEAROFF', 0xbea200, {
    // the pool is a little wider than the phase (see the 6-6 note below)
    collect: (b) => pipCount(b.me) <= 80 && pipCount(b.op) <= 100 && b.me[25] === 0 && highestPoint(b.me) <= 18,
    fits: (b, dice) => {
      const my = pipCount(b.me);
      if (dice[0] === 6 && dice[1] === 6) {
        // In a short bearoff 6-6 is nearly always a forced play (a sample of
        // 220 bear-in positions under 72 pips had one real decision), so this
        // slot takes a longer bear-in with three or more checkers still outside.
        return my <= 80 && outsideHome(b.me) >= 3 && (hasContact(b) || Math.abs(raceEquity(flip(b))) <= 0.85);
      }
      // stragglers up to the midpoint are allowed: without them 5-5 is nearly always forced
      if (my < 10 || my > 60 || highestPoint(b.me) > 13 || outsideHome(b.me) > 4) return false;
      // a race that is already decided teaches nothing; contact positions may be lopsided
      return hasContact(b) || Math.abs(raceEquity(flip(b))) <= 0.85;
    },
    theme: (b) => bearoffTheme(positionFacts(b)),
    quotas,
    play: { minPly: 20, maxPly: 140, take: 0.35 },
    writer: (r, c) => bearoffAnalysis(r, c, themeDecks),
  });
}

// =============================================================== validation

/** Fails loudly rather than shipping a library that breaks the documented contract. */
function validate(positions) {
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

// ===================================================================== main

const timed = (name, fn) => {
  const t0 = Date.now();
  const out = fn();
  if (process.env.GEN_TIMING) console.error(`${name}: ${Date.now() - t0} ms`);
  return out;
};
const positions = [
  ...timed('opening', generateOpening),
  ...timed('early', generateEarly),
  ...timed('middle', generateMiddle),
  ...timed('bearoff', generateBearoff),
];
validate(positions);
mkdirSync(dirname(OUT_FILE), { recursive: true });
writeFileSync(OUT_FILE, `${JSON.stringify(positions, null, 2)}\n`);
console.log(`wrote ${positions.length} positions to ${OUT_FILE}`);

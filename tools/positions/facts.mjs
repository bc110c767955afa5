// Facts the prose quotes, measured on the boards rather than guessed: what the position holds, what
// a play makes, breaks and risks, next-turn counts (cover numbers, entry odds, bearoff rolls), and
// the theme a pooled position belongs to.
import { ALL_ROLLS, borneOff, checkerTotal, hasContact, highestPoint, homePoints, legalMoves, outsideHome, pipCount } from "./board.mjs";
import { blotRisk, effectivePips, primeInfo, rankMoves } from "./evaluate.mjs";

/** Facts about the position before the move, shared by all phases' prose. */
export function positionFacts(b) {
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
export function moveFeatures(pre, move) {
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
export function rollsWhere(board, goal) {
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
export function planFacts(c) {
  const plan = {};
  const post = c.post;
  if (c.phase !== "BEAROFF") {
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

export function middleTheme(F) {
  const deficit = F.myPip - F.opPip;
  if (F.myAnchors.length >= 2 && deficit >= 30) return "BACKGAME";
  if ((F.opBar > 0 || F.opBlotsInHome.length > 0) && F.myHome >= 3) return "BLITZ";
  if (F.myPrime.length >= 4 || F.opPrime.length >= 4) return "PRIMING";
  if (F.myAnchors.some((p) => p >= 18 && p <= 21) && deficit >= 5) return "HOLDING";
  return "TIMING";
}

export function bearoffTheme(F) {
  if (F.outside > 0) return "BEARIN";
  if (F.contact) return "CONTACT";
  return "RACE";
}

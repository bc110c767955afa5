// Dice, boards, the XGID and legal moves in standard notation.
//
// A board is { me, op }: two arrays of 26 counts, each in its owner's own
// coordinates (index 1..24 = points, 25 = bar; borne-off checkers are implicit).
// `me` is the side to move. The opponent's point j is our point 25 - j, so
// flipping the side to move is just swapping the arrays.

export const ALL_ROLLS = [];
for (let hi = 1; hi <= 6; hi++) for (let lo = 1; lo <= hi; lo++) ALL_ROLLS.push([hi, lo]);

export const diceText = ([hi, lo]) => `${hi}-${lo}`;
export const diceName = ([hi, lo]) => (hi === lo ? `double ${hi}s` : `${hi}-${lo}`);

export function rollDice(rng) {
  const a = rng.int(1, 6);
  const b = rng.int(1, 6);
  return a >= b ? [a, b] : [b, a];
}

export function startBoard() {
  const side = new Array(26).fill(0);
  side[24] = 2;
  side[13] = 5;
  side[8] = 3;
  side[6] = 5;
  return { me: side, op: side.slice() };
}

const cloneBoard = (b) => ({ me: b.me.slice(), op: b.op.slice() });
export const flip = (b) => ({ me: b.op.slice(), op: b.me.slice() });
export const boardKey = (b) => `${b.me.join(",")}|${b.op.join(",")}`;
export const pipCount = (side) => side.reduce((sum, n, p) => sum + n * p, 0);
export const checkerTotal = (side) => side.reduce((sum, n) => sum + n, 0);
export const borneOff = (side) => 15 - checkerTotal(side);
export const homePoints = (side) => [1, 2, 3, 4, 5, 6].filter((p) => side[p] >= 2).length;
export const outsideHome = (side) => side.slice(7).reduce((sum, n) => sum + n, 0);

export function highestPoint(side) {
  for (let p = 25; p >= 1; p--) if (side[p] > 0) return p;
  return 0;
}

/** Contact exists while some opposing checker still has to pass one of ours. */
export const hasContact = (b) => highestPoint(b.me) + highestPoint(b.op) > 25;

/** XGID position field: char 0 = opponent's bar, 1..24 = our points, 25 = our bar; upper case = side to move. */
export function xgid(b, dice) {
  const cell = (n, upper) => (n === 0 ? "-" : String.fromCharCode((upper ? 65 : 97) + n - 1));
  let pos = cell(b.op[25], false);
  for (let p = 1; p <= 24; p++) {
    pos += b.me[p] > 0 ? cell(b.me[p], true) : cell(b.op[25 - p], false);
  }
  pos += cell(b.me[25], true);
  return `XGID=${pos}:0:0:1:${dice[0]}${dice[1]}:0:0:0:0:10`;
}

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
export function legalMoves(b, dice) {
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
export const withText = (m) => (m.text ? m : { ...m, text: notation(m.steps) });

const pointLabel = (p) => (p === 25 ? "bar" : p === 0 ? "off" : String(p));

/**
 * Standard notation as XG prints it: one checker's steps are chained
 * ("24/18 18/13" -> "24/13", an intermediate hit stays visible: "24/18*\/13"),
 * identical moves are grouped ("13/11(2)"), highest starting point first.
 */
export function notation(steps) {
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
      if (n.hit || i === q.nodes.length - 1) text += `/${pointLabel(n.to)}${n.hit ? "*" : ""}`;
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
  return grouped.map((g) => (g.count > 1 ? `${g.text}(${g.count})` : g.text)).join(" ");
}

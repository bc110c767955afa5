// The EARLY, MIDDLE and BEAROFF phases: snapshots of short self-play games, ranked by the
// evaluator; the top play is the best move and close runners-up are the alternatives.

import { bearoffAnalysis, contactAnalysis } from "./analysis.mjs";
import {
  ALL_ROLLS,
  boardKey,
  borneOff,
  checkerTotal,
  diceName,
  diceText,
  flip,
  hasContact,
  highestPoint,
  outsideHome,
  pipCount,
  rollDice,
  startBoard,
  withText,
  xgid,
} from "./board.mjs";
import { PER_PHASE, PHRASES, WORDS_MAX, WORDS_MIN } from "./config.mjs";
import { raceEquity, rankMoves } from "./evaluate.mjs";
import { bearoffTheme, middleTheme, moveFeatures, planFacts, positionFacts } from "./facts.mjs";
import { promptHeader } from "./fit.mjs";
import { makeRng } from "./rng.mjs";
import { clamp, fill, round3, wordCount } from "./text.mjs";
import { contextSlots } from "./words.mjs";

/** 36 rolls per phase: each of the 21 combinations once, plus 15 drawn with real dice odds. */
function phaseDice(rng) {
  const extra = [];
  while (extra.length < PER_PHASE - ALL_ROLLS.length) extra.push(rollDice(rng));
  return rng.shuffle([...ALL_ROLLS, ...extra]);
}

/** Mostly the top play, sometimes the 2nd or 3rd, so sampled games wander into varied structures. */
function playPly(rng, b, dice) {
  const ranked = rankMoves(b, dice);
  const r = rng.next();
  const idx = ranked.length > 2 && r > 0.93 ? 2 : ranked.length > 1 && r > 0.75 ? 1 : 0;
  return flip(ranked[idx].board);
}

/** The runners-up worth printing (2-4, drawn), each with an error that keeps the list strictly ordered. */
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

/** The best play's printed equity, from its evaluator score. */
function reportedEquity(rng, phase, best) {
  // Scores are equity-like already. Contact scores are squashed with tanh to stay
  // in the money-game range; races use the race formula as is. A little jitter
  // stops similar positions from printing identical numbers.
  const jitter = (rng.next() - 0.5) * 0.02;
  if (!hasContact(best.board)) return round3(clamp(best.score + jitter, -0.99, 0.99));
  const squash = phase === "EARLY" ? 0.8 : phase === "BEAROFF" ? 1.4 : 0.95;
  return round3(clamp(Math.tanh(best.score * squash) + jitter, -0.97, 0.97));
}

/**
 * One library position from a pooled board and the slot's dice, or null when the
 * roll gives no real decision. `ctx` carries everything the prose writers quote.
 */
function buildPosition(rng, phase, index, b, dice, theme, writer) {
  const ranked = rankMoves(b, dice).slice(0, 6).map(withText);
  if (ranked.length < 3 || ranked[0].steps.length === 0) return null;
  const alts = selectAlternatives(rng, ranked, phase === "BEAROFF" ? 0.6 : 0.75);
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
    positionId: `${phase}-${String(index + 1).padStart(3, "0")}`,
    gamePhase: phase,
    diceRoll: diceText(dice),
    xgid: xgid(b, dice),
    pipCount: { player: facts.myPip, opponent: facts.opPip },
    bestMove: ranked[0].text,
    bestMoveEquity: eq,
    alternatives: alts.map((a) => ({ move: a.m.text, equity: round3(eq - a.err) })),
    analysis: "",
  };
  ctx.header = promptHeader(position);
  position.analysis = writer(rng, ctx);
  return position;
}

/** Heuristic self-play sometimes piles checkers up; library positions keep stacks to what strong players allow. */
const realistic = (b) => [b.me, b.op].every((side) => Math.max(...side.slice(1, 25)) <= 6 && side[1] <= 5 && side[2] <= 5);

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

export function generateEarly() {
  const rng = makeRng(0xea71);
  const decks = decksFor(rng, PHRASES.lessons);
  const intros = rng.deck(PHRASES.early.intros);
  return generatePhase("EARLY", 0xea7100, {
    collect: (b) => {
      const my = pipCount(b.me);
      const op = pipCount(b.op);
      return my >= 140 && my <= 165 && op >= 135 && op <= 167 && hasContact(b) && b.me[25] === 0;
    },
    fits: () => true,
    theme: () => "EARLY",
    quotas: new Array(PER_PHASE).fill("EARLY"),
    play: { minPly: 2, maxPly: 7, take: 0.4 },
    writer: (r, c) => contactAnalysis(r, c, fill(intros(), contextSlots(c)), decks, null),
  });
}

export function generateMiddle() {
  const rng = makeRng(0x3dd1e);
  const decks = decksFor(rng, PHRASES.lessons);
  const themeDecks = decksFor(rng, PHRASES.middle.lessons);
  const contexts = decksFor(rng, PHRASES.middle.contexts);
  const quotas = [
    ...new Array(10).fill("PRIMING"),
    ...new Array(8).fill("BLITZ"),
    ...new Array(8).fill("HOLDING"),
    ...new Array(3).fill("BACKGAME"),
    ...new Array(7).fill("TIMING"),
  ];
  return generatePhase("MIDDLE", 0x3dd1e00, {
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

export function generateBearoff() {
  const rng = makeRng(0xbea2);
  const themeDecks = decksFor(rng, PHRASES.bearoff.lessons);
  const quotas = [...new Array(16).fill("RACE"), ...new Array(12).fill("CONTACT"), ...new Array(8).fill("BEARIN")];
  return generatePhase("BEAROFF", 0xbea200, {
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

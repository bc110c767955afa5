// The OPENING phase: the 21 first rolls of data/gen/opening-book.json from the starting position,
// with the book's notes between a drawn intro and lesson. Doubles cannot be the very first roll of
// a game; they are included as the player's first move with doubles.

import { diceName, diceText, legalMoves, notation, startBoard, xgid } from "./board.mjs";
import { OPENING_BOOK, PHRASES } from "./config.mjs";
import { fitLength, promptHeader, req } from "./fit.mjs";
import { makeRng } from "./rng.mjs";
import { fill, fmtEq, round3 } from "./text.mjs";

/** Intro, the book's notes and a lesson, topped up with general opening remarks if short. */
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

export function generateOpening() {
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
      gamePhase: "OPENING",
      diceRoll: diceText(entry.dice),
      xgid: xgid(startBoard(), entry.dice),
      pipCount: { player: 167, opponent: 167 },
      bestMove: entry.best,
      bestMoveEquity: eq,
      alternatives: entry.alternatives.map(({ move, equity }) => ({ move, equity })),
      analysis: "",
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
  const legal = new Set(legalMoves(startBoard(), entry.dice).map((m) => notation(m.steps).split(" ").sort().join(" ")));
  for (const move of [entry.best, ...entry.alternatives.map((a) => a.move)]) {
    if (!legal.has(move.split(" ").sort().join(" "))) throw new Error(`opening ${diceText(entry.dice)}: illegal play ${move}`);
  }
}

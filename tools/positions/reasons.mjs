// Sentences about the best play: what it achieves, the risk it takes and what it prepares.
//
// Each picks from a few phrasings keyed on what the play actually does and adds
// computed next-turn facts, so the texts read like individual notes rather than
// one template. The picks draw on the phase's random stream: keep their order.

import { checkerTotal } from "./board.mjs";
import { POINT_VALUE } from "./evaluate.mjs";
import { capitalize, numWord, pluralW } from "./text.mjs";
import { pct, pointList, pointName, pointNote, shotText, vary } from "./words.mjs";

/** One theme-specific observation for middle-game positions (timing, shots to come, gammons). */
export function middleInsight(c) {
  const F = c.facts;
  const b = c.pre;
  const passing = (p) => {
    let n = b.op[25];
    for (let q = 1; q < p; q++) n += F.opAt[q];
    return n;
  };
  const deficit = F.myPip - F.opPip;
  switch (c.theme) {
    case "HOLDING":
    case "BACKGAME": {
      // the context already names the anchors; count the traffic past the front one
      const anchor = Math.min(...F.myAnchors);
      const n = passing(anchor);
      const ours = F.myAnchors.length > 1 ? "our anchors" : "our anchor";
      return n > 0
        ? `The opponent still has ${pluralW(n, "checker")} to bring home past ${ours}, so more shots are likely to come.`
        : `Every opposing checker is already past ${ours}, so the waiting game is running out of time.`;
    }
    case "PRIMING":
      if (F.myPrime.length >= 4) {
        if (Math.abs(deficit) <= 4) return "With the race about even, the side whose structure lasts longer will win this priming battle.";
        return deficit > 0
          ? "Trailing in the race actually helps our timing: the opponent is more likely to crack first."
          : "Because we are ahead in the race, our own timing is the worry: we need spare checkers so the prime does not have to break.";
      }
      // the context has just described the opponent's block
      return "What matters now is how many more rolls we can play without breaking our own points.";
    case "BLITZ": {
      const targets = F.opBar + F.opBlotsInHome.length;
      if (targets > 1)
        return `${capitalize(numWord(targets))} opposing checkers are within reach, so a successful attack can end in a gammon.`;
      return [
        "With one opposing checker to attack, every tempo we gain raises our gammon chances.",
        "As long as the opponent's exposed checker stays in trouble, a gammon is a realistic result.",
        "Keeping the opponent's exposed checker under fire is where our gammon chances come from.",
      ][vary(F, 3, 10)];
    }
    default:
      if (F.myBack > 0 && F.opBack > 0) {
        return `We still have ${pluralW(F.myBack, "checker")} back against the opponent's ${numWord(F.opBack)}, so both sides have work to do before the race.`;
      }
      if (F.myBack > 0)
        return `We still have ${pluralW(F.myBack, "checker")} back while the opponent has none, so bringing them home safely is the main job.`;
      return `Our back checkers are out while the opponent still has ${pluralW(F.opBack, "checker")} back, so we are the one doing the attacking.`;
  }
}

/** Points the play newly makes on our side of the board (up to the 12-point), and anchors. */
const homeMade = (f) => f.made.filter((p) => p <= 12);
const anchorMade = (f) => f.made.filter((p) => p >= 18);

/**
 * What the best play achieves, most important first; each entry carries a tag for
 * the lesson. Each helper below returns its reasons (often none), in this order.
 */
export function bestReasons(rng, c) {
  const out = [];
  const helpers = [enterReason, hitReason, pointReasons, anchorReason, runReason, splitReason, slotOrBuilderReason];
  for (const reasons of helpers) out.push(...reasons(rng, c, out));
  if (out.length === 0) out.push(quietReason(rng, c));
  return out;
}

function enterReason(rng, c) {
  const f = c.fb;
  if (!(f.entered > 0 && f.hits === 0 && homeMade(f).length === 0)) return [];
  return [
    {
      tag: "ENTER",
      text: rng.pick([
        `${c.best} brings the checker in from the bar first, as it must, and then finds the most useful spot for the rest of the roll.`,
        `Entering comes first; the rest of ${c.best} is about keeping our structure intact while we do it.`,
      ]),
    },
  ];
}

function hitReason(rng, c) {
  const f = c.fb;
  if (f.hits === 0) return [];
  if (f.pipLoss < 7) {
    // a hit deep in our board gains few pips; its value is tempo
    return [
      {
        tag: "HIT",
        text: rng.pick([
          `The hit costs the opponent only ${pluralW(f.pipLoss, "pip")}, but it takes away half of their next roll, which is what matters here.`,
          `${c.best} hits, and although the checker loses just ${pluralW(f.pipLoss, "pip")}, the opponent has to spend part of the next roll coming in.`,
        ]),
      },
    ];
  }
  const two = f.hits > 1;
  return [
    {
      tag: "HIT",
      text: rng.pick([
        `${c.best} ${two ? "hits twice" : "hits"}, costing the opponent ${f.pipLoss} pips and forcing them to spend part of their next roll entering instead of building.`,
        `The hit is the heart of the play: it sends ${two ? "two checkers" : "a checker"} back ${f.pipLoss} pips and takes the initiative away from the opponent.`,
        `Hitting gains ${f.pipLoss} pips and, just as important, tempo: with ${two ? "two checkers" : "a checker"} on the bar the opponent cannot use the full roll against us.`,
        `${two ? "A double hit" : "The hit"} puts the opponent on the defensive; ${f.pipLoss} pips change hands and ${two ? "both checkers have" : "the checker has"} to come in before they can do anything else.`,
      ]),
    },
  ];
}

/** The most valuable new point (the others as a bonus), and the longer prime it may complete. */
function pointReasons(rng, c) {
  const f = c.fb;
  const made = homeMade(f);
  if (made.length === 0) return [];
  const p = made.reduce((a, b) => (POINT_VALUE[b] > POINT_VALUE[a] ? b : a));
  const others = made.filter((x) => x !== p);
  const extra = others.length ? `, and ${pointList(others)} as well` : "";
  const out = [
    {
      tag: "POINT",
      text: rng.pick([
        `It makes ${pointName(p)}, ${pointNote(p)}${extra}.`,
        `Owning ${pointName(p)} is the main gain, since it is ${pointNote(p)}${others.length ? `; ${pointList(others)} comes as a bonus` : ""}.`,
        `${c.best} secures ${pointName(p)}, ${pointNote(p)}${extra}.`,
        `The play builds ${pointName(p)}, ${pointNote(p)}${extra}.`,
      ]),
    },
  ];
  if (f.prime.length >= 4 && f.prime.length > c.facts.myPrime.length) {
    out.push({
      tag: "PRIME",
      text: `Our block now runs ${f.prime.length} points, from ${pointName(f.prime.low)} to ${pointName(f.prime.high)}, with ${pluralW(f.prime.trapped, "opposing checker")} behind it.`,
    });
  }
  return out;
}

function anchorReason(rng, c) {
  const [p] = anchorMade(c.fb);
  if (p === undefined) return [];
  return [
    {
      tag: "ANCHOR",
      text: rng.pick([
        `It establishes an anchor on ${pointName(p)}, ${pointNote(p)}, so our back checkers are no longer a target.`,
        `${c.best} anchors on ${pointName(p)}, ${pointNote(p)}, and the opponent's attacking plans lose most of their force.`,
      ]),
    },
  ];
}

function runReason(rng, c) {
  const f = c.fb;
  if (!(f.escaped > 0 && f.entered === 0)) return [];
  return [
    {
      tag: "RUN",
      text: rng.pick([
        `Running ${f.escaped === 1 ? "a back checker" : `${numWord(f.escaped)} back checkers`} gets ${f.escaped === 1 ? "it" : "them"} out before the opponent's blockade grows.`,
        `The play escapes ${f.escaped === 1 ? "a back checker" : "back checkers"} while the path is still open, which also improves our racing chances.`,
        `Moving out from the back now avoids the risk of being primed later.`,
      ]),
    },
  ];
}

/** Only a plain split: a split that hits, anchors or runs is described by those reasons. */
function splitReason(rng, c) {
  const f = c.fb;
  if (!(f.split && f.hits === 0 && anchorMade(f).length === 0 && f.escaped === 0)) return [];
  return [
    {
      tag: "SPLIT",
      text: rng.pick([
        "Splitting the back checkers gives them more ways to make an advanced anchor and discourages the opponent from bringing builders into range.",
        "The split adds flexibility in the back: next turn many rolls make an anchor or hit a loose opposing checker.",
        c.facts.opHome <= 2
          ? "Moving up in the back now, while the opponent has little to attack with, is cheaper than doing it later."
          : "Moving up in the back keeps the back checkers from being trapped on the opponent's deep points.",
      ]),
    },
  ];
}

/** A slot, or else a new builder; `before` (the reasons so far) decides whether the slot is "also" made. */
function slotOrBuilderReason(rng, c, before) {
  const f = c.fb;
  if (f.hits > 0) return [];
  if (f.slotted.length > 0 && !f.made.includes(f.slotted[0])) {
    const p = f.slotted[0];
    return [
      {
        tag: "SLOT",
        text: rng.pick([
          `It ${before.length ? "also " : ""}slots ${pointName(p)}, ${f.shots > 0 ? "accepting some risk" : "at no real risk"} to make that point next turn.`,
          `The checker left on ${pointName(p)} is a deliberate slot aimed at owning the point next turn.`,
        ]),
      },
    ];
  }
  if (f.builders.length === 0) return [];
  return [
    {
      tag: "BUILD",
      text: rng.pick([
        `A new builder lands on ${pointName(f.builders[0])}, adding ways to make the key points next turn.`,
        `The checker on ${pointName(f.builders[0])} is a useful builder for the points we still want.`,
        `Bringing a checker to ${pointName(f.builders[0])} diversifies our builders.`,
      ]),
    },
  ];
}

/** For a play that does none of the above: safe, or connected at the cost of a blot. */
function quietReason(rng, c) {
  if (c.fb.shots === 0) {
    return {
      tag: "SAFE",
      text: rng.pick([
        `${c.best} is the quiet play: it keeps every point intact and gives the opponent nothing to aim at.`,
        `Nothing spectacular is available, so ${c.best} simply keeps the position tidy and safe.`,
        `${c.best} improves the distribution without giving anything away.`,
      ]),
    };
  }
  return {
    tag: "BUILD",
    text: rng.pick([
      `${c.best} keeps the checkers connected and in play, even at the cost of a blot.`,
      `${c.best} puts the checkers where they work best for the next exchange.`,
    ]),
  };
}

export function bearoffReasons(rng, c) {
  const f = c.fb;
  const P = c.plan;
  // a late hit is the headline whenever it happens
  const out = bestReasons(rng, c)
    .filter((r) => r.tag === "HIT")
    .map((r) => r.text);
  if (f.outside === 0 && c.facts.outside > 0) {
    out.push(
      rng.pick([
        "It brings the last checkers home, so every die can be used for bearing off from the next roll on.",
        "The priority is getting home, and this play completes the bear-in.",
      ]),
    );
  } else if (f.outside < c.facts.outside) {
    out.push(`It reduces the checkers outside from ${c.facts.outside} to ${f.outside}.`);
  }
  if (f.off > 0) {
    const standing =
      P.rollsUs < P.rollsThem ? "keeps us ahead in" : P.rollsUs === P.rollsThem ? "keeps us level in" : "is the only way to catch up in";
    out.push(
      rng.pick([
        `It bears off ${pluralW(f.off, "checker")}, which is what wins races.`,
        `${capitalize(numWord(f.off))} ${f.off === 1 ? "checker comes" : "checkers come"} off, bringing us a step closer to the finish.`,
        `Taking ${numWord(f.off)} off now ${standing} the count of rolls.`,
      ]),
    );
  }
  const clearedHome = f.cleared.filter((p) => p <= 6);
  if (clearedHome.length > 0) {
    const p = Math.max(...clearedHome);
    out.push(
      rng.pick([
        `It clears ${pointName(p)}, following the principle of clearing from the back.`,
        `${capitalize(pointName(p))} is cleared, so high numbers will bear off rather than be played inside.`,
      ]),
    );
  }
  if (f.gaps.length === 0 && f.outside === 0 && checkerTotal(c.post.me) > 3) {
    out.push(
      rng.pick([
        "The remaining checkers are spread without gaps, so almost every number is useful next turn.",
        "It keeps a smooth distribution with no gaps in the home board.",
        "No gap opens up, so next turn's numbers will not be wasted.",
        "The home board stays evenly covered, which keeps future wastage low.",
      ]),
    );
  }
  const rolls = (n) => (n === 36 ? "every roll" : `${n} of our 36 rolls`);
  if (P.twoOff !== undefined && P.twoOff > P.twoOffAlt) {
    out.push(
      `Next turn ${rolls(P.twoOff)} ${P.twoOff === 36 ? "bears" : "bear"} off two checkers, compared with ${P.twoOffAlt} after ${c.alt}.`,
    );
  } else if (P.twoOff !== undefined && P.twoOff > 0) {
    out.push(P.twoOff === 36 ? "Next turn every roll takes two checkers off." : `Next turn ${P.twoOff} of 36 rolls take two checkers off.`);
  }
  if (P.awkBest !== undefined) {
    out.push(
      P.awkBest === 0
        ? "Better still, no roll next turn forces us to leave a shot."
        : `Next turn ${P.awkBest <= 10 ? "only " : ""}${P.awkBest} rolls would force us to leave a shot${P.awkAlt > P.awkBest ? `, against ${P.awkAlt} after ${c.alt}` : ""}.`,
    );
  }
  if (f.wasted === 0 && f.off > 0) {
    out.push(
      rng.pick(["Not a single pip of the roll is wasted.", "Every pip of the roll is used.", "There is no wastage at all with this play."]),
    );
  } else if (f.wasted > 0 && f.off > 0 && f.wasted <= 3) {
    out.push(`Only ${pluralW(f.wasted, "pip")} of the roll ${f.wasted === 1 ? "is" : "are"} wasted.`);
  }
  return out;
}

/** One sentence on the blots the best play leaves, with honest shot counts. */
export function safetySentence(rng, c) {
  const f = c.fb;
  if (!f.contact) return null;
  if (f.blots.filter((p) => p <= 18).length === 0) {
    return rng.pick([
      "Just as important, it leaves no loose checkers where a hit would hurt.",
      "Not a single checker is exposed on our side of the board.",
      "Every checker that matters stays on a made point.",
      "Nothing is left for the opponent to hit.",
      "Best of all, the opponent gets no shot next turn.",
      `The position stays safe: there is no blot ${c.phase === "BEAROFF" ? "in our home board" : "on our side of the board"}.`,
      "It all comes at no risk.",
    ]);
  }
  if (f.shots === 0) {
    return rng.pick([
      `The blot it leaves on ${pointName(f.blots.find((p) => p <= 18))} is out of the opponent's direct reach.`,
      "The blots it leaves cannot be hit next turn.",
    ]);
  }
  if (f.shots <= 2) {
    return rng.pick([
      `Only ${f.shots === 1 ? "one roll hits" : "two rolls hit"} the blot it leaves, a negligible risk.`,
      `The opponent has just ${f.shots === 1 ? "a single hitting roll" : "two hitting rolls"} next turn.`,
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
export function planSentence(rng, c) {
  const P = c.plan;
  const out = [];
  if (P.fails >= 4) {
    out.push(
      rng.pick([
        `The opponent fails to enter with ${P.fails} of 36 rolls, and every miss gives us another free turn.`,
        `Against our board the opponent stays on the bar with ${P.fails} rolls (${pct(P.fails)}).`,
      ]),
    );
  }
  if (P.target && P.coverBest > 0) {
    const name = pointName(P.target);
    if (c.fb.slotted.includes(P.target)) {
      out.push(
        rng.pick([
          `If the slot survives, ${P.coverBest} rolls cover it next turn.`,
          `When the opponent misses, ${P.coverBest} of our 36 rolls make ${name}.`,
        ]),
      );
    } else if (P.coverBest > P.coverAlt + 2) {
      out.push(
        rng.pick([
          `Next turn ${P.coverBest} rolls make ${name}, against ${P.coverAlt} after ${c.alt}.`,
          `It also prepares ${name}: ${P.coverBest} rolls make it next turn, compared with ${P.coverAlt} after ${c.alt}.`,
        ]),
      );
    } else if (P.buildersBest >= 2) {
      out.push(
        rng.pick([
          `We keep ${numWord(Math.min(P.buildersBest, 10))} builders aimed at ${name}, and ${P.coverBest} rolls make it next turn.`,
          `${capitalize(name)} is the next target; ${P.coverBest} of our rolls make it if the opponent does not interfere.`,
        ]),
      );
    }
  }
  return out;
}

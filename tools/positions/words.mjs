// Naming things in prose: points, the race, both sides' structure, and the slots that context
// phrases from data/gen/phrases.json may name.
import { PHRASES } from "./config.mjs";
import { capitalize, listText, numWord, plural, pluralW } from "./text.mjs";

export function pointName(p) {
  if (p === 25) return "the bar";
  if (p === 13) return "the midpoint";
  if (p === 7) return "the bar point";
  if (p === 1) return "the ace point";
  if (p <= 12) return `the ${p}-point`;
  if (p === 18) return "the opponent's bar point";
  if (p === 24) return "the opponent's ace point";
  return `the opponent's ${25 - p}-point`;
}

/** Name of our point p when the opponent's checkers sit there ("our 5-point"). */
export function ourPointName(p) {
  if (p === 13) return "our midpoint";
  if (p === 7) return "our bar point";
  if (p === 1) return "our ace point";
  return `our ${p}-point`;
}

export const pointList = (ps) => listText(ps.map(pointName));
/** For negative clauses: "does not make the 5-point or the 3-point". */
export const pointListOr = (ps) => listText(ps.map(pointName)).replace(/ and (?=the |our )/, " or ");
export const shotText = (n) => (n === 0 ? "no shots" : n === 1 ? "a single shot" : `${n} shots`);
export const pct = (n) => `${Math.round((n / 36) * 100)}%`;

/** Why a newly made point matters, as a noun phrase ("It makes the 5-point, <note>."). */
export function pointNote(p) {
  return PHRASES.pointNotes[p] ?? PHRASES.pointNotes.other;
}

/** How big an error is, in the words a coach would use. */
export function errorSize(err) {
  if (err < 0.02) return "a close decision";
  if (err < 0.05) return "a clear but modest error";
  if (err < 0.1) return "a real error";
  return "a blunder";
}

export function raceText(myPip, opPip) {
  const d = opPip - myPip;
  if (Math.abs(d) <= 4) return `the race is roughly level (${myPip} pips to ${opPip})`;
  if (d > 0) return `we lead the race by ${d} pips (${myPip} to ${opPip})`;
  return `we trail in the race by ${-d} pips (${myPip} to ${opPip})`;
}

/**
 * Picks a phrasing variant from the position itself (pip counts), so the
 * describing helpers stay pure functions of the facts yet vary between positions.
 */
export const vary = (F, n, salt = 0) => (F.myPip * 7 + F.opPip * 13 + salt) % n;

/** "The opponent holds our 5-point and has made three home-board points." */
export function opponentText(F, first = false) {
  const bits = [];
  if (F.opBar > 0) bits.push(`has ${F.opBar === 1 ? "a checker" : `${numWord(F.opBar)} checkers`} on the bar`);
  const anchors = F.opAnchors.filter((q) => q <= 11);
  const loose = F.opBlots.filter((q) => q <= 11);
  if (anchors.length === 1 && anchors[0] === 1 && F.opAt[1] === 2 && loose.length === 0 && F.opBar === 0) {
    bits.push(
      ["still has both back checkers on our ace point", "keeps both back checkers on our ace point", "has not moved the back checkers yet"][
        vary(F, 3)
      ],
    );
  } else if (anchors.length) {
    bits.push(`${["holds", "has anchored on", "owns"][vary(F, 3)]} ${listText(anchors.map(ourPointName))}`);
  }
  if (loose.length) {
    bits.push(
      `${vary(F, 2, 1) ? "has left" : "has"} ${loose.length === 1 ? "a loose checker" : "loose checkers"} on ${listText(loose.map(ourPointName))}`,
    );
  }
  if (F.opHome >= 2)
    bits.push([`has made ${numWord(F.opHome)} home-board points`, `owns ${numWord(F.opHome)} points in their board`][vary(F, 2, 2)]);
  else if (F.opHome === 1) bits.push(["owns just one home-board point", "has only one point in their board"][vary(F, 2, 3)]);
  else bits.push(["has no home-board points yet", "has yet to make a home-board point"][vary(F, 2, 4)]);
  // "Meanwhile" needs something before it; a text that opens with the opponent starts plainly
  const lead = first ? "The opponent" : ["The opponent", "On the other side, the opponent", "Meanwhile the opponent"][vary(F, 3, 5)];
  return `${lead} ${listText(bits)}.`;
}

/** Our own structure before the roll, phrased a few different ways. */
export function ourText(F, b) {
  const bits = [];
  const backBlots = [19, 20, 21, 22, 23, 24].filter((p) => b.me[p] === 1);
  if (b.me[24] === 2 && F.myBack === 2) {
    bits.push(
      ["our back checkers are still together on the opponent's ace point", "both our back checkers still sit on the opponent's ace point"][
        vary(F, 2, 6)
      ],
    );
  } else if (F.myAnchors.length) {
    bits.push(`we hold ${pointList(F.myAnchors)}`);
  } else if (backBlots.length >= 2) {
    bits.push("our back checkers are already split");
  } else if (F.myBack === 0) {
    bits.push("all our back checkers have escaped");
  }
  if (F.myHome)
    bits.push([`we own ${pluralW(F.myHome, "home-board point")}`, `we have ${pluralW(F.myHome, "point")} in our board`][vary(F, 2, 7)]);
  if (F.myPrime.length >= 3) bits.push(`our best block is ${F.myPrime.length} points long`);
  if (bits.length === 0) return null;
  const text = listText(bits);
  return [`${capitalize(text)}.`, `So far ${text}.`, `Before the roll ${text}.`][vary(F, 3, 8)];
}

/** "an opposing checker on the bar", "two opposing checkers on our 2-point" - who we bear off against. */
function contactText(F) {
  const bits = [];
  if (F.opBar > 0) bits.push(`${F.opBar === 1 ? "a checker" : `${numWord(F.opBar)} checkers`} on the bar`);
  const back = F.opBackPoints.filter((q) => q <= 12);
  for (const q of back) bits.push(`${numWord(F.opAt[q])} ${F.opAt[q] === 1 ? "checker" : "checkers"} on ${ourPointName(q)}`);
  return bits.length ? listText(bits) : "checkers that still have to pass ours";
}

/** "three on the 6-point, two on the 4-point and one on the ace point" */
export function distributionText(side) {
  const parts = [];
  for (let p = 12; p >= 1; p--) if (side[p] > 0) parts.push(`${numWord(side[p])} on ${pointName(p)}`);
  return parts.length ? listText(parts) : "nothing left";
}

/** Race outlook from the equity, with the practical priority it implies. */
export function outlookText(eq, variant) {
  // bands from the best outlook down; the last one (above: null) takes the rest
  const { texts } = PHRASES.bearoff.outlook.find((band) => band.above === null || eq > band.above);
  return texts[variant % texts.length];
}

/** The facts a context phrase may name (listed in data/gen/README.md). */
export function contextSlots(c) {
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
    opBarCheckers: () => (F.opBar === 1 ? "a checker" : `${numWord(F.opBar)} checkers`),
    opHomeBlot: () => ourPointName(F.opBlotsInHome[0]),
    ourPrime: () => F.myPrime.length >= 4,
    myPrime: () => F.myPrime.length,
    myPrimeLow: () => pointName(F.myPrime.low),
    myPrimeHigh: () => pointName(F.myPrime.high),
    myPrimeTrapped: () => pluralW(F.myPrime.trapped, "opposing checker"),
    opPrime: () => F.opPrime.length,
    someOff: () => F.myOff > 0,
    offCheckers: () => plural(F.myOff, "checker"),
    opponentBack: () => contactText(F),
    outside: () => numWord(F.outside),
    outsideCheckers: () => pluralW(F.outside, "checker"),
    contact: () => F.contact,
  };
}

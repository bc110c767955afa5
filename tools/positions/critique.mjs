// Sentences comparing the best play with its rivals: what the runner-up does worse (or better),
// how big the error is, and the verdict.

import { POINT_VALUE } from "./evaluate.mjs";
import { fmtEq, listText, numWord, pluralW, signedEq } from "./text.mjs";
import { errorSize, pointList, pointListOr, pointName, shotText } from "./words.mjs";

/** Clauses describing what the main alternative does worse, and what it does better. */
function altClauses(c) {
  const { fb, fa, phase } = c;
  const worse = [];
  const better = [];
  if (fb.hits > fa.hits) worse.push(fa.hits === 0 ? "passes up the hit" : "hits fewer checkers");
  if (fa.hits > fb.hits) better.push(fb.hits === 0 ? "hits" : "hits more");
  // in a pure race points are irrelevant; only checkers off and distribution count
  const pointsMatter = phase !== "BEAROFF" || fb.contact || fa.contact;
  const lost = pointsMatter ? fb.made.filter((p) => !fa.made.includes(p)) : [];
  if (lost.length) worse.push(`does not make ${pointListOr(lost.sort((a, b) => POINT_VALUE[b] - POINT_VALUE[a]))}`);
  const gained = pointsMatter ? fa.made.filter((p) => !fb.made.includes(p)) : [];
  if (gained.length) better.push(`makes ${pointList(gained)}`);
  const anchorLost = fa.broken.filter((p) => p >= 18 && !fb.broken.includes(p));
  const pointLost = pointsMatter ? fa.broken.filter((p) => p < 18 && !fb.broken.includes(p)) : [];
  if (anchorLost.length) worse.push(`gives up the anchor on ${pointName(anchorLost[0])}`);
  if (pointLost.length) worse.push(`breaks ${pointList(pointLost)}`);
  if (fa.shots > fb.shots + 1) worse.push(`leaves ${shotText(fa.shots)} instead of ${fb.shots === 0 ? "none" : fb.shots}`);
  if (fa.shots + 1 < fb.shots) better.push(`is safer (${fa.shots === 0 ? "no shots" : shotText(fa.shots)} instead of ${fb.shots})`);
  if (fb.escaped > fa.escaped && fb.entered === 0) worse.push("leaves the back checker behind");
  if (fa.escaped > fb.escaped && fa.entered === 0) better.push("runs a back checker");
  if (fa.off < fb.off) worse.push(fa.off === 0 ? "bears off nothing" : `bears off only ${numWord(fa.off)}`);
  if (phase === "BEAROFF" && fa.maxStack >= 4 && fa.maxStack > fb.maxStack && fa.stackPoint <= 2) {
    worse.push(`buries another checker on ${pointName(fa.stackPoint)}`);
  }
  if (phase === "BEAROFF" && fa.gaps.length > fb.gaps.length) {
    worse.push(`leaves a gap on ${pointList(fa.gaps.filter((p) => !fb.gaps.includes(p)))}`);
  }
  if (fa.wasted > fb.wasted + 1) worse.push(`wastes ${fa.wasted} pips of the roll`);
  if (phase === "BEAROFF" && fa.outside > fb.outside) worse.push(`leaves ${pluralW(fa.outside, "checker")} outside`);
  if (fa.maxStack >= 5 && fa.maxStack > fb.maxStack && !(phase === "BEAROFF" && fa.stackPoint <= 2))
    worse.push(`piles ${numWord(fa.maxStack)} checkers on ${pointName(fa.stackPoint)}`);
  const P = c.plan;
  if (P.buildersAlt !== undefined && P.buildersAlt + 1 < P.buildersBest && !fa.made.includes(P.target))
    worse.push(`leaves fewer builders for ${pointName(P.target)}`);
  if (P.awkBest !== undefined && P.awkAlt > P.awkBest + 2)
    worse.push(`leaves ${P.awkAlt} awkward rolls next turn instead of ${P.awkBest || "none"}`);
  return { worse: worse.slice(0, 2), better: better.slice(0, 1) };
}

export function altCritique(rng, c) {
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

export function otherAltSentence(rng, c) {
  if (c.alts.length < 2) return null;
  const a = c.alts[1];
  const rest =
    c.alts.length > 2
      ? ` and ${c.alts.length - 2 === 1 ? "the last candidate trails further" : "the remaining candidates trail further"}`
      : "";
  return rng.pick([
    `${a.move} trails by ${fmtEq(a.err)}${rest}.`,
    `Further down the list, ${a.move} loses ${fmtEq(a.err)}${rest}.`,
    `${a.move} also deserves a look but costs ${fmtEq(a.err)}.`,
    `The third choice, ${a.move}, is ${fmtEq(a.err)} worse.`,
  ]);
}

export function verdictSentence(rng, c) {
  const e = fmtEq(c.err);
  return rng.pick([
    `${c.best} is ${c.err < 0.02 ? "narrowly" : "clearly"} the best play here (${signedEq(c.eq)}).`,
    `The top choice is ${c.best}, ${c.err < 0.02 ? `only ${e} ahead of ${c.alt}` : `${e} clear of ${c.alt}`}.`,
    `${c.best} rates best at ${signedEq(c.eq)}.`,
    `Best is ${c.best}, and the gap to the next play is ${e}.`,
  ]);
}

// Assembling the analysis of a contact (EARLY, MIDDLE) or BEAROFF position: the required blocks,
// optional ones ranked for dropping, fillers for short texts, and the closing lesson.

import { checkerTotal, pipCount } from "./board.mjs";
import { PHRASES } from "./config.mjs";
import { altCritique, otherAltSentence, verdictSentence } from "./critique.mjs";
import { rollsWhere } from "./facts.mjs";
import { fitLength, opt, req } from "./fit.mjs";
import { bearoffReasons, bestReasons, middleInsight, planSentence, safetySentence } from "./reasons.mjs";
import { capitalize, fill, fmtEq, numWord, pluralW } from "./text.mjs";
import { contextSlots, distributionText, opponentText, ourPointName, ourText, outlookText, pointName, raceText, vary } from "./words.mjs";

/**
 * "Remember: " + "Make the points ..." reads "Remember: make the points ...";
 * a lesson that has a colon of its own reads better without a second one in front.
 */
const withLeadIn = (lead, lesson) =>
  lead && !lesson.includes(":") ? `${lead}${lesson.charAt(0).toLowerCase()}${lesson.slice(1)}` : lesson;

/** The closing lesson: about what the best play does, or (half the time, in the middle game) its theme. */
function lessonText(rng, c, decks, themeDeck) {
  const tag = c.reasons[0]?.tag ?? "BUILD";
  const pool = themeDeck && rng.chance(0.5) ? themeDeck : (decks[tag] ?? decks.BUILD);
  return withLeadIn(rng.pick(PHRASES.leadIns), pool());
}

/** Fact-based filler sentences for when the text is short; each is skipped if its fact was already mentioned. */
function fillers(rng, c) {
  const F = c.facts;
  const early = [];
  const late = [];
  // the race sentence is skipped when the pip count was already quoted
  late.push({ text: `${capitalize(raceText(F.myPip, F.opPip))}.`, skip: `${F.myPip} ` });
  if (c.phase !== "BEAROFF") {
    early.push({ text: opponentText(F), skip: "The opponent " });
    const ours = ourText(F, c.pre);
    // skip our inventory if the context already talked about our anchor
    if (ours) early.push({ text: ours, skip: F.myAnchors.length ? pointName(F.myAnchors[0]) : undefined });
  }
  if (c.fb.hits > 0) late.push({ text: `After the hit the pip count reads ${pipCount(c.post.me)} to ${pipCount(c.post.op)}.` });
  if (c.phase === "BEAROFF") {
    const { rollsUs, rollsThem } = c.plan;
    late.push({
      text:
        rollsUs === rollsThem
          ? `We need about ${pluralW(rollsUs, "roll")} to finish, the same as the opponent, who rolls next.`
          : `We need about ${pluralW(rollsUs, "roll")} to finish; the opponent needs about ${numWord(rollsThem)}.`,
    });
    // when checker count and pip count disagree, say so: it is the point of many bearoff lessons
    const ourLeft = checkerTotal(c.post.me);
    const theirLeft = checkerTotal(c.post.op);
    if (!F.contact && ((c.eq > 0.1 && F.myPip > F.opPip) || (c.eq < -0.1 && F.myPip < F.opPip))) {
      late.push({
        text: `The pip count is misleading here: we have ${pluralW(ourLeft, "checker")} left against the opponent's ${numWord(theirLeft)}.`,
      });
    }
    if (F.myOff > 0)
      early.push({
        text: F.myOff === 1 ? "One of our checkers is already off." : `${capitalize(numWord(F.myOff))} of our checkers are already off.`,
        skip: "already off",
      });
    if (F.opOff > 0) early.push({ text: `The opponent has borne off ${pluralW(F.opOff, "checker")}.` });
    late.push({
      text: rng.pick([`After ${c.best} we have ${distributionText(c.post.me)}.`, `That leaves ${distributionText(c.post.me)}.`]),
    });
    if (!F.contact) late.push({ text: outlookText(c.eq, vary(F, 2, 9)) });
    else if (F.opHome === 0)
      late.push({ text: "Their board is empty, so even getting hit would not be a disaster, but it would cost the race." });
    else {
      late.push({
        text: `${F.opBar ? "The opponent must first bring the hit checker in, but their" : "Their"} board has ${pluralW(F.opHome, "closed point")}${F.opHome >= 4 ? ", so getting hit now would probably cost the game" : ", which sets the price of a hit"}.`,
      });
    }
  }
  if (c.phase !== "BEAROFF") {
    const prime = c.fb.prime.length;
    late.push({
      text: `After ${c.best} we own ${pluralW(c.fb.homePts, "home-board point")}${prime >= 3 ? ` and a ${prime}-point block` : ""}.`,
    });
    const target = F.opBlots.find((q) => q >= 2 && q <= 18);
    if (target && c.post.op[25 - target] === 1) {
      const n = rollsWhere(c.post, (x) => x.op[25] > c.post.op[25]);
      if (n > 0)
        late.push({ text: `If the opponent leaves the blot on ${ourPointName(target)} alone, ${n} of our rolls hit a checker next turn.` });
    }
  }
  if (c.alts.length >= 3) late.push({ text: `${c.alts[2].move} is further behind at ${fmtEq(c.alts[2].err)}.` });
  const tag = (list, isEarly) => list.map((f) => ({ ...f, early: isEarly }));
  const general = c.general ? [c.general(), c.general()].map((text) => ({ text, early: false })) : [];
  // position facts first; the general remarks only top up texts that are still short
  return [...rng.shuffle([...tag(early, true), ...tag(late, false)]), ...general];
}

/**
 * Shared skeleton for EARLY and MIDDLE prose, in one of three block orders.
 * Required: the context, the main reason, the critique of the runner-up and the
 * lesson; the rest is optional and ranked for `fitLength` to drop.
 */
export function contactAnalysis(rng, c, context, lessonDecks, themeDeck) {
  const insight = c.phase === "MIDDLE" ? middleInsight(c) : null;
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
    s.push(
      opt(
        rng.pick([
          `The natural-looking alternative is ${c.alt}, but ${c.best} is better.`,
          `Many players would reach for ${c.alt}; the stronger play is ${c.best}.`,
          `${c.best} beats the tempting ${c.alt}.`,
        ]),
        3,
      ),
      ...reasons,
    );
    if (safety) s.push(opt(safety, 2));
    s.push(req(critique), ...plan);
  }
  if (other) s.push(opt(other, 5));
  s.push(req(lessonText(rng, c, lessonDecks, themeDeck)));
  return fitLength(rng, s, fillers(rng, c), c.header, c.best);
}

/** BEAROFF prose: the context, the play, up to four reasons, the critique and a lesson of the theme. */
export function bearoffAnalysis(rng, c, themeDecks) {
  c.reasons = [{ tag: c.fb.contact ? "SAFE" : "BUILD" }];
  const context = fill(rng.pick(PHRASES.bearoff.contexts[c.theme]), contextSlots(c));
  const reasons = bearoffReasons(rng, c);
  const s = [req(context)];
  if (rng.chance(0.5)) s.push(opt(verdictSentence(rng, c), 3));
  else s.push(opt(rng.pick([`The play is ${c.best}.`, `${c.best} is right.`, `We play ${c.best}.`]), 3));
  s.push(...reasons.slice(0, 4).map((t, i) => (i === 0 ? req(t) : opt(t, i === 1 ? 2 : 4))));
  const safety = c.fb.contact ? safetySentence(rng, c) : null;
  if (safety) s.push(opt(safety, 2));
  s.push(req(altCritique(rng, c)));
  const other = otherAltSentence(rng, c);
  if (other) s.push(opt(other, 5));
  s.push(req(withLeadIn(rng.pick(PHRASES.leadIns), themeDecks[c.theme]())));
  return fitLength(rng, s, fillers(rng, c), c.header, c.best);
}

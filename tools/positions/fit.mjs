// Sizing an analysis.
//
// An analysis is a list of sentences, each with a drop rank: 0 is required,
// higher ranks are the first to go when the text runs long. After the phase
// writer assembles them, `fitLength` drops optional sentences or adds
// fact-based filler sentences ({ text, early, skip }) until the formatted
// position is near its token target, staying inside the word window.
import { TOKENS_GOAL, WORDS_MAX, WORDS_MIN } from "./config.mjs";
import { signedEq, wordCount } from "./text.mjs";

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
export function fitLength(rng, sentences, fillers, header, best) {
  const goal = rng.int(TOKENS_GOAL - 8, TOKENS_GOAL + 8);
  const fixed = approxTokens(`${header}\nAnalysis: `);
  const out = sentences.slice();
  const text = () => out.map((s) => s.text).join(" ");
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
export function promptHeader(p) {
  const alts = p.alternatives.map((a) => `${a.move} (${signedEq(a.equity)})`).join("; ");
  return [
    `### Position ${p.positionId} (${p.gamePhase})`,
    `Dice: ${p.diceRoll} | Pips: ${p.pipCount.player} vs ${p.pipCount.opponent}`,
    `XGID: ${p.xgid}`,
    `Best move: ${p.bestMove} (equity ${signedEq(p.bestMoveEquity)})`,
    `Alternatives: ${alts}`,
  ].join("\n");
}

export const req = (text) => ({ text, drop: 0 });
/** An optional sentence; `rank` orders the drops (higher goes first). */
export const opt = (text, rank = 5) => ({ text, drop: rank });

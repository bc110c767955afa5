// The simulator's token counts: a real tokenizer's, independent of drillgen's own estimate
// (4 bytes a token, src/), so a "cacheable or not" figure from the simulator is not drillgen's
// heuristic confirming itself.
// - OpenAI-style models: o200k_base, the GPT-4o/4.1/5 family's tokenizer (gpt-tokenizer).
// - Anthropic-style models: the same o200k count, an approximation: Anthropic's tokenizer is not
//   published, and its counts differ from o200k's by some percent.
import { encode } from "gpt-tokenizer/encoding/o200k_base";

// Counts by text: every batch of a series (and every series with the same teacher's context)
// sends the same cacheable prefix, so its count is looked up, not re-encoded. Bounded so that a
// hostile run's megabyte prompts are not kept: the oldest entry goes first.
const MEMO_ENTRIES = 64;
const MEMO_MAX_CHARS = 256 * 1024;
const memo = new Map();

// gpt-tokenizer's byte-pair merge is quadratic in the length of one unbroken run of characters
// (measured here: "x" × 4,096 in 0.16 s, × 16,384 in 0.6 s, × 65,536 in 8.9 s; × 1 MiB did not
// finish in minutes), and hostile inputs are exactly such runs. Runs longer than LONG_RUN are
// counted in slices (off by a token or so per slice; a real prompt has no such run: words, XGIDs
// and schema keys are short). Text over HUGE is counted at 4 characters a token: no model accepts
// a prompt of a quarter of a million tokens and more, so only its order of magnitude matters.
const LONG_RUN = 256;
const HUGE = 1024 * 1024;
const longRun = new RegExp(`\\S{${LONG_RUN + 1}}`);

function encodeCount(text) {
  if (text.length > HUGE) return Math.ceil(text.length / 4);
  if (!longRun.test(text)) return encode(text).length;
  let count = 0;
  // Cut before whitespace (where o200k's pre-tokenizer cuts too), and long runs into slices.
  for (const piece of text.split(/(?=\s)/)) {
    for (let i = 0; i < piece.length; i += LONG_RUN) count += encode(piece.slice(i, i + LONG_RUN)).length;
  }
  return count;
}

/** Tokens of a prompt text (prompt and cacheable prefix; output is timed at 4 characters a token). */
export function countTokens(text) {
  const known = memo.get(text);
  if (known !== undefined) return known;
  const count = encodeCount(text);
  if (text.length <= MEMO_MAX_CHARS) {
    if (memo.size >= MEMO_ENTRIES) memo.delete(memo.keys().next().value);
    memo.set(text, count);
  }
  return count;
}

/** Tokens of a prompt that begins with an already-counted prefix: the prefix's count plus the
 * rest's. Encoding the two apart can differ from encoding the whole by a token at the seam, well
 * under the some-percent the o200k count is off for Anthropic anyway. */
export function countPromptTokens(text, prefix) {
  if (!prefix || !text.startsWith(prefix.text)) return countTokens(text);
  return prefix.tokens + encodeCount(text.slice(prefix.text.length));
}

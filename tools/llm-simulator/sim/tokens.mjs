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

/** Tokens of a prompt text (prompt and cacheable prefix; output is timed at 4 characters a token). */
export function countTokens(text) {
  const known = memo.get(text);
  if (known !== undefined) return known;
  const count = encode(text).length;
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
  return prefix.tokens + encode(text.slice(prefix.text.length)).length;
}

// The simulator's token counts: a real tokenizer's, independent of drillgen's own estimate
// (4 bytes a token, src/), so a "cacheable or not" figure from the simulator is not drillgen's
// heuristic confirming itself.
// - OpenAI-style models: o200k_base, the GPT-4o/4.1/5 family's tokenizer (gpt-tokenizer).
// - Anthropic-style models: the same o200k count, an approximation: Anthropic's tokenizer is not
//   published, and its counts differ from o200k's by some percent.
import { encode } from "gpt-tokenizer/encoding/o200k_base";

/** Tokens of a prompt text (prompt and cacheable prefix; output is timed at 4 characters a token). */
export const countTokens = (text) => encode(text).length;

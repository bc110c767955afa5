// Prompt caching as the providers bill it, so every cached-token figure from the simulator is one
// a real provider would report:
// - the prefix is what the provider caches: OpenAI puts the structured-output schema before the
//   system message; Anthropic caches tools, then system, up to the block marked cache_control;
// - a prefix shorter than the minimum is never cached (OpenAI 1,024 tokens, hits in 128-token
//   steps; Anthropic by model): the simulator's own table below, not drillgen's data file, and the
//   prefix counted by a real tokenizer (sim/tokens.mjs), not drillgen's 4-bytes-a-token estimate;
// - an entry exists only once the first request with that prefix has begun its response (its
//   time to first token): requests that arrive before that miss, as concurrent ones do for real.

import { createHash } from "node:crypto";
import { countTokens as tokens } from "./tokens.mjs";

// The providers' minimum cacheable prefixes, copied from their documentation:
// - OpenAI: caching from 1,024 prompt tokens, hits in 128-token steps (platform.openai.com/docs/
//   guides/prompt-caching);
// - Anthropic, per model (docs.claude.com/en/docs/build-with-claude/prompt-caching, "Cache
//   limitations"): 1,024 for Sonnet 4, Sonnet 4.5, Opus 4, Opus 4.1; 2,048 for Sonnet 4.6; 4,096
//   for Opus 4.5 and later and Haiku 4.5. Models not listed here: 1,024 (the simulator's default).
// Longest model-name prefix first: "claude-sonnet-4-6" before "claude-sonnet-4".
const OPENAI_MINIMUM = 1024;
const ANTHROPIC_MINIMUMS = [
  ["claude-opus-4-5", 4096],
  ["claude-opus-4-6", 4096],
  ["claude-opus-4-7", 4096],
  ["claude-haiku-4-5", 4096],
  ["claude-sonnet-4-6", 2048],
  ["claude-sonnet-4-5", 1024],
  ["claude-sonnet-4", 1024],
  ["claude-opus-4-1", 1024],
  ["claude-opus-4", 1024],
];
const ANTHROPIC_DEFAULT = 1024;

export function minimumFor(provider, model = "") {
  if (provider === "openai") return OPENAI_MINIMUM;
  return ANTHROPIC_MINIMUMS.find(([prefix]) => model.startsWith(prefix))?.[1] ?? ANTHROPIC_DEFAULT;
}

/** The cacheable prefix of a request and its token count, or null when nothing is cacheable. */
export function prefixOf(provider, body) {
  if (provider === "anthropic") {
    const system = Array.isArray(body.system) ? body.system : [];
    const marked = system.findIndex((b) => b?.cache_control);
    if (marked < 0) return null; // Anthropic caches only what is marked
    const text =
      JSON.stringify(body.tools ?? []) +
      system
        .slice(0, marked + 1)
        .map((b) => b.text)
        .join("");
    return { text, tokens: tokens(text) };
  }
  const schema = body.response_format ? JSON.stringify(body.response_format) : "";
  const system = (body.messages ?? [])
    .filter((m) => m.role === "system")
    .map((m) => m.content)
    .join("");
  const text = schema + system;
  return { text, tokens: tokens(text) };
}

/** `lookup(provider, model, prefix, arrivedAt, ttftMs)`: cached tokens for this request. */
export function createPromptCache() {
  const entries = new Map(); // hash → time the entry became available
  return {
    lookup(provider, model, prefix, arrivedAt, ttftMs) {
      if (!prefix || prefix.tokens < minimumFor(provider, model)) return { read: 0, written: 0 };
      const key = createHash("sha256").update(`${provider}\n${prefix.text}`).digest("hex");
      const available = entries.get(key);
      if (available !== undefined && available <= arrivedAt) {
        const read = provider === "openai" ? Math.floor(prefix.tokens / 128) * 128 : prefix.tokens;
        return { read, written: 0 };
      }
      if (available === undefined) entries.set(key, arrivedAt + ttftMs);
      // Every Anthropic miss on a marked prefix writes the cache (billed at 1.25×), concurrent ones too.
      return { read: 0, written: provider === "anthropic" ? prefix.tokens : 0 };
    },
    clear() {
      entries.clear();
    },
  };
}

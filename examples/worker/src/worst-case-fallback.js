// A stand-in for drillgen's `batchWorstCase` while the installed drillgen does not export it yet
// (src/worst-case.js prefers the real one). It follows drillgen's own rules, read from its source:
// - LLM calls: MAX_RETRIES + 1 attempts, plus the format-negotiation refusals one batch can still
//   meet (src/llm/negotiate.rs `max_steps`: json_schema → json_object → text is 2, the token
//   field's switch 1, a prompt cache key 1; Anthropic pins format and field: 0);
// - duration: every call running to its timeout, every retry waiting the longest it may
//   (backoff cap or Retry-After cap), then `persist` failing 1 + PERSIST_RETRIES (3) times, each
//   bounded by hostTimeoutMs, with backoff (capped at maxDelayMs) between.
// Kept free of imports so that tests/consumer/worker-tenants.test.mjs can load it in Node.

const PERSIST_RETRIES = 3; // drillgen src/orchestrator/prepare.rs

/** The most refusals a batch can meet before negotiation has stepped every feature down. */
function negotiationSteps(llm) {
  if ((llm.provider ?? "openai") === "anthropic") return 0;
  const format = { json_schema: 2, json_object: 1, text: 0 }[llm.responseFormat ?? "json_schema"] ?? 2;
  const tokensField = llm.maxTokensField ? 0 : 1;
  let openaiHost = false;
  try {
    openaiHost = new URL(llm.baseUrl).hostname === "api.openai.com";
  } catch {
    // a bad URL is drillgen's INVALID_OPTIONS, raised by generateBatch itself
  }
  const cacheKey = llm.promptCacheKey || openaiHost ? 1 : 0;
  return format + tokensField + cacheKey;
}

/** `{ llmCalls, durationMs }` of one `generateBatch` with these options, at worst. */
export function fallbackBatchWorstCase(options) {
  const retry = options.retry ?? {};
  const maxRetries = retry.maxRetries ?? 3;
  const maxDelayMs = retry.maxDelayMs ?? 8_000;
  const maxRetryAfterMs = retry.maxRetryAfterMs ?? 60_000;
  const timeoutMs = options.llm.timeoutMs ?? 120_000;
  const hostTimeoutMs = options.hostTimeoutMs ?? 30_000;
  const llmCalls = maxRetries + 1 + negotiationSteps(options.llm);
  const durationMs =
    llmCalls * timeoutMs +
    maxRetries * Math.max(maxDelayMs, maxRetryAfterMs) +
    (PERSIST_RETRIES + 1) * hostTimeoutMs +
    PERSIST_RETRIES * maxDelayMs;
  return { llmCalls, durationMs };
}

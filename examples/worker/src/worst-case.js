// The worst case of one batch step, from drillgen itself: `batchWorstCase(options)` is the most LLM
// calls one `generateBatch` with these options can make (retries and format-negotiation refusals)
// and the longest it can take (every call timing out, waits at their caps, `persist` retries with
// their backoff). The budget (`fitBudget`) and the step timeout are both computed from it.
import * as drillgen from "drillgen";
import { fallbackBatchWorstCase } from "./worst-case-fallback.js";

/** `{ llmCalls, durationMs }`; drillgen's own figure when the installed drillgen exports it. */
export function batchWorstCase(options) {
  const real = drillgen.batchWorstCase;
  return typeof real === "function" ? real(options) : fallbackBatchWorstCase(options);
}

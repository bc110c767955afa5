// The worst case of one batch step is drillgen's own: `batchWorstCase(options)` is the most LLM
// calls one `generateBatch` with these options can make (retries, and the format-negotiation and
// streaming refusals a server can still answer with) and the longest it can take (every call timing
// out, waits at their caps, `persist` retries with their backoff). The budget (`fitBudget`), the
// step timeout and STALE_AFTER_MS are all computed from it; this host never re-derives it.
import { batchWorstCase as drillgenWorstCase } from "drillgen";

/** `{ llmCalls, durationMs }` of one `generateBatch` with these options, at worst (drillgen's figure). */
export const batchWorstCase = (options) => drillgenWorstCase(options);

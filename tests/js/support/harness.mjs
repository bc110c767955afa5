// Runs generateDrillSeries against the LLM simulator with an in-memory store, the way a host would.
// Plain ES module with no Node imports: the Chromium tests load it in a page too.

export const context = {
  mentalModel: { core: "Backgammon is a race with contact", principles: ["Make the 5-point", "Prime before you attack"] },
  curriculum: "1. Opening replies  2. Building and priming  3. Safe bearoff",
  guruProfile: { name: "Coach Kit", tone: "encouraging" },
};

/** The simulator as an OpenAI-compatible provider, with the test key that must never leak. */
export const simLlm = (baseUrl, extra = {}) => ({ provider: "openai", baseUrl, model: "sim-1", apiKey: "sk-test-secret-0042", ...extra });

/** For fault tests: a hang fails in 400 ms, a response over 1 MiB is too large. */
export const faultLlm = (baseUrl, extra = {}) => simLlm(baseUrl, { timeoutMs: 400, maxResponseBytes: 1024 * 1024, ...extra });

/** A store keyed by drillId, like the spec's Drill table; counts every write. */
export function memoryStore() {
  const rows = new Map();
  const writes = [];
  return {
    rows,
    writes,
    persist: async (drills, info) => {
      writes.push({ batchIndex: info.batchIndex, indices: drills.map((d) => d.index), at: Date.now(), info });
      for (const d of drills) rows.set(d.drillId, structuredClone(d));
    },
    load: async () => [...rows.values()],
  };
}

export async function runSeries(drillgen, { baseUrl, positions, store = memoryStore(), ...overrides }) {
  const events = [];
  const options = {
    artifactId: "series-1",
    request: { targetDrillCount: 25, gamePhases: ["EARLY", "MIDDLE", "BEAROFF"] },
    positions,
    context,
    llm: simLlm(baseUrl, { timeoutMs: 5000 }),
    retry: { maxRetries: 3, baseDelayMs: 20, maxDelayMs: 200, maxRetryAfterMs: 60000 },
    seed: 7,
    persist: store.persist,
    load: store.load,
    onProgress: (e) => events.push(e),
    ...overrides,
  };
  const result = await drillgen.generateDrillSeries(options);
  return { result, store, events };
}

/** The invariants every run must keep, whatever failed. Returns a list of violations. */
export function invariantViolations({ result, store }) {
  const problems = [];
  const stored = [...store.rows.values()].filter((d) => d.batchStatus === "COMPLETED");
  const byIndex = new Map(stored.map((d) => [d.index, d]));
  if (byIndex.size !== stored.length) problems.push("an index is stored twice");
  const resultIndices = result.drills.map((d) => d.index);
  if (new Set(resultIndices).size !== resultIndices.length) problems.push("duplicate index in the result");
  if ([...resultIndices].sort((a, b) => a - b).join() !== resultIndices.join()) problems.push("result not sorted by index");
  if (resultIndices.join() !== [...byIndex.keys()].sort((a, b) => a - b).join())
    problems.push("result drills differ from the stored drills");
  for (const d of result.drills) {
    if (JSON.stringify(byIndex.get(d.index)) !== JSON.stringify(d)) problems.push(`drill ${d.index} differs from its stored copy`);
  }
  const writes = store.writes.flatMap((w) => w.indices);
  if (new Set(writes).size !== writes.length) problems.push("a drill was persisted twice");
  for (const b of result.batches) {
    if (b.status === "COMPLETED" && b.drills.some((d) => !byIndex.has(d.index))) problems.push(`batch ${b.batchIndex} lost a drill`);
  }
  if (JSON.stringify(result).includes("sk-test-secret-0042")) problems.push("the API key leaked into the result");
  return problems;
}

/** The `code` of what `f` throws, or "no error". */
export function codeOf(f) {
  try {
    f();
  } catch (e) {
    return e.code;
  }
  return "no error";
}

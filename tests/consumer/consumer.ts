// Type-checked by tests/consumer (tsc --noEmit --strict): a TypeScript consumer writing a full
// generateDrillSeries call against the published .d.ts.
import init, {
  type BatchInfo,
  batchWorstCase,
  createRateGovernor,
  type Drill,
  type DrillgenError,
  type DrillgenErrorCode,
  type DrillProgressEvent,
  type GenerateSeriesOptions,
  type GenerationResult,
  generateDrillSeries,
  mergeDrills,
  type Position,
  partitionBatches,
  planPositions,
  samplePositions,
  verifyArtifact,
} from "drillgen";

declare const pool: Position[];
const store = new Map<string, Drill>();

export async function run(signal: AbortSignal): Promise<GenerationResult> {
  await init();
  const request = { targetDrillCount: 20, gamePhases: ["EARLY", "MIDDLE"] as ("EARLY" | "MIDDLE")[] };
  const plan = planPositions(request, pool);
  const perEarly: number | undefined = plan.perPhase.EARLY;
  const { positions, seed } = samplePositions(pool, plan, { seed: 42 });
  const batches = partitionBatches(request, positions);
  // One governor per provider key, shared by every series on it.
  const governor = createRateGovernor({ requestsPerMinute: 500, tokensPerMinute: 200_000 });
  const options: GenerateSeriesOptions = {
    artifactId: "a-1",
    request,
    positions: pool,
    context: { mentalModel: { principles: ["points"] }, curriculum: "Module 1", guruProfile: null },
    llm: { provider: "anthropic", baseUrl: "https://proxy.example/v1", model: "m", headers: { "x-proxy": "1" }, timeoutMs: 60_000 },
    concurrency: 4,
    retry: { maxRetries: 3, baseDelayMs: 500, maxDelayMs: 8000, maxRetryAfterMs: 60_000 },
    mode: "batched",
    seed,
    subrequestBudget: 50,
    budgetPolicy: "reduce",
    signal,
    persist: async (drills: Drill[], info: BatchInfo) => {
      for (const d of drills) store.set(d.drillId, d);
      const progress: number[] = info.batchProgress.failed;
      void progress;
    },
    load: async () => [...store.values()],
    onProgress: (e: DrillProgressEvent) => {
      const kind: "batchStarted" | "drillReady" | "drillWithdrawn" | "batchRetrying" | "batchCompleted" | "batchFailed" | "runFinished" =
        e.type;
      // A drill as soon as the model has written it: the same type `persist` gets.
      const shown: Drill | undefined = e.type === "drillReady" ? e.drill : undefined;
      console.log(kind, e.message, e.completedDrills, e.totalDrills, e.batchIndex ?? -1, e.drillIndex ?? -1, shown?.title, e.error?.code);
    },
    verify: (artifact) => ({ checked: artifact.drills.length }),
    rateGovernor: governor,
  };
  const { llmCalls, durationMs }: { llmCalls: number; durationMs: number } = batchWorstCase(options);
  const stats: { admitted: number; throttled: number; concurrency: number } = governor.stats();
  console.log(llmCalls, durationMs, stats.admitted);
  try {
    const result = await generateDrillSeries(options);
    const status: "COMPLETED" | "FAILED" | "CANCELLED" = result.status;
    const artifact = mergeDrills(request, result.drills);
    const report = verifyArtifact(artifact, positions);
    console.log(status, report.passed, batches.length, perEarly, result.usage.cachedInputTokens);
    return result;
  } catch (e) {
    const error = e as DrillgenError;
    const code: DrillgenErrorCode = error.code;
    throw new Error(code);
  }
}

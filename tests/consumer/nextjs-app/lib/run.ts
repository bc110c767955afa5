// What the node and edge route handlers and the server action each do with drillgen: a plan, then
// a full generation against the LLM named by the environment, stored in memory.
import { type Drill, generateDrillSeries, type Position, planPositions } from "drillgen";
import context from "@/data/context.json";
import positions from "@/data/positions.json";

export interface RunSummary {
  where: string;
  perPhase: Record<string, number>;
  status: string;
  drills: number;
  stored: number;
  verified: boolean;
}

export async function planAndGenerate(where: string, targetDrillCount: number): Promise<RunSummary> {
  const request = { targetDrillCount, gamePhases: ["EARLY" as const, "MIDDLE" as const] };
  const plan = planPositions(request);
  const stored = new Map<string, Drill>();
  const result = await generateDrillSeries({
    artifactId: `${where}-${targetDrillCount}`,
    request,
    positions: positions as Position[],
    context,
    llm: { provider: "openai", baseUrl: process.env.LLM_BASE_URL ?? "", model: "sim" },
    persist: (drills) => {
      for (const drill of drills) stored.set(drill.drillId, drill);
    },
    load: () => [...stored.values()],
  });
  return {
    where,
    perPhase: plan.perPhase,
    status: result.status,
    drills: result.drills.length,
    stored: stored.size,
    verified: result.verification.passed,
  };
}

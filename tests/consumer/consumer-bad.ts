// Must NOT type-check: the .d.ts is exact, so these mistakes are caught at compile time.
import { generateDrillSeries, planPositions } from "drillgen";

planPositions({ targetDrillCount: 20, gamePhases: ["LATE_GAME"] });
generateDrillSeries({
  artifactId: "a",
  request: {},
  positions: [],
  context: { mentalModel: "m", curriculum: "c" },
  llm: { provider: "gemini", baseUrl: "x", model: "m" },
});

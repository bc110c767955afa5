// The smallest Worker a consumer writes: import the package, answer with a plan.
import { planPositions, version } from "drillgen";

export default {
  fetch() {
    return Response.json({ version: version(), plan: planPositions({ targetDrillCount: 20, gamePhases: ["EARLY", "MIDDLE"] }) });
  },
};

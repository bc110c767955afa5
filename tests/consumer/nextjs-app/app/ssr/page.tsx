// Rendered on every request: a server component calls drillgen, and the client component that
// imports it is server-rendered too (`ssr` layer), so both server layers load the wasm at run time.
import { planPositions } from "drillgen";
import { Plan } from "../client/Plan";

export const dynamic = "force-dynamic";

export default function SsrPage() {
  const plan = planPositions({ targetDrillCount: 25, gamePhases: ["EARLY", "MIDDLE"] });
  return (
    <main>
      <pre id="server-plan">{JSON.stringify(plan.perPhase)}</pre>
      <Plan />
    </main>
  );
}

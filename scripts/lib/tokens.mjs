// Real token counts (o200k, the GPT-4o family tokenizer) of the position data a prompt carries,
// for this plan and for the spec's "current" fixed loading.
import { encode } from "gpt-tokenizer/encoding/o200k_base";

export const countTokens = (text) => encode(text).length;

const PHASES = ["OPENING", "EARLY", "MIDDLE", "BEAROFF"];

/** What the spec's "current" code loads: 25 per phase (OPENING has 21), in library order; with
 * several phases asked, every phase is loaded up to the 96 cap (its table: 96 for 2 or 3 phases). */
export function baselinePositions(library, phases) {
  const take = (phase) => library.filter((p) => p.gamePhase === phase).slice(0, 25);
  if (phases.length === 1) return take(phases[0]);
  return PHASES.flatMap(take).slice(0, 96);
}

/** Position-data tokens of a set of positions, as the prompt formats them. */
export function positionTokens(drillgen, positions) {
  return positions.reduce((sum, p) => sum + countTokens(drillgen.formatPosition(p)), 0);
}

/** One row of the token table: before/after positions and tokens for a request. */
export function tokenRow(drillgen, library, request, seed = 1) {
  const plan = drillgen.planPositions(request, library);
  // Phase 1's loading: the series' positions and the spares loaded with them.
  const sample = drillgen.samplePositions(library, plan, { seed });
  const positions = [...sample.positions, ...sample.spares];
  const before = baselinePositions(library, plan.phases);
  const beforeTokens = positionTokens(drillgen, before);
  const afterTokens = positionTokens(drillgen, positions);
  return {
    label: `${plan.targetDrillCount} drills, ${plan.phases.length} phase${plan.phases.length > 1 ? "s" : ""}`,
    phases: plan.phases,
    beforePositions: before.length,
    beforeTokens,
    afterPositions: positions.length,
    afterTokens,
    savingPercent: Math.round(1000 * (1 - afterTokens / beforeTokens)) / 10,
    plan,
  };
}

export function formatTokenTable(rows, targets = {}) {
  const pad = (s, n) => String(s).padEnd(n);
  const num = (n) => n.toLocaleString("en-US");
  const lines = [`${pad("request", 26)}${pad("current (spec)", 24)}${pad("optimized", 24)}saving   spec's figure`];
  for (const r of rows) {
    const spec = targets[r.label] ? `${targets[r.label]} %` : "-";
    lines.push(
      `${pad(r.label, 26)}${pad(`${r.beforePositions} pos, ${num(r.beforeTokens)} tok`, 24)}` +
        `${pad(`${r.afterPositions} pos, ${num(r.afterTokens)} tok`, 24)}${pad(`${r.savingPercent} %`, 9)}${spec}`,
    );
  }
  return lines.join("\n");
}

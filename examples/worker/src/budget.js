// The budget of a run: the worst case of its batch steps (drillgen's `batchWorstCase`) against the
// subrequest budget of one Workflow instance, and the step timeout that outlasts one batch step.
import { batchOptions, fitBudget, stepTimeoutMs } from "./config.js";
import { batchWorstCase } from "./worst-case.js";

/** The budget of `batches` batch steps with these options, from drillgen's worst case per step. */
export function seriesBudget(env, cfg, batches, { artifactId, context, seed }) {
  const worst = (r) => batchWorstCase(batchOptions(env, cfg, { artifactId, context, seed, maxRetries: r }));
  const budget = fitBudget({
    batches,
    maxRetries: cfg.maxRetries,
    stepRetries: cfg.stepRetries,
    budget: cfg.subrequestBudget,
    policy: cfg.budgetPolicy,
    callsPerAttempt: (r) => worst(r).llmCalls,
  });
  return { ...budget, stepTimeoutMs: stepTimeoutMs(worst(budget.maxRetries), cfg) };
}

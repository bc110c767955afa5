// The host's settings, read from the Worker's vars (wrangler.toml [vars]) with safe defaults. A var
// that does not parse is a deployment error: requests get a coded 500 naming the var, never a guess.

import { warningCodes } from "drillgen";

/** drillgen's warning codes, for the warnings this host reports in drillgen's shape. */
export const WARNING = warningCodes();

export class HostError extends Error {
  constructor(status, code, message) {
    super(message);
    this.name = "HostError";
    this.status = status;
    this.code = code;
  }
}

function int(env, name, fallback, min, max) {
  const raw = env[name];
  if (raw === undefined || raw === null || raw === "") return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new HostError(500, "NOT_CONFIGURED", `var ${name} must be an integer from ${min} to ${max}`);
  }
  return n;
}

/** A test-only var's comma-separated batch indices. */
function indices(raw) {
  return String(raw ?? "")
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean)
    .map(Number)
    .filter(Number.isInteger);
}

export function settings(env) {
  const retryBaseDelayMs = int(env, "RETRY_BASE_DELAY_MS", 500, 1, 60_000);
  return {
    // Batch steps in flight per series (Workers allow 6 simultaneous connections per invocation).
    concurrency: int(env, "CONCURRENCY", 4, 1, 6),
    // drillgen's provider-aware retries inside one step (so MAX_RETRIES + 1 LLM calls at most).
    maxRetries: int(env, "MAX_RETRIES", 3, 0, 10),
    retryBaseDelayMs,
    retryMaxDelayMs: Math.max(retryBaseDelayMs, int(env, "RETRY_MAX_DELAY_MS", 8_000, 1, 300_000)),
    maxRetryAfterMs: int(env, "MAX_RETRY_AFTER_MS", 60_000, 0, 600_000),
    llmTimeoutMs: int(env, "LLM_TIMEOUT_MS", 120_000, 1_000, 600_000),
    // The Workflow's retries of a step that threw (crash, eviction, D1 failure), not of LLM failures.
    stepRetries: int(env, "STEP_RETRIES", 2, 0, 10),
    stepRetryDelayMs: int(env, "STEP_RETRY_DELAY_MS", 10_000, 0, 3_600_000),
    // External subrequests (LLM calls) one Workflow instance may make: 50 on Workers Free,
    // 10,000 by default on Paid.
    subrequestBudget: int(env, "SUBREQUEST_BUDGET", 50, 1, 10_000_000),
    budgetPolicy: env.BUDGET_POLICY === "fail" ? "fail" : "reduce",
    maxBodyBytes: int(env, "MAX_BODY_BYTES", 1024 * 1024, 1024, 100 * 1024 * 1024),
    maxTargetDrills: int(env, "MAX_TARGET_DRILLS", 100, 1, 500),
    maxImportPositions: int(env, "MAX_IMPORT_POSITIONS", 1000, 1, 10_000),
    // TEST ONLY: batch indices whose step throws once right after its drills were stored, as if the
    // Worker were evicted between the D1 write and the step's completion. Never set it in production.
    crashAfterPersistOnce: indices(env.CRASH_AFTER_PERSIST_ONCE),
    // TEST ONLY: batch indices whose D1 write fails on the step's first attempt (every persist
    // retry of it), as if D1 were down for that long. Never set it in production.
    failPersistOnce: indices(env.FAIL_PERSIST_ONCE),
    // TEST ONLY: batch indices whose final FAILED write is skipped, as if it were lost (eviction, D1
    // down through every step retry). Never set it in production.
    loseFinalWrite: indices(env.LOSE_FINAL_WRITE),
  };
}

export function llmConfig(env, cfg) {
  if (!env.LLM_BASE_URL || !env.LLM_MODEL) {
    throw new HostError(500, "NOT_CONFIGURED", "vars LLM_BASE_URL and LLM_MODEL must be set");
  }
  return {
    provider: env.LLM_PROVIDER || "openai",
    baseUrl: env.LLM_BASE_URL,
    model: env.LLM_MODEL,
    apiKey: env.LLM_API_KEY || undefined,
    timeoutMs: cfg.llmTimeoutMs,
  };
}

export function retryPolicy(cfg, maxRetries) {
  return {
    maxRetries,
    baseDelayMs: cfg.retryBaseDelayMs,
    maxDelayMs: cfg.retryMaxDelayMs,
    maxRetryAfterMs: cfg.maxRetryAfterMs,
  };
}

/**
 * The subrequest budget of one Workflow instance against the worst case of both retry layers:
 * every batch step making MAX_RETRIES + 1 LLM calls, on every one of its STEP_RETRIES + 1 attempts.
 * Policy `reduce` keeps as many provider retries as fit (then step retries); `fail` refuses.
 */
export function fitBudget({ batches, maxRetries, stepRetries, budget, policy }) {
  const calls = (r, s) => batches * (r + 1) * (s + 1);
  const fit = (r, s, warning = null) => ({ maxRetries: r, stepRetries: s, maxLlmCalls: calls(r, s), subrequestBudget: budget, warning });
  if (batches === 0 || calls(maxRetries, stepRetries) <= budget) return fit(maxRetries, stepRetries);
  const refuse = (r, s) =>
    new HostError(
      400,
      "SUBREQUEST_BUDGET",
      `${batches} batches × ${r + 1} LLM attempts × ${s + 1} step attempts = ${calls(r, s)} LLM calls in the worst case, ` +
        `over the subrequest budget of ${budget} per Workflow instance (SUBREQUEST_BUDGET)`,
    );
  if (policy === "fail") throw refuse(maxRetries, stepRetries);
  for (let r = maxRetries; r >= 0; r--) {
    for (let s = stepRetries; s >= 0; s--) {
      if (calls(r, s) <= budget) {
        return fit(r, s, {
          code: WARNING.RETRIES_REDUCED,
          message:
            `${batches} batches × ${maxRetries + 1} LLM attempts × ${stepRetries + 1} step attempts would exceed the ` +
            `subrequest budget of ${budget}; retries lowered to ${r} (LLM) and ${s} (step)`,
        });
      }
    }
  }
  throw refuse(0, 0);
}

/** A step must outlast drillgen's own worst case: every attempt timing out, every wait at its cap. */
export function stepTimeoutMs(cfg, maxRetries) {
  const wait = Math.max(cfg.retryMaxDelayMs, cfg.maxRetryAfterMs);
  return (maxRetries + 1) * cfg.llmTimeoutMs + maxRetries * wait + 60_000;
}

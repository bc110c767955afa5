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

function period(env) {
  const s = int(env, "RATE_LIMIT_PERIOD", 60, 10, 60);
  if (s !== 10 && s !== 60)
    throw new HostError(500, "NOT_CONFIGURED", "var RATE_LIMIT_PERIOD must be 10 or 60 (the [[ratelimits]] period)");
  return s;
}

export function settings(env) {
  const retryBaseDelayMs = int(env, "RETRY_BASE_DELAY_MS", 500, 1, 60_000);
  return {
    // Batch steps in flight per series (Workers allow 6 simultaneous connections per invocation).
    concurrency: int(env, "CONCURRENCY", 4, 1, 6),
    // drillgen's provider-aware retries inside one step (so MAX_RETRIES + 1 attempts at most).
    maxRetries: int(env, "MAX_RETRIES", 3, 0, 10),
    retryBaseDelayMs,
    retryMaxDelayMs: Math.max(retryBaseDelayMs, int(env, "RETRY_MAX_DELAY_MS", 8_000, 1, 300_000)),
    maxRetryAfterMs: int(env, "MAX_RETRY_AFTER_MS", 60_000, 0, 600_000),
    llmTimeoutMs: int(env, "LLM_TIMEOUT_MS", 120_000, 1_000, 600_000),
    // How long one `persist` (a D1 transaction) may take before drillgen retries it (drillgen's
    // default, passed explicitly so that the step's worst case is computed from the value in use).
    hostTimeoutMs: int(env, "HOST_TIMEOUT_MS", 30_000, 1_000, 300_000),
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
    // Live positions per tenant; drillgen's sampler takes a pool of at most 20,000.
    libraryMaxPositions: int(env, "LIBRARY_MAX_POSITIONS", 20_000, 1, 20_000),
    // Spend caps per tenant and UTC day, counted from each batch's reported calls and usage.
    dailyLlmCalls: int(env, "DAILY_LLM_CALLS", 2_000, 1, 100_000_000),
    dailyTokens: int(env, "DAILY_TOKENS", 10_000_000, 1, 1_000_000_000_000),
    // The `period` of `[[ratelimits]]` in wrangler.toml, in seconds (Cloudflare allows 10 or 60):
    // the binding does not expose it, and a 429 RATE_LIMITED tells the client to wait that long.
    rateLimitPeriodS: period(env),
    // Unset: computed from the longest batch step (staleAfterMs below).
    staleAfterMsVar: int(env, "STALE_AFTER_MS", 0, 0, 30 * 24 * 3_600_000) || null,
    // The provider key's limits for the rate governor (src/governor.js); unset: learned from the
    // provider's rate-limit headers and 429s.
    requestsPerMinute: int(env, "LLM_REQUESTS_PER_MINUTE", 0, 0, 10_000_000) || null,
    tokensPerMinute: int(env, "LLM_TOKENS_PER_MINUTE", 0, 0, 4_294_967_295) || null,
    // How long a batch step may wait for the governor's permit before it gives the line up (the
    // Workflow sleeps STEP_RETRY_DELAY_MS and lines it up again, up to GOVERNOR_PERMIT_ROUNDS
    // times). 0 when the RATE_GOVERNOR binding is absent: the host runs ungoverned.
    permitWaitMs: env.RATE_GOVERNOR ? int(env, "GOVERNOR_MAX_WAIT_MS", 120_000, 1_000, 3_600_000) : 0,
    permitRounds: int(env, "GOVERNOR_PERMIT_ROUNDS", 30, 0, 1_000),
    // TEST ONLY: batch indices whose step throws once right after its drills were stored, as if the
    // Worker were evicted between the D1 write and the step's completion. Never set it in production.
    crashAfterPersistOnce: indices(env.CRASH_AFTER_PERSIST_ONCE),
    // TEST ONLY: batch indices whose D1 binding throws inside `persist` on the step's first attempt
    // (every persist retry of it), as if D1 were down for that long. Never set it in production.
    failPersistOnce: indices(env.FAIL_PERSIST_ONCE),
    // TEST ONLY: batch indices whose final FAILED write is skipped, as if it were lost (eviction, D1
    // down through every step retry). Never set it in production.
    loseFinalWrite: indices(env.LOSE_FINAL_WRITE),
    // TEST ONLY: a series started with this seed is stored, then its request fails before the
    // Workflow instance is created (a Worker restart at the worst moment). Never set it in production.
    crashBeforeCreateSeed: int(env, "CRASH_BEFORE_CREATE_SEED", -1, -1, Number.MAX_SAFE_INTEGER),
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
 * The data part of `generateBatch`'s options for this host (the step adds `persist`); also what
 * `batchWorstCase` is asked about, so the budget and the timeout describe the calls that run.
 */
export function batchOptions(env, cfg, { artifactId, context, seed, maxRetries }) {
  return {
    artifactId,
    context,
    llm: llmConfig(env, cfg),
    retry: retryPolicy(cfg, maxRetries),
    hostTimeoutMs: cfg.hostTimeoutMs,
    ...(seed === undefined ? {} : { seed }),
  };
}

/**
 * The subrequest budget of one Workflow instance against the worst case of both retry layers:
 * every batch step making `callsPerAttempt(r)` LLM calls (drillgen's `batchWorstCase` with r
 * retries: attempts and format-negotiation refusals) on every one of its STEP_RETRIES + 1
 * attempts. Policy `reduce` keeps as many provider retries as fit (then step retries); `fail` refuses.
 */
export function fitBudget({ batches, maxRetries, stepRetries, budget, policy, callsPerAttempt }) {
  const calls = (r, s) => batches * callsPerAttempt(r) * (s + 1);
  const fit = (r, s, warning = null) => ({
    maxRetries: r,
    stepRetries: s,
    batchLlmCalls: callsPerAttempt(r),
    maxLlmCalls: calls(r, s),
    subrequestBudget: budget,
    warning,
  });
  if (batches === 0 || calls(maxRetries, stepRetries) <= budget) return fit(maxRetries, stepRetries);
  const refuse = (r, s) =>
    new HostError(
      400,
      "SUBREQUEST_BUDGET",
      `${batches} batches × ${callsPerAttempt(r)} LLM calls (${r + 1} attempts and format negotiation) × ${s + 1} step attempts = ` +
        `${calls(r, s)} LLM calls in the worst case, over the subrequest budget of ${budget} per Workflow instance (SUBREQUEST_BUDGET)`,
    );
  if (policy === "fail") throw refuse(maxRetries, stepRetries);
  for (let r = maxRetries; r >= 0; r--) {
    for (let s = stepRetries; s >= 0; s--) {
      if (calls(r, s) <= budget) {
        return fit(r, s, {
          code: WARNING.RETRIES_REDUCED,
          message:
            `${batches} batches × ${callsPerAttempt(maxRetries)} LLM calls × ${stepRetries + 1} step attempts would exceed the ` +
            `subrequest budget of ${budget}; retries lowered to ${r} (LLM) and ${s} (step)`,
        });
      }
    }
  }
  throw refuse(0, 0);
}

/** Room a batch step needs beyond `generateBatch` itself: its start and final D1 round trips. */
export const STEP_MARGIN_MS = 60_000;

/**
 * A step must outlast drillgen's own worst case (`batchWorstCase(...).durationMs`: every call
 * timing out, every wait at its cap, every `persist` retry) plus the longest wait for the rate
 * governor's permit (GOVERNOR_MAX_WAIT_MS, which drillgen's figure leaves out): a step timed out
 * while drillgen still runs would be retried beside it, and its LLM calls paid twice.
 */
export const stepTimeoutMs = (worst, cfg) => worst.durationMs + cfg.permitWaitMs + STEP_MARGIN_MS;

/**
 * How long a GENERATING series may go without any write before a resume may take it over whatever
 * its instance says: STALE_AFTER_MS, else the longest a batch step can run (its timeout) plus the
 * longest wait before the Workflow's last retry of it, plus a minute. A live run writes at least
 * once per step (start, persist), so a silence longer than that is a dead or stuck run.
 */
export function staleAfterMs(cfg, worst) {
  if (cfg.staleAfterMsVar !== null) return cfg.staleAfterMsVar;
  return stepTimeoutMs(worst, cfg) + cfg.stepRetryDelayMs * 2 ** Math.max(0, cfg.stepRetries - 1) + 60_000;
}

// The rate governor of a deployment: one Durable Object per provider key, holding drillgen's
// `createRateGovernor`, that every batch step of every series asks for a permit before it calls the
// LLM and tells what came back. Each Workflow step runs in its own isolate, so an in-memory
// governor would pace only itself; a Durable Object is one instance, addressed by name from every
// step (developers.cloudflare.com/durable-objects/: "a Durable Object can be used to coordinate
// between multiple clients"), so all of them share one budget.
//
// A permit covers one batch step's `generateBatch`: its first call and the retries drillgen makes
// inside it. A 429 on any of them reaches the governor at once (`throttled`, from drillgen's
// `batchRetrying` event): every other step pauses for the Retry-After and concurrency halves; the
// batch's own retry follows drillgen's wait, and its permit is taken again behind the others.
import { DurableObject } from "cloudflare:workers";
import { batchOutputSchema, buildBatchPrompt, createRateGovernor } from "drillgen";
import { settings } from "./config.js";
import { tokensOf } from "./spend.js";

/**
 * The governor's state is in memory: a deployment or an eviction (an idle object) starts it again
 * from the vars, and what it learned comes back with the next responses. Nothing is stored.
 */
export class RateGovernorDO extends DurableObject {
  constructor(ctx, env) {
    super(ctx, env);
    const cfg = settings(env);
    this.governor = createRateGovernor({ requestsPerMinute: cfg.requestsPerMinute, tokensPerMinute: cfg.tokensPerMinute });
    this.permitWaitMs = cfg.permitWaitMs || 120_000;
    /** permit id → { estimatedTokens, granted (drillgen's permit id), held, report, timer } */
    this.permits = new Map();
    this.next = 0;
  }

  /**
   * Resolves when a call of about `estimatedTokens` may go: `{ ok: true, permitId }`, or
   * `{ ok: false, code, message }` (`PERMIT_TIMEOUT` after `maxWaitMs`). A permit not completed
   * within `leaseMs` (its step was evicted) is settled as a call that got no answer, so a lost
   * step never keeps a slot.
   */
  async acquire(estimatedTokens, maxWaitMs, leaseMs, priority = 0) {
    let granted;
    try {
      granted = await this.governor.acquire(estimatedTokens, maxWaitMs, priority);
    } catch (e) {
      return { ok: false, code: e?.code ?? "PERMIT_FAILED", message: String(e?.message ?? e) };
    }
    const permitId = String(++this.next);
    const timer = setTimeout(() => this.complete(permitId, { status: 0 }), leaseMs);
    this.permits.set(permitId, { estimatedTokens, granted, held: true, report: null, timer });
    return { ok: true, permitId };
  }

  /**
   * A call of the permit's batch was throttled (429) and drillgen will retry it after
   * `retryAfterMs`: the governor learns it now (everyone pauses, concurrency halves), and the
   * batch takes its place in line again for the retry.
   */
  throttled(permitId, retryAfterMs) {
    const permit = this.permits.get(permitId);
    if (!permit?.held) return false; // expired, or its previous throttle is still waiting in line
    this.governor.complete(permit.granted, { status: 429, headers: { "retry-after-ms": String(Math.max(0, retryAfterMs)) } });
    permit.held = false;
    this.governor.acquire(permit.estimatedTokens, this.permitWaitMs).then(
      (granted) => {
        permit.granted = granted;
        if (permit.report) this.governor.complete(granted, permit.report);
        else permit.held = true;
      },
      () => {}, // not admitted in time: nothing to settle
    );
    return true;
  }

  /** Settles the permit with what its batch got: `{ status, headers?, usedTokens? }`. Once. */
  complete(permitId, report) {
    const permit = this.permits.get(permitId);
    if (!permit) return false;
    this.permits.delete(permitId);
    clearTimeout(permit.timer);
    if (permit.held) this.governor.complete(permit.granted, report);
    else permit.report = report; // settled when its place in line comes up
    return true;
  }

  /** `{ admitted, throttled, concurrency }` from drillgen, and the permits held now. */
  stats() {
    return { ...this.governor.stats(), held: this.permits.size };
  }
}

/** The governor of this deployment's provider key, or null when RATE_GOVERNOR is not bound. */
export async function governorOf(env) {
  const ns = env.RATE_GOVERNOR;
  if (!ns) return null;
  return ns.get(ns.idFromName(await governorName(env)));
}

/**
 * The object's name: a SHA-256 of provider, base URL and key, so every step with the same key
 * meets the same object and the key itself is never a name (names show in dashboards and logs).
 */
export async function governorName(env) {
  const text = `${env.LLM_PROVIDER || "openai"}\n${env.LLM_BASE_URL ?? ""}\n${env.LLM_API_KEY ?? ""}`;
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * Tokens a batch's call may bill, reserved from the token budget until the batch reports its real
 * usage: the prompt (drillgen's own `buildBatchPrompt`, at ~4 characters a token) plus the most
 * output the call may ask for (`llm.maxTokens`, drillgen's default 1,200 per drill plus 400). An
 * over-estimate only holds budget back until `complete` gives the difference back.
 */
export function estimateTokens(batch, context, llm) {
  const { system, user } = buildBatchPrompt(batch, context);
  // The schema is part of what a provider counts (OpenAI's response_format, Anthropic's tool):
  // leaving it out reserved 9 % less than the key charged (benches/worker-rate-limit.mjs).
  const schema = JSON.stringify(batchOutputSchema(batch)).length;
  const maxOutput = llm.maxTokens ?? 1_200 * batch.drillIndices.length + 400;
  return Math.ceil((system.length + user.length + schema) / 4) + maxOutput;
}

/** What `withPermit` gives when the key's queue was longer than the step may wait. */
export const NO_PERMIT = Object.freeze({ status: "NO_PERMIT" });

const throttledError = (error) => error?.code === "RATE_LIMITED" || error?.status === 429;

/**
 * What a batch's outcome tells the governor: 200 when it completed, 429 when the provider throttled
 * it for good (with the provider's wait, when known), else the last HTTP status or 0 (no answer),
 * and the tokens billed.
 */
export function reportOf(outcome) {
  if (!outcome) return { status: 0 };
  const usedTokens = outcome.usage ? tokensOf(outcome.usage) : undefined;
  const { error } = outcome;
  if (outcome.status === "COMPLETED") return { status: 200, usedTokens };
  if (throttledError(error)) {
    const headers = error.retryAt ? { "retry-after-ms": String(Math.max(0, error.retryAt - Date.now())) } : {};
    return { status: 429, headers, usedTokens };
  }
  return { status: error?.status ?? 0, usedTokens };
}

/**
 * Runs `generate(onProgress)` under a permit of `governor` (null: ungoverned); `priority` is the
 * batch's index, so every series' first batch goes before other series' later ones. The permit is always
 * completed, whatever `generate` does; a throttled retry inside it is reported as it happens. A
 * permit not granted within `cfg.permitWaitMs` resolves `NO_PERMIT` before any LLM call: the
 * Workflow sleeps and lines the batch up again (workflow.js), holding no step meanwhile.
 */
export async function withPermit(governor, { estimatedTokens, cfg, leaseMs, priority = 0 }, generate) {
  if (!governor) return generate(undefined);
  const got = await governor.acquire(estimatedTokens, cfg.permitWaitMs, leaseMs, priority);
  if (!got.ok && got.code === "PERMIT_TIMEOUT") return NO_PERMIT;
  if (!got.ok) throw new Error(`rate governor: no permit (${got.code}): ${got.message}`);
  let outcome;
  const pending = [];
  const onProgress = (event) => {
    if (event.type === "batchRetrying" && throttledError(event.error)) {
      pending.push(governor.throttled(got.permitId, event.delayMs ?? 0).catch(() => {}));
    }
  };
  try {
    outcome = await generate(onProgress);
    return outcome;
  } finally {
    await Promise.all(pending);
    try {
      await governor.complete(got.permitId, reportOf(outcome));
    } catch (e) {
      // The object is unreachable: its lease (leaseMs) settles the permit.
      console.error("drillgen worker: rate governor complete failed", e);
    }
  }
}

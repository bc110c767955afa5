// Spend caps per tenant and UTC day: LLM calls (DAILY_LLM_CALLS) and tokens (DAILY_TOKENS). The
// batch steps count what each batch reports (its `calls`, its `usage`) in the same D1 transaction
// as the batch's own row; a start or resume is refused while today's count is at a cap. A day is a
// row (tenant, UTC date): the count starts again at 0 at UTC midnight.
import { HostError } from "./config.js";

export const utcDay = (now = new Date()) => now.toISOString().slice(0, 10);

/** The next UTC midnight after `now`: when today's counts stop applying. */
export function resetAt(now = new Date()) {
  return new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() + 1));
}

/** Billed tokens of one batch: every input token (cached ones included) and every output token. */
export const tokensOf = (usage) => (usage ? (usage.inputTokens ?? 0) + (usage.outputTokens ?? 0) : 0);

/** The statement that adds a batch's calls and tokens to its tenant's count for today. */
export function addSpend(db, tenant, calls, tokens) {
  return db
    .prepare(
      `INSERT INTO spend (tenant, day, llm_calls, tokens) VALUES (?1, ?2, ?3, ?4)
     ON CONFLICT (tenant, day) DO UPDATE SET llm_calls = llm_calls + excluded.llm_calls, tokens = tokens + excluded.tokens`,
    )
    .bind(tenant, utcDay(), calls, tokens);
}

/** Refuses (429 SPEND_LIMIT, Retry-After until UTC midnight) when the tenant reached a cap today. */
export async function checkSpend(db, tenant, cfg) {
  const now = new Date();
  const row = (await db.prepare("SELECT llm_calls, tokens FROM spend WHERE tenant = ? AND day = ?").bind(tenant, utcDay(now)).first()) ?? {
    llm_calls: 0,
    tokens: 0,
  };
  const over =
    row.llm_calls >= cfg.dailyLlmCalls
      ? `${row.llm_calls} LLM calls today, the cap is ${cfg.dailyLlmCalls} (DAILY_LLM_CALLS)`
      : row.tokens >= cfg.dailyTokens
        ? `${row.tokens} tokens today, the cap is ${cfg.dailyTokens} (DAILY_TOKENS)`
        : null;
  if (!over) return;
  const reset = resetAt(now);
  const e = new HostError(429, "SPEND_LIMIT", `this tenant's daily spend is used up: ${over}; it resets at ${reset.toISOString()}`);
  e.headers = { "retry-after": String(Math.ceil((reset.getTime() - now.getTime()) / 1000)) };
  e.details = { resetAt: reset.toISOString(), used: { llmCalls: row.llm_calls, tokens: row.tokens } };
  throw e;
}

// Tenants and their tokens. API_TOKEN is a comma-separated list of `tenant:token` entries (several
// entries may name one tenant: several clients, or old + new while rotating). An entry without a
// `tenant:` prefix is a token of tenant "default": a single plain token, as before tenants
// existed, keeps working and owns what was stored before (migration 0002 gives it to "default").
import { HostError } from "./config.js";

const TENANT = /^[A-Za-z0-9_-]{1,64}$/;
const encoder = new TextEncoder();
const sha256 = async (text) => new Uint8Array(await crypto.subtle.digest("SHA-256", encoder.encode(text)));

export const hex = (bytes) => [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
export const digestHex = async (text) => hex(await sha256(text));

/** `[{ tenant, token }]` from API_TOKEN; a malformed entry is a deployment error (500), never skipped. */
export function parseTokens(raw) {
  const entries = String(raw ?? "")
    .split(",")
    .map((t) => t.trim())
    .filter(Boolean)
    .map((entry) => {
      const colon = entry.indexOf(":");
      if (colon === -1) return { tenant: "default", token: entry };
      const tenant = entry.slice(0, colon);
      const token = entry.slice(colon + 1);
      if (!TENANT.test(tenant) || token.length === 0) {
        throw new HostError(500, "NOT_CONFIGURED", "secret API_TOKEN: each entry is `tenant:token` (tenant: letters, digits, _ or -)");
      }
      return { tenant, token };
    });
  if (entries.length === 0) throw new HostError(500, "NOT_CONFIGURED", "secret API_TOKEN is not set");
  return entries;
}

function equalDigests(a, b) {
  if (typeof crypto.subtle.timingSafeEqual === "function") return crypto.subtle.timingSafeEqual(a, b);
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i] ^ b[i];
  return diff === 0;
}

/**
 * The caller's tenant, or 401. Both the given token and every configured one are hashed with
 * SHA-256 and compared in constant time: equal-length digests reveal nothing of a token's length,
 * and every entry is compared (no early exit).
 */
export async function authenticate(request, env) {
  const entries = parseTokens(env.API_TOKEN);
  const header = request.headers.get("authorization") ?? "";
  const match = /^Bearer[ ]+(\S+)[ ]*$/i.exec(header);
  if (!match) throw new HostError(401, "UNAUTHENTICATED", "send Authorization: Bearer <token>");
  const given = await sha256(match[1]);
  let tenant = null;
  for (const entry of entries) {
    const same = equalDigests(given, await sha256(entry.token));
    tenant = same ? entry.tenant : tenant;
  }
  if (tenant === null) throw new HostError(401, "INVALID_TOKEN", "the bearer token is not valid");
  return tenant;
}

/**
 * Starting series and imports are rate-limited per tenant (the binding counts per location). A
 * refusal carries `Retry-After`: the limiter's period (RATE_LIMIT_PERIOD, the `period` of
 * `[[ratelimits]]`), the longest wait until its window has room again.
 */
export async function rateLimit(env, cfg, tenant, what) {
  if (!env.SERIES_RATE_LIMITER) throw new HostError(500, "NOT_CONFIGURED", "binding SERIES_RATE_LIMITER is missing");
  const { success } = await env.SERIES_RATE_LIMITER.limit({ key: `${what}:${tenant}` });
  if (!success) {
    const e = new HostError(
      429,
      "RATE_LIMITED",
      `too many requests of this kind (${what}) for this tenant; try again in ${cfg.rateLimitPeriodS} s`,
    );
    e.headers = { "retry-after": String(cfg.rateLimitPeriodS) };
    throw e;
  }
}

// One simulated API key's rate limits, charged and reported as the providers do, so a client's
// rate governor can be measured against something that pushes back like a real key.
//
// Buckets: requests and tokens per minute, each refilling continuously up to its limit (Anthropic:
// "We use the token bucket algorithm ... your capacity is continuously replenished up to your
// maximum limit, rather than being reset at fixed intervals", docs.claude.com/en/api/rate-limits;
// OpenAI's `x-ratelimit-reset-*` is "the time until the rate limit ... resets to its initial state",
// platform.openai.com/docs/guides/rate-limits, which a continuous bucket gives as well).
//
// What a request is charged, by `style`:
// - "openai": its prompt tokens, cached ones included ("Do cached prompts contribute to TPM rate
//   limits? Yes, as caching does not affect rate limits", platform.openai.com/docs/guides/
//   prompt-caching), plus its `max_tokens`/`max_completion_tokens`, on admission and never given
//   back ("Your rate limit is calculated as the maximum of max_tokens and the estimated number of
//   tokens based on the character count of your request", guides/rate-limits: the wording is
//   loose; the simulator reserves prompt + max_tokens, the reading that makes a large max_tokens
//   cost throughput, which is what that section warns about). Without a max, the actual output.
//   A request refused with 429 still uses one request ("unsuccessful requests contribute to your
//   per-minute limit", guides/rate-limits); it is never charged tokens.
// - "anthropic": ITPM is "estimated at the beginning of each request, and the estimate is adjusted
//   during the request"; the final count is `input_tokens` + `cache_creation_input_tokens`, not
//   cache reads (for most models); OTPM is "estimated based on max_tokens at the beginning of each
//   request, and the estimate is adjusted at the end of the request to reflect the actual number of
//   output tokens used" (docs.claude.com/en/api/rate-limits). The simulator keeps ONE token bucket
//   for both: it charges the whole prompt + max_tokens on admission, and at the end gives back the
//   cache reads and max_tokens − output.
//   An approximation: Anthropic's input and output limits are separate (output ones ~5× smaller),
//   and its `anthropic-ratelimit-tokens-*` headers report "the most restrictive limit currently in
//   effect" (ibid.), which one bucket makes the only one.
//
// Headers on every answer, 429s included:
// - "openai": `x-ratelimit-{limit,remaining,reset}-{requests,tokens}`, reset as a Go duration
//   (`6m0s`, `1s`, `120ms`), the time to a full bucket (guides/rate-limits, "Rate limits in headers").
// - "anthropic": `anthropic-ratelimit-{requests,tokens}-{limit,remaining,reset}`, reset as the
//   RFC 3339 time the bucket is full again, token `remaining` "rounded to the nearest thousand"
//   (docs.claude.com/en/api/rate-limits, "Response headers").
// A 429 adds `retry-after` in whole seconds, rounded up ("The number of seconds to wait until you
// can retry the request", ibid.), and with `retryAfterMs: true` also `retry-after-ms`, which the
// OpenAI SDKs read before `retry-after` (openai-node's retryRequest: "may not be standard") and
// drillgen reads too: a benchmark that runs minutes in seconds needs the wait below one second.

//
// `timeScale` (default 1) runs the key's minute in `timeScale` × 60 s, for a benchmark that plays
// minutes of traffic in seconds (with its latencies scaled alike): a bucket holds a simulated
// minute's limit and refills over the scaled minute. Headers then state the limits per real
// minute (limit ÷ timeScale), so a client's per-minute arithmetic gives the right rate; its
// `remaining` and resets are the bucket's own, in real time.

const MINUTE_MS = 60_000;

function bucket(perMinute, now, minuteMs) {
  const limit = perMinute ?? Number.POSITIVE_INFINITY;
  const b = {
    limit,
    level: limit,
    at: now,
    refill(t) {
      if (Number.isFinite(limit)) b.level = Math.min(limit, b.level + ((t - b.at) * limit) / minuteMs);
      b.at = Math.max(b.at, t);
    },
    /** Milliseconds until `amount` fits (0 now; Infinity when it never will). */
    waitFor(amount) {
      if (amount <= b.level) return 0;
      if (amount > limit) return Number.POSITIVE_INFINITY;
      return ((amount - b.level) * minuteMs) / limit;
    },
    /** Milliseconds until the bucket is full. */
    untilFull() {
      return Number.isFinite(limit) ? ((limit - b.level) * minuteMs) / limit : 0;
    },
  };
  return b;
}

/** Go's `time.Duration.String()` rounded to the millisecond: `120ms`, `1s`, `8.64s`, `6m0s`. */
export function goDuration(ms) {
  const whole = Math.max(0, Math.ceil(ms));
  if (whole < 1000) return `${whole}ms`;
  const h = Math.floor(whole / 3_600_000);
  const m = Math.floor((whole % 3_600_000) / 60_000);
  const s = ((whole % 60_000) / 1000).toFixed(3).replace(/\.?0+$/, "");
  return `${h ? `${h}h` : ""}${h || m ? `${m}m` : ""}${s}s`;
}

/** RFC 3339 in whole seconds (as Anthropic's examples are), rounded up so it is never early. */
const rfc3339 = (t) => new Date(Math.ceil(t / 1000) * 1000).toISOString().replace(".000Z", "Z");

/**
 * `createRateLimiter({ requestsPerMinute, tokensPerMinute, style, retryAfterMs, timeScale })`: `admit(cost)`
 * with `cost = { prompt, maxTokens, output }` returns `{ ok: true, headers, permit }` or
 * `{ ok: false, status: 429, headers, body, waitMs }`; `settle(permit, { cached, output })` after
 * the answer. A limit left out is unlimited (and has no headers).
 */
export function createRateLimiter(
  { requestsPerMinute, tokensPerMinute, style = "openai", retryAfterMs = false, timeScale = 1 },
  clock = Date.now,
) {
  if (style !== "openai" && style !== "anthropic") throw new Error(`unknown rate-limit style ${style}`);
  if (!(timeScale > 0)) throw new Error(`rate-limit timeScale must be above 0, not ${timeScale}`);
  const minuteMs = MINUTE_MS * timeScale;
  const requests = bucket(requestsPerMinute, clock(), minuteMs);
  const tokens = bucket(tokensPerMinute, clock(), minuteMs);
  const stated = (b) => String(Math.round(b.limit / timeScale)); // per real minute

  function headers(t) {
    const h = {};
    const remaining = (b, round) => String(Math.max(0, round(b.level)));
    if (style === "openai") {
      for (const [kind, b] of [
        ["requests", requests],
        ["tokens", tokens],
      ]) {
        if (!Number.isFinite(b.limit)) continue;
        h[`x-ratelimit-limit-${kind}`] = stated(b);
        h[`x-ratelimit-remaining-${kind}`] = remaining(b, Math.floor);
        h[`x-ratelimit-reset-${kind}`] = goDuration(b.untilFull());
      }
    } else {
      for (const [kind, b, round] of [
        ["requests", requests, Math.floor],
        ["tokens", tokens, (x) => Math.round(x / 1000) * 1000],
      ]) {
        if (!Number.isFinite(b.limit)) continue;
        h[`anthropic-ratelimit-${kind}-limit`] = stated(b);
        h[`anthropic-ratelimit-${kind}-remaining`] = remaining(b, round);
        h[`anthropic-ratelimit-${kind}-reset`] = rfc3339(t + b.untilFull());
      }
    }
    return h;
  }

  function refused(t, charge, which) {
    if (style === "openai") requests.level = Math.max(0, requests.level - 1);
    const wait = Math.max(requests.waitFor(1), tokens.waitFor(charge)); // after the refusal's own charge
    const h = headers(t);
    const tooLarge = !Number.isFinite(wait);
    if (!tooLarge) {
      h["retry-after"] = String(Math.max(1, Math.ceil(wait / 1000)));
      if (retryAfterMs) h["retry-after-ms"] = String(Math.ceil(wait));
    }
    const b = which === "requests" ? requests : tokens;
    const used = Math.max(0, Math.round(b.limit - b.level));
    const unit = which === "requests" ? "requests per min (RPM)" : "tokens per min (TPM)";
    const asked = which === "requests" ? 1 : charge;
    // The providers' 429 bodies: OpenAI `{ error: { message, type: "tokens"|"requests", param,
    // code: "rate_limit_exceeded" } }` (messages as quoted from the API in public bug reports,
    // e.g. "Rate limit reached for gpt-4o-mini in organization … on tokens per min (TPM): Limit
    // 200000, Used 195869, Requested 4412. Please try again in 84ms."); Anthropic `{ type: "error",
    // error: { type: "rate_limit_error", message } }` (docs.claude.com/en/api/errors; its message
    // text here is the simulator's own).
    const limit = stated(b);
    const message =
      style === "anthropic"
        ? `This request would exceed the rate limit for your organization of ${limit} ${which} per minute.`
        : tooLarge
          ? `Request too large for sim on ${unit}: Limit ${limit}, Requested ${asked}.`
          : `Rate limit reached for sim on ${unit}: Limit ${limit}, Used ${used}, Requested ${asked}. Please try again in ${goDuration(wait)}.`;
    const body =
      style === "openai"
        ? { error: { message, type: which, param: null, code: "rate_limit_exceeded" } }
        : { type: "error", error: { type: "rate_limit_error", message } };
    return { ok: false, status: 429, headers: h, body: JSON.stringify(body), waitMs: wait };
  }

  return {
    style,
    /** What a request is charged on admission: prompt + max output (see the header comment). */
    chargeOf({ prompt, maxTokens, output }) {
      return prompt + (maxTokens ?? output ?? 0);
    },
    /** `cost = { prompt, maxTokens, output }`: `output` is used when the request sets no max. */
    admit(cost) {
      const t = clock();
      requests.refill(t);
      tokens.refill(t);
      const charge = this.chargeOf(cost);
      if (requests.level < 1) return refused(t, charge, "requests");
      if (tokens.level < charge) return refused(t, charge, "tokens");
      requests.level -= 1;
      tokens.level -= charge;
      return { ok: true, headers: headers(t), permit: { charge, maxTokens: cost.maxTokens } };
    },
    /** Anthropic gives back the cache reads and what max_tokens reserved beyond the output. */
    settle(permit, { cached = 0, output = 0 }) {
      if (style !== "anthropic") return;
      const t = clock();
      tokens.refill(t);
      const unused = permit.maxTokens == null ? 0 : Math.max(0, permit.maxTokens - output);
      tokens.level = Math.min(tokens.limit, tokens.level + cached + unused);
    },
    headers() {
      const t = clock();
      requests.refill(t);
      tokens.refill(t);
      return headers(t);
    },
  };
}

/** Every header a page may read from a cross-origin answer (`access-control-expose-headers`). */
export const RATE_LIMIT_HEADERS = [
  "retry-after",
  "retry-after-ms",
  ...["requests", "tokens"].flatMap((k) => [`x-ratelimit-limit-${k}`, `x-ratelimit-remaining-${k}`, `x-ratelimit-reset-${k}`]),
  ...["requests", "tokens"].flatMap((k) => ["limit", "remaining", "reset"].map((f) => `anthropic-ratelimit-${k}-${f}`)),
];

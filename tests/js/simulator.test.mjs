// The LLM simulator's own behaviour that benchmarks and tests lean on: a rate-limited key answers
// as the providers do (headers, 429s, what a request is charged), and a streamed answer goes out
// in small events paced by the output rate, its text identical to the unstreamed answer.

import assert from "node:assert/strict";
import { test } from "node:test";
import { encode } from "gpt-tokenizer/encoding/o200k_base";
import { startLlmSimulator } from "../../tools/llm-simulator/llm-simulator.mjs";
import { goDuration } from "../../tools/llm-simulator/sim/ratelimit.mjs";
import { countPromptTokens, countTokens } from "../../tools/llm-simulator/sim/tokens.mjs";

const drillBlock = (i) =>
  [
    `## Drill ${i + 1} of 2 (index ${i})`,
    `### Position P${i} (MIDDLE)`,
    "Dice: 31 (to play)",
    "Best move: 8/5 6/5 (equity +0.150)",
    "Analysis: Make the five point. Remember: points in front of your opponent matter most.",
    "Options the student sees: A 8/5 6/5 | B 24/21 13/12",
    "Correct option: A (8/5 6/5), the engine's best move",
  ].join("\n");
const prompt = [drillBlock(0), drillBlock(1)].join("\n\n");

const post = (sim, path, body) =>
  fetch(`${sim.url}${path}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
const openaiBody = (extra = {}) => ({ model: "m", max_tokens: 1000, messages: [{ role: "user", content: prompt }], ...extra });

test("prompt tokens: o200k's exact count for real text, a bounded one for hostile runs", { timeout: 60_000 }, () => {
  const text = `${prompt}\n${"Count shots before leaving a blot. ".repeat(200)}`;
  assert.equal(countTokens(text), encode(text).length);
  const prefix = { text: prompt, tokens: countTokens(prompt) };
  assert.ok(Math.abs(countPromptTokens(text, prefix) - encode(text).length) <= 1, "prefix + rest: off by a token at the seam at most");
  // A megabyte without whitespace: the whole-text merge would not finish within the timeout.
  for (const hostile of ["x".repeat(1 << 20), `${"ok ".repeat(10)}${"y".repeat(300_000)}`]) {
    const n = countTokens(hostile);
    assert.ok(n >= hostile.length / 16 && n <= hostile.length / 2, `${n} tokens for ${hostile.length} characters`);
  }
});

test("Go durations as OpenAI's reset headers write them", () => {
  assert.deepEqual([120, 999.2, 1000, 8640, 60_000, 360_000, 3_723_500].map(goDuration), [
    "120ms",
    "1s",
    "1s",
    "8.64s",
    "1m0s",
    "6m0s",
    "1h2m3.5s",
  ]);
});

test("an OpenAI-style key: headers on every answer, prompt + max_tokens charged, 429 with retry-after", async () => {
  const sim = await startLlmSimulator({ rateLimit: { requestsPerMinute: 2, tokensPerMinute: 100_000, style: "openai" } });
  try {
    const first = await post(sim, "/chat/completions", openaiBody());
    assert.equal(first.status, 200);
    const { usage } = await first.json();
    assert.equal(first.headers.get("x-ratelimit-limit-requests"), "2");
    assert.equal(first.headers.get("x-ratelimit-remaining-requests"), "1");
    assert.equal(first.headers.get("x-ratelimit-limit-tokens"), "100000");
    const remaining = Number(first.headers.get("x-ratelimit-remaining-tokens"));
    // Charged prompt + max_tokens, not the actual output; refilled a little since.
    const charged = usage.prompt_tokens + 1000;
    assert.ok(remaining >= 100_000 - charged && remaining < 100_000 - charged + 500, `${remaining} tokens remaining`);
    assert.match(first.headers.get("x-ratelimit-reset-requests"), /^(\d+(\.\d+)?s|\d+ms)$/);
    assert.equal((await post(sim, "/chat/completions", openaiBody())).status, 200);
    const refused = await post(sim, "/chat/completions", openaiBody());
    assert.equal(refused.status, 429);
    // One request a 30 s refill away: retry-after in whole seconds, rounded up.
    assert.ok(Number(refused.headers.get("retry-after")) >= 29, refused.headers.get("retry-after"));
    assert.equal(refused.headers.get("retry-after-ms"), null, "only when asked for");
    assert.equal(refused.headers.get("x-ratelimit-remaining-requests"), "0");
    const { error } = await refused.json();
    assert.equal(error.code, "rate_limit_exceeded");
    assert.equal(error.type, "requests");
    assert.deepEqual(sim.stats, { admitted: 2, rateLimited: 1 });
    assert.deepEqual(
      sim.requests.map((r) => r.rateLimited),
      [false, false, true],
    );
    // Changed at runtime: fresh buckets; cleared: no headers at all.
    sim.rateLimit = { tokensPerMinute: 2000, style: "openai", retryAfterMs: true };
    const fits = await post(sim, "/chat/completions", openaiBody({ max_tokens: 900 }));
    assert.equal(fits.status, 200);
    const second = await post(sim, "/chat/completions", openaiBody({ max_tokens: 900 }));
    assert.equal(second.status, 429);
    assert.equal((await second.json()).error.type, "tokens");
    assert.ok(Number(second.headers.get("retry-after-ms")) > 0);
    assert.equal(second.headers.get("x-ratelimit-limit-requests"), null, "no request limit, no request headers");
    sim.rateLimit = null;
    const free = await post(sim, "/chat/completions", openaiBody());
    assert.equal(free.status, 200);
    assert.equal(free.headers.get("x-ratelimit-limit-tokens"), null);
    // reset() restores the key the simulator started with.
    sim.reset();
    assert.equal((await post(sim, "/chat/completions", openaiBody())).headers.get("x-ratelimit-remaining-requests"), "1");
    assert.deepEqual(sim.stats, { admitted: 1, rateLimited: 0 });
  } finally {
    await sim.close();
  }
});

test("a scaled key (timeScale): a simulated minute's bucket refilled in the scaled minute, limits stated per real minute", async () => {
  // 2 requests a simulated minute of 600 ms: 200 a real minute, one refilled every 300 ms.
  const sim = await startLlmSimulator({ rateLimit: { requestsPerMinute: 2, style: "openai", retryAfterMs: true, timeScale: 0.01 } });
  try {
    for (let i = 0; i < 2; i++) assert.equal((await post(sim, "/chat/completions", openaiBody())).status, 200);
    const refused = await post(sim, "/chat/completions", openaiBody());
    assert.equal(refused.status, 429);
    assert.equal(refused.headers.get("x-ratelimit-limit-requests"), "200");
    const wait = Number(refused.headers.get("retry-after-ms"));
    assert.ok(wait > 200 && wait <= 300, `retry-after-ms ${wait}`);
    assert.equal(refused.headers.get("retry-after"), "1", "whole seconds, rounded up");
    await new Promise((r) => setTimeout(r, wait + 5));
    assert.equal((await post(sim, "/chat/completions", openaiBody())).status, 200, "admitted once the wait is over");
  } finally {
    await sim.close();
  }
});

test("an Anthropic-style key: RFC 3339 resets, remaining rounded to thousands, unused max_tokens given back", async () => {
  const sim = await startLlmSimulator({ rateLimit: { requestsPerMinute: 50, tokensPerMinute: 20_000, style: "anthropic" } });
  try {
    const body = { model: "claude-sonnet-4-5", max_tokens: 8000, messages: [{ role: "user", content: prompt }] };
    const first = await post(sim, "/messages", body);
    assert.equal(first.status, 200);
    await first.json();
    assert.equal(first.headers.get("anthropic-ratelimit-tokens-limit"), "20000");
    assert.equal(Number(first.headers.get("anthropic-ratelimit-tokens-remaining")) % 1000, 0);
    assert.ok(Number(first.headers.get("anthropic-ratelimit-tokens-remaining")) <= 12_000, "max_tokens reserved on admission");
    assert.match(first.headers.get("anthropic-ratelimit-requests-reset"), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    assert.ok(Date.parse(first.headers.get("anthropic-ratelimit-tokens-reset")) > Date.now());
    // Two more at 8,000 reserved each fit only because the first gave back what it did not write.
    for (let i = 0; i < 2; i++) {
      const next = await post(sim, "/messages", body);
      await next.arrayBuffer();
      assert.equal(next.status, 200);
    }
    assert.deepEqual(sim.stats, { admitted: 3, rateLimited: 0 });
    const refused = await post(sim, "/messages", { ...body, max_tokens: 30_000 });
    assert.equal(refused.status, 429);
    assert.deepEqual(Object.keys(await refused.json()), ["type", "error"]);
    assert.equal(refused.headers.get("retry-after"), null, "a request over the whole limit never fits: no retry-after");
  } finally {
    await sim.close();
  }
});

/** The events of a streamed answer, each with its arrival time after the request was sent. */
async function streamed(sim, path, body) {
  const t0 = performance.now();
  const res = await post(sim, path, { ...body, stream: true });
  const events = [];
  const decoder = new TextDecoder();
  let buffer = "";
  for await (const chunk of res.body) {
    buffer += decoder.decode(chunk, { stream: true });
    let end = buffer.indexOf("\n\n");
    while (end >= 0) {
      const data = buffer
        .slice(0, end)
        .split("\n")
        .find((l) => l.startsWith("data: "))
        ?.slice(6);
      if (data && data !== "[DONE]") events.push({ at: performance.now() - t0, data: JSON.parse(data) });
      buffer = buffer.slice(end + 2);
      end = buffer.indexOf("\n\n");
    }
  }
  return { events, total: performance.now() - t0 };
}

test("a streamed answer: events of a few tokens, paced after the first token, the same text as unstreamed", async () => {
  const sim = await startLlmSimulator({ latencyMs: 100, msPerOutputToken: 2 });
  try {
    const plain = (await (await post(sim, "/chat/completions", openaiBody())).json()).choices[0].message.content;
    const outputTokens = Math.ceil(plain.length / 4);
    const { events, total } = await streamed(sim, "/chat/completions", openaiBody());
    const pieces = events.map((e) => e.data.choices[0]?.delta?.content).filter((c) => c !== undefined);
    assert.equal(pieces.join(""), plain);
    assert.ok(
      pieces.every((p) => p.length <= 12),
      "3 tokens (12 characters) an event",
    );
    assert.ok(pieces.length >= plain.length / 12, `${pieces.length} events for ${plain.length} characters`);
    // Lower bounds only (timers never fire early): the first token after the latency, the whole
    // answer after latency + decoding; and the first drill's object closes before the answer ends.
    assert.ok(events[0].at >= 99, `first event at ${events[0].at} ms`);
    assert.ok(total >= 100 + 2 * outputTokens - 5, `${total} ms for ${outputTokens} tokens`);
    let text = "";
    const firstDrillClosed = events.find((e) => {
      text += e.data.choices[0]?.delta?.content ?? "";
      return text.includes('"},{');
    });
    assert.ok(firstDrillClosed.at < events.at(-1).at, "the first drill closes before the last event");
  } finally {
    await sim.close();
  }
});

test("an Anthropic stream: input_json_delta pieces of a few tokens that join to the tool input", async () => {
  const sim = await startLlmSimulator({ streamChunkTokens: 1 });
  try {
    const body = { model: "claude-sonnet-4-5", max_tokens: 4000, messages: [{ role: "user", content: prompt }] };
    const plain = await (await post(sim, "/messages", body)).json();
    const { events } = await streamed(sim, "/messages", body);
    const pieces = events.filter((e) => e.data.type === "content_block_delta").map((e) => e.data.delta.partial_json);
    assert.ok(pieces.every((p) => p.length <= 4));
    assert.deepEqual(JSON.parse(pieces.join("")), plain.content[0].input);
    assert.deepEqual(
      events.map((e) => e.data.type).filter((t) => t !== "content_block_delta"),
      ["message_start", "content_block_start", "content_block_stop", "message_delta", "message_stop"],
    );
  } finally {
    await sim.close();
  }
});

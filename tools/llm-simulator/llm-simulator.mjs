// A local LLM for the main job, the demo and the tests: an OpenAI-compatible (`/v1/chat/completions`)
// and Anthropic-compatible (`/v1/messages`) server on 127.0.0.1 that writes deterministic drills
// from the prompt, with latency (time to first token, then per output token), streaming, prompt
// caching billed as the providers bill it (sim/cache.mjs), server personalities that refuse what
// real servers refuse (sim/personalities.mjs), CORS for pages on other origins, and scripted faults
// per batch for the tests.
import { createServer } from "node:http";
import { createPromptCache, prefixOf } from "./sim/cache.mjs";
import { parseDrills, tokens, writeDrills } from "./sim/drills.mjs";
import { refusal, serial } from "./sim/personalities.mjs";
import { createRateLimiter, RATE_LIMIT_HEADERS } from "./sim/ratelimit.mjs";
import { countPromptTokens } from "./sim/tokens.mjs";

export { parseDrills, writeDrills } from "./sim/drills.mjs";
export { personalities } from "./sim/personalities.mjs";

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** The batch a request is for: its drills, read from the user prompt. */
function batchOf(body) {
  const messages = body.messages ?? [];
  const user = messages
    .filter((m) => m.role === "user")
    .map((m) => (typeof m.content === "string" ? m.content : ""))
    .join("\n");
  const drills = parseDrills(user);
  return { drills, indices: drills.map((d) => d.index), user };
}

/** What a provider counts as the prompt: the schema (OpenAI's response_format, Anthropic's tools),
 * the system text and the messages' text, without the JSON framing of the request. */
function promptText(body) {
  const text = (c) => (typeof c === "string" ? c : Array.isArray(c) ? c.map((b) => b?.text ?? "").join("") : "");
  const schema = body.tools ?? body.response_format;
  return (schema ? JSON.stringify(schema) : "") + text(body.system) + (body.messages ?? []).map((m) => text(m?.content)).join("");
}

/** The model's answer text for a batch under a content fault. */
function content(asked, fault) {
  let drills = writeDrills(asked);
  if (fault === "short") drills = drills.slice(0, -1);
  if (fault === "extra") drills = [...drills, drills[0]];
  if (fault === "blank") drills = drills.map((d, i) => (i === 0 ? { ...d, explanation: "  " } : d));
  if (fault === "protoKeys") drills = drills.map((d) => JSON.parse(`{"__proto__":{"polluted":true},${JSON.stringify(d).slice(1)}`));
  let text = JSON.stringify({ drills });
  if (fault === "duplicateKeys") text = text.replaceAll('"title":', '"title":"first","title":');
  if (fault === "malformed") text = text.slice(0, text.length / 2);
  if (fault === "fenced") text = `Here are the drills:\n\`\`\`json\n${text.replace("}]}", "},]}")}\n\`\`\`\nEnjoy!`;
  if (fault === "gibberish") text = "I am sorry, I cannot help with backgammon today.";
  if (fault === "huge200")
    text = JSON.stringify({ drills: drills.map((d) => ({ ...d, explanation: d.explanation + "x".repeat(300_000) })) });
  return text;
}

function usageOf(provider, promptTokens, cache, output, fault) {
  if (fault === "badUsage") {
    return provider === "anthropic"
      ? { input_tokens: "12", cache_read_input_tokens: -5, output_tokens: 1e300 }
      : { prompt_tokens: "12", completion_tokens: 1e300, prompt_tokens_details: { cached_tokens: -5 } };
  }
  if (provider === "anthropic") {
    return {
      input_tokens: promptTokens - cache.read - cache.written,
      cache_read_input_tokens: cache.read,
      cache_creation_input_tokens: cache.written,
      output_tokens: output,
    };
  }
  return { prompt_tokens: promptTokens, completion_tokens: output, prompt_tokens_details: { cached_tokens: cache.read } };
}

function completionBody(provider, text, usage, finish) {
  if (provider === "anthropic") {
    let input;
    try {
      input = JSON.parse(text);
    } catch {
      return JSON.stringify({ content: [{ type: "text", text }], stop_reason: "end_turn", usage });
    }
    return JSON.stringify({
      content: [{ type: "tool_use", id: "toolu_sim", name: "submit_drills", input }],
      stop_reason: finish === "length" ? "max_tokens" : "tool_use",
      usage,
    });
  }
  return JSON.stringify({
    id: "chatcmpl-sim",
    object: "chat.completion",
    choices: [{ index: 0, message: { role: "assistant", content: text }, finish_reason: finish }],
    usage,
  });
}

// At most this many content events per answer: a huge answer (the "huge200" fault) is sent in
// bigger pieces rather than as a hundred thousand events.
const MAX_CONTENT_EVENTS = 2000;

/**
 * Server-sent events of a streamed answer, each with `at`: the output tokens written before it,
 * which sets when it is sent. The text goes in pieces of `chunkTokens` tokens (4 characters a
 * token): real servers send about one token per event (OpenAI's chat completion chunks carry one
 * token's text each), so a drill's closing brace arrives when the model writes it, not with the
 * next eighth of the answer.
 */
function streamEvents(provider, body, text, usage, finish, chunkTokens) {
  const size = Math.max(1, Math.round(chunkTokens * 4), Math.ceil(text.length / MAX_CONTENT_EVENTS));
  const parts = text.match(new RegExp(`[\\s\\S]{1,${size}}`, "g")) ?? [""];
  const end = tokens(text);
  const at = (i) => Math.ceil(Math.min(i * size, text.length) / 4); // tokens(), on a prefix's length
  const data = (obj) => `data: ${JSON.stringify(obj)}\n\n`;
  if (provider === "anthropic") {
    const event = (type, obj) => `event: ${type}\n${data({ type, ...obj })}`;
    const { output_tokens, ...input } = usage;
    return [
      { at: 0, event: event("message_start", { message: { id: "msg_sim", usage: { ...input, output_tokens: 1 } } }) },
      {
        at: 0,
        event: event("content_block_start", {
          index: 0,
          content_block: { type: "tool_use", id: "toolu_sim", name: "submit_drills", input: {} },
        }),
      },
      ...parts.map((p, i) => ({
        at: at(i),
        event: event("content_block_delta", { index: 0, delta: { type: "input_json_delta", partial_json: p } }),
      })),
      { at: end, event: event("content_block_stop", { index: 0 }) },
      {
        at: end,
        event: event("message_delta", {
          delta: { stop_reason: finish === "length" ? "max_tokens" : "tool_use" },
          usage: { output_tokens },
        }),
      },
      { at: end, event: event("message_stop", {}) },
    ];
  }
  const events = parts.map((p, i) => ({
    at: at(i),
    event: data({ choices: [{ index: 0, delta: i === 0 ? { role: "assistant", content: p } : { content: p }, finish_reason: null }] }),
  }));
  events.push({ at: end, event: data({ choices: [{ index: 0, delta: {}, finish_reason: finish }] }) });
  if (body.stream_options?.include_usage) events.push({ at: end, event: data({ choices: [], usage }) });
  events.push({ at: end, event: "data: [DONE]\n\n" });
  return events;
}

/**
 * Starts the simulator. `latencyMs` is the time to the first token, `msPerOutputToken` the decoding
 * time after it: a streamed answer goes out in events of `streamChunkTokens` tokens, each when the
 * model would have written it, so the first drill closes long before the last. `personality`
 * (sim/personalities.mjs) decides what the OpenAI-compatible endpoint refuses; change it any time
 * with `sim.personality = …`. `rateLimit: { requestsPerMinute, tokensPerMinute, style: "openai" |
 * "anthropic", retryAfterMs, timeScale }` limits one simulated key (sim/ratelimit.mjs: charged, answered and
 * refused with 429 as that provider does); change or clear it any time with `sim.rateLimit = …`
 * (fresh, full buckets). Returns `{ url, script, requests, reset, close, cache, load, stats }`
 * (`load`: calls in flight, their peak, calls answered; `stats`: `admitted` and `rateLimited`,
 * the 429s of the rate limit, not scripted ones). `script(firstIndex, faults)` queues faults for the batch whose first
 * drill index is `firstIndex` ("*" for every batch): a status number (429 carries retry-after: 1),
 * "hang", "reset", "malformed", "short", "extra", "blank", "fenced", "gibberish", "duplicateKeys",
 * "protoKeys", "badUsage", "deepNesting", "huge200", "hugeError", "oversized", "oversizedChunked",
 * "truncatedStream", "slowDrip", "redirect", "echoKey", "length", or `{ status, headers, body }`.
 */
export async function startLlmSimulator({
  latencyMs = 0,
  msPerOutputToken = 0,
  streamChunkTokens = 3,
  personality = "vllm",
  rateLimit = null,
  host = "127.0.0.1",
  port = 0,
} = {}) {
  const queues = new Map();
  const requests = [];
  const cache = createPromptCache();
  let queue = Promise.resolve(); // the serial personality's one-at-a-time line
  const state = { personality, rateLimit, limiter: rateLimit ? createRateLimiter(rateLimit) : null };
  const stats = { admitted: 0, rateLimited: 0 };

  async function answer(req, res, cors) {
    // By path: real endpoints accept a query (Azure's `?api-version=`, a proxy's own parameters).
    const path = req.url.split("?")[0];
    const provider = path.endsWith("/messages") ? "anthropic" : path.endsWith("/chat/completions") ? "openai" : null;
    if (req.method !== "POST" || !provider)
      return res.writeHead(404, { ...cors, "content-type": "application/json" }).end('{"error":{"message":"not found"}}');
    let raw = "";
    for await (const chunk of req) raw += chunk;
    let body;
    try {
      body = JSON.parse(raw);
    } catch {
      return res.writeHead(400, cors).end('{"error":{"message":"bad json"}}');
    }
    // Every answer carries the key's rate-limit headers; an answered call's are set on admission.
    const json = { ...cors, "content-type": "application/json", ...state.limiter?.headers() };
    const refused = refusal(state.personality, provider, body);
    const batch = batchOf(body);
    const fault = refused ? null : (queues.get(String(batch.indices[0]))?.shift() ?? queues.get("*")?.shift());
    const stream = body.stream === true;
    const entry = {
      provider,
      url: req.url,
      headers: req.headers,
      body,
      indices: batch.indices,
      fault: fault ?? null,
      at: Date.now(),
      stream,
      refused: refused?.status ?? null,
      cachedTokens: 0,
      writtenTokens: 0,
      promptTokens: 0,
      rateLimited: false,
      chargedTokens: 0,
    };
    requests.push(entry);
    if (refused) return res.writeHead(refused.status, json).end(refused.body);
    if (fault === "hang" || req.url.includes("/hang/")) return; // never answers; the client's timeout must fire
    if (fault === "reset") return req.socket.destroy();
    if (typeof fault === "number") {
      const headers = fault === 429 ? { ...json, "retry-after": "1" } : json;
      return res.writeHead(fault, headers).end(JSON.stringify({ error: { message: `simulated ${fault}`, type: "simulated" } }));
    }
    if (fault && typeof fault === "object") return res.writeHead(fault.status, { ...json, ...fault.headers }).end(fault.body ?? "{}");
    if (fault === "redirect") return res.writeHead(307, { ...cors, location: "http://127.0.0.2:9/steal" }).end();
    if (fault === "echoKey")
      return res
        .writeHead(401, json)
        .end(JSON.stringify({ error: { message: `invalid key: ${req.headers.authorization ?? req.headers["x-api-key"]}` } }));
    if (fault === "hugeError") return res.writeHead(500, json).end(JSON.stringify({ error: { message: "e".repeat(2 * 1024 * 1024) } }));
    if (fault === "oversized") return res.writeHead(200, json).end(JSON.stringify({ padding: "x".repeat(3 * 1024 * 1024) }));
    if (fault === "deepNesting") return res.writeHead(200, json).end(`${"[".repeat(100_000)}${"]".repeat(100_000)}`);
    if (fault === "oversizedChunked") {
      res.writeHead(200, json); // no content-length: the client must cap while streaming
      for (let i = 0; i < 48 && !res.destroyed; i++) {
        res.write("x".repeat(64 * 1024));
        await sleep(1);
      }
      return res.end();
    }
    if (fault === "slowDrip") {
      res.writeHead(200, json);
      for (let i = 0; i < 10_000 && !res.destroyed; i++) {
        res.write(" ");
        await sleep(20);
      }
      return res.end();
    }
    await reply(res, json, provider, body, batch, fault, stream, entry);
  }

  async function reply(res, json, provider, body, batch, fault, stream, entry) {
    const started = performance.now();
    const text = content(batch.drills, fault);
    const prefix = prefixOf(provider, body);
    const promptTokens = countPromptTokens(promptText(body), prefix); // a real tokenizer's count, as the prefix's (sim/tokens.mjs)
    const output = tokens(text);
    const limiter = state.limiter;
    let permit = null;
    if (limiter) {
      const max = body.max_completion_tokens ?? body.max_tokens;
      const admitted = limiter.admit({ prompt: promptTokens, maxTokens: typeof max === "number" ? max : undefined, output });
      if (!admitted.ok) {
        entry.rateLimited = true;
        stats.rateLimited += 1;
        return res.writeHead(429, { ...json, ...admitted.headers }).end(admitted.body);
      }
      stats.admitted += 1;
      Object.assign(json, admitted.headers);
      permit = admitted.permit;
      entry.chargedTokens = permit.charge;
    }
    // After admission: a refused request never reaches the model, so it writes no cache entry.
    const cached = cache.lookup(provider, body.model, prefix, entry.at, latencyMs);
    if (permit) res.once("close", () => limiter.settle(permit, { cached: cached.read, output }));
    Object.assign(entry, { cachedTokens: cached.read, writtenTokens: cached.written, promptTokens });
    const usage = usageOf(provider, promptTokens, cached, output, fault);
    const finish = fault === "length" ? "length" : "stop";
    const firstToken = started + latencyMs;
    await sleep(firstToken - performance.now()); // time to the first token
    if (res.destroyed) return;
    if (!stream) {
      await sleep(msPerOutputToken * output);
      if (res.destroyed) return;
      return res.writeHead(200, json).end(completionBody(provider, text, usage, finish));
    }
    res.writeHead(200, { ...json, "content-type": "text/event-stream" });
    const events = streamEvents(provider, body, text, usage, finish, streamChunkTokens);
    const cut = fault === "truncatedStream" ? Math.floor(events.length / 2) : events.length;
    for (let i = 0; i < cut; i++) {
      // Each event when its first token is written, on one clock from the first token (timers
      // overshoot; sleeping per event would add each overshoot to the answer's length).
      const wait = firstToken + events[i].at * msPerOutputToken - performance.now();
      if (wait >= 1) await sleep(wait);
      else if (i % 64 === 63) await new Promise(setImmediate); // unpaced: let aborts and other calls in
      if (res.destroyed) return;
      res.write(events[i].event);
    }
    res.end();
  }

  const server = createServer((req, res) => {
    const cors = {
      "access-control-allow-origin": "*",
      "access-control-allow-methods": "POST, OPTIONS",
      "access-control-allow-headers": req.headers["access-control-request-headers"] ?? "content-type, authorization",
      "access-control-expose-headers": ["x-should-retry", ...RATE_LIMIT_HEADERS].join(", "),
      "access-control-max-age": "600",
      // A fresh connection per call: browsers silently replay a request whose reused keep-alive
      // connection was reset, which would hide the "reset" fault from the client under test.
      connection: "close",
    };
    if (req.method === "OPTIONS") return res.writeHead(204, cors).end();
    if (!serial.has(state.personality)) return void answer(req, res, cors);
    const done = new Promise((resolve) => res.on("close", resolve));
    queue = queue.then(() => {
      answer(req, res, cors);
      return done;
    });
  });
  // Load figures (for scale tests): LLM calls in flight now, the peak since the last `load.reset()`,
  // and calls answered. A call leaves flight when its response ends or its connection closes (hang,
  // reset, client abort).
  const load = {
    inFlight: 0,
    peak: 0,
    completed: 0,
    reset() {
      load.peak = load.inFlight;
      load.completed = 0;
    },
  };
  server.prependListener("request", (req, res) => {
    if (req.method !== "POST") return;
    load.inFlight += 1;
    load.peak = Math.max(load.peak, load.inFlight);
    res.once("close", () => {
      load.inFlight -= 1;
      if (res.writableFinished) load.completed += 1;
    });
  });
  await new Promise((resolve) => server.listen(port, host, resolve));
  const { port: actual } = server.address();
  return {
    url: `http://${host}:${actual}/v1`,
    requests,
    cache,
    get personality() {
      return state.personality;
    },
    set personality(name) {
      state.personality = name;
    },
    load,
    stats,
    get rateLimit() {
      return state.rateLimit;
    },
    set rateLimit(config) {
      state.rateLimit = config ?? null;
      state.limiter = config ? createRateLimiter(config) : null;
    },
    script(firstIndex, faults) {
      queues.set(String(firstIndex), [...(queues.get(String(firstIndex)) ?? []), ...faults]);
    },
    reset() {
      queues.clear();
      requests.length = 0;
      cache.clear();
      load.reset();
      state.personality = personality;
      state.rateLimit = rateLimit;
      state.limiter = rateLimit ? createRateLimiter(rateLimit) : null;
      stats.admitted = 0;
      stats.rateLimited = 0;
    },
    close() {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(resolve));
    },
  };
}

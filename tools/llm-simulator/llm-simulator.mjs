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

/** Server-sent events of a streamed answer, split in ~`pieces` chunks. */
function streamEvents(provider, body, text, usage, finish, pieces = 8) {
  const size = Math.max(1, Math.ceil(text.length / pieces));
  const parts = text.match(new RegExp(`[\\s\\S]{1,${size}}`, "g")) ?? [""];
  const data = (obj) => `data: ${JSON.stringify(obj)}\n\n`;
  if (provider === "anthropic") {
    const event = (type, obj) => `event: ${type}\n${data({ type, ...obj })}`;
    const { output_tokens, ...input } = usage;
    return [
      event("message_start", { message: { id: "msg_sim", usage: { ...input, output_tokens: 1 } } }),
      event("content_block_start", { index: 0, content_block: { type: "tool_use", id: "toolu_sim", name: "submit_drills", input: {} } }),
      ...parts.map((p) => event("content_block_delta", { index: 0, delta: { type: "input_json_delta", partial_json: p } })),
      event("content_block_stop", { index: 0 }),
      event("message_delta", { delta: { stop_reason: finish === "length" ? "max_tokens" : "tool_use" }, usage: { output_tokens } }),
      event("message_stop", {}),
    ];
  }
  const events = parts.map((p, i) =>
    data({ choices: [{ index: 0, delta: i === 0 ? { role: "assistant", content: p } : { content: p }, finish_reason: null }] }),
  );
  events.push(data({ choices: [{ index: 0, delta: {}, finish_reason: finish }] }));
  if (body.stream_options?.include_usage) events.push(data({ choices: [], usage }));
  events.push("data: [DONE]\n\n");
  return events;
}

/**
 * Starts the simulator. `latencyMs` is the time to the first token, `msPerOutputToken` the decoding
 * time after it. `personality` (sim/personalities.mjs) decides what the OpenAI-compatible endpoint
 * refuses; change it any time with `sim.personality = …`. Returns `{ url, script, requests, reset,
 * close, cache, load }` (`load`: calls in flight, their peak, calls answered). `script(firstIndex, faults)` queues faults for the batch whose first
 * drill index is `firstIndex` ("*" for every batch): a status number (429 carries retry-after: 1),
 * "hang", "reset", "malformed", "short", "extra", "blank", "fenced", "gibberish", "duplicateKeys",
 * "protoKeys", "badUsage", "deepNesting", "huge200", "hugeError", "oversized", "oversizedChunked",
 * "truncatedStream", "slowDrip", "redirect", "echoKey", "length", or `{ status, headers, body }`.
 */
export async function startLlmSimulator({ latencyMs = 0, msPerOutputToken = 0, personality = "vllm", host = "127.0.0.1", port = 0 } = {}) {
  const queues = new Map();
  const requests = [];
  const cache = createPromptCache();
  let queue = Promise.resolve(); // the serial personality's one-at-a-time line
  const state = { personality };

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
    const json = { ...cors, "content-type": "application/json" };
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
    const text = content(batch.drills, fault);
    const prefix = prefixOf(provider, body);
    const promptTokens = countPromptTokens(promptText(body), prefix); // a real tokenizer's count, as the prefix's (sim/tokens.mjs)
    const cached = cache.lookup(provider, body.model, prefix, entry.at, latencyMs);
    Object.assign(entry, { cachedTokens: cached.read, writtenTokens: cached.written, promptTokens });
    const output = tokens(text);
    const usage = usageOf(provider, promptTokens, cached, output, fault);
    const finish = fault === "length" ? "length" : "stop";
    await sleep(latencyMs); // time to the first token
    if (res.destroyed) return;
    if (!stream) {
      await sleep(msPerOutputToken * output);
      if (res.destroyed) return;
      return res.writeHead(200, json).end(completionBody(provider, text, usage, finish));
    }
    res.writeHead(200, { ...json, "content-type": "text/event-stream" });
    const events = streamEvents(provider, body, text, usage, finish);
    const cut = fault === "truncatedStream" ? Math.floor(events.length / 2) : events.length;
    for (const event of events.slice(0, cut)) {
      if (res.destroyed) return;
      res.write(event);
      await sleep((msPerOutputToken * output) / events.length);
    }
    res.end();
  }

  const server = createServer((req, res) => {
    const cors = {
      "access-control-allow-origin": "*",
      "access-control-allow-methods": "POST, OPTIONS",
      "access-control-allow-headers": req.headers["access-control-request-headers"] ?? "content-type, authorization",
      "access-control-expose-headers": "retry-after, retry-after-ms, x-should-retry",
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
    script(firstIndex, faults) {
      queues.set(String(firstIndex), [...(queues.get(String(firstIndex)) ?? []), ...faults]);
    },
    reset() {
      queues.clear();
      requests.length = 0;
      cache.clear();
      load.reset();
      state.personality = personality;
    },
    close() {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(resolve));
    },
  };
}

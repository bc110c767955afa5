// A local LLM for the main job, the demo and the tests: an OpenAI-compatible (`/v1/chat/completions`)
// and Anthropic-compatible (`/v1/messages`) server on 127.0.0.1 that writes deterministic drills
// from the positions in the prompt, with latency proportional to the output, prompt-cache usage
// figures, CORS for pages on other origins, and scripted faults per batch for the tests.
import { createServer } from "node:http";

const OPTION_IDS = ["A", "B", "C", "D"];
const GENERIC_MISTAKES = ["Play safe: move the back checkers only", "Stack the 6-point", "Break the midpoint", "Leave a double shot"];

/** Rough token count (4 characters a token), enough for usage figures and latency. */
const tokens = (text) => Math.ceil(text.length / 4);

/** The positions of a batch prompt, parsed back from the `### Position …` blocks. */
export function parsePositions(user) {
  const blocks = user.split(/^### Position /m).slice(1);
  return blocks.map((block) => {
    const [head, ...lines] = block.split("\n");
    const [, id, phase] = head.match(/^(\S+) \((\w+)\)/) ?? [];
    const field = (name) => lines.find((l) => l.startsWith(`${name}: `))?.slice(name.length + 2) ?? "";
    const dice = field("Dice").split(" ")[0];
    const best = field("Best move").replace(/ \(equity [^)]*\)$/, "");
    const alternatives = field("Alternatives").split("; ").filter(Boolean).map((a) => a.replace(/ \([^)]*\)$/, ""));
    return { id, phase, dice, best, alternatives, analysis: field("Analysis") };
  });
}

/** Which drill indices and positions a request asks for: from the schema, else from the prompt. */
function batchOf(body, provider) {
  const messages = body.messages ?? [];
  const user = messages.filter((m) => m.role === "user").map((m) => (typeof m.content === "string" ? m.content : "")).join("\n");
  const schema = provider === "anthropic" ? body.tools?.[0]?.input_schema : (body.response_format?.json_schema?.schema ?? body.response_format?.schema);
  const item = schema?.properties?.drills?.items?.properties;
  const listed = (user.match(/in this order: ([\d, ]+)\./)?.[1] ?? "").split(",").map((s) => s.trim()).filter(Boolean).map(Number);
  const indices = item?.index?.enum ?? listed;
  const positions = parsePositions(user);
  const allowed = item?.positionId?.enum ?? positions.map((p) => p.id);
  return { indices, positions: positions.filter((p) => allowed.includes(p.id)), user };
}

const capitalize = (s) => s.charAt(0).toUpperCase() + s.slice(1);

/** The analyses end on their lesson ("Remember: …", "The general rule is …"): that is the principle. */
function principleOf(analysis) {
  const last = analysis.trim().split(/(?<=[.!?])\s+/).at(-1) ?? "";
  const colon = last.indexOf(": ");
  const lesson = colon > 0 && colon < 40 ? last.slice(colon + 2) : last;
  return capitalize(lesson.replace(/[.!]$/, "")) || "Make the points that matter";
}

/** Deterministic, plausible drills: the best move is the right answer, alternatives the distractors. */
export function writeDrills(indices, positions) {
  return indices.map((index, k) => {
    const p = positions[k % positions.length];
    const wrong = [...p.alternatives, ...GENERIC_MISTAKES].filter((m) => m !== p.best).slice(0, 3);
    const correctSlot = index % 4;
    const plays = [...wrong];
    plays.splice(correctSlot, 0, p.best);
    const firstSentences = p.analysis.split(/(?<=\.)\s/).slice(0, 2).join(" ");
    return {
      index,
      positionId: p.id,
      title: `${capitalize(p.phase.toLowerCase())} · ${p.dice} to play`,
      principle: principleOf(p.analysis),
      question: `You are on roll with ${p.dice}. Which play is best?`,
      options: OPTION_IDS.map((id, i) => ({ id, text: plays[i] })),
      correctOptionId: OPTION_IDS[correctSlot],
      explanation: `${p.best} is best. ${firstSentences}`,
      difficulty: ["BEGINNER", "INTERMEDIATE", "ADVANCED"][index % 3],
    };
  });
}

function completionBody(provider, content, usage, finish = "stop") {
  if (provider === "anthropic") {
    let input;
    try { input = JSON.parse(content); } catch { return JSON.stringify({ content: [{ type: "text", text: content }], stop_reason: "end_turn", usage }); }
    return JSON.stringify({
      content: [{ type: "tool_use", id: "toolu_sim", name: "submit_drills", input }],
      stop_reason: finish === "length" ? "max_tokens" : "tool_use",
      usage: { input_tokens: usage.prompt - usage.cached, cache_read_input_tokens: usage.cached, cache_creation_input_tokens: 0, output_tokens: usage.output },
    });
  }
  return JSON.stringify({
    id: "chatcmpl-sim",
    object: "chat.completion",
    choices: [{ index: 0, message: { role: "assistant", content }, finish_reason: finish }],
    usage: { prompt_tokens: usage.prompt, completion_tokens: usage.output, prompt_tokens_details: { cached_tokens: usage.cached } },
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * Starts the simulator. `latencyMs` is added to every answer, `msPerOutputToken` makes the latency
 * grow with the output like a real model's decoding. Returns `{ url, script, requests, close }`.
 * `script(firstIndex, faults)` queues faults for the batch whose first drill index is `firstIndex`
 * ("*" for every batch): 429, 500, 503, 529, 401, …, "hang", "reset", "malformed", "wrongCount",
 * "foreignPosition", "oversized", "oversizedChunked", "length", or `{ status, headers, body }`.
 */
export async function startLlmSimulator({ latencyMs = 0, msPerOutputToken = 0, host = "127.0.0.1", port = 0 } = {}) {
  const queues = new Map();
  const requests = [];
  const seenPrefixes = new Set();

  const server = createServer(async (req, res) => {
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
    const provider = req.url.endsWith("/messages") ? "anthropic" : req.url.endsWith("/chat/completions") ? "openai" : null;
    if (req.method !== "POST" || !provider) return res.writeHead(404, { ...cors, "content-type": "application/json" }).end('{"error":{"message":"not found"}}');
    let raw = "";
    for await (const chunk of req) raw += chunk;
    let body;
    try { body = JSON.parse(raw); } catch { return res.writeHead(400, cors).end('{"error":{"message":"bad json"}}'); }
    const system = provider === "anthropic" ? (body.system?.map?.((b) => b.text).join("") ?? "") : (body.messages?.find((m) => m.role === "system")?.content ?? "");
    const batch = batchOf(provider === "anthropic" ? { ...body, messages: body.messages } : body, provider);
    const key = String(batch.indices[0]);
    const fault = queues.get(key)?.shift() ?? queues.get("*")?.shift();
    requests.push({ provider, headers: req.headers, body, indices: batch.indices, fault: fault ?? null, at: Date.now() });

    const json = { ...cors, "content-type": "application/json" };
    if (fault === "hang") return; // never answers; the client's timeout must fire
    if (fault === "reset") return req.socket.destroy();
    if (typeof fault === "number") {
      const headers = fault === 429 ? { ...json, "retry-after": "1" } : json;
      return res.writeHead(fault, headers).end(JSON.stringify({ error: { message: `simulated ${fault}`, type: "simulated" } }));
    }
    if (fault && typeof fault === "object") return res.writeHead(fault.status, { ...json, ...fault.headers }).end(fault.body ?? "{}");
    if (fault === "oversized") return res.writeHead(200, json).end(JSON.stringify({ padding: "x".repeat(3 * 1024 * 1024) }));
    if (fault === "oversizedChunked") {
      res.writeHead(200, json); // no content-length: the client must cap while streaming
      for (let i = 0; i < 48 && !res.destroyed; i++) { res.write("x".repeat(64 * 1024)); await sleep(1); }
      return res.end();
    }

    let drills = writeDrills(batch.indices, batch.positions);
    if (fault === "wrongCount") drills = drills.slice(0, -1);
    if (fault === "foreignPosition") drills = drills.map((d) => ({ ...d, positionId: "FOREIGN-001" }));
    let content = JSON.stringify({ drills });
    if (fault === "malformed") content = content.slice(0, content.length / 2);
    const cached = seenPrefixes.has(system) ? tokens(system) : 0;
    seenPrefixes.add(system);
    const usage = { prompt: tokens(system) + tokens(batch.user), cached, output: tokens(content) };
    await sleep(latencyMs + msPerOutputToken * usage.output);
    if (res.destroyed) return;
    res.writeHead(200, json).end(completionBody(provider, content, usage, fault === "length" ? "length" : "stop"));
  });
  // --- Load figures (for scale tests): LLM calls in flight now, the peak since the last
  // `load.reset()`, and calls answered. A second "request" listener, so the handler above is untouched;
  // a call leaves flight when its response ends or its connection closes (hang, reset, client abort).
  const load = {
    inFlight: 0,
    peak: 0,
    completed: 0,
    reset() { load.peak = load.inFlight; load.completed = 0; },
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
  // --- end of load figures
  await new Promise((resolve) => server.listen(port, host, resolve));
  const { port: actual } = server.address();
  return {
    url: `http://${host}:${actual}/v1`,
    requests,
    load,
    script(firstIndex, faults) {
      queues.set(String(firstIndex), [...(queues.get(String(firstIndex)) ?? []), ...faults]);
    },
    reset() { queues.clear(); requests.length = 0; },
    close() {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(resolve));
    },
  };
}

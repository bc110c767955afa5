// Runs the LLM simulator as its own process (so a benchmark's CPU figures are drillgen's alone).
// Arguments: `latencyMs msPerOutputToken [personality] [servers]`, or one JSON object of
// startLlmSimulator's options plus `servers` (for `rateLimit`, `streamChunkTokens`). Prints
// `{"url": …, "urls": […]}` on one line (`urls`: one server per parallel benchmark run, each with
// its own prompt cache and rate limit), then serves until stdin closes or SIGTERM. A stdin line
// `calls <i>` is answered with one stdout line `{"calls": i, "requests": [{ at, promptTokens,
// cachedTokens, writtenTokens, refused, rateLimited, chargedTokens }]}`: what server i billed per call, cache
// writes included (drillgen's usage has no field for them); `stats <i>` with `{"stats": i, …}`:
// server i's `stats` and `load` figures.
// Options, anywhere among the arguments, for running it by hand (e.g. as the LLM of `wrangler dev`):
//   --port <n>     serve on this port (server i on n + i) instead of a random one
//   --keep-alive   serve until SIGINT or SIGTERM, even once stdin closes (a background job's stdin)
import { createInterface } from "node:readline";
import { startLlmSimulator } from "./llm-simulator.mjs";

/** `--port` and `--keep-alive` taken out of `args`. */
function flags(args) {
  const keepAlive = args.includes("--keep-alive");
  let port = 0;
  const portAt = args.findIndex((a) => a === "--port" || a.startsWith("--port="));
  if (portAt !== -1) {
    const raw = args[portAt].startsWith("--port=") ? args[portAt].slice("--port=".length) : args[portAt + 1];
    port = Number(raw);
    if (!Number.isInteger(port) || port < 1 || port > 65535) {
      process.stderr.write(`llm-simulator: --port wants a port number from 1 to 65535, got ${raw}\n`);
      process.exit(2);
    }
    args.splice(portAt, args[portAt].startsWith("--port=") ? 1 : 2);
  }
  return { keepAlive, port, rest: args.filter((a) => a !== "--keep-alive") };
}

function parseArgs(args) {
  if (args[0]?.startsWith("{")) {
    const { servers = 1, ...options } = JSON.parse(args[0]);
    return { options, servers };
  }
  const [latencyMs = "0", msPerOutputToken = "0", personality = "vllm", servers = "1"] = args;
  return { options: { latencyMs: Number(latencyMs), msPerOutputToken: Number(msPerOutputToken), personality }, servers: Number(servers) };
}
const { keepAlive, port, rest } = flags(process.argv.slice(2));
const { options, servers } = parseArgs(rest);
const sims = [];
for (let i = 0; i < servers; i++) sims.push(await startLlmSimulator({ ...options, ...(port ? { port: port + i } : {}) }));
process.stdout.write(`${JSON.stringify({ url: sims[0].url, urls: sims.map((s) => s.url) })}\n`);

const billed = ({ at, promptTokens, cachedTokens, writtenTokens, refused, rateLimited, chargedTokens }) => ({
  at,
  promptTokens,
  cachedTokens,
  writtenTokens,
  refused,
  rateLimited,
  chargedTokens,
});
function command(line) {
  const [verb, arg] = line.trim().split(/\s+/);
  const sim = sims[Number(arg)];
  if (!sim) return;
  if (verb === "calls") process.stdout.write(`${JSON.stringify({ calls: Number(arg), requests: sim.requests.map(billed) })}\n`);
  if (verb === "stats") {
    const { inFlight, peak, completed } = sim.load;
    process.stdout.write(`${JSON.stringify({ stats: Number(arg), ...sim.stats, inFlight, peak, completed })}\n`);
  }
}
const stop = async () => {
  await Promise.all(sims.map((s) => s.close()));
  process.exit(0);
};
createInterface({ input: process.stdin })
  .on("line", command)
  .on("close", keepAlive ? () => {} : stop);
process.on("SIGTERM", stop);
process.on("SIGINT", stop);

// Runs the LLM simulator as its own process (so a benchmark's CPU figures are drillgen's alone).
// Arguments: `latencyMs msPerOutputToken [personality] [servers]`, or one JSON object of
// startLlmSimulator's options plus `servers` (for `rateLimit`, `streamChunkTokens`). Prints
// `{"url": …, "urls": […]}` on one line (`urls`: one server per parallel benchmark run, each with
// its own prompt cache and rate limit), then serves until stdin closes or SIGTERM. A stdin line
// `calls <i>` is answered with one stdout line `{"calls": i, "requests": [{ at, promptTokens,
// cachedTokens, writtenTokens, refused, rateLimited, chargedTokens }]}`: what server i billed per call, cache
// writes included (drillgen's usage has no field for them); `stats <i>` with `{"stats": i, …}`:
// server i's `stats` and `load` figures.
import { createInterface } from "node:readline";
import { startLlmSimulator } from "./llm-simulator.mjs";

function parseArgs(args) {
  if (args[0]?.startsWith("{")) {
    const { servers = 1, ...options } = JSON.parse(args[0]);
    return { options, servers };
  }
  const [latencyMs = "0", msPerOutputToken = "0", personality = "vllm", servers = "1"] = args;
  return { options: { latencyMs: Number(latencyMs), msPerOutputToken: Number(msPerOutputToken), personality }, servers: Number(servers) };
}
const { options, servers } = parseArgs(process.argv.slice(2));
const sims = [];
for (let i = 0; i < servers; i++) sims.push(await startLlmSimulator(options));
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
createInterface({ input: process.stdin }).on("line", command).on("close", stop);
process.on("SIGTERM", stop);

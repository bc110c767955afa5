// Runs the LLM simulator as its own process (so a benchmark's CPU figures are drillgen's alone).
// Arguments: `latencyMs msPerOutputToken [personality] [servers]`. Prints `{"url": …, "urls": […]}`
// on one line (`urls`: one server per parallel benchmark run, each with its own prompt cache), then
// serves until stdin closes or SIGTERM. A stdin line `calls <i>` is answered with one stdout line
// `{"calls": i, "requests": [{ promptTokens, cachedTokens, writtenTokens, refused }]}`: what server
// i billed per call, cache writes included (drillgen's usage has no field for them).
// Options, anywhere among the arguments, for running it by hand (e.g. as the LLM of `wrangler dev`):
//   --port <n>     serve on this port (server i on n + i) instead of a random one
//   --keep-alive   serve until SIGINT or SIGTERM, even once stdin closes (a background job's stdin)
import { createInterface } from "node:readline";
import { startLlmSimulator } from "./llm-simulator.mjs";

const args = process.argv.slice(2);
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
const positional = args.filter((a) => a !== "--keep-alive");
const [latencyMs = "0", msPerOutputToken = "0", personality = "vllm", servers = "1"] = positional;
const options = { latencyMs: Number(latencyMs), msPerOutputToken: Number(msPerOutputToken), personality };
const sims = [];
for (let i = 0; i < Number(servers); i++) sims.push(await startLlmSimulator({ ...options, ...(port ? { port: port + i } : {}) }));
process.stdout.write(`${JSON.stringify({ url: sims[0].url, urls: sims.map((s) => s.url) })}\n`);

const billed = ({ promptTokens, cachedTokens, writtenTokens, refused }) => ({ promptTokens, cachedTokens, writtenTokens, refused });
function command(line) {
  const [verb, arg] = line.trim().split(/\s+/);
  if (verb !== "calls" || !sims[Number(arg)]) return;
  process.stdout.write(`${JSON.stringify({ calls: Number(arg), requests: sims[Number(arg)].requests.map(billed) })}\n`);
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

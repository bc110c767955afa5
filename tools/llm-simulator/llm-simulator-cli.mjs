// Runs the LLM simulator as its own process (so a benchmark's CPU figures are drillgen's alone).
// Arguments: `latencyMs msPerOutputToken [personality] [servers]`. Prints `{"url": …, "urls": […]}`
// on one line (`urls`: one server per parallel benchmark run, each with its own prompt cache), then
// serves until stdin closes or SIGTERM. A stdin line `calls <i>` is answered with one stdout line
// `{"calls": i, "requests": [{ promptTokens, cachedTokens, writtenTokens, refused }]}`: what server
// i billed per call, cache writes included (drillgen's usage has no field for them).
import { createInterface } from "node:readline";
import { startLlmSimulator } from "./llm-simulator.mjs";

const [latencyMs = "0", msPerOutputToken = "0", personality = "vllm", servers = "1"] = process.argv.slice(2);
const options = { latencyMs: Number(latencyMs), msPerOutputToken: Number(msPerOutputToken), personality };
const sims = [];
for (let i = 0; i < Number(servers); i++) sims.push(await startLlmSimulator(options));
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
createInterface({ input: process.stdin }).on("line", command).on("close", stop);
process.on("SIGTERM", stop);

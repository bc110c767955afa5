// Runs the LLM simulator as its own process (so a benchmark's CPU figures are drillgen's alone).
// Prints `{"url": …}` on one line, then serves until stdin closes or SIGTERM.
import { startLlmSimulator } from "./llm-simulator.mjs";

const [latencyMs = "0", msPerOutputToken = "0"] = process.argv.slice(2);
const sim = await startLlmSimulator({ latencyMs: Number(latencyMs), msPerOutputToken: Number(msPerOutputToken) });
process.stdout.write(`${JSON.stringify({ url: sim.url })}\n`);
const stop = async () => { await sim.close(); process.exit(0); };
process.stdin.on("end", stop).resume();
process.on("SIGTERM", stop);

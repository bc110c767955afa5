// Serves the www demo with the local LLM simulator: `scripts/serve` then open the printed URL.
import { fileURLToPath } from "node:url";
import { startLlmSimulator } from "../tools/llm-simulator/llm-simulator.mjs";
import { startStaticServer } from "./lib/static-server.mjs";

const root = fileURLToPath(new URL("../", import.meta.url));
const port = Number(process.env.PORT ?? 8080);
const sim = await startLlmSimulator({ latencyMs: 400, msPerOutputToken: 3, port: Number(process.env.SIM_PORT ?? 8787) });
const site = await startStaticServer(root, { port, routes: { "/config.json": () => ({ simulatorUrl: sim.url }) } });
console.log(`drillgen demo: ${site.url}/www/  (LLM simulator at ${sim.url}; Ctrl-C stops)`);

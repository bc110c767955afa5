// The LLM simulator in a process of its own (llm-simulator-cli.mjs), for benchmarks: the CPU a
// benchmark measures in its own process is then drillgen's alone.
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";

const CLI = new URL("./llm-simulator-cli.mjs", import.meta.url).pathname;

/** `{ urls, calls(i), stop() }`: `calls(i)` is what server i billed, call by call. */
export async function startSimulatorProcess({ latencyMs = 0, msPerOutputToken = 0, personality = "vllm", servers = 1 } = {}) {
  const child = spawn(process.execPath, [CLI, String(latencyMs), String(msPerOutputToken), personality, String(servers)], {
    stdio: ["pipe", "pipe", "inherit"],
  });
  const lines = createInterface({ input: child.stdout });
  const waiting = new Map(); // server index → resolve of its pending `calls` query
  const ready = new Promise((resolve, reject) => {
    child.once("exit", (code) => reject(new Error(`LLM simulator exited with ${code}`)));
    lines.once("line", (line) => resolve(JSON.parse(line)));
  });
  const { urls } = await ready;
  lines.on("line", (line) => {
    const answer = JSON.parse(line);
    waiting.get(answer.calls)?.(answer.requests);
    waiting.delete(answer.calls);
  });
  return {
    urls,
    calls(i) {
      if (waiting.has(i)) throw new Error(`calls(${i}) already pending`);
      const answer = new Promise((resolve) => waiting.set(i, resolve));
      child.stdin.write(`calls ${i}\n`);
      return answer;
    },
    stop() {
      child.removeAllListeners("exit");
      child.stdin.end();
      return new Promise((resolve) => child.once("exit", resolve));
    },
  };
}

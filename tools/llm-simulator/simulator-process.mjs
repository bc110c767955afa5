// The LLM simulator in a process of its own (llm-simulator-cli.mjs), for benchmarks: the CPU a
// benchmark measures in its own process is then drillgen's alone.
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";

const CLI = new URL("./llm-simulator-cli.mjs", import.meta.url).pathname;

/** `{ urls, calls(i), stats(i), stop() }`: `calls(i)` is what server i billed, call by call;
 * `stats(i)` its 429 count (`rateLimited`), `admitted` and load figures. Options are
 * startLlmSimulator's, plus `servers`. */
export async function startSimulatorProcess({ servers = 1, ...options } = {}) {
  const child = spawn(process.execPath, [CLI, JSON.stringify({ servers, ...options })], {
    stdio: ["pipe", "pipe", "inherit"],
  });
  const lines = createInterface({ input: child.stdout });
  const waiting = new Map(); // "calls 0" / "stats 0" → resolve of its pending query
  const ready = new Promise((resolve, reject) => {
    child.once("exit", (code) => reject(new Error(`LLM simulator exited with ${code}`)));
    lines.once("line", (line) => resolve(JSON.parse(line)));
  });
  const { urls } = await ready;
  lines.on("line", (line) => {
    const answer = JSON.parse(line);
    const key = "calls" in answer ? `calls ${answer.calls}` : `stats ${answer.stats}`;
    waiting.get(key)?.(answer);
    waiting.delete(key);
  });
  const ask = (verb, i) => {
    const key = `${verb} ${i}`;
    if (waiting.has(key)) throw new Error(`${key} already pending`);
    const answer = new Promise((resolve) => waiting.set(key, resolve));
    child.stdin.write(`${key}\n`);
    return answer;
  };
  return {
    urls,
    async calls(i) {
      return (await ask("calls", i)).requests;
    },
    async stats(i) {
      const { stats, ...figures } = await ask("stats", i);
      return figures;
    },
    stop() {
      child.removeAllListeners("exit");
      child.stdin.end();
      return new Promise((resolve) => child.once("exit", resolve));
    },
  };
}

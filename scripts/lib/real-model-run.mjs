// One drill series against a real model, with drillgen's default settings (only the endpoint and
// the model name are given): what a new user gets. Prints the figures the README records: drills
// that passed verification, the run's negotiation, rejections and retries by code, repairs by
// code, tokens and time, and two drills to read.
//   node scripts/lib/real-model-run.mjs <baseUrl> <model> [--target N] [--phases EARLY,MIDDLE] [--timeout-ms N]
import { readFileSync } from "node:fs";

const [baseUrl, model, ...rest] = process.argv.slice(2);
const flag = (name, fallback) => {
  const i = rest.indexOf(`--${name}`);
  return i >= 0 ? rest[i + 1] : fallback;
};
const target = Number(flag("target", "10"));
const phases = flag("phases", "EARLY,MIDDLE").split(",");
// drillgen's default (120 s) unless given: a slow machine's one-thread server can need more per call.
const timeoutMs = rest.includes("--timeout-ms") ? Number(flag("timeout-ms")) : undefined;
const pkg = process.env.DRILLGEN_PACKAGE ?? new URL("../../pkg/node.js", import.meta.url).href;
const { generateDrillSeries } = await import(pkg);
const read = (p) => JSON.parse(readFileSync(new URL(`../../${p}`, import.meta.url), "utf8"));

const stored = new Map();
const count = (map, key) => map.set(key, (map.get(key) ?? 0) + 1);
const retries = new Map();
const started = Date.now();
const result = await generateDrillSeries({
  artifactId: `real-${started}`,
  request: { targetDrillCount: target, gamePhases: phases },
  positions: read("data/positions.json"),
  context: read("data/context.json"),
  llm: { provider: "openai", baseUrl, model, ...(timeoutMs ? { timeoutMs } : {}) },
  persist: (drills) => {
    for (const d of drills) stored.set(d.drillId, d);
  },
  load: () => [...stored.values()],
  onProgress: (e) => {
    if (e.type === "batchRetrying") count(retries, e.error.code);
    process.stdout.write(`${((Date.now() - started) / 1000).toFixed(0).padStart(5)} s  ${e.message}\n`);
  },
});
const seconds = (Date.now() - started) / 1000;
const repairs = new Map();
for (const b of result.batches) for (const [code, n] of Object.entries(b.repairs)) repairs.set(code, (repairs.get(code) ?? 0) + n);
// The same test for every build (the package under test may not check it): a `<placeholder>`, a
// bare field name of the prompt, or JSON debris in a text.
const ECHO = /<[a-z_]+>?|\}\s*,\s*\{|"\s*[:,\]}]|^(title|principle|question|explanation|difficulty|why)$/i;
const echoing = (drills) => drills.filter((d) => [d.title, d.principle, d.question, d.explanation].some((t) => ECHO.test(t.trim()))).length;
// Whether an explanation names the correct option, by its letter or its move (the prompt asks it to).
const namesCorrect = (d) => {
  const correct = d.options.find((o) => o.id === d.correctOptionId);
  return new RegExp(`\\b${d.correctOptionId}\\b`).test(d.explanation) || d.explanation.includes(correct.text);
};
const issues = new Map();
for (const i of result.verification.issues) count(issues, i.code);
const u = result.usage;
const list = (m) => (m.size ? [...m].map(([k, v]) => `${k} ×${v}`).join(", ") : "none");
console.log(`
real model: ${model} at ${baseUrl}, ${target} drills (${phases.join(", ")}), default settings
status ${result.status}: ${result.drills.length}/${target} drills stored, verification ${result.verification.passed ? "passed" : `issues: ${list(issues)}`}
negotiated: response_format ${result.negotiated.responseFormat}, ${result.negotiated.maxTokensField}; ${result.calls} calls for ${result.batches.length} batches
retries by code: ${list(retries)}; failed batches: ${
  result.batches
    .filter((b) => b.status === "FAILED")
    .map((b) => `${b.batchIndex + 1} (${b.error.code})`)
    .join(", ") || "none"
}
repairs by code: ${list(repairs)}
warnings: ${result.warnings.map((w) => w.code).join(", ") || "none"}
tokens: input ${u.inputTokens}, cached ${u.cachedInputTokens}, output ${u.outputTokens}
time: ${seconds.toFixed(1)} s (${(seconds / Math.max(1, result.drills.length)).toFixed(1)} s a drill)
words a student can read: ${echoing(result.drills)}/${result.drills.length} stored drills have a text that copies the prompt's
  placeholders or field names or carries JSON; ${result.drills.filter(namesCorrect).length}/${result.drills.length} explanations name the correct
  option (letter or move); ${result.drills.filter((d) => d.flags?.length).length} flagged for review`);
for (const d of result.drills.slice(0, 2)) {
  const correct = d.options.find((o) => o.id === d.correctOptionId);
  console.log(
    `\n#${d.index} ${d.positionId} — ${d.title}\n  principle: ${d.principle}\n  question: ${d.question}\n  options: ${d.options.map((o) => `${o.id}) ${o.text}`).join(" | ")}  (correct: ${correct.id}, the engine's best move)\n  explanation: ${d.explanation.slice(0, 400)}`,
  );
}

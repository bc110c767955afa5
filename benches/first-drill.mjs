// Benchmark (not a test): how long a teacher looks at an empty page. A 25-drill series against the
// LLM simulator at a hosted model's pace, 0.8 s to the first token and 60 output tokens a second
// (the middle of the 0.3-1.5 s and 30-100 tokens/s of issue 16), streamed in events of 3 tokens:
// - streamed (drillgen's default): the first drill on screen is the first `drillReady` event, sent
//   as soon as a drill's object closes in the streamed answer;
// - `llm.stream: false`: nothing shows before a whole batch is read, so the first drill on screen
//   is the first `batchCompleted`.
// Against one batch's latency (a batch's `batchStarted` → `batchCompleted`, median over the
// series). Goal (issue 16): first drill ≤ 25 % of one batch's latency.
// The simulator runs in its own process, one server per run (a fresh prompt cache, as for a new
// teacher). Run: `node benches/first-drill.mjs` after scripts/build.
import { readFileSync } from "node:fs";
import * as drillgen from "../pkg/node.js";
import { parseDrills, writeDrills } from "../tools/llm-simulator/llm-simulator.mjs";
import { startSimulatorProcess } from "../tools/llm-simulator/simulator-process.mjs";
import { markdownTable } from "./support/markdown.mjs";

const root = new URL("../", import.meta.url);
const positions = JSON.parse(readFileSync(new URL("data/positions.json", root), "utf8"));
const context = JSON.parse(readFileSync(new URL("data/context.json", root), "utf8"));

const LATENCY_MS = 800,
  MS_PER_TOKEN = 1000 / 60,
  RUNS = 3;
// Per mode: the llm options, and the event that puts the first drill on screen. With `stream:
// false` that is the first batchCompleted, as issue 16 defines the comparison (drillgen still
// emits drillReady per drill once an answer is read; and when the shared prefix is cacheable the
// warm-up batch streams anyway: its first drillReady is printed apart).
const MODES = [
  ["streamed (default)", {}, "drillReady"],
  ["llm.stream: false", { stream: false }, "batchCompleted"],
];

// The progress event's kind: `type` in today's package, `kind` in the drillReady design of issue 16.
const kindOf = (e) => e.kind ?? e.type;

async function runOnce(url, llmExtra, seed) {
  const seen = [];
  const t0 = performance.now();
  const result = await drillgen.generateDrillSeries({
    artifactId: `first-drill-${seed}`,
    request: { targetDrillCount: 25, gamePhases: ["EARLY", "MIDDLE", "BEAROFF"] },
    positions,
    context,
    seed,
    llm: { provider: "openai", baseUrl: url, model: "sim-1", ...llmExtra },
    persist: () => {},
    onProgress: (e) => {
      seen.push({ kind: kindOf(e), at: performance.now() - t0, batchIndex: e.batchIndex });
    },
  });
  const wall = performance.now() - t0;
  if (result.drills.length !== 25) throw new Error(`${result.drills.length} drills (${result.status})`);
  const first = (kind) => seen.find((e) => e.kind === kind)?.at ?? null;
  const started = new Map();
  const latencies = [];
  for (const e of seen) {
    if (e.kind === "batchStarted" && !started.has(e.batchIndex)) started.set(e.batchIndex, e.at);
    if (e.kind === "batchCompleted") latencies.push(e.at - started.get(e.batchIndex));
  }
  return {
    wall,
    firstReady: first("drillReady"),
    firstBatch: first("batchCompleted"),
    batchLatency: median(latencies),
    ready: seen.filter((e) => e.kind === "drillReady").length,
    withdrawn: seen.filter((e) => e.kind === "drillWithdrawn").length,
    streaming: result.negotiated.streaming,
  };
}

/** The soonest any client can show a drill: the simulator's first token, then the tokens up to
 * the first drill's closing brace in its answer (median over the series' batches), against the
 * whole answer's time: with 5 drills a batch the first closes ~a fifth into the answer. */
function floorOfFirstDrill(seed) {
  const { batches } = drillgen.prepareSeries({ targetDrillCount: 25, gamePhases: ["EARLY", "MIDDLE", "BEAROFF"] }, positions, context, {
    seed,
  });
  const figures = batches.map((batch) => {
    const drills = writeDrills(parseDrills(drillgen.buildBatchPrompt(batch, context).user));
    const text = JSON.stringify({ drills });
    const firstClosed = JSON.stringify({ drills: [drills[0]] }).length - 2; // up to its "}"
    const at = (chars) => LATENCY_MS + Math.ceil(chars / 4) * MS_PER_TOKEN;
    return { first: at(firstClosed), whole: at(text.length) };
  });
  return { first: median(figures.map((f) => f.first)), whole: median(figures.map((f) => f.whole)) };
}

/** The same at the wire: batch 1's prompt sent straight to the simulator as a streamed call, and
 * when the first drill's closing brace and the answer's end arrive (checks the simulator's pacing,
 * apart from drillgen). */
async function wireFirstDrill(url, seed) {
  const { batches } = drillgen.prepareSeries({ targetDrillCount: 25, gamePhases: ["EARLY", "MIDDLE", "BEAROFF"] }, positions, context, {
    seed,
  });
  const { system, user } = drillgen.buildBatchPrompt(batches[0], context);
  const drills = writeDrills(parseDrills(user));
  const firstClosed = JSON.stringify({ drills: [drills[0]] }).length - 2;
  const t0 = performance.now();
  const res = await fetch(`${url}/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({
      model: "sim-1",
      stream: true,
      messages: [
        { role: "system", content: system },
        { role: "user", content: user },
      ],
    }),
  });
  let text = "";
  let buffer = "";
  let first = null;
  const decoder = new TextDecoder();
  for await (const chunk of res.body) {
    buffer += decoder.decode(chunk, { stream: true });
    const events = buffer.split("\n\n");
    buffer = events.pop();
    for (const e of events) {
      const data = e.startsWith("data: ") ? e.slice(6) : "";
      if (!data || data === "[DONE]") continue;
      text += JSON.parse(data).choices[0]?.delta?.content ?? "";
      if (first === null && text.length >= firstClosed) first = performance.now() - t0;
    }
  }
  return { first, whole: performance.now() - t0 };
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const ms = (x) => (x === null ? "n/a" : `${Math.round(x)} ms`);
const pct = (x, base) => (x === null ? "n/a" : `${Math.round((100 * x) / base)} %`);

async function main() {
  const sim = await startSimulatorProcess({ latencyMs: LATENCY_MS, msPerOutputToken: MS_PER_TOKEN, servers: RUNS * MODES.length + 1 });
  const rows = [];
  let wire;
  try {
    wire = await wireFirstDrill(sim.urls[RUNS * MODES.length], 100);
    let server = 0;
    for (const [label, llmExtra, shownBy] of MODES) {
      const runs = [];
      for (let i = 0; i < RUNS; i++) runs.push(await runOnce(sim.urls[server++], llmExtra, 100 + i));
      const readyRuns = runs.filter((r) => r.firstReady !== null);
      const firstReady = readyRuns.length === runs.length ? median(runs.map((r) => r.firstReady)) : null;
      const firstBatch = median(runs.map((r) => r.firstBatch));
      // A build without drillReady shows drills only when a batch completes.
      const fromEvent = shownBy === "drillReady" && firstReady !== null ? "drillReady" : "batchCompleted";
      rows.push({
        label,
        firstDrill: fromEvent === "drillReady" ? firstReady : firstBatch,
        fromEvent,
        firstReady,
        firstBatch,
        batchLatency: median(runs.map((r) => r.batchLatency)),
        wall: median(runs.map((r) => r.wall)),
        ready: median(runs.map((r) => r.ready)),
        withdrawn: median(runs.map((r) => r.withdrawn)),
      });
    }
  } finally {
    await sim.stop();
  }

  console.log(
    `## Time to the first drill on screen: 25 drills, simulator ${LATENCY_MS} ms to the first token + ` +
      `${MS_PER_TOKEN.toFixed(1)} ms per output token (60 tokens/s), 3-token stream events, median of ${RUNS} runs\n`,
  );
  const head = [
    "mode",
    "first drill on screen",
    "(from)",
    "first drillReady",
    "first whole batch",
    "one batch's latency",
    "first drill / batch latency",
    "series wall",
    "drillReady / drillWithdrawn",
  ];
  console.log(
    markdownTable(
      head,
      rows.map((r) => {
        return [
          r.label,
          ms(r.firstDrill),
          r.fromEvent,
          ms(r.firstReady),
          ms(r.firstBatch),
          ms(r.batchLatency),
          pct(r.firstDrill, r.batchLatency),
          ms(r.wall),
          `${r.ready} / ${r.withdrawn}`,
        ];
      }),
    ),
  );
  const [streamed, plain] = rows;
  console.log(
    `\nGoal: first drill ≤ 25 % of one batch's latency. Streamed: ${pct(streamed.firstDrill, streamed.batchLatency)}` +
      ` (${streamed.fromEvent}); without streaming: ${pct(plain.firstDrill, plain.batchLatency)}.` +
      ` Streamed first drill vs unstreamed: ${(streamed.firstDrill / plain.firstDrill).toFixed(2)}×.`,
  );
  const floor = floorOfFirstDrill(100);
  console.log(
    `The simulator's floor: the first drill's object closes ${ms(floor.first)} into a batch whose answer ends at ${ms(floor.whole)}` +
      ` (${pct(floor.first, floor.whole)}): no client can show it sooner at this pace.` +
      ` At the wire (batch 1 streamed straight to the simulator): the first drill closed at ${ms(wire.first)}, the answer ended at ${ms(wire.whole)}` +
      ` (${pct(wire.first, wire.whole)}).`,
  );
  if (plain.firstReady !== null && plain.firstReady < plain.firstBatch / 2)
    console.log(
      `With llm.stream: false a drillReady still came at ${ms(plain.firstReady)}: the cache warm-up's first batch streams whatever llm.stream says.`,
    );
  if (streamed.fromEvent !== "drillReady")
    console.log("This build of drillgen emits no drillReady events: both rows show the first batchCompleted.");
}

await main();

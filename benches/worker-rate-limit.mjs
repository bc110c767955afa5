// Benchmark (not a test): the Worker host (examples/worker) under miniflare, 50 series × 25 drills
// started at once through its HTTP API (POST /series), all on ONE simulated API key limited to 500
// requests and 200,000 tokens a minute (OpenAI-style: a call is charged its prompt + max_tokens on
// admission, tools/llm-simulator/sim/ratelimit.mjs), at 0.8 s to the first token and 60 output
// tokens/s. The Node counterpart, one process and an in-memory governor, is benches/rate-limit.mjs.
// Cases, each on a fresh Miniflare (D1 through the example's migrations, a Workflow per series):
// - Durable Object governor: the RATE_GOVERNOR binding (RateGovernorDO, src/governor.js, one object
//   per provider key) with the key's limits as vars (LLM_REQUESTS_PER_MINUTE, LLM_TOKENS_PER_MINUTE)
//   and wrangler.toml's GOVERNOR_MAX_WAIT_MS (120 s);
// - the same with GOVERNOR_MAX_WAIT_MS at 30 minutes, longer than the whole job's queue: the
//   governor's pacing alone, without steps that give up waiting for a permit (PERMIT_TIMEOUT, then
//   the Workflow's step retries, then STEP_FAILED);
// - no governor: the binding left out; every batch step calls as soon as CONCURRENCY lets it.
// Prints the wall time from the first POST to the last series' final status against the floor the
// limit sets (charged tokens ÷ TPM, calls ÷ RPM), the LLM calls, the 429s and their share, the
// p50/p95 time from each series' POST to its first COMPLETED batch (read from D1's batch_run every
// POLL_MS; the host stores and shows drills per batch, so this is when a polling page gets its first
// drills), the series completed, and the governor's own stats over RPC. Goal (issue 16): wall ≤ 1.2×
// the floor, 429s ≤ 1 % of calls.
//
// Time is scaled (TIME_SCALE, default 0.1: a simulated minute lasts 6 s): the key's minute, the
// simulator's latencies, the governor's vars (stated per real minute: limit ÷ TIME_SCALE, as the
// simulator's headers state them), and, unlike benches/rate-limit.mjs, the host's own clocks that
// are vars (wrangler.toml's values × TIME_SCALE): GOVERNOR_MAX_WAIT_MS, STEP_RETRY_DELAY_MS,
// RETRY_BASE_DELAY_MS, RETRY_MAX_DELAY_MS, MAX_RETRY_AFTER_MS, LLM_TIMEOUT_MS, HOST_TIMEOUT_MS, so a
// permit wait or a step retry lasts in simulated time what it lasts in production. Not scaled: CPU
// (workerd's, D1's, drillgen's wasm: 10× dearer in simulated time), miniflare's RPC and D1 round
// trips, and the workflow engine's own scheduling. Figures in simulated seconds, real ones beside them.
// The governor's minute is not scaled either: given the key's limits per real minute, its buckets
// refill at the key's rate but hold TIME_SCALE⁻¹ times a simulated minute's worth (2 M tokens
// against the key's 200 k at 0.1). The in-process governor of benches/rate-limit.mjs corrects
// its level from each answer's `x-ratelimit-remaining-*`; the host reports no headers to the
// Durable Object for an answered batch (governor.js's reportOf), so here nothing does, the token
// budget never binds, and concurrency (AIMD on the 429s) paces alone. At TIME_SCALE=1 the buckets
// match; SERIES=20 TIME_SCALE=1 CASES=2 CASE_TIMEOUT_MS=420000 checks that in ~5 minutes.
//
// What differs from production: miniflare runs every Workflow instance, every step and the Durable
// Object in one workerd process on this machine: one location (no round trip to a distant object),
// no eviction (the governor never restarts from the vars mid-run), no parking of waiting instances,
// step retries in-process, local SQLite for D1, and 2 CPU cores shared with the simulator and this
// script. The key is the simulator's (sim/ratelimit.mjs): continuous buckets, exact accounting.
// Run: `node benches/worker-rate-limit.mjs` after scripts/build (packs pkg/ into out/, like
// tests/consumer/worker.test.mjs); ~2.5 min in all. TIME_SCALE=1 runs in real time (about 12 min a
// case). The Worker's console goes to out/bench-worker-rate-limit/worker-<case>.log, the key's
// calls (time, tokens charged, 429 or not) to calls-<case>.json.
import { createHash, randomBytes } from "node:crypto";
import { createWriteStream, readFileSync, writeFileSync } from "node:fs";
import { createInterface } from "node:readline";
import { Miniflare } from "miniflare";
import { applyMigrations, bundleWorkerHost, hostOptions, installPackedDrillgen, root } from "../tests/consumer/support/worker-host.mjs";
import { startSimulatorProcess } from "../tools/llm-simulator/simulator-process.mjs";
import { markdownTable } from "./support/markdown.mjs";

const positions = JSON.parse(readFileSync(`${root}data/positions.json`, "utf8"));
const context = JSON.parse(readFileSync(`${root}data/context.json`, "utf8"));
const work = `${root}out/bench-worker-rate-limit`;
const bundle = `${work}/bundle`;

const SERIES = Number(process.env.SERIES ?? 50), // SERIES=5 for a quick check
  DRILLS = 25,
  RPM = 500,
  TPM = 200_000,
  LATENCY_MS = 800,
  MS_PER_TOKEN = 1000 / 60;
const SCALE = Number(process.env.TIME_SCALE ?? 0.1);
const POLL_MS = 50;
const CASE_TIMEOUT_MS = Number(process.env.CASE_TIMEOUT_MS ?? 240_000); // real; a case still running then is reported as such
const request = { targetDrillCount: DRILLS, gamePhases: ["EARLY", "MIDDLE", "BEAROFF"] };
const LLM_KEY = `sk-bench-${randomBytes(6).toString("hex")}`;
const TOKEN = randomBytes(24).toString("hex");
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const scaled = (ms, min = 1) => String(Math.max(min, Math.round(ms * SCALE)));

// wrangler.toml's values (and config.js's defaults for the unlisted ones), scaled.
const HOST_VARS = {
  CONCURRENCY: "4",
  MAX_RETRIES: "3",
  STEP_RETRIES: "2",
  SUBREQUEST_BUDGET: "10000",
  STEP_RETRY_DELAY_MS: scaled(10_000),
  RETRY_BASE_DELAY_MS: scaled(500),
  RETRY_MAX_DELAY_MS: scaled(8_000),
  MAX_RETRY_AFTER_MS: scaled(60_000),
  LLM_TIMEOUT_MS: scaled(120_000, 1_000),
  HOST_TIMEOUT_MS: scaled(30_000, 1_000),
  GOVERNOR_MAX_WAIT_MS: scaled(120_000, 1_000),
};

const LIMIT_VARS = { LLM_REQUESTS_PER_MINUTE: String(Math.round(RPM / SCALE)), LLM_TOKENS_PER_MINUTE: String(Math.round(TPM / SCALE)) };
const CASES = [
  { label: "Durable Object governor, limits given", governor: true, vars: LIMIT_VARS },
  // The same with a permit wait longer than the whole job's queue (the default's 120 s is shorter
  // than the floor): what the governor's pacing gives when no step gives up waiting.
  {
    label: "Durable Object governor, limits given, GOVERNOR_MAX_WAIT_MS 30 min",
    governor: true,
    vars: { ...LIMIT_VARS, GOVERNOR_MAX_WAIT_MS: scaled(30 * 60_000, 1_000) },
  },
  { label: "no governor", governor: false, vars: {} },
].filter((_, k) => !process.env.CASES || process.env.CASES.split(",").includes(String(k + 1))); // CASES=2: the second only

/** Counts the Worker's console lines by message, ids and figures blanked out; keeps them all in `file`. */
function logCounter(file) {
  const counts = new Map();
  const raw = createWriteStream(file);
  const take = (stream) =>
    createInterface({ input: stream }).on("line", (line) => {
      raw.write(`${line}\n`);
      const key = line
        .replace(/[0-9a-f]{8}-[0-9a-f-]{27}/g, "<id>")
        .replace(/\d+/g, "N")
        .slice(0, 160);
      if (key.trim()) counts.set(key, (counts.get(key) ?? 0) + 1);
    });
  return {
    counts,
    handleRuntimeStdio: (out, err) => {
      take(out);
      take(err);
    },
  };
}

async function runCase(c, sim, server) {
  const url = sim.urls[server];
  const logs = logCounter(`${work}/worker-${server}.log`);
  const mf = new Miniflare(
    hostOptions(bundle, {
      governor: c.governor,
      handleRuntimeStdio: logs.handleRuntimeStdio,
      bindings: {
        API_TOKEN: TOKEN,
        LLM_PROVIDER: "openai",
        LLM_BASE_URL: url,
        LLM_MODEL: "sim-1",
        LLM_API_KEY: LLM_KEY,
        ...HOST_VARS,
        ...c.vars,
      },
    }),
  );
  try {
    const db = await mf.getD1Database("DB");
    // Miniflare's D1 proxy now and then fails a round trip on this machine ("fetch failed: other
    // side closed"); a read is simply made again (counted, and printed).
    let readRetries = 0;
    const read = async (sql, how = "all") => {
      for (let attempt = 1; ; attempt++) {
        try {
          return await db.prepare(sql)[how]();
        } catch (e) {
          if (attempt >= 5) throw new Error(`reading D1 (${c.label}): ${sql}`, { cause: e });
          readRetries++;
          await sleep(100);
        }
      }
    };
    await applyMigrations(db);
    const call = async (method, path, body) => {
      try {
        const res = await mf.dispatchFetch(`http://worker${path}`, {
          method,
          body: body === undefined ? undefined : JSON.stringify(body),
          headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
        });
        return { status: res.status, body: await res.json() };
      } catch (e) {
        throw new Error(`${method} ${path} (${c.label})`, { cause: e });
      }
    };
    for (const [method, path, body] of [
      ["PUT", "/context", context],
      ["POST", "/positions", positions],
    ]) {
      const res = await call(method, path, body);
      if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(res.body)}`);
    }

    // One loop reads D1 every POLL_MS: when each series' first batch is COMPLETED (its drills
    // visible to GET /series/:id), and, once the POSTs are answered, how many are still generating.
    const firstBatchAt = new Map();
    let pending = SERIES;
    let accepted = null;
    const startedAt = Date.now();
    const t0 = performance.now();
    const poller = (async () => {
      while (pending > 0 && performance.now() - t0 < CASE_TIMEOUT_MS) {
        const { results } = await read("SELECT DISTINCT artifact_id AS id FROM batch_run WHERE status = 'COMPLETED'");
        const now = performance.now();
        for (const { id } of results) if (!firstBatchAt.has(id)) firstBatchAt.set(id, now);
        if (accepted !== null)
          ({ n: pending } = await read("SELECT count(*) AS n FROM guru_artifact WHERE status = 'GENERATING'", "first"));
        await sleep(POLL_MS);
      }
    })();
    const started = await Promise.all(
      Array.from({ length: SERIES }, async () => {
        const sent = performance.now();
        const res = await call("POST", "/series", request);
        if (res.status !== 202) throw new Error(`POST /series: ${res.status} ${JSON.stringify(res.body)}`);
        return { id: res.body.id, sent, batches: res.body.plan.batches };
      }),
    );
    accepted = performance.now() - t0;
    await poller;
    const wall = performance.now() - t0;
    // A batch that completed between the loop's last two reads.
    for (const { id } of (await read("SELECT DISTINCT artifact_id AS id FROM batch_run WHERE status = 'COMPLETED'")).results) {
      if (!firstBatchAt.has(id)) firstBatchAt.set(id, wall + t0);
    }

    const rows = async (sql) => (await read(sql)).results;
    const seriesStatus = await rows("SELECT status, count(*) AS n FROM guru_artifact GROUP BY status ORDER BY status");
    const batchStatus = await rows("SELECT status, count(*) AS n FROM batch_run GROUP BY status ORDER BY status");
    const batchErrors = await rows(
      "SELECT json_extract(error, '$.code') AS code, count(*) AS n FROM batch_run WHERE error IS NOT NULL GROUP BY code ORDER BY n DESC",
    );
    const [{ n: drills }] = await rows("SELECT count(*) AS n FROM drill");
    const [{ attempts, hostCalls }] = await rows("SELECT sum(step_attempts) AS attempts, sum(llm_calls) AS hostCalls FROM batch_run");
    let governor = null;
    if (c.governor) {
      const ns = await mf.getDurableObjectNamespace("RATE_GOVERNOR");
      const name = createHash("sha256").update(`openai\n${url}\n${LLM_KEY}`).digest("hex");
      governor = JSON.parse(JSON.stringify(await ns.get(ns.idFromName(name)).stats()));
    }
    const firsts = started.map((s) => (firstBatchAt.has(s.id) ? firstBatchAt.get(s.id) - s.sent : null)).filter((x) => x !== null);
    const batches = started[0].batches;
    const calls = await sim.calls(server);
    writeFileSync(`${work}/calls-${server}.json`, JSON.stringify({ startedAt, scale: SCALE, calls }));
    const stats = await sim.stats(server);
    const answered = calls.filter((r) => !r.rateLimited);
    // 429s per simulated minute from the first POST (the simulator stamps calls with Date.now()).
    const byMinute = [];
    for (const r of calls.filter((x) => x.rateLimited)) {
      const m = Math.max(0, Math.floor((r.at - startedAt) / (60_000 * SCALE)));
      while (byMinute.length <= m) byMinute.push(0);
      byMinute[m] += 1;
    }
    const charged = answered.reduce((s, r) => s + r.chargedTokens, 0);
    const job = { calls: SERIES * batches, tokens: SERIES * batches * (charged / answered.length) };
    return {
      label: c.label,
      wall,
      accepted,
      pending,
      batches,
      calls: calls.length,
      answered: answered.length,
      rateLimited: stats.rateLimited,
      byMinute,
      permitWaitMs: Number(c.vars.GOVERNOR_MAX_WAIT_MS ?? HOST_VARS.GOVERNOR_MAX_WAIT_MS),
      peak: stats.peak,
      charged,
      job,
      floor: Math.max((job.tokens / TPM) * 60_000 * SCALE, (job.calls / RPM) * 60_000 * SCALE),
      drills,
      attempts,
      hostCalls,
      seriesStatus,
      batchStatus,
      batchErrors,
      governor,
      p50: quantile(firsts, 0.5),
      p95: quantile(firsts, 0.95),
      noFirst: SERIES - firsts.length,
      readRetries,
      logs: logs.counts,
    };
  } finally {
    await mf.dispose();
  }
}

const quantile = (xs, q) => (xs.length ? [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(q * xs.length))] : null);
// Real milliseconds → simulated seconds, and the real seconds beside them.
const simS = (ms) => (ms === null ? "n/a" : `${(ms / SCALE / 1000).toFixed(1)} s`);
const both = (ms) => (ms === null ? "n/a" : `${simS(ms)} (${(ms / 1000).toFixed(1)} s real)`);
const n = (x) => Math.round(x).toLocaleString("en-US");
const list = (rs) => rs.map((r) => `${r.status ?? r.code} ${r.n}`).join(", ") || "none";

/**
 * What the host reserves per batch, averaged over one series' batches: governor.js's
 * estimateTokens (prompt and response schema chars ÷ 4 + 1,200 per drill + 400), restated here
 * because governor.js imports `cloudflare:workers`, which Node cannot load.
 */
async function hostEstimate() {
  const drillgen = await import(`${work}/node_modules/drillgen/node.js`);
  const { batches } = drillgen.prepareSeries(request, positions, context, { seed: 1 });
  const each = batches.map((b) => {
    const { system, user } = drillgen.buildBatchPrompt(b, context);
    const schema = JSON.stringify(drillgen.batchOutputSchema(b)).length;
    return Math.ceil((system.length + user.length + schema) / 4) + 1_200 * b.drillIndices.length + 400;
  });
  return each.reduce((a, b) => a + b, 0) / each.length;
}

function print(rows, estimate) {
  console.log(
    `## Worker host under miniflare: ${SERIES} series × ${DRILLS} drills started at once through POST /series, on one key: ${RPM} RPM, ` +
      `${n(TPM)} TPM (OpenAI-style: prompt + max_tokens charged on admission), ${LATENCY_MS} ms to the first token + ` +
      `${MS_PER_TOKEN.toFixed(1)} ms per output token\n`,
  );
  console.log(
    `Time scale ${SCALE}: a simulated minute lasts ${(60 * SCALE).toFixed(1)} s; the key's limits, the simulator's latencies and the host's ` +
      `time vars are scaled together (the governor is given ${n(RPM / SCALE)} RPM and ${n(TPM / SCALE)} TPM per real minute; ` +
      `GOVERNOR_MAX_WAIT_MS ${HOST_VARS.GOVERNOR_MAX_WAIT_MS} ms = 120 s simulated, STEP_RETRY_DELAY_MS ${HOST_VARS.STEP_RETRY_DELAY_MS} ms = 10 s); ` +
      `CPU, D1 and miniflare's RPC are not. CONCURRENCY 4 per series, MAX_RETRIES 3, STEP_RETRIES 2. Times in simulated seconds; ` +
      `first batch = from a series' POST to its first batch COMPLETED in D1 (polled every ${POLL_MS} ms real).\n`,
  );
  const head = [
    "case",
    "wall",
    "floor",
    "wall ÷ floor",
    "LLM calls (answered)",
    "429s",
    "429 share",
    "peak in flight",
    "first batch p50",
    "p95",
    "series completed",
    "drills",
    "failed batches",
  ];
  console.log(
    markdownTable(
      head,
      rows.map((r) => {
        const completed = r.seriesStatus.find((s) => s.status === "COMPLETED")?.n ?? 0;
        const failedBatches = r.batchStatus.filter((s) => s.status !== "COMPLETED").reduce((s, b) => s + b.n, 0);
        return [
          r.label,
          both(r.wall),
          simS(r.floor),
          (r.wall / r.floor).toFixed(2),
          `${r.calls} (${r.answered})`,
          r.rateLimited,
          `${((100 * r.rateLimited) / r.calls).toFixed(1)} %`,
          r.peak,
          simS(r.p50),
          simS(r.p95),
          `${completed} / ${SERIES}`,
          `${r.drills} / ${SERIES * DRILLS}`,
          failedBatches,
        ];
      }),
    ),
  );
  console.log("\nFloors (simulated) and outcomes per case:");
  for (const r of rows) {
    const mean = r.charged / r.answered;
    const top = [...r.logs].sort((a, b) => b[1] - a[1]).slice(0, 4);
    console.log(
      `- ${r.label}: ${r.job.calls} batch calls × ${n(mean)} tokens charged on average = ${n(r.job.tokens)} ÷ ${n(TPM)} TPM = ` +
        `${simS((r.job.tokens / TPM) * 60_000 * SCALE)}; ${r.job.calls} calls ÷ ${RPM} RPM = ${simS((r.job.calls / RPM) * 60_000 * SCALE)} ` +
        `(the bucket starts full: the strict floor is a minute less). All ${SERIES} POSTs answered 202 in ${both(r.accepted)}. ` +
        `Series: ${list(r.seriesStatus)}${r.pending ? ` (${r.pending} still GENERATING at the ${CASE_TIMEOUT_MS / 1000} s real cut-off)` : ""}; ` +
        `batch rows: ${list(r.batchStatus)}; batch errors: ${list(r.batchErrors)}; step attempts ${r.attempts} for ${SERIES * r.batches} batches; ` +
        `LLM calls counted by the host ${r.hostCalls}, by the key ${r.calls}` +
        (r.noFirst ? `; ${r.noFirst} series had no batch completed` : "") +
        `; 429s per simulated minute: ${r.byMinute.join(" ") || "none"}` +
        (r.governor
          ? `. GOVERNOR_MAX_WAIT_MS ${r.permitWaitMs} ms real (${simS(r.permitWaitMs)} simulated). Governor stats: ${JSON.stringify(r.governor)}`
          : "") +
        (r.readRetries ? `. D1 reads made again after a failed round trip: ${r.readRetries}` : "") +
        `. Worker console: ${top.length ? top.map(([k, v]) => `${v}× "${k}"`).join("; ") : "silent"}.`,
    );
  }
  const charged = rows.reduce((a, r) => a + r.charged, 0) / rows.reduce((a, r) => a + r.answered, 0);
  console.log(
    `\nThe governor reserves about ${n(estimate)} tokens per batch (the host's estimate), the key charged ${n(charged)} on average ` +
      `(${(100 * (charged / estimate - 1)).toFixed(1)} % more: the simulator counts tokens with a real tokenizer, the host at 4 characters a token). ` +
      `Its buckets, given per real minute, hold ${n(TPM / SCALE)} tokens against the key's ${n(TPM)}` +
      (SCALE < 1 ? " (time scale: see the header of this file)" : "") +
      "; the host reports no rate-limit headers for an answered batch, so neither gap is corrected from the key's `remaining`.",
  );
  console.log("\nGoal: wall ≤ 1.2× the floor, 429s ≤ 1 % of calls.");
}

async function main() {
  installPackedDrillgen(work);
  await bundleWorkerHost(bundle, `${work}/node_modules`);
  const sim = await startSimulatorProcess({
    latencyMs: LATENCY_MS * SCALE,
    msPerOutputToken: MS_PER_TOKEN * SCALE,
    servers: CASES.length,
    rateLimit: { requestsPerMinute: RPM, tokensPerMinute: TPM, style: "openai", retryAfterMs: true, timeScale: SCALE },
  });
  const rows = [];
  try {
    for (let i = 0; i < CASES.length; i++) rows.push(await runCase(CASES[i], sim, i));
  } finally {
    await sim.stop();
  }
  print(rows, await hostEstimate());
}

await main();

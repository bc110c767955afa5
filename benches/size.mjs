// Benchmark (not a test): where the package's bytes go, and what a cold start costs.
// - sizes of pkg/ (raw, gzip -9, brotli q11) and of the npm tarball if scripts/pack wrote one;
// - the release wasm (with names, before wasm-bindgen) by crate, from `twiggy top`;
// - cold figures, each in a fresh Node process (median of 5): import + instantiate, and the CPU of
//   the first 5-drill batch against the LLM simulator in another process (zero latency), against
//   the 10 ms a Workers free-plan invocation may use; then a second batch in the same process.
// Run: scripts/bench  (or `node benches/size.mjs [release.wasm]` after scripts/build)
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { homedir } from "node:os";
import { fileURLToPath } from "node:url";
import { brotliCompressSync, constants, gzipSync } from "node:zlib";
import { startSimulatorProcess } from "../tools/llm-simulator/simulator-process.mjs";

const root = new URL("../", import.meta.url);
const here = fileURLToPath(import.meta.url);
const PHASES = ["EARLY", "MIDDLE", "BEAROFF"];
const COLD_RUNS = 5;
const row = (cells) => `| ${cells.join(" | ")} |`;
const table = (head, rows) => [row(head), row(head.map(() => "---")), ...rows.map(row)].join("\n");
const kib = (n) => `${(n / 1024).toFixed(1)} KiB`;

// ---- sizes ----

function compressed(bytes) {
  const brotli = brotliCompressSync(bytes, {
    params: { [constants.BROTLI_PARAM_QUALITY]: 11, [constants.BROTLI_PARAM_SIZE_HINT]: bytes.length },
  });
  return { raw: bytes.length, gzip: gzipSync(bytes, { level: 9 }).length, brotli: brotli.length };
}

function sizes() {
  const files = ["drillgen_bg.wasm", "drillgen.js", "node.js", "edge.js", "workerd.js"];
  const rows = files.map((f) => ({ f, ...compressed(readFileSync(new URL(`pkg/${f}`, root))) }));
  const glue = rows
    .slice(1)
    .reduce((s, r) => ({ raw: s.raw + r.raw, gzip: s.gzip + r.gzip, brotli: s.brotli + r.brotli }), { raw: 0, gzip: 0, brotli: 0 });
  const out = [
    ...rows.map((r) => [r.f, kib(r.raw), kib(r.gzip), kib(r.brotli)]),
    ["JS glue (the 4 .js)", kib(glue.raw), kib(glue.gzip), kib(glue.brotli)],
  ];
  const outDir = new URL("out/", root);
  const tarballs = existsSync(outDir) ? readdirSync(outDir).filter((f) => /^drillgen-.*\.tgz$/.test(f)) : [];
  for (const t of tarballs) out.push([`out/${t} (already gzip)`, kib(statSync(new URL(t, outDir)).size), "", ""]);
  console.log("## Package size\n");
  console.log(table(["file", "raw", "gzip -9", "brotli q11"], out));
  const wasm = rows[0];
  const bytes = (n) => n.toLocaleString("en-US");
  console.log(`\n${wasm.f} exactly: ${bytes(wasm.raw)} bytes raw, ${bytes(wasm.gzip)} gzip -9, ${bytes(wasm.brotli)} brotli q11.`);
  if (!tarballs.length) console.log("\nNo out/drillgen-*.tgz: `scripts/pack` writes the tarball.");
}

// ---- twiggy: bytes by crate ----

function twiggyBinary() {
  for (const bin of ["twiggy", `${homedir()}/.cargo/bin/twiggy`]) {
    if (!spawnSync(bin, ["--version"]).error) return bin;
  }
  return null;
}

/** One CSV line of twiggy's output: names are quoted, with "" for a quote. */
function csvFields(line) {
  const out = [];
  let cur = "",
    quoted = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (quoted && c === '"' && line[i + 1] === '"') {
      cur += '"';
      i++;
    } else if (c === '"') quoted = !quoted;
    else if (c === "," && !quoted) {
      out.push(cur);
      cur = "";
    } else cur += c;
  }
  return [...out, cur];
}

// Not in the shipped module: the names section, custom sections (wasm-bindgen's own metadata
// among them) and the describe functions wasm-bindgen runs at build time and then removes.
const dropped = (name) => name.endsWith("subsection") || name.startsWith("custom section") || name.includes("__wbindgen_describe");

const STD = new Set(["core", "alloc", "std"]);

/** `core::fmt` for core and alloc, the crate name otherwise, null when the path has none. */
function crateOf(path) {
  const m = path.replace(/^(&mut |&|\*const |\*mut |dyn )+/, "").match(/^([A-Za-z_]\w*)::(\w+)?/);
  if (!m) return null;
  return (m[1] === "core" || m[1] === "alloc") && m[2] ? `${m[1]}::${m[2]}` : m[1];
}

/** `<Self as Trait>::f`: `Self` and `Trait`, split at the top-level ` as `. */
function implParts(name) {
  let depth = 0;
  for (let i = 0; i < name.length; i++) {
    if (name[i] === "<") depth++;
    else if (name[i] === ">" && --depth === 0) {
      const inner = name.slice(1, i);
      let d = 0;
      for (let j = 0; j < inner.length; j++) {
        if (inner[j] === "<") d++;
        else if (inner[j] === ">") d--;
        else if (d === 0 && inner.startsWith(" as ", j)) return [inner.slice(0, j), inner.slice(j + 4)];
      }
      return [inner, null];
    }
  }
  return [name, null];
}

/** The bucket of one twiggy item. A trait impl counts for its type's crate, unless the type is a
 *  standard one (or a generic T) implementing another crate's trait: then for the trait's crate. */
function bucketOf(rawName) {
  const name = rawName.replace(/\[[0-9a-f]{8,16}\]/g, "").replace(/::h[0-9a-f]{16}$/, ""); // std's crate disambiguators, symbol hashes
  if (name.startsWith("data segment")) return "data segments (.rodata, .data)";
  if (/^(type|elem|table|global|memory)\[/.test(name)) return "types, tables, globals";
  if (name.startsWith("import ")) return "imports";
  if (name.startsWith("export ")) return "exports";
  if (/^code\[\d+\]$/.test(name)) return "unnamed functions";
  if (name.startsWith("<")) {
    const [self, trait] = implParts(name);
    const a = crateOf(self),
      b = trait && crateOf(trait);
    const std = (c) => STD.has(c.split("::")[0]);
    return (a && !(std(a) && b && !std(b)) ? a : (b ?? a)) ?? "other";
  }
  return crateOf(name) ?? "no path (export shims, compiler builtins)";
}

function breakdown(wasmPath) {
  console.log("\n## Release wasm by crate (twiggy top)\n");
  const twiggy = twiggyBinary();
  if (!twiggy) return console.log("twiggy is not installed: `cargo install twiggy`, then run this again. Skipped.");
  if (!existsSync(wasmPath))
    return console.log(`No release wasm at ${wasmPath}: run scripts/build, or pass its path as the first argument. Skipped.`);
  const csv = execFileSync(twiggy, ["top", "-n", "100000", "--format", "csv", wasmPath], { maxBuffer: 64 << 20 }).toString();
  const sums = new Map();
  let total = 0,
    skipped = 0;
  for (const line of csv.trim().split("\n").slice(1)) {
    const [name, size] = csvFields(line);
    if (dropped(name)) {
      skipped += Number(size);
      continue;
    }
    sums.set(bucketOf(name), (sums.get(bucketOf(name)) ?? 0) + Number(size));
    total += Number(size);
  }
  const top = [...sums].sort((x, y) => y[1] - x[1]).slice(0, 15);
  console.log(
    `${wasmPath}: ${kib(statSync(wasmPath).size)}, of which ${kib(skipped)} are names, custom sections and __wbindgen_describe* (not shipped); ` +
      `${kib(total)} counted below (pkg/drillgen_bg.wasm is this after wasm-bindgen and wasm-opt).\n`,
  );
  console.log(
    table(
      ["crate / module", "bytes", "%"],
      top.map(([b, s]) => [b, s.toLocaleString("en-US"), `${((100 * s) / total).toFixed(1)} %`]),
    ),
  );
  const rest = total - top.reduce((s, [, v]) => s + v, 0);
  console.log(`\n${sums.size - top.length} more buckets: ${rest.toLocaleString("en-US")} bytes (${((100 * rest) / total).toFixed(1)} %).`);
}

// ---- cold figures (child side) ----

const cpuMs = (since) => {
  const c = process.cpuUsage(since);
  return (c.user + c.system) / 1000;
};

async function coldImport() {
  const cpu0 = process.cpuUsage(),
    t0 = performance.now();
  await import("../pkg/node.js");
  return { wallMs: performance.now() - t0, cpuMs: cpuMs(cpu0) };
}

/** Two calls in one fresh process; `what` is "batch" (generateBatch) or "series" (5-drill run). */
async function coldCalls(what, url, specsJson, primeFetch) {
  const drillgen = await import("../pkg/node.js");
  const specs = JSON.parse(specsJson); // prepared by the parent: no wasm call before the measured one
  const context = JSON.parse(readFileSync(new URL("data/context.json", root), "utf8"));
  const positions = what === "series" ? JSON.parse(readFileSync(new URL("data/positions.json", root), "utf8")) : null;
  // Node's fetch (undici) loads and compiles its JS on first use; Workers' fetch is native.
  if (primeFetch) await (await fetch(url)).arrayBuffer();
  const options = { context, llm: { provider: "openai", baseUrl: url, model: "sim" }, persist: () => {} };
  const one = async (i) => {
    const cpu0 = process.cpuUsage();
    const r =
      what === "batch"
        ? await drillgen.generateBatch(specs[i], { ...options, artifactId: `cold-${i}`, seed: 1 })
        : await drillgen.generateDrillSeries({
            ...options,
            artifactId: `cold-${i}`,
            seed: 1 + i,
            positions,
            request: { targetDrillCount: 5, gamePhases: PHASES },
          });
    if ((r.drills?.length ?? 0) !== 5) throw new Error(`${what}: ${r.status} with ${r.drills?.length} drills`);
    return cpuMs(cpu0);
  };
  return { first: await one(0), second: await one(1) };
}

/** Node's own share: the same POST as a batch's, twice, through Node's fetch, no drillgen. */
async function bareFetch(url, bodyJson) {
  await (await fetch(url)).arrayBuffer();
  const one = async () => {
    const cpu0 = process.cpuUsage();
    const r = await fetch(`${url}/chat/completions`, { method: "POST", headers: { "content-type": "application/json" }, body: bodyJson });
    JSON.parse(await r.text());
    return cpuMs(cpu0);
  };
  return { first: await one(), second: await one() };
}

// ---- cold figures (parent side) ----

function child(args) {
  const r = spawnSync(process.execPath, [here, "--child", ...args], { encoding: "utf8", maxBuffer: 16 << 20 });
  if (r.status !== 0) throw new Error(`cold child ${args[0]} failed: ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split("\n").at(-1));
}

/** The two batches the children generate, and the body of the first one's LLM call. */
async function batchInputs() {
  const drillgen = await import("../pkg/node.js"); // in this (parent) process only
  const pool = JSON.parse(readFileSync(new URL("data/positions.json", root), "utf8"));
  const context = JSON.parse(readFileSync(new URL("data/context.json", root), "utf8"));
  const request = { targetDrillCount: 10, gamePhases: PHASES };
  const specs = drillgen.prepareSeries(request, pool, context, { seed: 7 }).batches;
  const { system, user } = drillgen.buildBatchPrompt(specs[0], context);
  const body = {
    model: "sim",
    messages: [
      { role: "system", content: system },
      { role: "user", content: user },
    ],
    max_tokens: 6400,
    response_format: { type: "json_schema", json_schema: { name: "drills", strict: true, schema: drillgen.batchOutputSchema(specs[0]) } },
  };
  return { specs: JSON.stringify(specs), body: JSON.stringify(body) };
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const spread = (xs) => `${median(xs).toFixed(1)} ms (${Math.min(...xs).toFixed(1)}–${Math.max(...xs).toFixed(1)})`;

async function cold() {
  const imports = Array.from({ length: COLD_RUNS }, () => child(["import"]));
  const sim = await startSimulatorProcess({ latencyMs: 0, msPerOutputToken: 0 });
  const { specs, body } = await batchInputs();
  const runs = (what, data, prime) => Array.from({ length: COLD_RUNS }, () => child([what, sim.urls[0], data, prime]));
  let batch, unprimed, series, bare;
  try {
    [batch, unprimed, series, bare] = [
      runs("batch", specs, "prime"),
      runs("batch", specs, "no-prime"),
      runs("series", specs, "prime"),
      runs("fetch", body, "prime"),
    ];
  } finally {
    await sim.stop();
  }
  const col = (rs, k) => rs.map((r) => r[k]);
  console.log(`\n## Cold start (fresh Node ${process.version} process each, median of ${COLD_RUNS}, min–max; 2 shared cores, so noisy)\n`);
  console.log(
    table(
      ["figure", "median (min–max)", "Workers free plan"],
      [
        ['`import("pkg/node.js")`: read + compile + instantiate, wall', spread(col(imports, "wallMs")), "startup ≤ 1 s"],
        ["the same, CPU", spread(col(imports, "cpuMs")), ""],
        ["first `generateBatch` (5 drills), CPU", spread(col(batch, "first")), "10 ms CPU"],
        ["second `generateBatch` in the same process (warm), CPU", spread(col(batch, "second")), "10 ms CPU"],
        ["first `generateBatch`, Node's fetch not primed, CPU", spread(col(unprimed, "first")), "10 ms CPU"],
        ["first 5-drill `generateDrillSeries`, CPU", spread(col(series, "first")), "10 ms CPU"],
        ["second 5-drill `generateDrillSeries` (warm), CPU", spread(col(series, "second")), "10 ms CPU"],
        ["Node alone: the first batch's POST through a primed `fetch`, CPU", spread(col(bare, "first")), ""],
        ["Node alone: the same POST again, CPU", spread(col(bare, "second")), ""],
      ],
    ),
  );
  console.log(
    "\nCPU is `process.cpuUsage()` around the call: every thread of the process (V8's background compilers and GC included), " +
      "so an upper bound of what Workers count. The simulator answers at once from its own process; its CPU is not in these figures. " +
      "Fetch primed = one request to the simulator before the measured call, since Node's fetch compiles its JS on first use and Workers' fetch is native. " +
      "The \"Node alone\" rows are Node's HTTP client on the same request and answer: drillgen's own share of a batch is roughly the batch row minus them.",
  );
}

async function main() {
  sizes();
  breakdown(process.argv[2] ?? fileURLToPath(new URL("target/wasm32-unknown-unknown/release/drillgen.wasm", root)));
  await cold();
}

if (process.argv[2] === "--child") {
  const [, , , what, url, specs, prime] = process.argv; // specs: the batches, or a request body for "fetch"
  const result =
    what === "import"
      ? await coldImport()
      : what === "fetch"
        ? await bareFetch(url, specs)
        : await coldCalls(what, url, specs, prime === "prime");
  process.stdout.write(`${JSON.stringify(result)}\n`);
} else {
  await main();
}

// Helpers of the Workers tests: the packed tarball installed into a throw-away project, the example
// Worker bundled the way wrangler bundles it, D1 migrations applied the way wrangler applies them.
import { execFileSync } from "node:child_process";
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import * as esbuild from "esbuild";

export const root = fileURLToPath(new URL("../../../", import.meta.url));
export const exampleDir = join(root, "examples/worker");

const run = (cmd, args, opts = {}) => execFileSync(cmd, args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], ...opts });

/**
 * Packs pkg/ into `dir` and installs the tarball there. Packs with `npm pack --pack-destination`
 * rather than scripts/pack: the other consumer test file runs scripts/pack, which deletes
 * out/drillgen-*.tgz, and the runner may run both files at once.
 */
export function installPackedDrillgen(dir) {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const tgz = run("npm", ["pack", join(root, "pkg"), "--pack-destination", dir, "--silent"])
    .trim()
    .split("\n")
    .at(-1);
  writeFileSync(join(dir, "package.json"), JSON.stringify({ name: "worker-consumer", private: true, type: "module" }));
  run("npm", ["install", "--no-audit", "--no-fund", "--ignore-scripts", "--loglevel=error", join(dir, tgz)], { cwd: dir });
  return join(dir, tgz);
}

/**
 * Resolves `drillgen` from `nodeModules` (the installed tarball) even when the Worker's own folder
 * has a node_modules (`npm ci` in examples/worker links drillgen to pkg/, which esbuild would
 * otherwise find first, walking up from src/).
 */
const drillgenFrom = (nodeModules) => ({
  name: "drillgen-from-install",
  setup(build) {
    build.onResolve({ filter: /^drillgen(\/.*)?$/ }, (args) =>
      args.pluginData?.installed
        ? undefined
        : build.resolve(args.path, { kind: args.kind, resolveDir: nodeModules, pluginData: { installed: true } }),
    );
  },
});

/** Bundles a Worker the way wrangler does: `workerd` condition, .wasm kept as a module file, `cloudflare:*` external. */
export async function bundleWorker(entry, outdir, nodeModules) {
  return esbuild.build({
    plugins: [drillgenFrom(nodeModules)],
    metafile: true,
    entryPoints: [entry],
    outdir,
    bundle: true,
    format: "esm",
    platform: "neutral",
    target: "es2022",
    conditions: ["workerd", "worker", "browser"],
    mainFields: ["module", "main"],
    external: ["cloudflare:*"],
    nodePaths: [nodeModules],
    loader: { ".wasm": "copy", ".json": "json" },
    logLevel: "error",
  });
}

/** The example host, bundled. */
export const bundleWorkerHost = (outdir, nodeModules) => bundleWorker(join(exampleDir, "src/index.js"), outdir, nodeModules);

/** Miniflare options for a bundled Worker in `dir` (ES modules, .wasm as compiled modules). */
export const workerOptions = (dir, extra = {}) => ({
  modules: true,
  rootPath: dir,
  scriptPath: join(dir, "index.js"),
  compatibilityDate: "2026-04-01",
  modulesRules: [
    { type: "ESModule", include: ["**/*.js"] },
    { type: "CompiledWasm", include: ["**/*.wasm"] },
  ],
  ...extra,
});

/**
 * The Miniflare options of the bundled host, bound as wrangler.toml binds it (the rate governor's
 * Durable Object included; `governor: false` leaves it out); `extra` adds bindings, rate limits, …
 */
export const hostOptions = (dir, { bindings = {}, rateLimit = { limit: 1000, period: 60 }, governor = true, ...extra } = {}) => ({
  ...workerOptions(dir),
  d1Databases: ["DB"],
  workflows: { SERIES_WORKFLOW: { name: "drill-series", className: "DrillSeriesWorkflow" } },
  ratelimits: { SERIES_RATE_LIMITER: { simple: rateLimit } },
  ...(governor ? { durableObjects: { RATE_GOVERNOR: "RateGovernorDO" } } : {}),
  bindings,
  ...extra,
});

/** What `wrangler d1 migrations apply` does: each new migrations/*.sql in name order, recorded in d1_migrations. */
export async function applyMigrations(db, dir = join(exampleDir, "migrations")) {
  await db
    .prepare(`CREATE TABLE IF NOT EXISTS d1_migrations (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT UNIQUE,
    applied_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP NOT NULL)`)
    .run();
  const { results } = await db.prepare("SELECT name FROM d1_migrations").all();
  const applied = new Set(results.map((r) => r.name));
  const names = readdirSync(dir)
    .filter((f) => f.endsWith(".sql"))
    .sort()
    .filter((f) => !applied.has(f));
  for (const name of names) {
    const statements = readFileSync(join(dir, name), "utf8")
      .split("\n")
      .filter((l) => !l.trim().startsWith("--"))
      .join("\n")
      .split(/;\s*$/m)
      .map((s) => s.trim())
      .filter(Boolean);
    await db.batch([...statements.map((s) => db.prepare(s)), db.prepare("INSERT INTO d1_migrations (name) VALUES (?)").bind(name)]);
  }
  return names;
}

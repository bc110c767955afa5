// Fresh Next.js App Router projects built from the packed tarball: the fixture app in
// ../nextjs-app, the files of the README's "Use with Next.js" section, the sample data, and no
// next.config. Used by ../nextjs.test.mjs.
import { spawn } from "node:child_process";
import { cpSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("../../../", import.meta.url));
const fixture = fileURLToPath(new URL("../nextjs-app/", import.meta.url));

/** The code blocks of a README section whose first line is `// <path>`: { path, code }, verbatim. */
export function readmeFiles(readme, heading) {
  const start = readme.indexOf(`\n## ${heading}\n`);
  if (start < 0) throw new Error(`no "## ${heading}" section in the README`);
  const end = readme.indexOf("\n## ", start + 1);
  const section = readme.slice(start, end < 0 ? undefined : end);
  return [...section.matchAll(/^```\w*\n(\/\/ (\S+)\n[\s\S]*?)^```$/gm)].map(([, code, path]) => ({ path, code }));
}

/** Runs a command; resolves with its output and time, rejects with both on failure. */
export function run(cmd, args, { cwd, env = process.env, timeoutMs = 600_000 } = {}) {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd, env, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (d) => {
      output += d;
    });
    child.stderr.on("data", (d) => {
      output += d;
    });
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      const ms = Date.now() - started;
      if (code === 0) resolve({ output, ms });
      else reject(Object.assign(new Error(`${cmd} ${args.join(" ")} exited with ${code} after ${ms} ms:\n${output}`), { output }));
    });
  });
}

const NEXT_ENV = { NEXT_TELEMETRY_DISABLED: "1" };

/**
 * Writes a project for one Next.js version into `dir`: package.json with exact versions and the
 * tarball, the fixture, the README's app files (not its next.config), the sample positions and context.
 */
export function writeProject(dir, { next, react, types, tarball, readme }) {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  cpSync(fixture, dir, { recursive: true });
  for (const { path, code } of readmeFiles(readme, "Use with Next.js").filter((f) => !f.path.startsWith("next.config"))) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), code);
  }
  mkdirSync(join(dir, "data"), { recursive: true });
  for (const f of ["positions.json", "context.json"]) cpSync(join(root, "data", f), join(dir, "data", f));
  writeFileSync(
    join(dir, "package.json"),
    JSON.stringify(
      {
        name: `drillgen-next${next.split(".")[0]}`,
        private: true,
        scripts: { build: "next build", start: "next start" },
        dependencies: { drillgen: `file:${tarball}`, next, react, "react-dom": react },
        devDependencies: types,
      },
      null,
      2,
    ),
  );
}

/** `npm install` from the shared npm cache where it can; no install scripts (Next needs none). */
export const install = (dir) =>
  run("npm", ["install", "--prefer-offline", "--no-audit", "--no-fund", "--ignore-scripts", "--loglevel=error"], { cwd: dir });

const nextBin = (dir) => join(dir, "node_modules/next/dist/bin/next");

export const build = (dir, env = {}) =>
  run(process.execPath, [nextBin(dir), "build"], { cwd: dir, env: { ...process.env, ...NEXT_ENV, ...env } });

async function freePort() {
  const server = createServer();
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** `next start` on a free port; resolves once it answers, with its log so far and later. */
export async function start(dir, env = {}) {
  const port = await freePort();
  return serve([nextBin(dir), "start", "-p", String(port), "-H", "127.0.0.1"], dir, env, port);
}

/** The `server.js` of an `output: "standalone"` build, run where it was copied to. */
export async function startStandalone(dir, env = {}) {
  const port = await freePort();
  return serve([join(dir, "server.js")], dir, { ...env, PORT: String(port), HOSTNAME: "127.0.0.1" }, port);
}

async function serve(args, cwd, env, port) {
  const child = spawn(process.execPath, args, { cwd, env: { ...process.env, ...NEXT_ENV, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  let log = "";
  child.stdout.on("data", (d) => {
    log += d;
  });
  child.stderr.on("data", (d) => {
    log += d;
  });
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${args.join(" ")} exited with ${child.exitCode}:\n${log}`);
    try {
      await fetch(url, { signal: AbortSignal.timeout(2000) });
      break;
    } catch {
      if (Date.now() > deadline) {
        child.kill("SIGKILL");
        throw new Error(`${args.join(" ")} did not answer in 60 s:\n${log}`);
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  return {
    url,
    log: () => log,
    close: () =>
      new Promise((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once("exit", resolve);
        child.kill("SIGTERM");
      }),
  };
}

export const readme = () => readFileSync(join(root, "pkg/README.md"), "utf8");

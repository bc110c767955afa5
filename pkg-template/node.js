// Node entry (`node` condition): Node 20+, and the server bundles that resolve `node` (Next.js route
// handlers, server actions, server components and SSR, under webpack or Turbopack; Vite SSR).
// Instantiates synchronously, so `import { planPositions } from "drillgen"` is ready on import.
//
// Where the .wasm is depends on who loads this file. Unbundled, it is beside this file. Bundlers
// rewrite `new URL("./drillgen_bg.wasm", import.meta.url)` into their own asset reference: in
// Turbopack's server chunks the file: URL of the copy it emitted, but in webpack's server chunks and
// Turbopack's SSR chunks the browser's URL (`/_next/static/media/…`), no file (webpack's is even a URL
// class of its own, which node:fs refuses). A bare `import.meta.url` they replace by this module's
// source URL (webpack: absolute, at build time; Turbopack: from the project root). So: the asset if
// it is a file, else the file beside the source, else the package as the app's node_modules resolve it.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { initSync } from "./drillgen.js";

const WASM = "drillgen_bg.wasm";
const LOCATIONS = [
  () => fileOf(new URL("./drillgen_bg.wasm", import.meta.url)), // the bundler's asset, or beside this file
  () => fileOf(new URL(WASM, String(import.meta.url))), // beside this module's source (bundlers keep its path)
  () => createRequire(join(process.cwd(), "package.json")).resolve(`drillgen/${WASM}`), // the app's node_modules
];

function fileOf(url) {
  const href = String(url); // a bundler's URL may be its own class, which node:fs refuses
  if (!href.startsWith("file:")) throw new Error(`${href} is no file`);
  return fileURLToPath(href);
}

function wasmBytes() {
  const tried = [];
  for (const locate of LOCATIONS) {
    let path;
    try {
      path = locate();
      return readFileSync(path);
    } catch (e) {
      tried.push(path ? `${path} (${e.code ?? e.message})` : e.message.split("\n")[0]);
    }
  }
  throw new Error(`drillgen: ${WASM} not found: ${tried.join("; ")}. See "Use with Next.js" in the package README.`);
}

initSync({ module: wasmBytes() });

export * from "./drillgen.js";
export { default } from "./drillgen.js";

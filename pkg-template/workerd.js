// Cloudflare Workers entry: workerd forbids compiling wasm from bytes at run time, so the bundler
// imports the .wasm as a compiled WebAssembly.Module and we instantiate it synchronously.

import { initSync } from "./drillgen.js";
import wasmModule from "./drillgen_bg.wasm";

initSync({ module: wasmModule });

export * from "./drillgen.js";
export { default } from "./drillgen.js";

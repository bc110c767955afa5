// Edge entry (`edge-light` condition: Next.js's edge runtime, Vercel Edge Functions). These runtimes
// refuse to compile wasm from bytes at run time, and fetching the .wasm from the page's origin is
// slow and logs a MIME warning; their bundlers instead hand over a compiled `WebAssembly.Module` for
// a `.wasm?module` import, which we instantiate synchronously: ready on import, like Node.

import { initSync } from "./drillgen.js";
import wasmModule from "./drillgen_bg.wasm?module";

// Next.js's edge sandbox (`next start`, and `next build` collecting page data) compiles the module
// outside the sandbox's realm, so it fails wasm-bindgen's `instanceof WebAssembly.Module` check
// (which would then try to compile it as bytes). It is a real Module: give it this realm's prototype.
const module = wasmModule instanceof WebAssembly.Module ? wasmModule : Object.setPrototypeOf(wasmModule, WebAssembly.Module.prototype);

initSync({ module });

export * from "./drillgen.js";
export { default } from "./drillgen.js";

// Node entry: instantiates the module synchronously from the file next to this one, so a plain
// `import { planPositions } from "drillgen"` works in Node 20 with no flags and no `await init()`.
import { readFileSync } from "node:fs";
import { initSync } from "./drillgen.js";

initSync({ module: readFileSync(new URL("./drillgen_bg.wasm", import.meta.url)) });

export * from "./drillgen.js";
export { default } from "./drillgen.js";

// Turns wasm-pack's pkg/ into the published package: our package.json (version from Cargo.toml),
// the Node and Workers entries, the package README, and a .d.ts without wasm-bindgen's raw
// `InitOutput` export table (it is typed with `any` and is not an API anyone should call) and
// without its `Symbol.dispose` declarations (below).
import { copyFileSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const pkg = join(root, "pkg");
const template = join(root, "pkg-template");

const cargo = readFileSync(join(root, "Cargo.toml"), "utf8");
const version = cargo.match(/^version\s*=\s*"([^"]+)"/m)?.[1];
if (!version) throw new Error("no version in Cargo.toml");

const manifest = JSON.parse(readFileSync(join(template, "package.json"), "utf8"));
manifest.version = version;
writeFileSync(join(pkg, "package.json"), `${JSON.stringify(manifest, null, 2)}\n`);
for (const file of ["node.js", "edge.js", "workerd.js", "README.md"]) copyFileSync(join(template, file), join(pkg, file));
rmSync(join(pkg, ".gitignore"), { force: true });

// Idempotent: a second run (after editing pkg-template/) finds the block already rewritten.
const dts = join(pkg, "drillgen.d.ts");
const initOutput = "export interface InitOutput {\n    readonly memory: WebAssembly.Memory;\n}\n";
const before = readFileSync(dts, "utf8");
const block = before.match(/export interface InitOutput \{[\s\S]*?\n\}\n/);
if (!block) throw new Error("InitOutput block not found in drillgen.d.ts: wasm-bindgen output changed");
if (block[0] !== initOutput) writeFileSync(dts, before.replace(block[0], initOutput));
// wasm-bindgen declares `[Symbol.dispose](): void` on exported classes (RateGovernor): a
// program compiled with a `lib` before ES2025/esnext (es2022, a common target) and
// `skipLibCheck: false` fails on it ("Property 'dispose' does not exist on type
// 'SymbolConstructor'"). The method stays in the JS (`using` works where the runtime has it);
// `free()` is the declared way to release one early.
const disposed = readFileSync(dts, "utf8").replace(/^ *\[Symbol\.dispose\]\(\): void;\n/gm, "");
writeFileSync(dts, disposed);
const raw = join(pkg, "drillgen_bg.wasm.d.ts");
writeFileSync(raw, "/* Raw exports of the module: use drillgen.d.ts. */\nexport const memory: WebAssembly.Memory;\n");
for (const file of manifest.files) readFileSync(join(pkg, file)); // every listed file exists
console.log(`pkg/ ready: drillgen@${version}`);

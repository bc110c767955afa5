// Every code sample of README.md and the package README runs or type-checks, against the packed
// tarball as users install it (automerge's habit: a README example that does not compile is a bug).
// - ```js blocks whose first line names a file (`// quickstart.mjs: …`) run in Node against the LLM
//   simulator, next to the sample data;
// - ```ts blocks type-check with `tsc --strict`, free names (your pool, your database) declared in
//   readme-env.d.ts;
// - the "Use with Next.js" files are built verbatim by nextjs.test.mjs; this file checks they are
//   all there and that no other sample is left unchecked.

import assert from "node:assert/strict";
import { execFile, execFileSync } from "node:child_process";
import { cpSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { startLlmSimulator } from "../../tools/llm-simulator/llm-simulator.mjs";
import { TSC_STRICT } from "./support/tsc.mjs";
import { installPackedDrillgen } from "./support/worker-host.mjs";

const root = fileURLToPath(new URL("../../", import.meta.url));
const work = join(root, "out/consumers-readme");
const readmes = {
  "README.md": readFileSync(join(root, "README.md"), "utf8"),
  "pkg-template/README.md": readFileSync(join(root, "pkg-template/README.md"), "utf8"),
};
let sim;

/** Every fenced block: { file, lang, code, section }. */
function blocks() {
  const out = [];
  for (const [file, text] of Object.entries(readmes)) {
    let section = "";
    const lines = text.split("\n");
    for (let i = 0; i < lines.length; i++) {
      if (lines[i].startsWith("## ")) section = lines[i].slice(3);
      const open = lines[i].match(/^```(\w*)$/); // an untagged fence too: it must be checked like any other
      if (!open) continue;
      const end = lines.indexOf("```", i + 1);
      out.push({ file, lang: open[1], code: lines.slice(i + 1, end).join("\n"), section });
      i = end;
    }
  }
  return out;
}

before(async () => {
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  installPackedDrillgen(work);
  cpSync(join(root, "data"), join(work, "data"), { recursive: true });
  sim = await startLlmSimulator();
});
after(() => sim?.close());

test("no README sample is left unchecked", () => {
  for (const b of blocks()) {
    const checked =
      (b.lang === "ts" && b.section !== "Use with Next.js") ||
      /^\/\/ \S+\.mjs:/.test(b.code) ||
      // The rule readmeFiles() builds by: a first line that is `// path` alone.
      (b.section === "Use with Next.js" && /^\/\/ \S+(\n|$)/.test(b.code)) ||
      ["sh", "text"].includes(b.lang);
    assert.ok(checked, `${b.file} § ${b.section}: a ${b.lang} block that no test runs or type-checks:\n${b.code.slice(0, 200)}`);
  }
});

test("the JavaScript samples run against the simulator", async () => {
  const runnable = blocks().filter((b) => b.lang === "js" && /^\/\/ \S+\.mjs:/.test(b.code));
  assert.ok(runnable.length >= 1);
  for (const b of runnable) {
    const name = b.code.match(/^\/\/ (\S+\.mjs):/)[1];
    writeFileSync(join(work, name), b.code);
    const { stdout } = await promisify(execFile)(process.execPath, [name], {
      cwd: work,
      env: { ...process.env, LLM_BASE_URL: sim.url, LLM_MODEL: "sim-1" },
    });
    assert.match(stdout, /^COMPLETED 10$/m, `${b.file} ${name}:\n${stdout}`);
  }
});

test("the TypeScript samples type-check under --strict", () => {
  const samples = blocks().filter((b) => b.lang === "ts" && b.section !== "Use with Next.js");
  assert.ok(samples.length >= 1);
  cpSync(join(root, "tests/consumer/readme-env.d.ts"), join(work, "readme-env.d.ts"));
  const files = samples.map((b, i) => {
    const name = `sample-${i}.ts`;
    writeFileSync(join(work, name), `${b.code}\nexport {};\n`);
    return name;
  });
  const flags = TSC_STRICT;
  try {
    execFileSync(join(root, "node_modules/.bin/tsc"), [...flags, "readme-env.d.ts", ...files], {
      cwd: work,
      encoding: "utf8",
      stdio: ["ignore", "pipe", "pipe"],
    });
  } catch (e) {
    assert.fail(`tsc: ${e.stdout}${e.stderr}`);
  }
});

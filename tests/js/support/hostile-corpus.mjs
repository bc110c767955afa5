// A corpus of hostile inputs for every export, and a runner that checks for each one: it settles
// within a bound, rejects only with a coded DrillgenError (or resolves with coded outcomes), loses
// no generated drill, leaks no credential. Plain ES module with no Node imports: the Chromium test
// loads it in a page too.

export const SECRET = "sk-hostile-SECRET-0123456789";
const HEADER_SECRET = "hdr-SECRET-abcdefgh";
const BOUND_MS = 15_000;

const throwing = (message) => ({
  get() {
    throw new Error(message);
  },
});
const getterObject = (base, key, thrown) =>
  Object.defineProperty({ ...base }, key, {
    enumerable: true,
    get() {
      throw thrown;
    },
  });
const revoked = () => {
  const { proxy, revoke } = Proxy.revocable({}, {});
  revoke();
  return proxy;
};
const deep = (n) => {
  let v = {};
  for (let i = 0; i < n; i++) v = { a: v };
  return v;
};
const cyclic = () => {
  const a = { x: 1 };
  a.self = a;
  return a;
};
const never = () => new Promise(() => {});

/** A store that counts what it accepted, so lost drills can be counted. */
function store() {
  const rows = new Map();
  return {
    rows,
    persist: (drills) => {
      for (const d of drills) rows.set(d.drillId, d);
    },
    load: () => [...rows.values()],
  };
}

/** The cases: `{ cls, name, run(drillgen) }`; `run` may return a value, a promise, or throw. */
export function hostileCases({ simUrl, positions, context }) {
  const pool = positions;
  const request = { targetDrillCount: 10, gamePhases: ["EARLY", "MIDDLE"] };
  const llm = {
    provider: "openai",
    baseUrl: simUrl,
    model: "sim",
    apiKey: SECRET,
    headers: { "x-proxy-auth": HEADER_SECRET },
    timeoutMs: 2000,
  };
  const base = () => ({
    artifactId: "h1",
    request,
    positions: pool,
    context,
    llm,
    seed: 1,
    hostTimeoutMs: 300,
    retry: { maxRetries: 1, baseDelayMs: 5, maxDelayMs: 10 },
  });
  const cases = [];
  const add = (cls, name, run) => cases.push({ cls, name, run });
  const gen = (cls, name, patch, extra = {}) =>
    add(cls, name, (d) => {
      const s = extra.store ?? store();
      const options = { ...base(), persist: s.persist, load: s.load, ...patch(base()) };
      return d.generateDrillSeries(options).then((result) => ({ result, store: s }));
    });

  // 1. Wrong types for every argument of every export.
  const wrong = [undefined, null, 0, -1, NaN, "text", true, [], {}, () => 1, Symbol("s"), 10n];
  wrong.forEach((w, i) => {
    add("types", `planPositions(${i})`, (d) => d.planPositions(w));
    add("types", `samplePositions pool(${i})`, (d) => d.samplePositions(w, d.planPositions(request)));
    add("types", `partitionBatches(${i})`, (d) => d.partitionBatches(request, w));
    add("types", `mergeDrills(${i})`, (d) => d.mergeDrills(request, w));
    add("types", `verifyArtifact(${i})`, (d) => d.verifyArtifact(w, pool));
    add("types", `renderBoard(${i})`, (d) => d.renderBoard(w));
    add("types", `generateDrillSeries(${i})`, (d) => d.generateDrillSeries(w));
    add("types", `generateBatch(${i})`, (d) => d.generateBatch(w, base()));
    add("types", `buildBatchPrompt(${i})`, (d) => d.buildBatchPrompt(w, context));
    add("types", `batchOutputSchema(${i})`, (d) => d.batchOutputSchema(w));
    add("types", `formatPosition(${i})`, (d) => d.formatPosition(w));
    add("types", `prepareSeries(${i})`, (d) => d.prepareSeries(request, w, context));
    add("types", `checkContext(${i})`, (d) => d.checkContext(w));
    add("types", `checkPositions(${i})`, (d) => d.checkPositions(w));
    add("types", `reconcileResult(${i})`, (d) => d.reconcileResult(request, w, [], pool));
  });
  for (const key of ["request", "positions", "context", "llm", "retry", "prompts", "existingDrills"]) {
    for (const w of [null, "x", 42, [1, 2]]) gen("types", `options.${key} = ${String(w)}`, () => ({ [key]: w }));
  }

  // 2. Numbers at and past every edge.
  const numbers = [NaN, Infinity, -Infinity, -0, -1, 0.5, 1e308, 2 ** 53 + 2, 2 ** 31, 1e12];
  numbers.forEach((n) => {
    add("numbers", `targetDrillCount ${n}`, (d) => d.planPositions({ targetDrillCount: n }));
    add("numbers", `seed ${n}`, (d) => d.samplePositions(pool, d.planPositions(request), { seed: n }));
    gen("numbers", `concurrency ${n}`, () => ({ concurrency: n }));
    gen("numbers", `llm.timeoutMs ${n}`, (b) => ({ llm: { ...b.llm, timeoutMs: n } }));
    gen("numbers", `hostTimeoutMs ${n}`, () => ({ hostTimeoutMs: n }));
    gen("numbers", `deadlineMs ${n}`, () => ({ deadlineMs: n }));
    gen("numbers", `retry.maxRetries ${n}`, (b) => ({ retry: { ...b.retry, maxRetries: n } }));
    gen("numbers", `subrequestBudget ${n}`, () => ({ subrequestBudget: n }));
  });

  // 3. Strings: headers, keys, URLs, sizes.
  const badHeaders = [
    { "x-a": "v\r\nx-injected: 1" },
    { "x-a": "caf\u00e9" },
    { "x-a": "\u2603" },
    { "bad name": "v" },
    { "": "v" },
    { host: "evil" },
    { "x-a": "v\u0000" },
    { "x-a": "x".repeat(100_000) },
  ];
  badHeaders.forEach((h, i) => gen("strings", `llm.headers #${i}`, (b) => ({ llm: { ...b.llm, headers: h } })));
  for (const key of ["sk-\u2603-unicode", "sk-abc\n", "sk abc", "x".repeat(5000), "\u0000"]) {
    gen("strings", `llm.apiKey ${JSON.stringify(key).slice(0, 20)}`, (b) => ({ llm: { ...b.llm, apiKey: key } }));
  }
  const urls = [
    "javascript:alert(1)",
    "file:///etc/passwd",
    "ftp://x/v1",
    "http://api.example.com/v1",
    `https://user:${SECRET}@api.example.com/v1`,
    "https://x.com/#frag",
    "https://",
    "not a url",
    `https://x.com/${"a".repeat(5000)}`,
    "https://ex\u00e4mple.com/v1",
    "http://127.0.0.1.evil.com/v1",
  ];
  urls.forEach((u, i) => gen("strings", `llm.baseUrl #${i}`, (b) => ({ llm: { ...b.llm, baseUrl: u } })));
  gen("strings", "artifactId of 1 MiB", () => ({ artifactId: "a".repeat(1 << 20) }));
  gen("strings", "artifactId with CR/LF", () => ({ artifactId: "a\r\nb" }));
  gen("strings", "mentalModel of 8 MiB", () => ({ context: { ...context, mentalModel: "m".repeat(8 << 20) } }));
  gen("strings", "a position analysis of 4 MiB", () => ({
    positions: pool.map((p, i) => (i === 40 ? { ...p, analysis: "z".repeat(4 << 20) } : p)),
  }));
  gen("strings", "model with a newline", (b) => ({ llm: { ...b.llm, model: "gpt\n4" } }));
  gen("strings", "provider gemini", (b) => ({ llm: { ...b.llm, provider: "gemini" } }));
  add("strings", "renderBoard with a script title", (d) => {
    if (d.renderBoard(pool[40].xgid, { title: "<script>alert(1)</script>" }).includes("<script>")) throw new Error("unescaped");
    return "ok";
  });
  add("strings", "renderBoard of 1 MiB", (d) => d.renderBoard("X".repeat(1 << 20)));

  // 4. Structure: depth, cycles, size, odd keys.
  add("structure", "request nested 10,000 deep", (d) => d.planPositions(deep(10_000)));
  add("structure", "a cyclic request", (d) => d.planPositions(cyclic()));
  gen("structure", "a cyclic context", () => ({ context: { mentalModel: cyclic(), curriculum: "c" } }));
  gen("structure", "positions nested deep", () => ({ positions: [deep(5000)] }));
  add("structure", "300,000 positions", (d) =>
    d.planPositions(
      request,
      Array.from({ length: 300_000 }, (_, i) => ({ ...pool[40], positionId: `P${i}` })),
    ),
  );
  add("structure", "a sparse array of positions", (d) => d.samplePositions([, , pool[40]], d.planPositions(request)));
  add("structure", "an object with 200,000 keys", (d) =>
    d.planPositions(Object.fromEntries(Array.from({ length: 200_000 }, (_, i) => [`k${i}`, i]))),
  );
  add("structure", "__proto__ keys", (d) => d.planPositions(JSON.parse('{"__proto__":{"targetDrillCount":999},"targetDrillCount":5}')));
  add("structure", "a Map as a request", (d) => d.planPositions(new Map([["targetDrillCount", 5]])));
  add("structure", "a Date as a request", (d) => d.planPositions(new Date()));
  add("structure", "a typed array of positions", (d) => d.partitionBatches(request, new Uint8Array(8)));
  gen("structure", "existingDrills of garbage", () => ({ existingDrills: [{ drillId: 5 }, null, "x"] }));
  gen("structure", "10,000 existing drills", () => ({ existingDrills: Array.from({ length: 10_000 }, () => ({})) }));

  // 5. Proxies and throwing getters, at every level.
  const boom = new Error("getter boom");
  for (const key of ["artifactId", "request", "positions", "context", "llm", "seed", "persist", "signal", "onProgress"]) {
    add("proxies", `a throwing getter on options.${key}`, (d) => {
      const s = store();
      return d.generateDrillSeries(getterObject({ ...base(), persist: s.persist }, key, boom));
    });
  }
  for (const key of ["baseUrl", "apiKey", "headers", "timeoutMs"])
    gen("proxies", `a throwing getter on llm.${key}`, (b) => ({ llm: getterObject(b.llm, key, boom) }));
  gen("proxies", "a throwing getter on positions[7]", () => ({
    positions: pool.map((p, i) => (i === 7 ? getterObject(p, "bestMove", boom) : p)),
  }));
  gen("proxies", "a throwing getter on request.targetDrillCount", () => ({
    request: getterObject(request, "targetDrillCount", "not an Error"),
  }));
  for (const trap of ["get", "ownKeys", "getOwnPropertyDescriptor", "has"]) {
    add("proxies", `a Proxy request whose ${trap} throws`, (d) =>
      d.planPositions(
        new Proxy(
          { targetDrillCount: 5 },
          {
            [trap]() {
              throw new Error(trap);
            },
          },
        ),
      ),
    );
    add("proxies", `Proxy options whose ${trap} throws`, (d) =>
      d.generateDrillSeries(
        new Proxy(base(), {
          [trap]() {
            throw new Error(trap);
          },
        }),
      ),
    );
  }
  add("proxies", "a revoked Proxy request", (d) => d.planPositions(revoked()));
  add("proxies", "revoked options", (d) => d.generateDrillSeries(revoked()));
  gen("proxies", "a revoked llm", () => ({ llm: revoked() }));
  gen("proxies", "positions as a Proxy array", () => ({
    positions: new Proxy(pool, {
      get(t, k) {
        if (k === "length") return 1e9;
        return Reflect.get(t, k);
      },
    }),
  }));
  let flips = 0;
  gen("proxies", "a getter that changes its answer", () => ({
    request: Object.defineProperty({}, "targetDrillCount", { enumerable: true, get: () => (flips++ % 2 ? 5 : "five") }),
  }));

  // 6. Callbacks that misbehave.
  const lazy = (s) => (drills) => ({
    then(resolve) {
      s.persist(drills);
      resolve();
    },
  });
  const gens = (name, patch) => gen("callbacks", name, patch);
  {
    const s = store();
    gen("callbacks", "persist returns a lazy thenable (Prisma)", () => ({ persist: lazy(s), load: s.load }), { store: s });
  }
  gens("persist never settles", () => ({ persist: never }));
  gens("persist returns a thenable that never calls back", () => ({ persist: () => ({ then() {} }) }));
  gens("persist rejects with a string", () => ({ persist: () => Promise.reject("disk full") }));
  gens("persist rejects with undefined", () => ({ persist: () => Promise.reject(undefined) }));
  gens("persist rejects with a Symbol", () => ({ persist: () => Promise.reject(Symbol("x")) }));
  gens("persist throws a number", () => ({
    persist: () => {
      throw 42;
    },
  }));
  gens("persist throws an object with a throwing message getter", () => ({
    persist: () => {
      throw Object.defineProperty({}, "message", {
        get() {
          throw new Error("no");
        },
      });
    },
  }));
  gens("persist returns a thenable whose then getter throws", () => ({
    persist: () => Object.defineProperty({}, "then", throwing("then boom")),
  }));
  gens("persist returns a revoked Proxy", () => ({ persist: () => revoked() }));
  gens("persist returns a Promise from a thenable that throws in then", () => ({
    persist: () => ({
      then() {
        throw new Error("sync in then");
      },
    }),
  }));
  gens("persist with a message of 5 MiB", () => ({
    persist: () => {
      throw new Error("m".repeat(5 << 20));
    },
  }));
  gens("persist rejects with the key in the message", () => ({ persist: () => Promise.reject(new Error(`auth ${SECRET} refused`)) }));
  gens("load never settles", () => ({ load: never }));
  gens("load returns garbage", () => ({ load: () => [{ drillId: 1 }, "x"] }));
  gens("load returns a cyclic object", () => ({ load: () => cyclic() }));
  gens("load throws a non-Error", () => ({
    load: () => {
      throw null;
    },
  }));
  gens("load returns a lazy thenable of drills", () => ({
    load: () => ({
      then(r) {
        r([]);
      },
    }),
  }));
  gens("onProgress throws", () => ({
    onProgress: () => {
      throw new Error("UI crashed");
    },
  }));
  gens("onProgress rejects", () => ({ onProgress: () => Promise.reject(new Error("late")) }));
  gens("onProgress never settles", () => ({ onProgress: never }));
  gens("onProgress returns a thenable that throws", () => ({
    onProgress: () => ({
      then() {
        throw "x";
      },
    }),
  }));
  gens("verify never settles", () => ({ verify: never }));
  gens("verify returns a cyclic object", () => ({ verify: () => cyclic() }));
  gens("verify returns a BigInt", () => ({ verify: () => 10n }));
  gens("verify throws", () => ({
    verify: () => {
      throw new Error("v");
    },
  }));
  gens("signal already aborted", () => ({ signal: AbortSignal.abort() }));
  gens("signal aborted during a hanging persist", () => {
    const c = new AbortController();
    return {
      signal: c.signal,
      persist: () => {
        setTimeout(() => c.abort(), 30);
        return never();
      },
      hostTimeoutMs: 60_000,
    };
  });
  gens("signal is a plain object", () => ({ signal: { aborted: false } }));
  gens("signal is a look-alike that throws", () => ({
    signal: {
      aborted: false,
      addEventListener() {
        throw new Error("no listeners");
      },
    },
  }));
  gens("signal with a throwing aborted getter", () => ({
    signal: Object.defineProperty({ addEventListener() {} }, "aborted", throwing("aborted?")),
  }));
  gens("persist is not a function", () => ({ persist: "save" }));
  gens("deadline of 50 ms over a hanging server", (b) => ({
    deadlineMs: 50,
    llm: { ...b.llm, baseUrl: `${simUrl.replace(/\/v1$/, "")}/hang/v1` },
  }));
  gens("persist keeps failing", () => ({
    persist: () => {
      throw new Error("always");
    },
  }));
  add("callbacks", "generateBatch with a never-settling persist", (d) => {
    const plan = d.planPositions(request);
    const [batch] = d.partitionBatches(request, d.samplePositions(pool, plan, { seed: 1 }).positions);
    return d.generateBatch(batch, { ...base(), persist: never });
  });
  return cases;
}

const CODES_RE = /export type DrillgenErrorCode =([^;]+);/;

/** The codes the package declares, read from its .d.ts text. */
export function declaredCodes(dts) {
  return new Set([...dts.match(CODES_RE)[1].matchAll(/"([A-Z_]+)"/g)].map((m) => m[1]));
}

/** Drills generated by a run that are neither stored nor handed back. */
function lostDrills(value) {
  const result = value?.result;
  if (!result?.batches || !value.store) return 0;
  const stored = new Set(value.store.rows.keys());
  const handed = new Set((result.unpersistedDrills ?? []).map((d) => d.drillId));
  let lost = 0;
  for (const b of result.batches) for (const d of b.drills ?? []) if (!stored.has(d.drillId) && !handed.has(d.drillId)) lost += 1;
  return lost;
}

/** A run's result or a batch outcome whose errors are all coded; `null` for any other value. */
function outcomeCoded(value, codes) {
  const result = value?.result ?? value;
  if (result && typeof result === "object" && Array.isArray(result.batches)) {
    return result.batches.every((b) => !b.error || codes.has(b.error.code)) && ["COMPLETED", "FAILED", "CANCELLED"].includes(result.status);
  }
  if (result && typeof result === "object" && typeof result.status === "string" && "attempts" in result) {
    return !result.error || codes.has(result.error.code);
  }
  return null;
}

/** Runs every case; returns per-class counts and the failures (case names with why). */
export async function runCorpus(drillgen, cases, codes, uncaught) {
  const classes = {};
  const failures = [];
  for (const c of cases) {
    const row = (classes[c.cls] ??= { tried: 0, settled: 0, coded: 0, returned: 0, generated: 0, lostDrills: 0, uncaught: 0, leaked: 0 });
    row.tried += 1;
    const before = uncaught.count;
    let outcome;
    let bound;
    try {
      const value = await Promise.race([
        Promise.resolve().then(() => c.run(drillgen)),
        new Promise((_, no) => {
          bound = setTimeout(() => no({ unsettled: true }), BOUND_MS);
        }),
      ]);
      outcome = { ok: true, value };
    } catch (error) {
      outcome = { ok: false, error };
    }
    // A pending bound kept Node's test process alive up to 15 s after the last case.
    clearTimeout(bound);
    await new Promise((r) => setTimeout(r, 0));
    const settled = !(outcome.error && outcome.error.unsettled);
    // A plain value returned (an input the export accepts, e.g. an empty pool) is counted apart:
    // it is neither a coded refusal nor a coded outcome.
    const judged = outcome.ok ? outcomeCoded(outcome.value, codes) : null;
    const returned = outcome.ok && judged === null;
    const coded = outcome.ok
      ? judged === true
      : outcome.error instanceof Error &&
        outcome.error.name === "DrillgenError" &&
        codes.has(outcome.error.code) &&
        typeof outcome.error.retryable === "boolean";
    const text = outcome.ok ? safeJson(outcome.value?.result ?? outcome.value) : `${outcome.error?.message ?? ""}`;
    const leaked = text.includes(SECRET) || text.includes(HEADER_SECRET);
    const lost = outcome.ok ? lostDrills(outcome.value) : 0;
    const escaped = uncaught.count - before;
    row.settled += settled ? 1 : 0;
    row.coded += coded ? 1 : 0;
    row.returned += returned ? 1 : 0;
    row.lostDrills += lost;
    row.generated += outcome.ok ? (outcome.value?.result?.batches ?? []).reduce((n, b) => n + (b.drills?.length ?? 0), 0) : 0;
    row.uncaught += escaped;
    row.leaked += leaked ? 1 : 0;
    if (!settled || !(coded || returned) || lost || escaped || leaked) {
      failures.push(
        `${c.cls}/${c.name}: ${!settled ? "did not settle" : !coded ? `not coded (${outcome.error?.name}: ${String(outcome.error?.message ?? outcome.error).slice(0, 120)})` : lost ? `${lost} drills lost` : escaped ? "an exception escaped" : "a credential leaked"}`,
      );
    }
  }
  return { classes, failures, total: cases.length };
}

function safeJson(v) {
  try {
    return JSON.stringify(v) ?? "";
  } catch {
    return String(v);
  }
}

/** The benchmark-style table. */
export function summary({ classes, total }) {
  const lines = ["class       tried  settled  coded  returned  drills-generated  lost  uncaught  leaked"];
  for (const [cls, r] of Object.entries(classes)) {
    const cells = [r.tried, r.settled, r.coded, r.returned, r.generated, r.lostDrills, r.uncaught, r.leaked];
    const widths = [5, 7, 5, 8, 16, 4, 8, 6];
    lines.push(`${cls.padEnd(11)} ${cells.map((c, i) => String(c).padStart(widths[i])).join("  ")}`);
  }
  lines.push(`all ${total} cases`);
  return lines.join("\n");
}

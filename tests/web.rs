//! The exports through the JS boundary, run by wasm-bindgen-test in Node (`wasm-pack test --node`)
//! and in headless Chromium (`WASM_BINDGEN_USE_BROWSER=1 wasm-pack test --headless --chrome`).
//! No `wasm_bindgen_test_configure!` line on purpose: one file serves both runtimes.
#![allow(clippy::unwrap_used, clippy::expect_used)]
#![cfg(target_arch = "wasm32")]

use drillgen::bindings::pipeline::*;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_test::wasm_bindgen_test;

const LIBRARY: &str = include_str!("../data/positions.json");
/// Written by the native test `seeded_sample_matches_the_fixture` from the same library and seed.
const SEEDED: &str = include_str!("fixtures/seeded-sample.json");

fn json(text: &str) -> JsValue {
    js_sys::JSON::parse(text).expect("test JSON parses")
}

fn get(value: &JsValue, key: &str) -> JsValue {
    js_sys::Reflect::get(value, &JsValue::from_str(key)).expect("object")
}

fn strings(value: &JsValue) -> Vec<String> {
    js_sys::Array::from(value)
        .iter()
        .filter_map(|v| v.as_string())
        .collect()
}

fn ids(positions: &JsValue) -> Vec<String> {
    js_sys::Array::from(positions)
        .iter()
        .filter_map(|p| get(&p, "positionId").as_string())
        .collect()
}

fn library() -> JsValue {
    json(LIBRARY)
}

fn request(text: &str) -> JsValue {
    json(text)
}

const NONE: JsValue = JsValue::UNDEFINED;

/// The thrown value must be a real `Error` named `DrillgenError`; returns its code.
fn code_of<T>(result: Result<T, JsValue>) -> String {
    let Err(thrown) = result else {
        panic!("expected a thrown error")
    };
    let error: &js_sys::Error = thrown.dyn_ref().expect("thrown value is an Error instance");
    assert_eq!(error.name(), "DrillgenError");
    assert!(!String::from(error.message()).is_empty());
    get(&thrown, "code").as_string().expect("code is a string")
}

#[wasm_bindgen_test]
fn plan_is_computed_through_the_boundary() {
    let plan: JsValue = plan_positions(
        request(r#"{"targetDrillCount":20,"gamePhases":["MIDDLE","EARLY"]}"#),
        NONE,
    )
    .expect("valid request");
    assert_eq!(get(&get(&plan, "perPhase"), "EARLY").as_f64(), Some(12.0));
    assert_eq!(get(&get(&plan, "perPhase"), "MIDDLE").as_f64(), Some(12.0));
    assert_eq!(get(&plan, "totalPositions").as_f64(), Some(24.0));
    assert_eq!(get(&plan, "batches").as_f64(), Some(4.0));
    assert_eq!(get(&plan, "savingsPercent").as_f64(), Some(75.0));
    assert_eq!(strings(&get(&plan, "phases")), ["EARLY", "MIDDLE"]);
}

#[wasm_bindgen_test]
fn bad_input_throws_coded_errors() {
    let cases: [(&str, &str); 8] = [
        (r#"{"targetDrillCount":0}"#, "INVALID_TARGET_COUNT"),
        (r#"{"targetDrillCount":100000}"#, "INVALID_TARGET_COUNT"),
        (r#"{"targetDrillCount":"twenty"}"#, "INVALID_TARGET_COUNT"),
        (r#"{"batchSize":0}"#, "INVALID_BATCH_SIZE"),
        (r#"{"gamePhases":[]}"#, "INVALID_PHASES"),
        (r#"{"gamePhases":["EARLY","EARLY"]}"#, "INVALID_PHASES"),
        (r#"{"gamePhases":["ENDGAME"]}"#, "INVALID_PHASES"),
        (r#"[1,2]"#, "INVALID_REQUEST"),
    ];
    for (input, code) in cases {
        assert_eq!(
            code_of(plan_positions(request(input), NONE)),
            code,
            "{input}"
        );
    }
    let plan = plan_positions(request("{}"), NONE).expect("defaults are valid");
    let not_an_array = json(r#"{"positionId":"A"}"#);
    assert_eq!(
        code_of(sample_positions(not_an_array, plan.clone(), NONE)),
        "INVALID_POSITIONS"
    );
    let missing_field = json(r#"[{"positionId":"A","gamePhase":"EARLY","diceRoll":"3-1"}]"#);
    assert_eq!(
        code_of(sample_positions(missing_field, plan.clone(), NONE)),
        "INVALID_POSITIONS"
    );
    let bad_phase = json(
        r#"[{"positionId":"A","gamePhase":"LATE","diceRoll":"3-1","bestMove":"8/5 6/5","analysis":"x"}]"#,
    );
    assert_eq!(
        code_of(sample_positions(bad_phase, plan.clone(), NONE)),
        "INVALID_POSITIONS"
    );
    let twice = json(
        r#"[{"positionId":"A","gamePhase":"EARLY","diceRoll":"3-1","bestMove":"8/5 6/5","analysis":"x"},
            {"positionId":"A","gamePhase":"EARLY","diceRoll":"4-2","bestMove":"8/4 6/4","analysis":"y"}]"#,
    );
    assert_eq!(
        code_of(sample_positions(twice, plan.clone(), NONE)),
        "DUPLICATE_POSITION_ID"
    );
    let bad_seed = json(r#"{"seed":-1}"#);
    assert_eq!(
        code_of(sample_positions(library(), plan, bad_seed)),
        "INVALID_SEED"
    );
    assert_eq!(
        code_of(plan_positions(JsValue::NULL, NONE)),
        "INVALID_REQUEST"
    );
}

#[wasm_bindgen_test]
fn seeded_sampling_equals_native() {
    let fixture = json(SEEDED);
    let plan = plan_positions(get(&fixture, "request"), NONE).expect("fixture request");
    let options = json(&format!(
        r#"{{"seed":{}}}"#,
        get(&fixture, "seed").as_f64().unwrap_or(0.0)
    ));
    let sample: JsValue = sample_positions(library(), plan, options).expect("sample");
    assert_eq!(
        ids(&get(&sample, "positions")),
        strings(&get(&fixture, "positionIds"))
    );
}

#[wasm_bindgen_test]
fn unseeded_sampling_draws_a_seed_from_the_platform() {
    let plan = plan_positions(
        request(r#"{"targetDrillCount":20,"gamePhases":["EARLY","MIDDLE"]}"#),
        NONE,
    )
    .expect("plan");
    let a: JsValue = sample_positions(library(), plan.clone(), NONE).expect("sample");
    let b: JsValue = sample_positions(library(), plan, NONE).expect("sample");
    assert_ne!(get(&a, "seed").as_f64(), get(&b, "seed").as_f64());
    assert_ne!(ids(&get(&a, "positions")), ids(&get(&b, "positions")));
}

/// OPENING loads all 21 rolls: one per drill, the rest kept as spares, each roll once.
#[wasm_bindgen_test]
fn opening_loads_all_21_rolls_and_presents_its_share_in_dice_order() {
    let plan = plan_positions(
        request(r#"{"targetDrillCount":5,"gamePhases":["OPENING"]}"#),
        NONE,
    )
    .expect("plan");
    let sample: JsValue = sample_positions(library(), plan, NONE).expect("sample");
    let dice = |key: &str| -> Vec<String> {
        js_sys::Array::from(&get(&sample, key))
            .iter()
            .filter_map(|p| get(&p, "diceRoll").as_string())
            .collect()
    };
    let (used, spares) = (dice("positions"), dice("spares"));
    assert_eq!((used.len(), spares.len()), (5, 16));
    let all: std::collections::HashSet<_> = used.iter().chain(&spares).collect();
    assert_eq!(all.len(), 21, "every roll loaded once");
    // Dice order, as the spec loads OPENING: by the higher die, then the lower (1-1, 2-1, 2-2, …).
    let ranks: Vec<(u8, u8)> = used
        .iter()
        .map(|d| {
            let (a, b) = d.split_once('-').expect("H-L");
            let (a, b): (u8, u8) = (a.parse().unwrap(), b.parse().unwrap());
            (a.max(b), a.min(b))
        })
        .collect();
    assert!(ranks.windows(2).all(|w| w[0] < w[1]), "{used:?}");
}

/// plan -> sample -> partition -> prompt -> (drills the host stored) -> merge -> verify.
#[wasm_bindgen_test]
fn the_pipeline_round_trips_through_js_values() {
    let req = r#"{"targetDrillCount":12,"gamePhases":["EARLY","BEAROFF"],"batchSize":5}"#;
    let plan = plan_positions(request(req), NONE).expect("plan");
    let options = json(r#"{"seed":7}"#);
    let sample: JsValue = sample_positions(library(), plan, options).expect("sample");
    let positions = get(&sample, "positions");
    let batches: JsValue = partition_batches(request(req), positions.clone()).expect("batches");
    let batches = js_sys::Array::from(&batches);
    assert_eq!(batches.length(), 3);

    let context = json(r#"{"mentalModel":{"core":"Points before pips"},"curriculum":"Module 1"}"#);
    let mut systems = Vec::new();
    let mut stored = Vec::new();
    for batch in batches.iter() {
        let prompt: JsValue =
            build_batch_prompt(batch.clone(), context.clone(), NONE).expect("prompt");
        systems.push(get(&prompt, "system").as_string().unwrap_or_default());
        let batch_positions = js_sys::Array::from(&get(&batch, "positions"));
        for (k, index) in js_sys::Array::from(&get(&batch, "drillIndices"))
            .iter()
            .enumerate()
        {
            let position = batch_positions.get(k as u32 % batch_positions.length());
            let index = index.as_f64().unwrap_or(-1.0);
            // The answer key as the engine gives it: the best move right, an alternative wrong.
            let best = get(&position, "bestMove").as_string().unwrap_or_default();
            let alternative = get(
                &js_sys::Array::from(&get(&position, "alternatives")).get(0),
                "move",
            )
            .as_string()
            .unwrap_or_default();
            stored.push(format!(
                r#"{{"drillId":"art:{index}","batchIndex":{},"batchStatus":"COMPLETED","gamePhase":"{}",
                    "index":{index},"positionId":"{}","title":"T","principle":"P","question":"Q?",
                    "options":[{{"id":"A","text":"{alternative}"}},{{"id":"B","text":"{best}"}}],
                    "correctOptionId":"B","explanation":"E","difficulty":"BEGINNER"}}"#,
                get(&batch, "batchIndex").as_f64().unwrap_or(-1.0),
                get(&position, "gamePhase").as_string().unwrap_or_default(),
                get(&position, "positionId").as_string().unwrap_or_default(),
            ));
        }
    }
    assert!(
        systems.windows(2).all(|w| w[0] == w[1]),
        "shared prefix is byte-identical"
    );
    stored.reverse(); // storage returns rows in any order
    let drills = json(&format!("[{}]", stored.join(",")));
    let artifact = merge_drills(request(req), drills).expect("merge");
    let artifact_value: JsValue = artifact.clone();
    let indices: Vec<f64> = js_sys::Array::from(&get(&artifact_value, "drills"))
        .iter()
        .filter_map(|d| get(&d, "index").as_f64())
        .collect();
    assert_eq!(indices, (0..12).map(f64::from).collect::<Vec<_>>());
    assert_eq!(
        get(&artifact_value, "status").as_string().as_deref(),
        Some("COMPLETED")
    );
    let report: JsValue = verify_artifact(artifact, positions).expect("report");
    assert_eq!(get(&report, "passed").as_bool(), Some(true));
}

/// A getter that throws, a NaN, a Proxy that refuses to list its keys, a symbol, a cycle: coded
/// errors naming the field, never an exception escaping from wasm.
#[wasm_bindgen_test]
fn hostile_values_become_coded_errors_naming_the_field() {
    let make = js_sys::Function::new_no_args(
        "return [
            { get targetDrillCount() { throw new Error('getter boom'); } },
            { targetDrillCount: NaN },
            new Proxy({}, { ownKeys() { throw 'not even an Error'; } }),
            { gamePhases: [Symbol('x')] },
            (() => { const a = {}; a.self = a; return a; })(),
        ];",
    );
    let cases = js_sys::Array::from(&make.call0(&JsValue::UNDEFINED).expect("cases"));
    let expected = [
        "INVALID_TARGET_COUNT",
        "INVALID_TARGET_COUNT",
        "INVALID_REQUEST",
        "INVALID_PHASES",
        "INVALID_REQUEST",
    ];
    for (case, code) in cases.iter().zip(expected) {
        assert_eq!(code_of(plan_positions(case, NONE)), code);
    }
    let Err(e) = plan_positions(cases.get(0), NONE) else {
        panic!("accepted")
    };
    let message = get(&e, "message").as_string().unwrap_or_default();
    assert!(
        message.contains("targetDrillCount") && message.contains("getter boom"),
        "{message}"
    );
}

#[wasm_bindgen_test]
fn boards_render_and_bad_xgids_are_coded() {
    let xgid = "XGID=-b----E-C---eE---c-e----B-:0:0:1:21:0:0:0:0:10";
    let svg = render_board(JsValue::from_str(xgid), NONE).expect("svg");
    assert!(svg.starts_with("<svg") && svg.contains("role=\"img\""));
    assert_eq!(
        code_of(render_board(JsValue::from_str("XGID=nonsense"), NONE)),
        "INVALID_XGID"
    );
    assert_eq!(
        code_of(render_board(JsValue::from_f64(4.0), NONE)),
        "INVALID_XGID"
    );
}

// ---- A whole series through gloo-net, against a `fetch` served inside the test ----

/// The LLM simulator's model (no imports): it reads a batch prompt and writes its drills. Loaded
/// from a `data:` URL, since the browser runner serves `.mjs` snippets with a MIME type that
/// module scripts refuse.
const SIM_MODEL: &str = include_str!("../tools/llm-simulator/sim/drills.mjs");

#[wasm_bindgen::prelude::wasm_bindgen(inline_js = r#"
export async function installLlm(source) {
  const model = await import("data:text/javascript;charset=utf-8," + encodeURIComponent(source));
  const seen = [];
  const old = globalThis.fetch;
  globalThis.fetch = async (request, init) => {
    seen.push({ request: request instanceof Request, redirect: request.redirect, method: request.method, init: init !== undefined });
    const body = await request.json();
    const user = body.messages.filter((m) => m.role === "user").map((m) => m.content).join("\n");
    const content = JSON.stringify({ drills: model.writeDrills(model.parseDrills(user)) });
    const usage = { prompt_tokens: 1000, completion_tokens: 400 };
    if (body.stream) {
      // Server-sent events, a few characters a delta, delivered in 64-byte pieces of a real stream.
      const events = content.match(/[\s\S]{1,12}/g).map((piece) => ({ choices: [{ index: 0, delta: { content: piece }, finish_reason: null }] }));
      events.push({ choices: [{ index: 0, delta: {}, finish_reason: "stop" }] }, { choices: [], usage });
      const sse = new TextEncoder().encode(events.map((e) => `data: ${JSON.stringify(e)}\n\n`).join("") + "data: [DONE]\n\n");
      const pieces = Math.ceil(sse.length / 64);
      globalThis.llmStream = { pulled: 0, pieces };
      const stream = new ReadableStream({
        pull(controller) {
          const at = globalThis.llmStream.pulled++ * 64;
          controller.enqueue(sse.slice(at, at + 64));
          if (globalThis.llmStream.pulled === pieces) controller.close();
        },
      }, { highWaterMark: 0 });
      return new Response(stream, { headers: { "content-type": "text/event-stream" } });
    }
    const answer = { choices: [{ index: 0, message: { role: "assistant", content }, finish_reason: "stop" }], usage };
    return new Response(JSON.stringify(answer), { headers: { "content-type": "application/json" } });
  };
  return { seen: () => JSON.stringify(seen), restore: () => { globalThis.fetch = old; } };
}
export function seriesOptions(json, store, shown) {
  const options = JSON.parse(json);
  // Each drill as it was shown, and whether its batch was stored by then.
  options.onProgress = (e) => {
    const { pulled, pieces } = globalThis.llmStream ?? {};
    if (e.type === "drillReady") shown.push([e.drill.drillId, store.has(e.drill.drillId), pulled < pieces]);
  };
  options.persist = async (drills) => { for (const d of drills) store.set(d.drillId, d); };
  options.load = async () => [...store.values()];
  return options;
}
"#)]
extern "C" {
    #[wasm_bindgen(js_name = installLlm)]
    async fn install_llm(source: &str) -> JsValue;
    #[wasm_bindgen(js_name = seriesOptions)]
    fn series_options(json: &str, store: &js_sys::Map, shown: &js_sys::Array) -> JsValue;
}

fn call(object: &JsValue, method: &str) -> JsValue {
    let f: js_sys::Function = get(object, method).dyn_into().expect("a function");
    f.call0(object).expect("no throw")
}

#[wasm_bindgen_test]
async fn a_whole_series_runs_through_gloo_net() {
    let llm = install_llm(SIM_MODEL).await;
    let store = js_sys::Map::new();
    let options = format!(
        r#"{{"artifactId":"web-1","request":{{"targetDrillCount":25,"gamePhases":["EARLY","MIDDLE","BEAROFF"]}},
            "positions":{LIBRARY},"context":{{"mentalModel":{{"core":"Races and primes"}},"curriculum":"Priming"}},
            "llm":{{"provider":"openai","baseUrl":"http://127.0.0.1:9/v1","model":"sim-1","apiKey":"sk-web-0042"}},
            "seed":11,"concurrency":1}}"#
    );
    let shown = js_sys::Array::new();
    let result = drillgen::bindings::generate::generate_drill_series(series_options(
        &options, &store, &shown,
    ))
    .await;
    call(&llm, "restore");
    let result = result.expect("the run resolves");
    assert_eq!(
        get(&result, "status").as_string().as_deref(),
        Some("COMPLETED")
    );
    assert_eq!(js_sys::Array::from(&get(&result, "drills")).length(), 25);
    assert_eq!(store.size(), 25, "every drill went to persist");
    let verification = get(&result, "verification");
    assert_eq!(get(&verification, "passed").as_bool(), Some(true));
    // gloo-net built each request: a `Request` (no init beside it), POST, redirects manual.
    let seen: serde_json::Value =
        serde_json::from_str(&call(&llm, "seen").as_string().unwrap()).unwrap();
    let seen = seen.as_array().unwrap();
    assert_eq!(seen.len(), 5, "one request per batch of 5");
    // The answers streamed through the body reader: every drill was shown before its batch was
    // stored, and while its answer was still arriving (the finish and usage events come after).
    assert_eq!(shown.length(), 25);
    for entry in shown.iter() {
        let entry = js_sys::Array::from(&entry);
        let id = entry.get(0);
        assert_eq!(
            entry.get(1).as_bool(),
            Some(false),
            "{id:?} shown after it was stored"
        );
        assert_eq!(
            entry.get(2).as_bool(),
            Some(true),
            "{id:?} shown after its answer ended"
        );
    }
    for request in seen {
        assert_eq!(
            request,
            &serde_json::json!({ "request": true, "redirect": "manual", "method": "POST", "init": false })
        );
    }
}

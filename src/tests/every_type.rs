//! Every input type through the deserializer: what serializes reads back the same, every enum variant
//! by its wire name, defaults, unknown and host keys, and the path and code of nested errors.

use std::fmt::Debug;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::board::BoardOptions;
use crate::drill::fixtures::drill_on;
use crate::drill::{BatchStatus, Difficulty, Drill, DrillOption};
use crate::input::{Argument, from_json, from_value};
use crate::llm::{MaxTokensField, Provider, ResponseFormat};
use crate::merge::{ArtifactStatus, DuplicateIndex};
use crate::orchestrator::{BudgetPolicy, CacheWarmup, GenerateOptions, Mode};
use crate::prompt::{PromptContext, PromptTemplates};
use crate::retry::RetryPolicy;
use crate::types::{DrillRequest, GamePhase, Plan, Position, SampleOptions, Warning};

fn library() -> Vec<Position> {
    let text = include_str!("../../data/positions.json");
    from_value(&serde_json::from_str(text).unwrap()).unwrap()
}

/// `value` written by its `Serialize` and read back by its `Deserialize` is `value` again.
fn round_trip<T: Serialize + DeserializeOwned + PartialEq + Debug>(value: &T) {
    let json = serde_json::to_value(value).unwrap();
    let back = from_value::<T>(&json).unwrap_or_else(|e| panic!("{}: {e} in {json}", e.path));
    assert_eq!(&back, value, "{json}");
}

/// The code and message of reading `value` as `T` for `argument`.
fn error<T: DeserializeOwned + Debug>(argument: Argument, value: Value) -> (String, String) {
    let e = from_json::<T>(argument, value).unwrap_err();
    (e.code().as_str().to_owned(), e.to_string())
}

fn options(extra: Value) -> Value {
    let mut o = json!({
        "artifactId": "art",
        "request": {"targetDrillCount": 5},
        "positions": [],
        "context": {"mentalModel": {"core": "points"}, "curriculum": "c"},
        "llm": {"provider": "openai", "baseUrl": "https://api.openai.com/v1", "model": "m"},
    });
    for (k, v) in extra.as_object().unwrap() {
        o[k] = v.clone();
    }
    o
}

#[test]
fn pipeline_types_round_trip() {
    let lib = library();
    let mut with_host_keys = lib[0].clone();
    with_host_keys.extra = json!({"id": 7, "tags": ["a"], "meta": {"by": null}})
        .as_object()
        .unwrap()
        .clone();
    for p in lib.iter().chain([&with_host_keys]) {
        round_trip(p);
    }
    let full = DrillRequest {
        target_drill_count: Some(25.0),
        game_phases: Some(GamePhase::ALL.to_vec()),
        max_positions_per_phase: Some(3.5),
        batch_size: Some(-1.0),
    };
    for request in [full, DrillRequest::default()] {
        round_trip(&request);
    }
    let request = DrillRequest {
        target_drill_count: Some(25.0),
        ..Default::default()
    };
    let plan = crate::api::plan_positions(&request, Some(&lib)).unwrap();
    round_trip(&plan);
    for options in [
        SampleOptions::default(),
        SampleOptions {
            seed: Some(9.0),
            ..Default::default()
        },
    ] {
        round_trip(&options);
    }
    let sample = crate::api::sample_positions(
        &lib,
        &plan,
        &SampleOptions {
            seed: Some(3.0),
            ..Default::default()
        },
    );
    let batches = crate::api::partition_batches(&request, &sample.unwrap().positions).unwrap();
    batches.iter().for_each(round_trip);
    let drills: Vec<Drill> = (0..25)
        .map(|i| drill_on(i % 23, &lib[i as usize], "a", 5))
        .collect();
    drills.iter().for_each(round_trip);
    let artifact = crate::api::merge_drills(&request, drills).unwrap();
    assert!(!artifact.duplicates.is_empty() && !artifact.warnings.is_empty());
    round_trip(&artifact);
}

#[test]
fn option_types_round_trip() {
    round_trip(&PromptContext {
        mental_model: json!({"a": [1, 2.5, null]}),
        curriculum: json!("c"),
        guru_profile: Some(json!({"name": "g"})),
    });
    round_trip(&PromptContext {
        mental_model: Value::Null,
        curriculum: json!([]),
        guru_profile: None,
    });
    round_trip(&PromptTemplates::default());
    round_trip(&PromptTemplates {
        system_prompt: Some("s".into()),
        user_prompt_template: Some("{{positions}}".into()),
    });
    round_trip(&RetryPolicy::default());
    round_trip(&RetryPolicy {
        max_retries: 0,
        base_delay_ms: u64::MAX,
        max_delay_ms: 1,
        max_retry_after_ms: 2,
    });
    round_trip(&BoardOptions::default());
    round_trip(&BoardOptions {
        title: Some("t".into()),
        id_prefix: Some("p".into()),
    });
    round_trip(&Warning::new(crate::WarningCode::POOL_TOO_SMALL, "m"));
    round_trip(&DrillOption {
        id: "A".into(),
        text: "8/5 6/5".into(),
    });
    round_trip(&DuplicateIndex {
        index: 1,
        kept_drill_id: "a".into(),
        dropped_drill_ids: vec!["b".into(), "c".into()],
    });
}

/// Each variant reads from what it serializes to, and an unknown name lists exactly those names.
fn variants<T: Serialize + DeserializeOwned + PartialEq + Debug + Copy>(all: &[T]) {
    let names: Vec<String> = all.iter().map(|v| round_trip_name(*v)).collect();
    let e = from_value::<T>(&json!("NOPE")).unwrap_err().message;
    let listed: Vec<&str> = e.split('`').skip(3).step_by(2).collect();
    assert_eq!(listed, names, "{e}");
}

fn round_trip_name<T: Serialize + DeserializeOwned + PartialEq + Debug>(v: T) -> String {
    round_trip(&v);
    serde_json::to_value(&v)
        .unwrap()
        .as_str()
        .unwrap()
        .to_owned()
}

#[test]
fn every_enum_variant_reads_its_wire_name() {
    variants(&GamePhase::ALL);
    variants(&Difficulty::ALL);
    variants(&[
        BatchStatus::Pending,
        BatchStatus::Generating,
        BatchStatus::Completed,
        BatchStatus::Failed,
    ]);
    variants(&[ArtifactStatus::Completed, ArtifactStatus::Failed]);
    variants(&[Provider::Openai, Provider::Anthropic]);
    variants(&[
        ResponseFormat::JsonSchema,
        ResponseFormat::JsonObject,
        ResponseFormat::Text,
    ]);
    variants(&[
        MaxTokensField::MaxTokens,
        MaxTokensField::MaxCompletionTokens,
    ]);
    // Run choices have no `Serialize`: their names are the `.d.ts`'s (lowercase).
    let read = |extra: Value| {
        let o: GenerateOptions = from_json(Argument::Options, options(extra)).unwrap();
        (o.run.mode, o.run.budget_policy, o.run.cache_warmup)
    };
    assert_eq!(
        read(json!({"mode": "batched", "budgetPolicy": "fail", "cacheWarmup": "auto"})),
        (Mode::Batched, BudgetPolicy::Fail, CacheWarmup::Auto)
    );
    assert_eq!(
        read(json!({"mode": "single", "budgetPolicy": "reduce", "cacheWarmup": "off"})),
        (Mode::Single, BudgetPolicy::Reduce, CacheWarmup::Off)
    );
    let (code, message) =
        error::<GenerateOptions>(Argument::Options, options(json!({"mode": "Single"})));
    assert_eq!(code, "INVALID_OPTIONS");
    assert_eq!(
        message,
        "options.mode: unknown variant `Single`, expected `batched` or `single`"
    );
}

fn check<const N: usize>(cases: [((String, String), &str, &str); N]) {
    for ((code, message), want_code, want_message) in cases {
        assert_eq!((code.as_str(), message.as_str()), (want_code, want_message));
    }
}

#[test]
fn nested_errors_name_their_path_and_code() {
    let mut pool = serde_json::to_value(&library()[..5]).unwrap();
    pool[3]["diceRoll"] = json!(31);
    check([
        (
            error::<Vec<Position>>(Argument::Positions, pool),
            "INVALID_POSITIONS",
            "positions[3].diceRoll: invalid type: integer `31`, expected a string",
        ),
        (
            error::<GenerateOptions>(
                Argument::Options,
                options(
                    json!({"llm": {"provider": "openai", "baseUrl": "u", "model": "m", "headers": {"ok": "1", "x": 5}}}),
                ),
            ),
            "INVALID_OPTIONS",
            "options.llm.headers.x: invalid type: integer `5`, expected a string",
        ),
        (
            error::<BoardOptions>(Argument::Options, json!({"title": ["t"]})),
            "INVALID_OPTIONS",
            "options.title: invalid type: an array, expected a string",
        ),
        (
            error::<PromptTemplates>(Argument::Prompts, json!({"systemPrompt": 5})),
            "INVALID_TEMPLATE",
            "prompts.systemPrompt: invalid type: integer `5`, expected a string",
        ),
        (
            error::<PromptContext>(Argument::Context, json!({"mentalModel": {}})),
            "INVALID_CONTEXT",
            "context: missing field `curriculum`",
        ),
        (
            error::<Plan>(
                Argument::Plan,
                plan_json(json!({"perPhase": {"EARLY": 2, "LATE": 1}})),
            ),
            "INVALID_REQUEST",
            "plan.perPhase: unknown variant `LATE`, expected one of `OPENING`, `EARLY`, `MIDDLE`, `BEAROFF`",
        ),
        (
            error::<crate::types::BatchSpec>(
                Argument::Batch,
                json!({"batchIndex": 0, "totalBatches": 1, "drillIndices": [0], "positions": [{"positionId": "A", "gamePhase": "EARLY", "diceRoll": "3-1", "bestMove": "8/5 6/5", "analysis": "a", "alternatives": [{"move": "13/10"}]}]}),
            ),
            "INVALID_OPTIONS",
            "batch.positions[0].alternatives[0]: missing field `equity`",
        ),
    ]);
}

/// The request's counts and phases have codes of their own; the other arguments have one each.
#[test]
fn each_argument_has_its_codes() {
    check([
        (
            error::<DrillRequest>(Argument::Request, json!({"gamePhases": ["EARLY", "LATE"]})),
            "INVALID_PHASES",
            "gamePhases[1]: unknown variant `LATE`, expected one of `OPENING`, `EARLY`, `MIDDLE`, `BEAROFF`",
        ),
        (
            error::<DrillRequest>(Argument::Request, json!({"targetDrillCount": "20"})),
            "INVALID_TARGET_COUNT",
            "targetDrillCount must be an integer from 1 to 500, got invalid type: string \"20\", expected f64",
        ),
        (
            error::<DrillRequest>(Argument::Request, json!({"batchSize": true})),
            "INVALID_BATCH_SIZE",
            "batchSize must be an integer from 1 to 25, got invalid type: boolean `true`, expected f64",
        ),
        (
            error::<DrillRequest>(Argument::Request, json!({"maxPositionsPerPhase": []})),
            "INVALID_MAX_POSITIONS",
            "maxPositionsPerPhase must be an integer from 1 to 200, got invalid type: an array, expected f64",
        ),
        (
            error::<SampleOptions>(Argument::SampleOptions, json!({"seed": "x"})),
            "INVALID_SEED",
            "seed must be an integer from 0 to 2^53 - 1, got invalid type: string \"x\", expected f64",
        ),
        (
            error::<Vec<Drill>>(
                Argument::Drills,
                json!([drill_json(
                    json!({"options": [{"id": "A", "text": "x"}, {"id": "B"}]})
                )]),
            ),
            "INVALID_DRILLS",
            "drills[0].options[1]: missing field `text`",
        ),
        (
            error::<crate::merge::Artifact>(
                Argument::Artifact,
                artifact_json(json!([{"index": 1, "keptDrillId": "a", "droppedDrillIds": [1]}])),
            ),
            "INVALID_ARTIFACT",
            "artifact.duplicates[0].droppedDrillIds[0]: invalid type: integer `1`, expected a string",
        ),
    ]);
}

fn drill_json(overrides: Value) -> Value {
    let mut d = serde_json::to_value(drill_on(0, &library()[0], "a", 5)).unwrap();
    for (k, v) in overrides.as_object().unwrap() {
        d[k] = v.clone();
    }
    d
}

fn artifact_json(duplicates: Value) -> Value {
    json!({"status": "COMPLETED", "targetDrillCount": 1, "drills": [], "missingIndices": [0],
        "incompleteBatches": [0], "duplicates": duplicates, "warnings": []})
}

fn plan_json(overrides: Value) -> Value {
    let request = DrillRequest::default();
    let mut p =
        serde_json::to_value(crate::api::plan_positions(&request, Some(&library())).unwrap())
            .unwrap();
    for (k, v) in overrides.as_object().unwrap() {
        p[k] = v.clone();
    }
    p
}

#[test]
fn absent_fields_take_their_defaults_and_null_is_none_only_for_options() {
    let o: GenerateOptions = from_json(Argument::Options, options(json!({}))).unwrap();
    assert_eq!(
        (o.run.mode, o.run.budget_policy, o.run.cache_warmup),
        (Mode::Batched, BudgetPolicy::Fail, CacheWarmup::Auto)
    );
    assert!(o.run.existing_drills.is_empty() && o.run.concurrency.is_none());
    assert!(o.run.subrequest_budget.is_none() && o.batch.seed.is_none());
    assert_eq!(
        (o.batch.prompts, o.batch.retry),
        (PromptTemplates::default(), RetryPolicy::default())
    );
    let llm = &o.batch.llm;
    assert!(llm.headers.is_empty() && !llm.dangerously_allow_browser && !llm.allow_insecure_http);
    assert!(llm.api_key.is_none() && llm.max_tokens.is_none() && llm.timeout_ms.is_none());
    let nulls = json!({"seed": null, "hostTimeoutMs": null, "concurrency": null});
    let o: GenerateOptions = from_json(Argument::Options, options(nulls)).unwrap();
    assert!(o.batch.seed.is_none() && o.batch.host_timeout_ms.is_none());
    let retry: RetryPolicy = from_value(&json!({"maxDelayMs": 9000})).unwrap();
    assert_eq!(
        retry,
        RetryPolicy {
            max_delay_ms: 9000,
            ..RetryPolicy::default()
        }
    );
    let board: BoardOptions = from_value(&json!({"title": null})).unwrap();
    assert_eq!(board, BoardOptions::default());
    for (key, expected) in [
        ("mode", "a string"),
        ("retry", "struct RetryPolicy"),
        ("existingDrills", "a sequence"),
    ] {
        let (code, message) =
            error::<GenerateOptions>(Argument::Options, options(json!({key: null})));
        assert_eq!(code, "INVALID_OPTIONS");
        assert_eq!(
            message,
            format!("options.{key}: invalid type: null, expected {expected}")
        );
    }
}

#[test]
fn unknown_keys_are_ignored() {
    let plain: GenerateOptions = from_json(Argument::Options, options(json!({}))).unwrap();
    let noisy = options(json!({
        "onProgress": "not ours", "zzz": 1,
        "llm": {"provider": "openai", "baseUrl": "https://api.openai.com/v1", "model": "m", "extra": true},
        "request": {"targetDrillCount": 5, "note": "x"},
        "retry": {"jitter": 0.5},
    }));
    let read: GenerateOptions = from_json(Argument::Options, noisy).unwrap();
    assert_eq!(read.batch.llm, plain.batch.llm);
    assert_eq!(read.run.request, plain.run.request);
    assert_eq!(read.batch.retry, RetryPolicy::default());
    let drill: Drill = from_value(&drill_json(json!({"createdAt": "2026-11-01"}))).unwrap();
    assert_eq!(drill, drill_on(0, &library()[0], "a", 5));
}

#[test]
fn host_keys_stay_on_positions_wherever_they_are_read() {
    let mut p = serde_json::to_value(&library()[0]).unwrap();
    p["id"] = json!(7);
    p["createdAt"] = json!({"at": [2026, 11]});
    p["analysisVersion"] = json!(null);
    p["__proto__"] = json!({"polluted": true});
    p["constructor"] = json!("c");
    let batch =
        json!({"batchIndex": 0, "totalBatches": 1, "drillIndices": [0], "positions": [p.clone()]});
    let read: crate::types::BatchSpec = from_json(Argument::Batch, batch).unwrap();
    assert_eq!(
        read.positions[0].extra.keys().collect::<Vec<_>>(),
        [
            "id",
            "createdAt",
            "analysisVersion",
            "__proto__",
            "constructor"
        ],
        "JS's special names are ordinary keys"
    );
    assert_eq!(serde_json::to_value(&read.positions[0]).unwrap(), p);
    let o: GenerateOptions =
        from_json(Argument::Options, options(json!({"positions": [p]}))).unwrap();
    assert_eq!(
        o.run.positions[0].extra["createdAt"],
        json!({"at": [2026, 11]})
    );
}

#[test]
fn integer_fields_refuse_fractions_and_name_the_field() {
    let cases = [
        (
            error::<Plan>(Argument::Plan, plan_json(json!({"batches": 2.5}))),
            "plan.batches: invalid value: number `2.5`, expected u32",
        ),
        (
            error::<Vec<Drill>>(Argument::Drills, json!([drill_json(json!({"index": 1.5}))])),
            "drills[0].index: invalid value: number `1.5`, expected u32",
        ),
        (
            error::<GenerateOptions>(
                Argument::Options,
                options(
                    json!({"llm": {"provider": "openai", "baseUrl": "u", "model": "m", "timeoutMs": -1}}),
                ),
            ),
            "options.llm.timeoutMs: invalid value: integer `-1`, expected u64",
        ),
        (
            error::<GenerateOptions>(
                Argument::Options,
                options(json!({"retry": {"maxRetries": 0.5}})),
            ),
            "options.retry.maxRetries: invalid value: number `0.5`, expected u32",
        ),
        (
            error::<Position>(
                Argument::Position,
                json!({"positionId": "A", "gamePhase": "EARLY", "diceRoll": "3-1", "bestMove": "8/5 6/5",
                    "analysis": "a", "pipCount": {"player": 5_000_000_000u64, "opponent": 1}}),
            ),
            "position.pipCount.player: invalid value: integer `5000000000`, expected u32",
        ),
    ];
    for ((_, message), want) in cases {
        assert_eq!(message, want);
    }
}

/// serde also took a struct as an array of its fields in order; the `.d.ts` never declared that.
#[test]
fn a_struct_is_an_object() {
    let (code, message) = error::<Vec<Position>>(
        Argument::Positions,
        json!([["A", "EARLY", "3-1", "8/5 6/5", "a"]]),
    );
    assert_eq!(code, "INVALID_POSITIONS");
    assert_eq!(
        message,
        "positions[0]: invalid type: an array, expected struct Position"
    );
}

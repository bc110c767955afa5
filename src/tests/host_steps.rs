//! The steps exported for hosts that run batches themselves are the run's own: `prepare_series`
//! makes the series `prepare_run` makes, and `reconcile` counts what the host stored after a run.

use serde_json::{Value, json};

use crate::api::{RunSummary, check_context, check_positions, prepare_series, reconcile};
use crate::llm::Runtime;
use crate::merge::fixtures::stored;
use crate::orchestrator::{GenerateOptions, prepare_run};
use crate::prompt::{PromptContext, PromptTemplates};
use crate::sample::fixtures::pool;
use crate::series::SeriesOptions;
use crate::types::DrillRequest;

fn read<T: serde::de::DeserializeOwned>(argument: crate::input::Argument, value: Value) -> T {
    crate::input::from_json(argument, value).unwrap()
}

fn context() -> Value {
    json!({ "mentalModel": { "core": "Points before pips" }, "curriculum": "Module 1" })
}

fn run_options(request: &Value, extra: Value) -> GenerateOptions {
    let mut options = json!({
        "artifactId": "art",
        "request": request,
        "positions": pool(30),
        "context": context(),
        "llm": { "provider": "openai", "baseUrl": "http://127.0.0.1:1/v1", "model": "m" },
        "seed": 5,
    });
    for (k, v) in extra.as_object().unwrap() {
        options[k] = v.clone();
    }
    read(crate::input::Argument::Options, options)
}

#[test]
fn prepare_series_makes_the_series_a_run_makes() {
    let request = json!({ "targetDrillCount": 25, "gamePhases": ["EARLY", "MIDDLE", "BEAROFF"] });
    for (mode, extra) in [
        (
            "batched",
            json!({ "avoidPositionIds": ["EARLY-001", "MIDDLE-002"] }),
        ),
        ("single", json!({ "mode": "single" })),
    ] {
        let run = prepare_run(&run_options(&request, extra.clone()), Runtime::Server).unwrap();
        let mut series_options = extra;
        series_options["seed"] = json!(5);
        let options: SeriesOptions = read(crate::input::Argument::SampleOptions, series_options);
        let series = prepare_series(
            &read::<DrillRequest>(crate::input::Argument::Request, request.clone()),
            &pool(30),
            &read(crate::input::Argument::Context, context()),
            &options,
        )
        .unwrap();
        assert_eq!(series.batches, run.batches, "{mode}");
        assert_eq!(series.sample.positions, run.sample, "{mode}");
        assert_eq!(series.sample.spares, run.spares, "{mode}");
        assert_eq!(
            (series.sample.seed, &series.sample.warnings),
            (run.seed, &run.warnings)
        );
        assert_eq!(series.batches.len(), if mode == "single" { 1 } else { 5 });
    }
}

#[test]
fn prepare_series_refuses_what_a_run_refuses() {
    let request = DrillRequest::default();
    let blank: PromptContext = read(
        crate::input::Argument::Context,
        json!({ "mentalModel": "  ", "curriculum": "c" }),
    );
    let e = prepare_series(&request, &pool(30), &blank, &SeriesOptions::default()).unwrap_err();
    assert_eq!(e.code(), "INVALID_CONTEXT");
    let good: PromptContext = read(crate::input::Argument::Context, context());
    let typo = PromptTemplates {
        user_prompt_template: Some("{{positons}} {{drillCount}}".into()),
        ..Default::default()
    };
    assert_eq!(
        check_context(&good, &typo).unwrap_err().code(),
        "INVALID_TEMPLATE"
    );
    assert!(check_context(&good, &PromptTemplates::default()).is_ok());
    let mut twice = pool(1);
    twice.push(twice[0].clone());
    assert_eq!(
        check_positions(&twice).unwrap_err().code(),
        "DUPLICATE_POSITION_ID"
    );
    let e = prepare_series(&request, &twice, &good, &SeriesOptions::default()).unwrap_err();
    assert_eq!(e.code(), "DUPLICATE_POSITION_ID");
}

#[test]
fn reconcile_counts_a_batch_stored_after_the_run_as_completed() {
    let request = DrillRequest {
        target_drill_count: Some(15.0),
        ..Default::default()
    };
    // Batch 1's persist failed and the host stored its drills after the run; batch 2 failed.
    let result: RunSummary = read(
        crate::input::Argument::Result,
        json!({
            "batches": [
                { "batchIndex": 0, "status": "COMPLETED", "stored": true, "drillIndices": [0, 1, 2, 3, 4] },
                { "batchIndex": 1, "status": "FAILED", "stored": false, "drillIndices": [5, 6, 7, 8, 9] },
                { "batchIndex": 2, "status": "FAILED", "stored": false, "drillIndices": [10, 11, 12, 13, 14] },
            ],
            "batchProgress": { "completed": 1, "total": 3, "failed": [1, 2] },
            "drills": [], "status": "COMPLETED",
        }),
    );
    let drills = (0..10).map(|i| stored(i, 5)).collect();
    let r = reconcile(&request, &result, drills, &[]).unwrap();
    assert_eq!(r.rescued_batches, [1]);
    assert_eq!((r.batch_progress.completed, r.batch_progress.total), (2, 3));
    assert_eq!(r.batch_progress.failed, [2]);
    assert_eq!(r.drills.len(), 10);
    assert_eq!(r.missing_indices, [10, 11, 12, 13, 14]);
}

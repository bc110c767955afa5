//! Exports of the pure pipeline: plan, sample, partition, prompt, merge, verify, and the board.
//! Each converts its arguments in (coded errors naming the bad field), calls one function of
//! `crate::api`, and converts the result out.

use wasm_bindgen::prelude::*;

use super::convert::{coded, from_js, from_js_opt, to_js};
use crate::api::{self, RunSummary};
use crate::board::BoardOptions;
use crate::drill::{Drill, batch_output_schema};
use crate::input::Argument;
use crate::merge::Artifact;
use crate::prompt::{PromptContext, PromptTemplates};
use crate::series::SeriesOptions;
use crate::text::Redactor;
use crate::types::{BatchSpec, DrillRequest, Plan, Position, SampleOptions};

fn out<T: serde::Serialize + ?Sized>(value: &T) -> Result<JsValue, JsValue> {
    to_js(value, &Redactor::default())
}

/// What `generateDrillSeries` does before its first call, for a host that generates the batches
/// itself (a Workflow, a queue): the request, pool, context and templates checked, then plan →
/// sample → partition. The same `seed` gives the same series.
#[wasm_bindgen(js_name = prepareSeries, unchecked_return_type = "Series")]
pub fn prepare_series(
    #[wasm_bindgen(unchecked_param_type = "DrillRequest")] request: JsValue,
    #[wasm_bindgen(unchecked_param_type = "Position[]")] pool: JsValue,
    #[wasm_bindgen(unchecked_param_type = "PromptContext")] context: JsValue,
    #[wasm_bindgen(unchecked_optional_param_type = "SeriesOptions")] options: JsValue,
) -> Result<JsValue, JsValue> {
    let request: DrillRequest = coded(from_js(Argument::Request, &request))?;
    let pool: Vec<Position> = coded(from_js(Argument::Positions, &pool))?;
    let context: PromptContext = coded(from_js(Argument::Context, &context))?;
    let options: SeriesOptions =
        coded(from_js_opt(Argument::SampleOptions, &options))?.unwrap_or_default();
    out(&coded(api::prepare_series(
        &request, &pool, &context, &options,
    ))?)
}

/// Throws `INVALID_CONTEXT` (or `INVALID_TEMPLATE`) for a context a run would refuse.
#[wasm_bindgen(js_name = checkContext)]
pub fn check_context(
    #[wasm_bindgen(unchecked_param_type = "PromptContext")] context: JsValue,
    #[wasm_bindgen(unchecked_optional_param_type = "PromptTemplates")] prompts: JsValue,
) -> Result<(), JsValue> {
    let context: PromptContext = coded(from_js(Argument::Context, &context))?;
    let prompts: PromptTemplates =
        coded(from_js_opt(Argument::Prompts, &prompts))?.unwrap_or_default();
    coded(api::check_context(&context, &prompts))
}

/// Throws `INVALID_POSITIONS` (or `DUPLICATE_POSITION_ID`) for a pool a run would refuse.
#[wasm_bindgen(js_name = checkPositions)]
pub fn check_positions(
    #[wasm_bindgen(unchecked_param_type = "Position[]")] pool: JsValue,
) -> Result<(), JsValue> {
    let pool: Vec<Position> = coded(from_js(Argument::Positions, &pool))?;
    coded(api::check_positions(&pool))
}

/// A run's result as the host's storage has it once the host stored `unpersistedDrills`: the
/// drills rebuilt from `stored`, verified against `positions`, and the batches whose drills are now
/// all stored counted as completed (`rescuedBatches`).
#[wasm_bindgen(js_name = reconcileResult, unchecked_return_type = "Reconciled")]
pub fn reconcile_result(
    #[wasm_bindgen(unchecked_param_type = "DrillRequest")] request: JsValue,
    #[wasm_bindgen(unchecked_param_type = "RunSummary")] result: JsValue,
    #[wasm_bindgen(unchecked_param_type = "Drill[]")] stored: JsValue,
    #[wasm_bindgen(unchecked_param_type = "Position[]")] positions: JsValue,
) -> Result<JsValue, JsValue> {
    let request: DrillRequest = coded(from_js(Argument::Request, &request))?;
    let result: RunSummary = coded(from_js(Argument::Result, &result))?;
    let stored: Vec<Drill> = coded(from_js(Argument::Drills, &stored))?;
    let positions: Vec<Position> = coded(from_js(Argument::Positions, &positions))?;
    out(&coded(api::reconcile(
        &request, &result, stored, &positions,
    ))?)
}

/// Positions to load per phase, batch count and prompt tokens against the spec's fixed loading.
/// `pool` is only needed when `request.gamePhases` is absent: the phases present in it are used.
#[wasm_bindgen(js_name = planPositions, unchecked_return_type = "Plan")]
pub fn plan_positions(
    #[wasm_bindgen(unchecked_param_type = "DrillRequest")] request: JsValue,
    #[wasm_bindgen(unchecked_optional_param_type = "Position[]")] pool: JsValue,
) -> Result<JsValue, JsValue> {
    let request: DrillRequest = coded(from_js(Argument::Request, &request))?;
    let pool: Option<Vec<Position>> = coded(from_js_opt(Argument::Positions, &pool))?;
    out(&coded(api::plan_positions(&request, pool.as_deref()))?)
}

/// Uniform random choice from the pool per the plan; OPENING = all 21 rolls sorted by dice.
/// Positions keep the host's own fields. Pass the returned `seed` back to reproduce the sample.
#[wasm_bindgen(js_name = samplePositions, unchecked_return_type = "Sample")]
pub fn sample_positions(
    #[wasm_bindgen(unchecked_param_type = "Position[]")] pool: JsValue,
    #[wasm_bindgen(unchecked_param_type = "Plan")] plan: JsValue,
    #[wasm_bindgen(unchecked_optional_param_type = "SampleOptions")] options: JsValue,
) -> Result<JsValue, JsValue> {
    let pool: Vec<Position> = coded(from_js(Argument::Positions, &pool))?;
    let plan: Plan = coded(from_js(Argument::Plan, &plan))?;
    let options: SampleOptions =
        coded(from_js_opt(Argument::SampleOptions, &options))?.unwrap_or_default();
    out(&coded(api::sample_positions(&pool, &plan, &options))?)
}

/// `ceil(target / batchSize)` batches of contiguous drill indices, one position per drill.
#[wasm_bindgen(js_name = partitionBatches, unchecked_return_type = "BatchSpec[]")]
pub fn partition_batches(
    #[wasm_bindgen(unchecked_param_type = "DrillRequest")] request: JsValue,
    #[wasm_bindgen(unchecked_param_type = "Position[]")] positions: JsValue,
) -> Result<JsValue, JsValue> {
    let request: DrillRequest = coded(from_js(Argument::Request, &request))?;
    let positions: Vec<Position> = coded(from_js(Argument::Positions, &positions))?;
    out(&coded(api::partition_batches(&request, &positions))?)
}

/// `{ system, user }` for one batch: `system` is identical for every batch of a run.
#[wasm_bindgen(js_name = buildBatchPrompt, unchecked_return_type = "BatchPrompt")]
pub fn build_batch_prompt(
    #[wasm_bindgen(unchecked_param_type = "BatchSpec")] batch: JsValue,
    #[wasm_bindgen(unchecked_param_type = "PromptContext")] context: JsValue,
    #[wasm_bindgen(unchecked_optional_param_type = "PromptTemplates")] prompts: JsValue,
) -> Result<JsValue, JsValue> {
    let batch: BatchSpec = coded(from_js(Argument::Batch, &batch))?;
    let context: PromptContext = coded(from_js(Argument::Context, &context))?;
    let prompts: PromptTemplates =
        coded(from_js_opt(Argument::Prompts, &prompts))?.unwrap_or_default();
    out(&coded(api::batch_prompt(&batch, &context, &prompts))?)
}

/// One position as the prompt shows it to the model (for token budgeting and previews).
#[wasm_bindgen(js_name = formatPosition)]
pub fn format_position(
    #[wasm_bindgen(unchecked_param_type = "Position")] position: JsValue,
) -> Result<String, JsValue> {
    let position: Position = coded(from_js(Argument::Position, &position))?;
    Ok(crate::prompt::format_position(&position))
}

/// JSON Schema of one batch's LLM output: the same for every batch of that size, so it stays in
/// the providers' cached prefix.
#[wasm_bindgen(js_name = batchOutputSchema, unchecked_return_type = "{ [key: string]: JsonValue }")]
pub fn batch_output_schema_js(
    #[wasm_bindgen(unchecked_param_type = "BatchSpec")] batch: JsValue,
) -> Result<JsValue, JsValue> {
    let batch: BatchSpec = coded(from_js(Argument::Batch, &batch))?;
    out(&batch_output_schema(batch.drill_indices.len()))
}

/// Rebuilds the artifact from stored drills: COMPLETED only, sorted by index, duplicates resolved.
#[wasm_bindgen(js_name = mergeDrills, unchecked_return_type = "Artifact")]
pub fn merge_drills(
    #[wasm_bindgen(unchecked_param_type = "DrillRequest")] request: JsValue,
    #[wasm_bindgen(unchecked_param_type = "Drill[]")] drills: JsValue,
) -> Result<JsValue, JsValue> {
    let request: DrillRequest = coded(from_js(Argument::Request, &request))?;
    let drills: Vec<Drill> = coded(from_js(Argument::Drills, &drills))?;
    out(&coded(api::merge_drills(&request, drills))?)
}

/// Checks a rebuilt artifact's structure and every drill against the engine's analysis of its
/// position; returns a report, never throws on a bad artifact.
#[wasm_bindgen(js_name = verifyArtifact, unchecked_return_type = "VerificationReport")]
pub fn verify_artifact(
    #[wasm_bindgen(unchecked_param_type = "Artifact")] artifact: JsValue,
    #[wasm_bindgen(unchecked_param_type = "Position[]")] positions: JsValue,
) -> Result<JsValue, JsValue> {
    let artifact: Artifact = coded(from_js(Argument::Artifact, &artifact))?;
    let positions: Vec<Position> = coded(from_js(Argument::Positions, &positions))?;
    out(&api::verify_artifact(&artifact, &positions))
}

/// A position's XGID as an accessible SVG board (checkers, bar, borne-off, pip counts, dice, cube,
/// player on roll), drawn from the side of the player on roll. Invalid XGIDs throw `INVALID_XGID`.
#[wasm_bindgen(js_name = renderBoard)]
pub fn render_board(
    #[wasm_bindgen(unchecked_param_type = "string")] xgid: JsValue,
    #[wasm_bindgen(unchecked_optional_param_type = "BoardOptions")] options: JsValue,
) -> Result<String, JsValue> {
    let Some(text) = xgid.dyn_ref::<js_sys::JsString>() else {
        return coded(Err(crate::DrillgenError::InvalidXgid(
            "the XGID must be a string".into(),
        )));
    };
    // Measured before copying (a hostile string may be megabytes); a UTF-16 unit is ≥ 1 byte.
    let units = text.length() as usize;
    if units > crate::board::MAX_XGID_LEN {
        return coded(Err(crate::DrillgenError::InvalidXgid(format!(
            "an XGID is at most {} bytes long, got a string of {units} characters",
            crate::board::MAX_XGID_LEN
        ))));
    }
    let xgid = String::from(text);
    let options: BoardOptions =
        coded(from_js_opt(Argument::Options, &options))?.unwrap_or_default();
    coded(crate::board::render_board(&xgid, &options))
}

/// The crate version, for hosts that log what generated a series.
#[wasm_bindgen]
pub fn version() -> String {
    env!("CARGO_PKG_VERSION").to_owned()
}

/// The warning codes as values (`warningCodes().RETRIES_REDUCED`), for a host that reports a
/// warning of its own in drillgen's shape without copying the string by hand.
#[wasm_bindgen(
    js_name = warningCodes,
    unchecked_return_type = "{ readonly [K in WarningCode]: K }"
)]
pub fn warning_codes() -> Result<JsValue, JsValue> {
    let codes: std::collections::BTreeMap<_, _> = crate::WarningCode::ALL
        .iter()
        .map(|code| (code.as_str(), code.as_str()))
        .collect();
    out(&codes)
}

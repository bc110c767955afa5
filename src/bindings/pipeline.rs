//! Exports of the pure pipeline: plan, sample, partition, prompt, merge, verify.

use wasm_bindgen::prelude::*;

use super::convert::{from_js, from_js_opt, map_err, to_js};
use super::ts::*;
use crate::api;
use crate::drill::{Drill, batch_output_schema};
use crate::input::Argument;
use crate::merge::Artifact;
use crate::prompt::{PromptContext, PromptTemplates};
use crate::types::{BatchSpec, DrillRequest, Plan, Position, SampleOptions};

/// Positions to load per phase, batch count and prompt tokens against the spec's fixed loading.
/// `pool` is only needed when `request.gamePhases` is absent: the phases present in it are used.
#[wasm_bindgen(js_name = planPositions)]
pub fn plan_positions(
    request: JsDrillRequest,
    pool: Option<JsPositions>,
) -> Result<JsPlan, JsValue> {
    let request: DrillRequest = from_js(Argument::Request, request.into())?;
    let pool: Option<Vec<Position>> = from_js_opt(Argument::Positions, pool.map(Into::into))?;
    to_js(&map_err(api::plan_positions(&request, pool.as_deref()))?)
}

/// Uniform random choice from the pool per the plan; OPENING = all 21 rolls sorted by dice.
/// Pass the returned `seed` back to reproduce the sample.
#[wasm_bindgen(js_name = samplePositions)]
pub fn sample_positions(
    pool: JsPositions,
    plan: JsPlan,
    options: Option<JsSampleOptions>,
) -> Result<JsSample, JsValue> {
    let pool: Vec<Position> = from_js(Argument::Positions, pool.into())?;
    let plan: Plan = from_js(Argument::Plan, plan.into())?;
    let options: SampleOptions =
        from_js_opt(Argument::SampleOptions, options.map(Into::into))?.unwrap_or_default();
    to_js(&map_err(api::sample_positions(&pool, &plan, &options))?)
}

/// `ceil(target / batchSize)` batches of contiguous drill indices with positions spread over them.
#[wasm_bindgen(js_name = partitionBatches)]
pub fn partition_batches(
    request: JsDrillRequest,
    positions: JsPositions,
) -> Result<JsBatchSpecs, JsValue> {
    let request: DrillRequest = from_js(Argument::Request, request.into())?;
    let positions: Vec<Position> = from_js(Argument::Positions, positions.into())?;
    to_js(&map_err(api::partition_batches(&request, &positions))?)
}

/// `{ system, user }` for one batch: `system` is identical for every batch of a run.
#[wasm_bindgen(js_name = buildBatchPrompt)]
pub fn build_batch_prompt(
    batch: JsBatchSpec,
    context: JsPromptContext,
    prompts: Option<JsPromptTemplates>,
) -> Result<JsBatchPrompt, JsValue> {
    let batch: BatchSpec = from_js(Argument::Batch, batch.into())?;
    let context: PromptContext = from_js(Argument::Context, context.into())?;
    let prompts: PromptTemplates =
        from_js_opt(Argument::Prompts, prompts.map(Into::into))?.unwrap_or_default();
    to_js(&map_err(api::batch_prompt(&batch, &context, &prompts))?)
}

/// One position as the prompt shows it to the model (for token budgeting and previews).
#[wasm_bindgen(js_name = formatPosition)]
pub fn format_position(position: JsPosition) -> Result<String, JsValue> {
    let position: Position = from_js(Argument::Position, position.into())?;
    Ok(crate::prompt::format_position(&position))
}

/// JSON Schema of one batch's LLM output (positions and indices as enums, fixed counts).
#[wasm_bindgen(js_name = batchOutputSchema)]
pub fn batch_output_schema_js(batch: JsBatchSpec) -> Result<JsJsonSchema, JsValue> {
    let batch: BatchSpec = from_js(Argument::Batch, batch.into())?;
    let ids: Vec<&str> = batch
        .positions
        .iter()
        .map(|p| p.position_id.as_str())
        .collect();
    to_js(&batch_output_schema(&ids, &batch.drill_indices))
}

/// Rebuilds the artifact from stored drills: COMPLETED only, sorted by index, duplicates resolved.
#[wasm_bindgen(js_name = mergeDrills)]
pub fn merge_drills(request: JsDrillRequest, drills: JsDrills) -> Result<JsArtifact, JsValue> {
    let request: DrillRequest = from_js(Argument::Request, request.into())?;
    let drills: Vec<Drill> = from_js(Argument::Drills, drills.into())?;
    to_js(&map_err(api::merge_drills(&request, drills))?)
}

/// Structural checks of a rebuilt artifact; returns a report, never throws on a bad artifact.
#[wasm_bindgen(js_name = verifyArtifact)]
pub fn verify_artifact(
    artifact: JsArtifact,
    positions: JsPositions,
) -> Result<JsVerificationReport, JsValue> {
    let artifact: Artifact = from_js(Argument::Artifact, artifact.into())?;
    let positions: Vec<Position> = from_js(Argument::Positions, positions.into())?;
    to_js(&api::verify_artifact(&artifact, &positions))
}

/// The crate version, for hosts that log what generated a series.
#[wasm_bindgen]
pub fn version() -> String {
    env!("CARGO_PKG_VERSION").to_owned()
}

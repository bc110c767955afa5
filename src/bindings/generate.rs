//! Exports of Phase 2: the whole run and a single batch.

use wasm_bindgen::prelude::*;

use super::convert::{from_js, js_error, map_err, to_js};
use super::host::{JsHost, data_part};
use super::runtime::{FetchTransport, JsClock};
use super::ts::*;
use crate::input::Argument;
use crate::orchestrator::{
    BatchOptions, GenerateOptions, generate_batch as run_one, generate_series,
};
use crate::types::BatchSpec;

/// Runs a whole drill series: plan, sample, partition, concurrent batch calls with retries,
/// `persist` per batch, progress events, then the series rebuilt from storage and verified.
/// Rejects (with a `DrillgenError`) only for bad options or a failing `load()` at start; batch
/// failures are in the result.
#[wasm_bindgen(js_name = generateDrillSeries)]
pub async fn generate_drill_series(
    options: JsGenerateSeriesOptions,
) -> Result<JsGenerationResult, JsValue> {
    let options: JsValue = options.into();
    let host = JsHost::from_options(&options, true).map_err(|e| js_error(&e))?;
    let data: GenerateOptions = from_js(Argument::Options, data_part(&options))?;
    let transport = FetchTransport {
        signal: host.signal.clone(),
    };
    let clock = JsClock {
        signal: host.signal.clone(),
    };
    let result = map_err(generate_series(data, &transport, &clock, &host).await)?;
    to_js(&result)
}

/// One batch with retries and `persist`, for hosts that fan batches out to separate invocations.
#[wasm_bindgen(js_name = generateBatch)]
pub async fn generate_batch(
    batch: JsBatchSpec,
    options: JsGenerateBatchOptions,
) -> Result<JsBatchOutcome, JsValue> {
    let batch: BatchSpec = from_js(Argument::Batch, batch.into())?;
    let options: JsValue = options.into();
    let host = JsHost::from_options(&options, false).map_err(|e| js_error(&e))?;
    let data: BatchOptions = from_js(Argument::Options, data_part(&options))?;
    let transport = FetchTransport {
        signal: host.signal.clone(),
    };
    let clock = JsClock {
        signal: host.signal.clone(),
    };
    let outcome = map_err(run_one(batch, data, &transport, &clock, &host).await)?;
    to_js(&outcome)
}

//! Exports of Phase 2: the whole run and a single batch. Each reads its options defensively
//! (callbacks first, then the data part as JSON), calls the core, and converts the result out with
//! the run's credentials redacted. Every failure is a coded `DrillgenError` or a coded outcome.

use wasm_bindgen::prelude::*;

use super::convert::{from_js, js_error, redactor_from, snapshot, to_js};
use super::fetch::FetchTransport;
use super::host::{Callbacks, HOST_KEYS, JsHost};
use super::runtime::{Cancel, JsClock};
use crate::error::DrillgenError;
use crate::input::{Argument, parse};
use crate::llm::Runtime;
use crate::orchestrator::{
    BatchOptions, GenerateOptions, HostLimits, batch_worst_case, prepare_batch_run, prepare_series,
    run_one_batch, run_series,
};
use crate::text::Redactor;
use crate::types::BatchSpec;

/// A web page (where a key in the options is visible to its user) or anything else.
fn runtime() -> Runtime {
    let global = js_sys::global();
    let has = |name: &str| {
        js_sys::Reflect::get(&global, &JsValue::from_str(name)).is_ok_and(|v| v.is_object())
    };
    if has("window") && has("document") {
        Runtime::Browser
    } else {
        Runtime::Server
    }
}

/// The data part of the options, typed, and the redactor of the credentials in it.
fn data<T: serde::de::DeserializeOwned>(options: &JsValue) -> Result<(T, Redactor), JsValue> {
    let json = snapshot(Argument::Options, options, &HOST_KEYS)
        .map_err(|e| js_error(&e, &Redactor::default()))?;
    let redactor = redactor_from(&json);
    let typed = parse(Argument::Options, json).map_err(|e| js_error(&e, &redactor))?;
    Ok((typed, redactor))
}

/// The host side of one call: callbacks, cancellation (signal + deadline), timeouts, from the
/// limits the core checked with the options.
fn host(
    callbacks: Callbacks,
    limits: HostLimits,
    redactor: &Redactor,
) -> Result<(Cancel, JsHost), DrillgenError> {
    let cancel = Cancel::new(callbacks.signal.as_ref(), limits.deadline_ms)?;
    let host = JsHost::new(
        callbacks,
        cancel.handle(),
        limits.host_timeout_ms,
        redactor.clone(),
    );
    Ok((cancel, host))
}

/// Runs a whole drill series: plan, sample, partition, concurrent batch calls with retries,
/// `persist` per batch, progress events, then the series rebuilt from storage and verified.
/// Rejects (with a `DrillgenError`) only for bad options or a failing `load()` at start; batch
/// failures, timeouts, aborts and the deadline are in the result.
#[wasm_bindgen(js_name = generateDrillSeries, unchecked_return_type = "GenerationResult")]
pub async fn generate_drill_series(
    #[wasm_bindgen(unchecked_param_type = "GenerateSeriesOptions")] options: JsValue,
) -> Result<JsValue, JsValue> {
    let callbacks =
        Callbacks::read(&options, true).map_err(|e| js_error(&e, &Redactor::default()))?;
    let (data, redactor): (GenerateOptions, Redactor) = data(&options)?;
    let coded = |e: DrillgenError| js_error(&e, &redactor);
    let series = prepare_series(data, runtime()).map_err(coded)?;
    let (cancel, host) = host(callbacks, series.limits(), &redactor).map_err(coded)?;
    let transport = FetchTransport {
        cancel: cancel.handle(),
    };
    let clock = JsClock {
        cancel: cancel.handle(),
    };
    let result = run_series(series, &transport, &clock, &host).await;
    drop(cancel);
    match result {
        Ok(result) => to_js(&result, &redactor),
        Err(e) => Err(coded(e)),
    }
}

/// One batch with retries and `persist`, for hosts that fan batches out to separate invocations
/// (a Workflow step, a queue consumer). Checks the batch as strictly as a run checks its own.
#[wasm_bindgen(js_name = generateBatch, unchecked_return_type = "BatchOutcome")]
pub async fn generate_batch(
    #[wasm_bindgen(unchecked_param_type = "BatchSpec")] batch: JsValue,
    #[wasm_bindgen(unchecked_param_type = "GenerateBatchOptions")] options: JsValue,
) -> Result<JsValue, JsValue> {
    let callbacks =
        Callbacks::read(&options, false).map_err(|e| js_error(&e, &Redactor::default()))?;
    let (data, redactor): (BatchOptions, Redactor) = data(&options)?;
    let coded = |e: DrillgenError| js_error(&e, &redactor);
    let batch: BatchSpec = from_js(Argument::Batch, &batch).map_err(coded)?;
    let prepared = prepare_batch_run(batch, data, runtime()).map_err(coded)?;
    let (cancel, host) = host(callbacks, prepared.limits(), &redactor).map_err(coded)?;
    let transport = FetchTransport {
        cancel: cancel.handle(),
    };
    let clock = JsClock {
        cancel: cancel.handle(),
    };
    let outcome = run_one_batch(prepared, &transport, &clock, &host).await;
    drop(cancel);
    match outcome {
        Ok(outcome) => to_js(&outcome, &redactor),
        Err(e) => Err(coded(e)),
    }
}

/// The most one `generateBatch` with these options can cost: LLM calls (retries and format
/// negotiation's refusals included) and milliseconds (every wait at its cap, `persist`'s retries
/// included), for a host that budgets a step before it starts. Callbacks in `options` are ignored.
#[wasm_bindgen(js_name = batchWorstCase, unchecked_return_type = "WorstCase")]
pub fn batch_worst_case_js(
    #[wasm_bindgen(unchecked_param_type = "GenerateBatchOptions")] options: JsValue,
) -> Result<JsValue, JsValue> {
    let (data, redactor): (BatchOptions, Redactor) = data(&options)?;
    let worst = batch_worst_case(&data, runtime()).map_err(|e| js_error(&e, &redactor))?;
    to_js(&worst, &redactor)
}

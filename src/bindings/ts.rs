//! TypeScript for what the data types alone cannot say: the callbacks and signal that complete the
//! options. They are Rust structs deriving only `Tsify`, next to the data options they extend, so
//! the `.d.ts` is generated from here like every other type, error codes included
//! (`DrillgenErrorCode` comes from `crate::error::ErrorCode`). The one hand-written piece is the
//! shape of a thrown error, which extends the built-in `Error`.
#![allow(dead_code)] // the structs exist for their TypeScript declarations

use wasm_bindgen::prelude::*;

use crate::orchestrator::{BatchOptions, GenerateOptions};

#[wasm_bindgen(typescript_custom_section)]
const TS_EXTRA: &'static str = r#"
/** Any JSON value (what `JSON.parse` returns). */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

/** Every error drillgen throws is an `Error` of this shape. */
export interface DrillgenError extends Error {
  name: "DrillgenError";
  code: DrillgenErrorCode;
  /** Whether the same call may succeed if tried again. */
  retryable: boolean;
}
"#;

/// Options of `generateDrillSeries`: the data (`GenerateOptions`) plus the host's callbacks.
#[derive(tsify::Tsify)]
#[serde(rename_all = "camelCase")]
pub struct GenerateSeriesOptions {
    #[serde(flatten)]
    pub options: GenerateOptions,
    /// Stores one batch's drills. Keep it idempotent by `drillId`: a call that timed out may still
    /// have written. What it returns is awaited as `Promise.resolve` would (lazy thenables such as
    /// Prisma's are started), at most `hostTimeoutMs`; a rejection or timeout is retried 3 times,
    /// then the drills come back in `unpersistedDrills`.
    #[tsify(type = "(drills: Drill[], batch: BatchInfo) => PromiseLike<unknown> | void")]
    pub persist: (),
    /// Reads this artifact's stored drills: at start (resume) and to rebuild the result, where this
    /// run's own writes are added even if `load` does not see them yet.
    #[tsify(optional, type = "() => PromiseLike<Drill[]> | Drill[]")]
    pub load: (),
    /// Called for every event; never waited for between events, and never breaks the run, even if
    /// it throws. A promise it returns is settled (or timed out) before the run resolves.
    #[tsify(
        optional,
        type = "(event: DrillProgressEvent) => PromiseLike<unknown> | void"
    )]
    pub on_progress: (),
    /// Extra verification of the rebuilt artifact; its value lands in `hostVerification`.
    #[tsify(
        optional,
        type = "(artifact: Artifact) => PromiseLike<JsonValue | void> | JsonValue | void"
    )]
    pub verify: (),
    /// Aborts the run: it settles promptly as `CANCELLED`, with what was generated handed back.
    #[tsify(optional, type = "AbortSignal")]
    pub signal: (),
    /// Paces every LLM call by one provider key's limits, shared with every run given the same
    /// governor (`createRateGovernor`). Default none: calls go out as `concurrency` allows.
    #[tsify(optional, type = "RateGovernor")]
    pub rate_governor: (),
}

/// Options of `generateBatch`: one batch of a run fanned out by the host.
#[derive(tsify::Tsify)]
#[serde(rename_all = "camelCase")]
pub struct GenerateBatchOptions {
    #[serde(flatten)]
    pub options: BatchOptions,
    /// As in `generateDrillSeries`; without it the drills are only returned.
    #[tsify(
        optional,
        type = "(drills: Drill[], batch: BatchInfo) => PromiseLike<unknown> | void"
    )]
    pub persist: (),
    #[tsify(
        optional,
        type = "(event: DrillProgressEvent) => PromiseLike<unknown> | void"
    )]
    pub on_progress: (),
    #[tsify(optional, type = "AbortSignal")]
    pub signal: (),
    /// As in `generateDrillSeries`.
    #[tsify(optional, type = "RateGovernor")]
    pub rate_governor: (),
}

//! TypeScript names for the exported functions' parameters and results. The interfaces they refer
//! to are generated from the Rust types by `Tsify`; what Rust cannot express is declared here.

use wasm_bindgen::prelude::*;

#[wasm_bindgen(typescript_custom_section)]
const TS_EXTRA: &'static str = r#"
/** Any JSON value (what `JSON.parse` returns). */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

/** Stable codes of the errors drillgen throws; switch on these, not on messages. */
export type DrillgenErrorCode =
  | "INVALID_TARGET_COUNT"
  | "INVALID_BATCH_SIZE"
  | "INVALID_MAX_POSITIONS"
  | "INVALID_PHASES"
  | "INVALID_SEED"
  | "INVALID_REQUEST"
  | "INVALID_POSITIONS"
  | "DUPLICATE_POSITION_ID"
  | "EMPTY_POOL"
  | "INSUFFICIENT_POSITIONS"
  | "INVALID_CONTEXT"
  | "INVALID_TEMPLATE"
  | "INVALID_DRILLS"
  | "INVALID_ARTIFACT"
  | "INVALID_OPTIONS"
  | "RANDOM_UNAVAILABLE"
  | "NETWORK_ERROR"
  | "TIMEOUT"
  | "HTTP_ERROR"
  | "INSUFFICIENT_QUOTA"
  | "RATE_LIMITED"
  | "RESPONSE_TOO_LARGE"
  | "INVALID_OUTPUT"
  | "ABORTED"
  | "PERSIST_FAILED"
  | "LOAD_FAILED"
  | "SUBREQUEST_BUDGET";

/** Callbacks and cancellation of `generateDrillSeries` (the data part is `GenerateOptions`). */
export interface GenerateSeriesOptions extends GenerateOptions {
  /** Stores one batch's drills (keyed by `drillId`); a rejection is retried 3 times. */
  persist: (drills: Drill[], batch: BatchInfo) => Promise<void> | void;
  /** Reads this artifact's stored drills: used at start (resume) and to rebuild the result. */
  load?: () => Promise<Drill[]> | Drill[];
  /** Never breaks the run, even if it throws. */
  onProgress?: (event: DrillProgressEvent) => void;
  /** Extra verification of the rebuilt artifact; its value lands in `hostVerification`. */
  verify?: (artifact: Artifact) => Promise<JsonValue | void> | JsonValue | void;
  signal?: AbortSignal;
}

/** Options of `generateBatch`: one batch of a run fanned out by the host. */
export interface GenerateBatchOptions extends BatchOptions {
  persist?: (drills: Drill[], batch: BatchInfo) => Promise<void> | void;
  onProgress?: (event: DrillProgressEvent) => void;
  signal?: AbortSignal;
}

/** Every error drillgen throws is an `Error` of this shape. */
export interface DrillgenError extends Error {
  name: "DrillgenError";
  code: DrillgenErrorCode;
  /** Whether the same call may succeed if tried again. */
  retryable: boolean;
}
"#;

/// Declares JS types that only carry a TypeScript name, so signatures in the `.d.ts` are exact.
macro_rules! ts_types {
    ($($rust:ident => $ts:literal),* $(,)?) => {
        #[wasm_bindgen]
        extern "C" {
            $(
                #[wasm_bindgen(typescript_type = $ts)]
                pub type $rust;
            )*
        }
    };
}

ts_types! {
    JsDrillRequest => "DrillRequest",
    JsPosition => "Position",
    JsPositions => "Position[]",
    JsPlan => "Plan",
    JsSampleOptions => "SampleOptions",
    JsSample => "Sample",
    JsBatchSpecs => "BatchSpec[]",
    JsBatchSpec => "BatchSpec",
    JsPromptContext => "PromptContext",
    JsPromptTemplates => "PromptTemplates",
    JsBatchPrompt => "BatchPrompt",
    JsDrills => "Drill[]",
    JsArtifact => "Artifact",
    JsVerificationReport => "VerificationReport",
    JsJsonSchema => "{ [key: string]: JsonValue }",
    JsGenerateSeriesOptions => "GenerateSeriesOptions",
    JsGenerationResult => "GenerationResult",
    JsGenerateBatchOptions => "GenerateBatchOptions",
    JsBatchOutcome => "BatchOutcome",
}

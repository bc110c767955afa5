//! What a run tells the host while it goes (progress events) and when it ends (the result).

use std::collections::BTreeMap;

use serde::Serialize;

use super::prepare::CacheReport;
use crate::drill::Drill;
use crate::error::{DrillgenError, DrillgenErrorCode};
use crate::llm::Usage;
use crate::llm::negotiate::Negotiated;
use crate::text::Redactor;
use crate::types::Warning;
use crate::verify::VerificationReport;

/// What the spec stores on the artifact as `batchProgress`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "camelCase")]
pub struct BatchProgress {
    pub completed: u32,
    pub total: u32,
    pub failed: Vec<u32>,
}

/// An error as the host sees it: stable code, a message with every credential removed and at most
/// 2 KB long.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "camelCase")]
pub struct ErrorInfo {
    pub code: DrillgenErrorCode,
    pub message: String,
    pub retryable: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// For `RATE_LIMITED`: when the provider will take calls again (ms since the Unix epoch).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_at: Option<f64>,
}

impl ErrorInfo {
    pub fn new(error: &DrillgenError, redactor: &Redactor) -> Self {
        let message = redactor.message(&error.to_string());
        let retry_at = match error {
            DrillgenError::RateLimited { retry_at_ms, .. } => Some(*retry_at_ms),
            _ => None,
        };
        Self {
            code: error.code(),
            message,
            retryable: error.is_retryable(),
            status: error.status(),
            retry_at,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "camelCase")]
pub enum ProgressKind {
    BatchStarted,
    BatchRetrying,
    BatchCompleted,
    BatchFailed,
    RunFinished,
}

/// Not `ProgressEvent`: that name is the DOM's, and TypeScript consumers see both.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "camelCase")]
pub struct DrillProgressEvent {
    #[serde(rename = "type")]
    pub kind: ProgressKind,
    pub completed_drills: u32,
    pub total_drills: u32,
    /// 0-based; absent on `runFinished`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch_index: Option<u32>,
    pub total_batches: u32,
    /// 1-based attempt of the batch (on `batchRetrying`: the attempt that failed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attempt: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_attempts: Option<u32>,
    /// On `batchRetrying`: how long until the next attempt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay_ms: Option<u64>,
    /// On `batchRetrying` and `batchFailed`: why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorInfo>,
    pub batch_progress: BatchProgress,
    /// Ready for the UI, e.g. "Generated 15/25 drills (Batch 3/5)".
    pub message: String,
}

/// What `persist` is told about the drills it receives.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "camelCase")]
pub struct BatchInfo {
    pub artifact_id: String,
    pub batch_index: u32,
    pub total_batches: u32,
    pub drill_indices: Vec<u32>,
    /// Progress as it will be once these drills are stored (what the artifact row should hold).
    pub batch_progress: BatchProgress,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum BatchOutcomeStatus {
    Completed,
    Failed,
    Cancelled,
    /// Resume: every drill of the batch was already stored.
    Skipped,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "camelCase")]
pub struct BatchOutcome {
    pub batch_index: u32,
    pub status: BatchOutcomeStatus,
    pub drill_indices: Vec<u32>,
    /// Attempts made (0 when skipped). Calls a server refused for their format are not counted:
    /// they are format negotiation, reported in `negotiated`.
    pub attempts: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorInfo>,
    pub usage: Usage,
    /// Drills this batch generated: stored (`stored`), or handed back here and in
    /// `unpersistedDrills` when `persist` failed or the run stopped first. A FAILED batch may have
    /// some: the drills it read before giving up on the rest.
    pub drills: Vec<Drill>,
    /// Whether `persist` accepted `drills`; `false` without a `persist` (the drills are only here).
    pub stored: bool,
    /// Repairs applied to the model's output, by code (JSON_EXTRACTED, TEXT_CLEANED, …).
    #[cfg_attr(
        target_arch = "wasm32",
        tsify(type = "Partial<Record<RepairCode, number>>")
    )]
    pub repairs: BTreeMap<crate::RepairCode, u32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RunStatus {
    /// Every batch, or some (see `warnings` and `batchProgress.failed`), produced its drills.
    Completed,
    /// No drill exists.
    Failed,
    /// Aborted through `signal`; nothing was persisted after the abort.
    Cancelled,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "camelCase")]
pub struct GenerationResult {
    pub artifact_id: String,
    pub status: RunStatus,
    /// Pass it back as `seed` (with `existingDrills` or `load`) to resume on the same positions.
    pub seed: u64,
    /// The draws `seed` was used with (`Sample.seedFormat`): a resume gives the same positions
    /// only under the same format.
    pub seed_format: u32,
    /// The series rebuilt from storage: COMPLETED drills, one per index, sorted.
    pub drills: Vec<Drill>,
    /// Generated but not stored because `persist` kept failing: store them yourself.
    pub unpersisted_drills: Vec<Drill>,
    pub missing_indices: Vec<u32>,
    pub batch_progress: BatchProgress,
    pub batches: Vec<BatchOutcome>,
    pub usage: Usage,
    pub warnings: Vec<Warning>,
    pub verification: VerificationReport,
    /// What the host's `verify` returned, if given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(target_arch = "wasm32", tsify(type = "JsonValue"))]
    pub host_verification: Option<serde_json::Value>,
    /// LLM calls made, format negotiation included.
    pub calls: u32,
    /// What an OpenAI-compatible server was found to accept.
    pub negotiated: Negotiated,
    pub cache: CacheReport,
}

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
    /// A drill of a streamed answer closed and passed its checks: show it now (`drill`,
    /// `drillIndex`). Stored later with its batch; `current` still counts stored drills only.
    DrillReady,
    /// A drill shown by `drillReady` is not part of its batch after all (the whole answer's
    /// reading rejected or replaced it): take it off the page. Another `drillReady` may follow.
    DrillWithdrawn,
    BatchRetrying,
    BatchCompleted,
    BatchFailed,
    RunFinished,
}

/// The spec's `BatchSubTaskProgress.phase`: the only phase a drill run reports.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ProgressPhase {
    #[default]
    GeneratingContent,
}

/// Not `ProgressEvent`: that name is the DOM's, and TypeScript consumers see both.
///
/// The spec's `BatchSubTaskProgress` fields (`phase`, `current`, `total`, `currentBatch`,
/// `totalBatches`) come first; the rest is ours. `currentBatch` counts *finished* batches
/// (completed or failed), not the number of the batch that just finished: with concurrent batches
/// they differ, and a progress bar means the former.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "camelCase")]
pub struct DrillProgressEvent {
    #[serde(rename = "type")]
    pub kind: ProgressKind,
    pub phase: ProgressPhase,
    /// Drills generated and stored so far (the same as `completedDrills`).
    pub current: u32,
    /// Drills requested (the same as `totalDrills`).
    pub total: u32,
    /// Batches finished, completed or failed (`batchProgress.completed + batchProgress.failed.length`).
    pub current_batch: u32,
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
    /// On `drillReady` and `drillWithdrawn`: the drill's index in the series.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drill_index: Option<u32>,
    /// On `drillReady`: the drill, checked, with the engine's answer key, as `persist` will get it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drill: Option<Box<Drill>>,
    pub batch_progress: BatchProgress,
    /// Ready for the UI, e.g. "Generated 15/25 drills (Batch 3/5)": built from `current`, `total`,
    /// `currentBatch` and `totalBatches` only.
    pub message: String,
}

impl BatchProgress {
    /// Batches finished: completed or failed.
    pub fn finished(&self) -> u32 {
        self.completed + self.failed.len() as u32
    }
}

/// The spec's progress line, from the event's own fields.
pub fn progress_message(
    current: u32,
    total: u32,
    current_batch: u32,
    total_batches: u32,
) -> String {
    format!("Generated {current}/{total} drills (Batch {current_batch}/{total_batches})")
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
    /// Whether these drills are all of `drillIndices`. `false`: the batch gave up after reading
    /// only some of them; store them, but mark the batch partial (`missingIndices` are not coming).
    pub complete: bool,
    /// The indices of `drillIndices` not among these drills (empty when `complete`).
    pub missing_indices: Vec<u32>,
    /// LLM calls this batch has made so far, format negotiation included (each call once).
    pub calls: u32,
    /// Progress as it will be once these drills are stored (what the artifact row should hold): a
    /// partial batch is in `failed`, never in `completed`.
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
    /// LLM calls this batch made, each once: attempts and the calls refused for their format.
    pub calls: u32,
    /// Indices asked for that have no drill (a FAILED batch may have kept some).
    pub missing_indices: Vec<u32>,
    /// Replacement drills on spare positions for the indices a failed batch of the same
    /// `batchIndex` missed (see `toppedUp`).
    pub top_up: bool,
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

/// A drill made on a spare position because its batch failed for good.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "camelCase")]
pub struct ToppedUp {
    pub index: u32,
    /// The spare position the drill was made on (same phase).
    pub position_id: String,
    /// The position the plan had given this index.
    pub replaced_position_id: String,
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
    /// Indices whose batch failed for good and that were generated again on spare positions.
    pub topped_up: Vec<ToppedUp>,
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

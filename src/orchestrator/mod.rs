//! Runs a drill series: batches concurrently (bounded), each one generate → validate → persist →
//! progress, with retries, timeouts and abort; then rebuilds the series from what the host stored.
//! Generic over the outside world (`Transport`, `Clock`, `Host`) so native tests drive it with
//! fakes and the wasm bindings with `fetch`, `setTimeout` and JS callbacks.

mod batch;
pub mod events;
mod options;
#[cfg(test)]
mod tests;

use std::cell::RefCell;
use std::collections::HashSet;
use std::future::Future;

use futures_util::StreamExt;
use futures_util::stream;
use rand::SeedableRng;
use rand::rngs::StdRng;

use batch::{BatchJob, run_batch};
pub use events::*;
pub use options::{BatchOptions, BudgetPolicy, GenerateOptions, Mode, RunConfig, fit_budget};

use crate::drill::Drill;
use crate::error::DrillgenError;
use crate::llm::{HttpRequest, HttpResponse, Usage};
use crate::merge::{Artifact, merge};
use crate::types::{BatchSpec, Position, Warning};
use crate::verify::verify;

/// Sends one HTTP request. Implementations enforce `timeout_ms` (→ `TIMEOUT`), cap the body at
/// `max_bytes` (→ `RESPONSE_TOO_LARGE`), map connection failures to `NETWORK_ERROR`, and give
/// `ABORTED` as soon as the run is aborted.
pub trait Transport {
    fn send(
        &self,
        request: HttpRequest,
        timeout_ms: u64,
        max_bytes: u64,
    ) -> impl Future<Output = Result<HttpResponse, DrillgenError>>;
}

/// Time, without `std::time::Instant` (it panics on wasm32-unknown-unknown).
pub trait Clock {
    /// Milliseconds since the Unix epoch (for Retry-After dates and `retryAt`).
    fn now_ms(&self) -> f64;
    /// Waits `ms`, or ends early with `ABORTED` when the run is aborted.
    fn sleep(&self, ms: u64) -> impl Future<Output = Result<(), DrillgenError>>;
}

/// The host's side: storage, progress display, verification, cancellation.
pub trait Host {
    fn persist(
        &self,
        drills: &[Drill],
        batch: &BatchInfo,
    ) -> impl Future<Output = Result<(), String>>;
    /// The stored drills of this artifact; `None` when the host keeps no readable store.
    fn load(&self) -> impl Future<Output = Option<Result<Vec<Drill>, String>>>;
    /// Must not fail the run: implementations swallow the host's exceptions.
    fn progress(&self, event: &DrillProgressEvent);
    fn verify(
        &self,
        artifact: &Artifact,
    ) -> impl Future<Output = Option<Result<serde_json::Value, String>>>;
    fn is_aborted(&self) -> bool;
}

/// Counters shared by the concurrent batches of one run. Borrowed only between awaits.
pub(crate) struct RunState {
    pub completed_drills: u32,
    pub total_drills: u32,
    pub progress: BatchProgress,
    pub usage: Usage,
    pub rng: StdRng,
}

pub async fn generate_series<T: Transport, C: Clock, H: Host>(
    options: GenerateOptions,
    transport: &T,
    clock: &C,
    host: &H,
) -> Result<GenerationResult, DrillgenError> {
    let run = options.prepare()?;
    let existing = if options.existing_drills.is_empty() {
        match host.load().await {
            Some(Ok(stored)) => stored,
            Some(Err(e)) => return Err(DrillgenError::LoadFailed(e)),
            None => vec![],
        }
    } else {
        options.existing_drills.clone()
    };
    let done: HashSet<u32> = merge(&run.request, existing.clone())
        .drills
        .iter()
        .map(|d| d.draft.index)
        .collect();

    let total_batches = run.batches.len() as u32;
    let skipped: Vec<u32> = run
        .batches
        .iter()
        .filter(|b| b.drill_indices.iter().all(|i| done.contains(i)))
        .map(|b| b.batch_index)
        .collect();
    let state = RefCell::new(RunState {
        completed_drills: done.len() as u32,
        total_drills: run.request.target_drill_count,
        progress: BatchProgress {
            completed: skipped.len() as u32,
            total: total_batches,
            failed: vec![],
        },
        usage: Usage::default(),
        rng: StdRng::seed_from_u64(run.seed ^ 0x9E37_79B9_7F4A_7C15),
    });

    let jobs: Vec<BatchJob> = run
        .batches
        .iter()
        .map(|b| BatchJob {
            todo: b
                .drill_indices
                .iter()
                .copied()
                .filter(|i| !done.contains(i))
                .collect(),
            spec: b.clone(),
        })
        .collect();
    // The budget counts only batches that still have work (a resume needs fewer calls).
    let busy = jobs.iter().filter(|j| !j.todo.is_empty()).count() as u32;
    let (retries, reduced) = fit_budget(
        options.subrequest_budget,
        options.budget_policy,
        busy,
        run.config.retry.max_retries,
    )?;
    let mut run = run;
    run.config.retry.max_retries = retries;
    run.warnings.extend(reduced);
    let config = &run.config;
    let mut outcomes: Vec<BatchOutcome> = stream::iter(jobs)
        .map(|job| run_batch(job, config, transport, clock, host, &state))
        .buffer_unordered(config.concurrency as usize)
        .collect()
        .await;
    outcomes.sort_by_key(|o| o.batch_index);

    let aborted = host.is_aborted()
        || outcomes
            .iter()
            .any(|o| o.status == BatchOutcomeStatus::Cancelled);
    let mut warnings = run.warnings.clone();
    let mut persisted = existing;
    let mut unpersisted = Vec::new();
    for o in &outcomes {
        match (o.status, o.error.as_ref().map(|e| e.code.as_str())) {
            (BatchOutcomeStatus::Completed, _) => persisted.extend(o.drills.iter().cloned()),
            (_, Some("PERSIST_FAILED")) | (BatchOutcomeStatus::Cancelled, _) => {
                unpersisted.extend(o.drills.iter().cloned())
            }
            _ => {}
        }
    }
    let stored = match host.load().await {
        Some(Ok(stored)) => stored,
        Some(Err(e)) => {
            warnings.push(Warning::new(
                "LOAD_FAILED",
                format!("load() failed, using what persist accepted: {e}"),
            ));
            persisted
        }
        None => persisted,
    };
    let artifact = merge(&run.request, stored);
    warnings.extend(artifact.warnings.iter().cloned());

    let failed: Vec<&BatchOutcome> = outcomes
        .iter()
        .filter(|o| o.status == BatchOutcomeStatus::Failed)
        .collect();
    if !failed.is_empty() {
        let names: Vec<String> = failed
            .iter()
            .map(|o| {
                format!(
                    "{} ({})",
                    o.batch_index + 1,
                    o.error.as_ref().map_or("?", |e| e.code.as_str())
                )
            })
            .collect();
        warnings.push(Warning::new(
            "BATCHES_FAILED",
            format!(
                "{} of {total_batches} batches failed: {}",
                failed.len(),
                names.join(", ")
            ),
        ));
    }

    // Existing drills may sit on positions from an earlier sample; they stay verifiable.
    let mut allowed: Vec<Position> = run.sample.clone();
    let known: HashSet<&str> = allowed.iter().map(|p| p.position_id.as_str()).collect();
    let used: HashSet<&str> = artifact
        .drills
        .iter()
        .map(|d| d.draft.position_id.as_str())
        .collect();
    let extra: Vec<Position> = options
        .positions
        .iter()
        .filter(|p| {
            used.contains(p.position_id.as_str()) && !known.contains(p.position_id.as_str())
        })
        .cloned()
        .collect();
    allowed.extend(extra);
    let verification = verify(&artifact, &allowed);
    let host_verification = match host.verify(&artifact).await {
        Some(Ok(v)) => Some(v),
        Some(Err(e)) => {
            warnings.push(Warning::new(
                "HOST_VERIFY_FAILED",
                format!("verify() threw: {e}"),
            ));
            None
        }
        None => None,
    };

    let status = if aborted {
        RunStatus::Cancelled
    } else if artifact.drills.is_empty() {
        RunStatus::Failed
    } else {
        RunStatus::Completed
    };
    let st = state.borrow();
    let message = match status {
        RunStatus::Cancelled => format!(
            "Cancelled after {}/{} drills",
            artifact.drills.len(),
            st.total_drills
        ),
        _ if failed.is_empty() => format!(
            "Generated {}/{} drills",
            artifact.drills.len(),
            st.total_drills
        ),
        _ => {
            let list: Vec<String> = failed
                .iter()
                .map(|o| (o.batch_index + 1).to_string())
                .collect();
            format!(
                "Generated {}/{} drills; batch{} {} failed",
                artifact.drills.len(),
                st.total_drills,
                if list.len() > 1 { "es" } else { "" },
                list.join(", ")
            )
        }
    };
    let mut progress = st.progress.clone();
    progress.failed.sort_unstable();
    host.progress(&DrillProgressEvent {
        kind: ProgressKind::RunFinished,
        completed_drills: artifact.drills.len() as u32,
        total_drills: st.total_drills,
        batch_index: None,
        total_batches,
        attempt: None,
        max_attempts: None,
        delay_ms: None,
        error: None,
        batch_progress: progress.clone(),
        message,
    });
    Ok(GenerationResult {
        artifact_id: options.batch.artifact_id.clone(),
        status,
        seed: run.seed,
        drills: artifact.drills,
        unpersisted_drills: unpersisted,
        missing_indices: artifact.missing_indices,
        batch_progress: progress,
        batches: outcomes,
        usage: st.usage,
        warnings,
        verification,
        host_verification,
    })
}

/// One batch on its own, for hosts that fan batches out to separate invocations (queues,
/// workflows). Persists through `host` like a full run; merging is the host's last step.
pub async fn generate_batch<T: Transport, C: Clock, H: Host>(
    batch: BatchSpec,
    options: BatchOptions,
    transport: &T,
    clock: &C,
    host: &H,
) -> Result<BatchOutcome, DrillgenError> {
    let config = options.prepare(&batch)?;
    let state = RefCell::new(RunState {
        completed_drills: 0,
        total_drills: batch.drill_indices.len() as u32,
        progress: BatchProgress {
            completed: 0,
            total: batch.total_batches,
            failed: vec![],
        },
        usage: Usage::default(),
        rng: StdRng::seed_from_u64(
            options.seed.map_or(0, |s| s as u64) ^ u64::from(batch.batch_index),
        ),
    });
    let job = BatchJob {
        todo: batch.drill_indices.clone(),
        spec: batch,
    };
    Ok(run_batch(job, &config, transport, clock, host, &state).await)
}

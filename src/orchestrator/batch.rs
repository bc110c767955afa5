//! One batch: wait while another batch warms the prompt cache → attempts until every drill is read
//! or the retries run out (drills read on the way are kept) → persist → the outcome and its events.

use std::collections::BTreeMap;

use super::events::*;
use super::{Clock, Host, Run, Transport};
use crate::drill::{BatchStatus, Drill};
use crate::error::DrillgenError;
use crate::llm::{CallFailure, Usage};
use crate::retry::{Decision, decide};
use crate::text::{MAX_MESSAGE_BYTES, bound};
use crate::types::BatchSpec;

/// A batch of the partition and the indices of it still to generate (all of them, unless resuming).
#[derive(Debug, Clone)]
pub struct BatchJob {
    pub spec: BatchSpec,
    pub todo: Vec<u32>,
    /// Replacement drills on spare positions for a batch that failed (topup.rs): the batch is
    /// already counted in `batchProgress`, so this job does not count it again.
    pub top_up: bool,
    /// A top-up that covers every index its batch missed: stored whole, it completes the batch
    /// (out of `batchProgress.failed`, into `completed`).
    pub closes_batch: bool,
}

impl BatchJob {
    /// `progress` once this job's drills are all stored.
    fn stored_whole(&self, progress: &mut BatchProgress) {
        if !self.top_up {
            progress.completed += 1;
        } else if self.closes_batch {
            progress.failed.retain(|&b| b != self.spec.batch_index);
            progress.completed += 1;
        }
    }
}

/// Why a batch stopped before all its drills were read and stored.
#[derive(Debug, Clone)]
pub(crate) enum Stop {
    /// The run was aborted or passed its deadline: nothing more is sent or stored.
    Cancelled(DrillgenError),
    Failed(DrillgenError),
}

/// Format negotiation is bounded too: a server that refuses every shape fails like any other.
const MAX_NEGOTIATIONS: u32 = 6;

pub(super) struct Batch<'r, 'a, T, C, H> {
    pub job: &'r BatchJob,
    pub run: &'r Run<'a, T, C, H>,
    pub usage: Usage,
    pub attempts: u32,
    /// LLM calls sent for this batch, negotiation refusals included.
    pub calls: u32,
    /// Drills already asked again once: their words are read leniently from now on.
    pub reasked: std::collections::HashSet<u32>,
    pub repairs: BTreeMap<crate::RepairCode, u32>,
}

pub(crate) async fn run_batch<T: Transport, C: Clock, H: Host>(
    job: BatchJob,
    run: &Run<'_, T, C, H>,
) -> BatchOutcome {
    let mut b = Batch {
        job: &job,
        run,
        usage: Usage::default(),
        attempts: 0,
        calls: 0,
        reasked: std::collections::HashSet::new(),
        repairs: BTreeMap::new(),
    };
    if job.todo.is_empty() {
        return b.finish(BatchOutcomeStatus::Skipped, None, vec![], false);
    }
    let index = job.spec.batch_index;
    let _opens_gate = (run.warm_batch == Some(index) && !job.top_up).then(|| run.gate.guard());
    if run.warm_batch.is_some_and(|w| w != index) && !job.top_up {
        run.gate.wait().await;
    }
    if let Some(stop) = b.stopped() {
        return b.stop(stop, vec![]);
    }
    let (first, last) = (job.todo[0], job.todo[job.todo.len() - 1]);
    let verb = if job.top_up {
        "Topping up"
    } else {
        "Generating"
    };
    b.emit(
        ProgressKind::BatchStarted,
        None,
        None,
        format!("{verb} batch {} (drills {first}-{last})", b.label()),
    );
    let (drills, stop) = b.generate().await;
    b.conclude(drills, stop).await
}

impl<T: Transport, C: Clock, H: Host> Batch<'_, '_, T, C, H> {
    /// The stop that applies before any further call: the run's abort or deadline, or a fatal error
    /// another batch met (fail fast: the same key or quota would fail here too).
    pub(super) fn stopped(&self) -> Option<Stop> {
        if let Some(reason) = self.run.host.stop_reason() {
            return Some(Stop::Cancelled(reason));
        }
        self.run.state.borrow().fatal.clone().map(Stop::Failed)
    }

    /// Attempts until every drill of `todo` is read, or a stop.
    async fn generate(&mut self) -> (Vec<Drill>, Option<Stop>) {
        let mut todo = self.job.todo.clone();
        let mut accepted: Vec<Drill> = Vec::new();
        let mut feedback: Option<String> = None;
        let mut negotiations = 0;
        loop {
            if let Some(stop) = self.stopped() {
                return (accepted, Some(stop));
            }
            self.attempts += 1;
            let failure = match self.attempt(&todo, feedback.as_deref()).await {
                super::attempt::Attempt::Read(read) => {
                    accepted.extend(read.drills);
                    todo = read.rejected;
                    if todo.is_empty() {
                        crate::order::sort_by_key(&mut accepted, |d| d.index);
                        return (accepted, None);
                    }
                    feedback = Some(read.feedback.clone());
                    CallFailure::from(DrillgenError::InvalidOutput(read.feedback))
                }
                super::attempt::Attempt::Failed(failure, shape, kept) => {
                    // What closed before the answer broke off is read: ask only for the rest.
                    todo.retain(|i| !kept.iter().any(|d| d.index == *i));
                    accepted.extend(kept);
                    if todo.is_empty() {
                        crate::order::sort_by_key(&mut accepted, |d| d.index);
                        return (accepted, None);
                    }
                    if let Some(feature) = failure.refused
                        && negotiations < MAX_NEGOTIATIONS
                        && self
                            .run
                            .state
                            .borrow_mut()
                            .negotiation
                            .step_down(feature, &shape)
                    {
                        negotiations += 1;
                        self.attempts -= 1;
                        continue;
                    }
                    if let DrillgenError::InvalidOutput(message) = &failure.error {
                        feedback = Some(message.clone());
                    }
                    failure
                }
            };
            if let Some(stop) = self.after_failure(failure).await {
                crate::order::sort_by_key(&mut accepted, |d| d.index);
                return (accepted, Some(stop));
            }
        }
    }

    /// Retry or give up after a failed attempt; `None` means try again (after the wait).
    async fn after_failure(&mut self, failure: CallFailure) -> Option<Stop> {
        let error = failure.error;
        if matches!(
            error,
            DrillgenError::Aborted | DrillgenError::DeadlineExceeded { .. }
        ) {
            return Some(Stop::Cancelled(error));
        }
        if error.is_fatal_for_run() {
            self.run
                .state
                .borrow_mut()
                .fatal
                .get_or_insert_with(|| error.clone());
        }
        let jitter = self.run.state.borrow_mut().rng.unit();
        let retry = &self.run.config.retry;
        let now = self.run.clock.now_ms();
        match decide(
            retry,
            error.clone(),
            self.attempts,
            failure.retry_after_ms,
            jitter,
            now,
        ) {
            Decision::GiveUp(e) => Some(Stop::Failed(e)),
            Decision::RetryAfter { delay_ms } => {
                let info = self.error_info(&error);
                let message = format!(
                    "Batch {}: {} — retrying in {} (attempt {} of {})",
                    self.label(),
                    info.message,
                    seconds(delay_ms),
                    self.attempts + 1,
                    retry.max_retries + 1
                );
                self.emit(
                    ProgressKind::BatchRetrying,
                    Some(info),
                    Some(delay_ms),
                    message,
                );
                self.run
                    .clock
                    .sleep(delay_ms)
                    .await
                    .err()
                    .map(Stop::Cancelled)
            }
        }
    }

    /// Stores what was read (all of the batch, or the part read before it gave up).
    async fn conclude(&mut self, drills: Vec<Drill>, stop: Option<Stop>) -> BatchOutcome {
        let failed_error = match stop {
            Some(Stop::Cancelled(_)) | None => None,
            Some(Stop::Failed(ref e)) => Some(e.clone()),
        };
        if let Some(Stop::Cancelled(e)) = stop {
            return self.finish(BatchOutcomeStatus::Cancelled, Some(&e), drills, false);
        }
        if drills.is_empty() {
            return self.finish(
                BatchOutcomeStatus::Failed,
                failed_error.as_ref(),
                drills,
                false,
            );
        }
        match self.persist(&drills).await {
            Err(Stop::Cancelled(e)) => {
                self.finish(BatchOutcomeStatus::Cancelled, Some(&e), drills, false)
            }
            Err(Stop::Failed(e)) => {
                self.finish(BatchOutcomeStatus::Failed, Some(&e), drills, false)
            }
            Ok(()) => {
                self.count_stored(drills.len() as u32, failed_error.is_none());
                match failed_error {
                    None => self.finish(BatchOutcomeStatus::Completed, None, drills, true),
                    Some(e) => self.finish(BatchOutcomeStatus::Failed, Some(&e), drills, true),
                }
            }
        }
    }

    /// `persist`, retried with backoff; never after the run stopped.
    async fn persist(&mut self, drills: &[Drill]) -> Result<(), Stop> {
        let info = self.batch_info(drills);
        let mut tries = 0;
        loop {
            if let Some(reason) = self.run.host.stop_reason() {
                return Err(Stop::Cancelled(reason));
            }
            let error = match self.run.host.persist(drills, &info).await {
                Ok(()) => return Ok(()),
                Err(e) => DrillgenError::PersistFailed(self.run.config.redactor.message(&e)),
            };
            // A call cut short by the stop is the stop, not a storage failure.
            if let Some(reason) = self.run.host.stop_reason() {
                return Err(Stop::Cancelled(reason));
            }
            if tries >= self.run.config.persist_retries {
                return Err(Stop::Failed(error));
            }
            let jitter = self.run.state.borrow_mut().rng.unit();
            let delay = self.run.config.retry.backoff_ms(tries, jitter);
            tries += 1;
            let info_err = self.error_info(&error);
            let message = format!(
                "Batch {}: storing failed ({}) — retrying in {}",
                self.label(),
                info_err.message,
                seconds(delay)
            );
            self.emit(
                ProgressKind::BatchRetrying,
                Some(info_err),
                Some(delay),
                message,
            );
            self.run.clock.sleep(delay).await.map_err(Stop::Cancelled)?;
        }
    }

    /// What `persist` is told: whether `drills` are the whole batch, what is missing, the calls.
    fn batch_info(&self, drills: &[Drill]) -> BatchInfo {
        let missing_indices = self.missing(drills);
        let mut progress = self.run.progress();
        let index = self.job.spec.batch_index;
        if !missing_indices.is_empty() {
            if !progress.failed.contains(&index) {
                progress.failed.push(index);
                crate::order::sort(&mut progress.failed);
            }
        } else {
            self.job.stored_whole(&mut progress);
        }
        BatchInfo {
            artifact_id: self.run.config.artifact_id.clone(),
            batch_index: self.job.spec.batch_index,
            total_batches: self.job.spec.total_batches,
            drill_indices: self.job.todo.clone(),
            complete: missing_indices.is_empty(),
            missing_indices,
            calls: self.calls,
            batch_progress: progress,
        }
    }

    /// The indices asked for that `drills` do not hold.
    fn missing(&self, drills: &[Drill]) -> Vec<u32> {
        let have: std::collections::HashSet<u32> = drills.iter().map(|d| d.index).collect();
        self.job
            .todo
            .iter()
            .copied()
            .filter(|i| !have.contains(i))
            .collect()
    }

    fn count_stored(&self, drills: u32, whole: bool) {
        {
            let mut st = self.run.state.borrow_mut();
            st.completed_drills += drills;
            if whole {
                self.job.stored_whole(&mut st.progress);
            }
        }
        if whole {
            let message = {
                let st = self.run.state.borrow();
                progress_message(
                    st.completed_drills,
                    st.total_drills,
                    st.progress.finished(),
                    self.job.spec.total_batches,
                )
            };
            self.emit(ProgressKind::BatchCompleted, None, None, message);
        }
    }

    pub(super) fn stop(&mut self, stop: Stop, drills: Vec<Drill>) -> BatchOutcome {
        match stop {
            Stop::Cancelled(e) => {
                self.finish(BatchOutcomeStatus::Cancelled, Some(&e), drills, false)
            }
            Stop::Failed(e) => self.finish(BatchOutcomeStatus::Failed, Some(&e), drills, false),
        }
    }

    fn finish(
        &mut self,
        status: BatchOutcomeStatus,
        error: Option<&DrillgenError>,
        drills: Vec<Drill>,
        stored: bool,
    ) -> BatchOutcome {
        let stored = stored && self.run.host.stores();
        {
            let mut st = self.run.state.borrow_mut();
            st.usage.add(self.usage);
            if status == BatchOutcomeStatus::Failed && !self.job.top_up {
                st.progress.failed.push(self.job.spec.batch_index);
            }
        }
        let error = error.map(|e| self.error_info(e));
        if status == BatchOutcomeStatus::Failed
            && let Some(info) = &error
        {
            let kept = if stored {
                format!(" ({} of {} drills kept)", drills.len(), self.job.todo.len())
            } else {
                String::new()
            };
            let plural = if self.attempts == 1 { "" } else { "s" };
            let message = format!(
                "Batch {} failed after {} attempt{plural}: {}{kept}",
                self.label(),
                self.attempts,
                info.message
            );
            self.emit(ProgressKind::BatchFailed, Some(info.clone()), None, message);
        }
        // A skipped batch reports the indices it already had; others what they were asked for.
        let drill_indices = if status == BatchOutcomeStatus::Skipped {
            self.job.spec.drill_indices.clone()
        } else {
            self.job.todo.clone()
        };
        let missing_indices = if status == BatchOutcomeStatus::Skipped {
            vec![]
        } else {
            self.missing(&drills)
        };
        BatchOutcome {
            batch_index: self.job.spec.batch_index,
            status,
            drill_indices,
            attempts: self.attempts,
            calls: self.calls,
            missing_indices,
            top_up: self.job.top_up,
            error,
            usage: self.usage,
            drills,
            stored,
            repairs: std::mem::take(&mut self.repairs),
        }
    }

    pub(super) fn label(&self) -> String {
        format!(
            "{}/{}",
            self.job.spec.batch_index + 1,
            self.job.spec.total_batches
        )
    }

    pub(super) fn error_info(&self, e: &DrillgenError) -> ErrorInfo {
        ErrorInfo::new(e, &self.run.config.redactor)
    }

    pub(super) fn emit(
        &self,
        kind: ProgressKind,
        error: Option<ErrorInfo>,
        delay_ms: Option<u64>,
        message: String,
    ) {
        let mut event = self.event(kind, message);
        event.error = error;
        event.delay_ms = delay_ms;
        self.run.host.progress(&event);
    }

    /// `drillReady` (with the drill) or `drillWithdrawn` for the drill at `index`.
    pub(super) fn emit_drill(&self, index: u32, drill: Option<&Drill>) {
        let (kind, what) = match drill {
            Some(_) => (ProgressKind::DrillReady, "ready"),
            None => (ProgressKind::DrillWithdrawn, "withdrawn"),
        };
        let message = format!("Batch {}: drill {index} {what}", self.label());
        let mut event = self.event(kind, message);
        event.drill_index = Some(index);
        event.drill = drill.map(|d| Box::new(d.clone()));
        self.run.host.progress(&event);
    }

    fn event(&self, kind: ProgressKind, message: String) -> DrillProgressEvent {
        let st = self.run.state.borrow();
        DrillProgressEvent {
            kind,
            phase: ProgressPhase::GeneratingContent,
            current: st.completed_drills,
            total: st.total_drills,
            current_batch: st.progress.finished(),
            completed_drills: st.completed_drills,
            total_drills: st.total_drills,
            batch_index: Some(self.job.spec.batch_index),
            total_batches: self.job.spec.total_batches,
            attempt: Some(self.attempts.max(1)),
            max_attempts: Some(self.run.config.retry.max_retries + 1),
            delay_ms: None,
            error: None,
            drill_index: None,
            drill: None,
            batch_progress: st.progress.clone(),
            message: self
                .run
                .config
                .redactor
                .message(&bound(&message, MAX_MESSAGE_BYTES)),
        }
    }

    pub(super) fn new_drill(
        &self,
        slot: &crate::prompt::Slot,
        draft: crate::drill::DrillDraft,
    ) -> Drill {
        Drill {
            drill_id: format!("{}:{}", self.run.config.artifact_id, slot.index),
            batch_index: self.job.spec.batch_index,
            batch_status: BatchStatus::Completed,
            game_phase: slot.position.game_phase,
            index: slot.index,
            position_id: slot.position.position_id.clone(),
            title: draft.title,
            principle: draft.principle,
            question: draft.question,
            options: slot.key.options.clone(),
            correct_option_id: slot.key.correct_option_id.clone(),
            explanation: draft.explanation,
            difficulty: draft.difficulty,
            flags: draft.flags,
        }
    }
}

fn seconds(ms: u64) -> String {
    format!("{} s", crate::text::fixed(ms as f64 / 1000.0, 1, false))
}

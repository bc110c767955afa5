//! One batch: generate → validate → persist → progress, with retries.

use std::cell::RefCell;

use rand::RngExt;

use super::events::*;
use super::options::RunConfig;
use super::{Clock, Host, RunState, Transport};
use crate::drill::{BatchStatus, Drill, batch_output_schema};
use crate::error::DrillgenError;
use crate::llm::{CallFailure, Usage, build_request, parse_response};
use crate::prompt::{build_batch_prompt, with_feedback};
use crate::retry::{Decision, decide};
use crate::types::BatchSpec;
use crate::validate::parse_batch_output;

/// A batch of the partition and the indices of it still to generate (all of them, unless resuming).
#[derive(Debug, Clone)]
pub struct BatchJob {
    pub spec: BatchSpec,
    pub todo: Vec<u32>,
}

struct Ctx<'a, H: Host> {
    job: &'a BatchJob,
    config: &'a RunConfig,
    host: &'a H,
    state: &'a RefCell<RunState>,
    usage: Usage,
    attempts: u32,
}

impl<H: Host> Ctx<'_, H> {
    fn label(&self) -> String {
        format!(
            "{}/{}",
            self.job.spec.batch_index + 1,
            self.job.spec.total_batches
        )
    }

    fn error_info(&self, e: &DrillgenError) -> ErrorInfo {
        ErrorInfo::new(e, self.config.llm.api_key.as_ref())
    }

    fn emit(
        &self,
        kind: ProgressKind,
        error: Option<ErrorInfo>,
        delay_ms: Option<u64>,
        message: String,
    ) {
        let st = self.state.borrow();
        let event = DrillProgressEvent {
            kind,
            completed_drills: st.completed_drills,
            total_drills: st.total_drills,
            batch_index: Some(self.job.spec.batch_index),
            total_batches: self.job.spec.total_batches,
            attempt: Some(self.attempts.max(1)),
            max_attempts: Some(self.config.retry.max_retries + 1),
            delay_ms,
            error,
            batch_progress: st.progress.clone(),
            message,
        };
        drop(st);
        self.host.progress(&event);
    }

    fn finish(
        &self,
        status: BatchOutcomeStatus,
        error: Option<&DrillgenError>,
        drills: Vec<Drill>,
    ) -> BatchOutcome {
        let mut st = self.state.borrow_mut();
        st.usage.add(self.usage);
        if status == BatchOutcomeStatus::Failed {
            st.progress.failed.push(self.job.spec.batch_index);
        }
        drop(st);
        let error = error.map(|e| self.error_info(e));
        if status == BatchOutcomeStatus::Failed
            && let Some(info) = &error
        {
            let message = format!(
                "Batch {} failed after {} attempt{}: {}",
                self.label(),
                self.attempts,
                if self.attempts == 1 { "" } else { "s" },
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
        BatchOutcome {
            batch_index: self.job.spec.batch_index,
            status,
            drill_indices,
            attempts: self.attempts,
            error,
            usage: self.usage,
            drills,
        }
    }

    fn jitter(&self) -> f64 {
        self.state.borrow_mut().rng.random::<f64>()
    }
}

fn seconds(ms: u64) -> String {
    format!("{:.1} s", ms as f64 / 1000.0)
}

pub(crate) async fn run_batch<T: Transport, C: Clock, H: Host>(
    job: BatchJob,
    config: &RunConfig,
    transport: &T,
    clock: &C,
    host: &H,
    state: &RefCell<RunState>,
) -> BatchOutcome {
    let mut ctx = Ctx {
        job: &job,
        config,
        host,
        state,
        usage: Usage::default(),
        attempts: 0,
    };
    let spec = &job.spec;
    if job.todo.is_empty() {
        return ctx.finish(BatchOutcomeStatus::Skipped, None, vec![]);
    }
    if host.is_aborted() {
        return ctx.finish(
            BatchOutcomeStatus::Cancelled,
            Some(&DrillgenError::Aborted),
            vec![],
        );
    }
    let (first, last) = (job.todo[0], job.todo[job.todo.len() - 1]);
    ctx.emit(
        ProgressKind::BatchStarted,
        None,
        None,
        format!("Generating batch {} (drills {first}-{last})", ctx.label()),
    );

    let todo_spec = BatchSpec {
        drill_indices: job.todo.clone(),
        ..spec.clone()
    };
    let base = match build_batch_prompt(&todo_spec, &config.context, &config.prompts) {
        Ok(p) => p,
        Err(e) => return ctx.finish(BatchOutcomeStatus::Failed, Some(&e), vec![]),
    };
    let ids: Vec<&str> = spec
        .positions
        .iter()
        .map(|p| p.position_id.as_str())
        .collect();
    let schema = batch_output_schema(&ids, &job.todo);
    let mut feedback: Option<String> = None;

    let drafts = loop {
        ctx.attempts += 1;
        if host.is_aborted() {
            return ctx.finish(
                BatchOutcomeStatus::Cancelled,
                Some(&DrillgenError::Aborted),
                vec![],
            );
        }
        let prompt = match &feedback {
            Some(f) => with_feedback(base.clone(), f),
            None => base.clone(),
        };
        let request = build_request(&config.llm, &prompt, &schema);
        let sent = transport
            .send(
                request,
                config.llm.timeout_ms(),
                config.llm.max_response_bytes(),
            )
            .await;
        let failure = match sent {
            Err(DrillgenError::Aborted) => {
                return ctx.finish(
                    BatchOutcomeStatus::Cancelled,
                    Some(&DrillgenError::Aborted),
                    vec![],
                );
            }
            Err(e) => CallFailure::from(e),
            Ok(response) => match parse_response(&config.llm, &response, clock.now_ms()) {
                Ok(completion) => {
                    ctx.usage.add(completion.usage);
                    match parse_batch_output(&completion.content, &job.todo, spec) {
                        Ok(drafts) => break drafts,
                        Err(e) => {
                            feedback = Some(e.to_string());
                            CallFailure::from(e)
                        }
                    }
                }
                Err(f) => {
                    ctx.usage.add(f.usage);
                    f
                }
            },
        };
        let jitter = ctx.jitter();
        match decide(
            &config.retry,
            failure.error.clone(),
            ctx.attempts,
            failure.retry_after_ms,
            jitter,
            clock.now_ms(),
        ) {
            Decision::GiveUp(e) => return ctx.finish(BatchOutcomeStatus::Failed, Some(&e), vec![]),
            Decision::RetryAfter { delay_ms } => {
                let info = ctx.error_info(&failure.error);
                let message = format!(
                    "Batch {}: {} — retrying in {} (attempt {} of {})",
                    ctx.label(),
                    info.message,
                    seconds(delay_ms),
                    ctx.attempts + 1,
                    config.retry.max_retries + 1
                );
                ctx.emit(
                    ProgressKind::BatchRetrying,
                    Some(info),
                    Some(delay_ms),
                    message,
                );
                if clock.sleep(delay_ms).await.is_err() {
                    return ctx.finish(
                        BatchOutcomeStatus::Cancelled,
                        Some(&DrillgenError::Aborted),
                        vec![],
                    );
                }
            }
        }
    };

    let drills: Vec<Drill> = drafts
        .into_iter()
        .map(|draft| Drill {
            drill_id: format!("{}:{}", config.artifact_id, draft.index),
            batch_index: spec.batch_index,
            batch_status: BatchStatus::Completed,
            game_phase: spec
                .positions
                .iter()
                .find(|p| p.position_id == draft.position_id)
                .map_or(crate::types::GamePhase::Opening, |p| p.game_phase),
            draft,
        })
        .collect();
    // Nothing is persisted after an abort; the drills go back in the result.
    if host.is_aborted() {
        return ctx.finish(
            BatchOutcomeStatus::Cancelled,
            Some(&DrillgenError::Aborted),
            drills,
        );
    }
    let info = {
        let st = state.borrow();
        let mut progress = st.progress.clone();
        progress.completed += 1;
        BatchInfo {
            artifact_id: config.artifact_id.clone(),
            batch_index: spec.batch_index,
            total_batches: spec.total_batches,
            drill_indices: job.todo.clone(),
            batch_progress: progress,
        }
    };
    let mut tries = 0;
    loop {
        match host.persist(&drills, &info).await {
            Ok(()) => break,
            Err(e) if tries < config.persist_retries => {
                let delay = config.retry.backoff_ms(tries, ctx.jitter());
                tries += 1;
                let error = DrillgenError::PersistFailed(e);
                let info = ctx.error_info(&error);
                let message = format!(
                    "Batch {}: storing failed ({}) — retrying in {}",
                    ctx.label(),
                    info.message,
                    seconds(delay)
                );
                ctx.emit(
                    ProgressKind::BatchRetrying,
                    Some(info),
                    Some(delay),
                    message,
                );
                if clock.sleep(delay).await.is_err() {
                    return ctx.finish(
                        BatchOutcomeStatus::Cancelled,
                        Some(&DrillgenError::Aborted),
                        drills,
                    );
                }
                if host.is_aborted() {
                    return ctx.finish(
                        BatchOutcomeStatus::Cancelled,
                        Some(&DrillgenError::Aborted),
                        drills,
                    );
                }
            }
            Err(e) => {
                return ctx.finish(
                    BatchOutcomeStatus::Failed,
                    Some(&DrillgenError::PersistFailed(e)),
                    drills,
                );
            }
        }
    }
    {
        let mut st = state.borrow_mut();
        st.completed_drills += drills.len() as u32;
        st.progress.completed += 1;
    }
    let message = {
        let st = state.borrow();
        format!(
            "Generated {}/{} drills (Batch {})",
            st.completed_drills,
            st.total_drills,
            ctx.label()
        )
    };
    ctx.emit(ProgressKind::BatchCompleted, None, None, message);
    ctx.finish(BatchOutcomeStatus::Completed, None, drills)
}

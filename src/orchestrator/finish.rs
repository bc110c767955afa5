//! The last step of a run: rebuild the series from what is stored — `load()`, joined with this run's
//! own writes so a store that lags behind (read replicas) loses nothing — verify it against the
//! engine, and report: status, warnings, the final progress event, the result.

use std::collections::HashSet;

use super::events::*;
use super::options::GenerateOptions;
use super::prepare::Prepared;
use super::{Clock, Host, Run, Transport};
use crate::drill::Drill;
use crate::error::DrillgenError;
use crate::merge::{Artifact, merge};
use crate::types::Warning;
use crate::verify::verify;

pub(super) async fn finish_series<T: Transport, C: Clock, H: Host>(
    options: &GenerateOptions,
    prepared: Prepared,
    existing: Vec<Drill>,
    outcomes: Vec<BatchOutcome>,
    topped_up: Vec<ToppedUp>,
    run: &Run<'_, T, C, H>,
) -> Result<GenerationResult, DrillgenError> {
    let mut warnings = prepared.warnings.clone();
    let (written, unpersisted) = split_drills(&outcomes);
    let artifact = rebuild(run, &prepared, existing, written, &mut warnings).await;
    warnings.extend(artifact.warnings.iter().cloned());
    let progress = run.progress();
    warnings.extend(failed_batches_warning(&outcomes, &progress.failed));
    warnings.extend(super::topup::topped_up_warning(&topped_up));
    warnings.extend(flagged_warning(&artifact));
    let stop = run.host.stop_reason();
    if let Some(DrillgenError::DeadlineExceeded { ms }) = &stop {
        warnings.push(Warning::new(
            crate::WarningCode::DEADLINE_EXCEEDED,
            format!("the run stopped at its deadline of {ms} ms; the rest can be resumed"),
        ));
    }
    let verification = verify(&artifact, &options.run.positions);
    // A stopped run makes no further host call (it would only be cut short at once).
    let host_verification = match stop {
        None => run.host.verify(&artifact).await,
        Some(_) => None,
    };
    let host_verification = match host_verification {
        Some(Ok(v)) => Some(v),
        Some(Err(e)) => {
            warnings.push(Warning::new(
                crate::WarningCode::HOST_VERIFY_FAILED,
                run.config
                    .redactor
                    .message(&format!("verify() failed: {e}")),
            ));
            None
        }
        None => None,
    };
    let status = if stop.is_some() {
        RunStatus::Cancelled
    } else if artifact.drills.is_empty() {
        RunStatus::Failed
    } else {
        RunStatus::Completed
    };
    let (usage, calls, negotiated) = {
        let mut st = run.state.borrow_mut();
        warnings.append(&mut st.warnings);
        warnings.append(&mut st.negotiation.warnings);
        (st.usage, st.calls, st.negotiation.settled())
    };
    if run.config.cache.minimum_tokens > 0
        && !run.config.cache.cacheable
        && run.config.llm.provider == crate::llm::Provider::Anthropic
    {
        warnings.push(prefix_too_short(&run.config));
    }
    final_event(run, status, &artifact, progress.clone());
    run.host.settle().await;
    Ok(GenerationResult {
        artifact_id: run.config.artifact_id.clone(),
        status,
        seed: prepared.seed,
        seed_format: crate::rng::SEED_FORMAT,
        drills: artifact.drills,
        unpersisted_drills: unpersisted,
        missing_indices: artifact.missing_indices,
        topped_up,
        batch_progress: progress,
        batches: outcomes,
        usage,
        warnings,
        verification,
        host_verification,
        calls,
        negotiated,
        cache: run.config.cache,
    })
}

/// This run's stored drills, and the ones it generated but could not store (handed back).
fn split_drills(outcomes: &[BatchOutcome]) -> (Vec<Drill>, Vec<Drill>) {
    let (mut written, mut unpersisted) = (Vec::new(), Vec::new());
    for o in outcomes {
        if o.stored {
            written.extend(o.drills.iter().cloned());
        } else {
            unpersisted.extend(o.drills.iter().cloned());
        }
    }
    (written, unpersisted)
}

/// The stored series: what `load()` returns joined with what this run wrote (by `drillId`, the
/// stored copy first), or, without `load`, what existed plus what this run wrote.
async fn rebuild<T: Transport, C: Clock, H: Host>(
    run: &Run<'_, T, C, H>,
    prepared: &Prepared,
    existing: Vec<Drill>,
    written: Vec<Drill>,
    warnings: &mut Vec<Warning>,
) -> Artifact {
    // A stopped run makes no further host call (it would only be cut short at once).
    let loaded = match run.host.stop_reason() {
        None => run.host.load().await,
        Some(_) => None,
    };
    let stored = match loaded {
        Some(Ok(stored)) => stored,
        Some(Err(e)) => {
            warnings.push(Warning::new(
                crate::WarningCode::LOAD_FAILED,
                run.config
                    .redactor
                    .message(&format!("load() failed, using what persist accepted: {e}")),
            ));
            existing
        }
        None => existing,
    };
    merge(&prepared.request, union_by_id(stored, written))
}

fn union_by_id(first: Vec<Drill>, then: Vec<Drill>) -> Vec<Drill> {
    let mut seen: HashSet<String> = first.iter().map(|d| d.drill_id.clone()).collect();
    let mut all = first;
    all.extend(then.into_iter().filter(|d| seen.insert(d.drill_id.clone())));
    all
}

/// The batches still failed at the end (`batchProgress.failed`: a batch a top-up completed is not).
fn failed_batches_warning(outcomes: &[BatchOutcome], still_failed: &[u32]) -> Option<Warning> {
    let failed: Vec<String> = outcomes
        .iter()
        .filter(|o| {
            o.status == BatchOutcomeStatus::Failed
                && !o.top_up
                && still_failed.contains(&o.batch_index)
        })
        .map(|o| {
            format!(
                "{} ({})",
                o.batch_index + 1,
                o.error.as_ref().map_or("?", |e| e.code.as_str())
            )
        })
        .collect();
    (!failed.is_empty()).then(|| {
        Warning::new(
            crate::WarningCode::BATCHES_FAILED,
            format!(
                "{} of {} batches failed: {}",
                failed.len(),
                outcomes.iter().filter(|o| !o.top_up).count(),
                failed.join(", ")
            ),
        )
    })
}

/// Drills whose words failed our checks twice: kept (nothing generated is lost) but flagged, so a
/// host can hold them back from students.
fn flagged_warning(artifact: &Artifact) -> Option<Warning> {
    let flagged: Vec<String> = artifact
        .drills
        .iter()
        .filter(|d| !d.flags.is_empty())
        .map(|d| d.index.to_string())
        .collect();
    (!flagged.is_empty()).then(|| {
        Warning::new(
            crate::WarningCode::DRILLS_FLAGGED,
            crate::text::bound(
                &format!(
                    "{} drills are flagged (see each drill's flags; {}: the explanation, asked for twice, does not name the correct option or calls another one best); hold them back from students until reviewed: {}",
                    flagged.len(),
                    crate::DrillFlag::EXPLANATION_MISMATCH,
                    flagged.join(", ")
                ),
                crate::text::MAX_MESSAGE_BYTES,
            )
            .into_owned(),
        )
    })
}

fn prefix_too_short(config: &super::RunConfig) -> Warning {
    Warning::new(
        crate::WarningCode::PREFIX_TOO_SHORT_TO_CACHE,
        format!(
            "the prefix every batch shares is about {} tokens; {} caches from {} tokens, so no cache_control was sent and every batch pays for the whole prompt",
            config.cache.prefix_tokens,
            crate::text::bound(&config.llm.model, 100),
            config.cache.minimum_tokens
        ),
    )
}

fn final_event<T: Transport, C: Clock, H: Host>(
    run: &Run<'_, T, C, H>,
    status: RunStatus,
    artifact: &Artifact,
    progress: BatchProgress,
) {
    let total = run.state.borrow().total_drills;
    let have = artifact.drills.len() as u32;
    // From the event's own fields: the spec's line, then which batches failed.
    let line = progress_message(have, total, progress.finished(), progress.total);
    let failed: Vec<String> = progress
        .failed
        .iter()
        .map(|b| (b + 1).to_string())
        .collect();
    let message = match status {
        RunStatus::Cancelled => format!("Cancelled: {line}"),
        _ if failed.is_empty() => line,
        _ => format!(
            "{line}; batch{} {} failed",
            if failed.len() > 1 { "es" } else { "" },
            failed.join(", ")
        ),
    };
    run.host.progress(&DrillProgressEvent {
        kind: ProgressKind::RunFinished,
        phase: ProgressPhase::GeneratingContent,
        current: have,
        total,
        current_batch: progress.finished(),
        completed_drills: have,
        total_drills: total,
        batch_index: None,
        total_batches: progress.total,
        attempt: None,
        max_attempts: None,
        delay_ms: None,
        error: None,
        drill_index: None,
        drill: None,
        batch_progress: progress,
        message,
    });
}

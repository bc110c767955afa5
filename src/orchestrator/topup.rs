//! Spares complete the series. When a batch fails for good (its retries spent, or some of its
//! drills still rejected after them), the indices it left without a drill are generated again on
//! positions the sample kept unused (`Prepared.spares`), of the same phase as the position each
//! index had, so the series has no holes and keeps its phase mix. It is one more pass through
//! `run_batch`, under the same retry policy and the same call budget (`subrequestBudget` counts
//! these calls too). An index with no spare of its phase left stays missing, as before: the series
//! is COMPLETED with a warning.

use std::collections::{BTreeMap, VecDeque};

use futures_util::StreamExt;
use futures_util::stream;

use super::batch::{BatchJob, run_batch};
use super::events::*;
use super::prepare::Prepared;
use super::{Clock, Host, Run, Transport};
use crate::error::DrillgenErrorCode;
use crate::types::{BatchSpec, GamePhase, Position, Warning};

/// The top-up jobs, and for every index in them the position it replaces.
struct Plan {
    jobs: Vec<BatchJob>,
    replaced: BTreeMap<u32, String>,
}

/// Whether a failed batch's missing drills may be generated again elsewhere. Not after a stop, nor
/// after an error that fails every call (a wrong key, no quota), nor when storage failed (the
/// drills exist, handed back; storing more would fail the same way).
fn worth_topping_up(o: &BatchOutcome) -> bool {
    o.status == BatchOutcomeStatus::Failed
        && !o.missing_indices.is_empty()
        && o.error
            .as_ref()
            .is_none_or(|e| e.code != DrillgenErrorCode::PERSIST_FAILED)
}

/// The position the plan gave `index` in `spec` (the partition's one position per drill).
fn planned_position(spec: &BatchSpec, index: u32) -> Option<&Position> {
    let rank = spec.drill_indices.iter().position(|&i| i == index)?;
    spec.positions.get(rank % spec.positions.len().max(1))
}

fn plan(prepared: &Prepared, outcomes: &[BatchOutcome]) -> Plan {
    let mut spares: BTreeMap<GamePhase, VecDeque<&Position>> = BTreeMap::new();
    for p in &prepared.spares {
        spares.entry(p.game_phase).or_default().push_back(p);
    }
    let mut out = Plan {
        jobs: Vec::new(),
        replaced: BTreeMap::new(),
    };
    for o in outcomes.iter().filter(|o| worth_topping_up(o)) {
        let Some(spec) = prepared
            .batches
            .iter()
            .find(|b| b.batch_index == o.batch_index)
        else {
            continue;
        };
        let (mut indices, mut positions) = (Vec::new(), Vec::new());
        for &index in &o.missing_indices {
            let Some(planned) = planned_position(spec, index) else {
                continue;
            };
            let Some(spare) = spares
                .get_mut(&planned.game_phase)
                .and_then(VecDeque::pop_front)
            else {
                continue;
            };
            out.replaced.insert(index, planned.position_id.clone());
            indices.push(index);
            positions.push(spare.clone());
        }
        if !indices.is_empty() {
            let closes_batch = indices.len() == o.missing_indices.len();
            out.jobs.push(BatchJob {
                todo: indices.clone(),
                spec: BatchSpec {
                    batch_index: spec.batch_index,
                    total_batches: spec.total_batches,
                    drill_indices: indices,
                    positions,
                },
                top_up: true,
                closes_batch,
            });
        }
    }
    out
}

/// Tops up the failed batches of `outcomes` from the spares and appends the top-up outcomes; a
/// batch whose every missing index is stored now counts as completed (`BatchJob::stored_whole`).
/// Returns what was topped up, index by index.
pub(super) async fn top_up<T: Transport, C: Clock, H: Host>(
    prepared: &Prepared,
    outcomes: &mut Vec<BatchOutcome>,
    run: &Run<'_, T, C, H>,
) -> Vec<ToppedUp> {
    let stopped = run.host.stop_reason().is_some() || run.state.borrow().fatal.is_some();
    // A run that made no drill at all is failing on the server, not on some positions: other
    // positions would only spend more calls on the same failure.
    let made_any = outcomes.iter().any(|o| {
        !o.drills.is_empty()
            || matches!(
                o.status,
                BatchOutcomeStatus::Completed | BatchOutcomeStatus::Skipped
            )
    });
    if stopped || !made_any {
        return vec![];
    }
    let plan = plan(prepared, outcomes);
    if plan.jobs.is_empty() {
        return vec![];
    }
    let extra: Vec<BatchOutcome> = stream::iter(plan.jobs)
        .map(|job| run_batch(job, run))
        .buffer_unordered(run.config.concurrency as usize)
        .collect()
        .await;
    let topped: Vec<ToppedUp> = extra
        .iter()
        .flat_map(|o| o.drills.iter())
        .filter_map(|d| {
            plan.replaced.get(&d.index).map(|from| ToppedUp {
                index: d.index,
                position_id: d.position_id.clone(),
                replaced_position_id: from.clone(),
            })
        })
        .collect();
    outcomes.extend(extra);
    crate::order::sort_by_key(outcomes, |o| o.batch_index);
    let mut topped = topped;
    crate::order::sort_by_key(&mut topped, |t| t.index);
    topped
}

/// The warning that says which drills were made on spare positions, and why.
pub(super) fn topped_up_warning(topped: &[ToppedUp]) -> Option<Warning> {
    (!topped.is_empty()).then(|| {
        let list: Vec<String> = topped
            .iter()
            .map(|t| format!("{} ({} for {})", t.index, t.position_id, t.replaced_position_id))
            .collect();
        Warning::new(
            crate::WarningCode::DRILLS_TOPPED_UP,
            crate::text::bound(
                &format!(
                    "{} drills of failed batches were made on spare positions of the same phase: {}",
                    topped.len(),
                    list.join(", ")
                ),
                crate::text::MAX_MESSAGE_BYTES,
            ),
        )
    })
}

//! The operations the JS API exports, on typed values. The bindings only convert in, call one of
//! these, and convert out, so every behaviour of the API is reachable from native tests.

use serde::{Deserialize, Serialize};

use crate::drill::Drill;
use crate::error::Result;
use crate::merge::{Artifact, merge};
use crate::orchestrator::BatchProgress;
use crate::prompt::{BatchPrompt, PromptContext, PromptTemplates, build_batch_prompt};
use crate::series::{Series, SeriesOptions};
use crate::types::{BatchSpec, DrillRequest, GamePhase, Plan, Position, Sample, SampleOptions};
use crate::verify::{VerificationReport, verify};

/// `pool`, when given, is checked and tells which phases exist when the request names none.
pub fn plan_positions(request: &DrillRequest, pool: Option<&[Position]>) -> Result<Plan> {
    let request = request.check()?;
    let phases: Option<Vec<GamePhase>> = match pool {
        Some(pool) => {
            crate::sample::check_pool(pool)?;
            Some(pool.iter().map(|p| p.game_phase).collect())
        }
        None => None,
    };
    crate::plan::plan(&request, phases.as_deref())
}

pub fn sample_positions(pool: &[Position], plan: &Plan, options: &SampleOptions) -> Result<Sample> {
    let seed = crate::sample::resolve_seed(options.seed)?;
    let avoid = options.avoid_position_ids.as_deref().unwrap_or_default();
    crate::sample::sample(pool, plan, seed, avoid)
}

pub fn partition_batches(request: &DrillRequest, positions: &[Position]) -> Result<Vec<BatchSpec>> {
    crate::sample::check_pool(positions)?;
    crate::partition::partition(&request.check()?, positions)
}

pub fn batch_prompt(
    batch: &BatchSpec,
    context: &PromptContext,
    templates: &PromptTemplates,
) -> Result<BatchPrompt> {
    build_batch_prompt(batch, context, templates)
}

pub fn merge_drills(request: &DrillRequest, stored: Vec<Drill>) -> Result<Artifact> {
    Ok(merge(&request.check()?, stored))
}

pub fn verify_artifact(artifact: &Artifact, positions: &[Position]) -> VerificationReport {
    verify(artifact, positions)
}

/// What a run does before its first call, for a host that generates the batches itself: the
/// request, the pool, the context and the templates checked, then plan → sample → partition.
pub fn prepare_series(
    request: &DrillRequest,
    pool: &[Position],
    context: &PromptContext,
    options: &SeriesOptions,
) -> Result<Series> {
    let request = request.check()?;
    let templates = options.prompts.clone().unwrap_or_default();
    check_context(context, &templates)?;
    let seed = crate::sample::resolve_seed(options.seed)?;
    let avoid = options.avoid_position_ids.as_deref().unwrap_or_default();
    let mode = options.mode.unwrap_or_default();
    crate::series::series(&request, pool, seed, avoid, mode)
}

/// Whether a context (and templates) would make a run's shared prompt, as a run checks them.
pub fn check_context(context: &PromptContext, templates: &PromptTemplates) -> Result<()> {
    crate::prompt::check_templates(templates)?;
    crate::prompt::shared_prefix(context, templates).map(drop)
}

/// Whether a pool of positions would be accepted by a run (its size, ids and fields).
pub fn check_positions(pool: &[Position]) -> Result<()> {
    crate::sample::check_pool(pool)
}

/// The part of a run's result that `reconcileResult` reads.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "camelCase")]
pub struct RunSummary {
    pub batches: Vec<BatchSummary>,
    pub batch_progress: BatchProgress,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "camelCase")]
pub struct BatchSummary {
    pub batch_index: u32,
    /// `BatchOutcomeStatus`: only `SKIPPED` matters here (a batch with nothing to do).
    pub status: String,
    pub stored: bool,
    pub drill_indices: Vec<u32>,
}

/// A run's result as the host's storage now has it, after the host stored the drills handed back
/// in `unpersistedDrills`: the series rebuilt from `stored`, verified, and the batches whose drills
/// are all stored now counted as completed.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "camelCase")]
pub struct Reconciled {
    pub drills: Vec<Drill>,
    pub missing_indices: Vec<u32>,
    pub batch_progress: BatchProgress,
    pub verification: VerificationReport,
    /// Batches `persist` had not accepted whose drills are all stored now (0-based).
    pub rescued_batches: Vec<u32>,
}

pub fn reconcile(
    request: &DrillRequest,
    result: &RunSummary,
    stored: Vec<Drill>,
    positions: &[Position],
) -> Result<Reconciled> {
    let artifact = merge(&request.check()?, stored);
    let have: std::collections::BTreeSet<u32> = artifact.drills.iter().map(|d| d.index).collect();
    let rescued_batches: Vec<u32> = result
        .batches
        .iter()
        .filter(|b| !b.stored && b.status != "SKIPPED")
        .filter(|b| b.drill_indices.iter().all(|i| have.contains(i)))
        .map(|b| b.batch_index)
        .collect();
    let progress = &result.batch_progress;
    let batch_progress = BatchProgress {
        completed: progress.completed + rescued_batches.len() as u32,
        total: progress.total,
        failed: (progress.failed.iter())
            .filter(|b| !rescued_batches.contains(b))
            .copied()
            .collect(),
    };
    Ok(Reconciled {
        verification: verify(&artifact, positions),
        missing_indices: artifact.missing_indices.clone(),
        drills: artifact.drills,
        batch_progress,
        rescued_batches,
    })
}

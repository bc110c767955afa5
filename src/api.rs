//! The operations the JS API exports, on typed values. The bindings only convert in, call one of
//! these, and convert out, so every behaviour of the API is reachable from native tests.

use crate::drill::Drill;
use crate::error::Result;
use crate::merge::{Artifact, merge};
use crate::prompt::{BatchPrompt, PromptContext, PromptTemplates, build_batch_prompt};
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

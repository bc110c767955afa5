//! The first steps of a run composed once: check the pool, plan, sample, partition. The run
//! (`orchestrator::prepare_run`) and hosts that fan batches out themselves (`prepareSeries`) take
//! the same path, so a host's series is the one `generateDrillSeries` would have made.

use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::plan::ValidRequest;
use crate::prompt::PromptTemplates;
use crate::types::{BatchSpec, GamePhase, Plan, Position, Sample};

/// Whether the series is cut into batches or written by one call (the spec's
/// `ENABLE_BATCH_DRILL_GENERATION` flag).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    #[default]
    Batched,
    Single,
}

/// What `prepareSeries` takes besides the request, the pool and the context.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "camelCase")]
pub struct SeriesOptions {
    /// The series' seed (an integer below 2^53): the same seed gives the same series.
    #[serde(default)]
    #[cfg_attr(target_arch = "wasm32", tsify(optional))]
    pub seed: Option<f64>,
    /// As in `samplePositions`.
    #[serde(default)]
    #[cfg_attr(target_arch = "wasm32", tsify(optional))]
    pub avoid_position_ids: Option<Vec<String>>,
    #[serde(default)]
    #[cfg_attr(target_arch = "wasm32", tsify(optional))]
    pub mode: Option<Mode>,
    /// Checked with the context, as a run checks them before its first call.
    #[serde(default)]
    #[cfg_attr(target_arch = "wasm32", tsify(optional))]
    pub prompts: Option<PromptTemplates>,
}

/// A series ready to generate: the plan, the sample (positions, spares, seed, warnings) and the
/// batches.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "camelCase")]
pub struct Series {
    pub plan: Plan,
    #[serde(flatten)]
    pub sample: Sample,
    pub batches: Vec<BatchSpec>,
}

/// check the pool → plan (the pool's phases when the request names none) → sample → partition.
pub fn series(
    request: &ValidRequest,
    pool: &[Position],
    seed: u64,
    avoid: &[String],
    mode: Mode,
) -> Result<Series> {
    crate::sample::check_pool(pool)?;
    let phases: Vec<GamePhase> = pool.iter().map(|p| p.game_phase).collect();
    let plan = crate::plan::plan(request, Some(&phases))?;
    let sample = crate::sample::sample(pool, &plan, seed, avoid)?;
    let batches = match mode {
        Mode::Batched => crate::partition::partition(request, &sample.positions)?,
        Mode::Single => vec![crate::partition::single(request, &sample.positions)?],
    };
    Ok(Series {
        plan,
        sample,
        batches,
    })
}

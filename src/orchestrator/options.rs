//! Options of a run, checked before any request is made.

use serde::Deserialize;

use crate::drill::Drill;
use crate::error::{DrillgenError, Result};
use crate::llm::LlmConfig;
use crate::plan::ValidRequest;
use crate::prompt::{PromptContext, PromptTemplates, check_user_template, shared_prefix};
use crate::retry::RetryPolicy;
use crate::types::{BatchSpec, DrillRequest, GamePhase, Position, Warning};

pub const DEFAULT_CONCURRENCY: u32 = 4;
/// Cloudflare Workers allow six simultaneous outgoing connections per request.
pub const MAX_CONCURRENCY: u32 = 6;

/// The spec's `ENABLE_BATCH_DRILL_GENERATION` flag: `single` is one call for the whole series.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    #[default]
    Batched,
    Single,
}

/// What to do when the worst case (every batch using every retry) exceeds `subrequestBudget`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "lowercase")]
pub enum BudgetPolicy {
    /// Refuse the run with `SUBREQUEST_BUDGET` before any request.
    #[default]
    Fail,
    /// Lower the retries so the worst case fits (refuse only if one attempt per batch does not).
    Reduce,
}

/// The data part of `generateDrillSeries` options (the callbacks and the signal are the host's):
/// what every batch needs (`BatchOptions`) plus what the run decides.
#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "camelCase")]
pub struct GenerateOptions {
    #[serde(flatten)]
    pub batch: BatchOptions,
    pub request: DrillRequest,
    /// The host's position pool.
    pub positions: Vec<Position>,
    /// Batches in flight at once (default 4, at most 6).
    #[serde(default)]
    #[cfg_attr(target_arch = "wasm32", tsify(optional))]
    pub concurrency: Option<f64>,
    #[serde(default)]
    #[cfg_attr(target_arch = "wasm32", tsify(optional))]
    pub mode: Mode,
    /// Resume: drills already stored; their indices are not generated again.
    #[serde(default)]
    #[cfg_attr(target_arch = "wasm32", tsify(optional))]
    pub existing_drills: Vec<Drill>,
    /// Most LLM calls the run may make (Cloudflare Workers' free plan allows 50 subrequests per
    /// invocation, and every retry is one). Checked against the worst case before the first call.
    #[serde(default)]
    #[cfg_attr(target_arch = "wasm32", tsify(optional))]
    pub subrequest_budget: Option<f64>,
    #[serde(default)]
    #[cfg_attr(target_arch = "wasm32", tsify(optional))]
    pub budget_policy: BudgetPolicy,
}

/// Fits the retries of `batches` batches into `budget` calls, or refuses. Returns the retry count
/// to use and a warning when it had to be lowered.
pub fn fit_budget(
    budget: Option<f64>,
    policy: BudgetPolicy,
    batches: u32,
    max_retries: u32,
) -> Result<(u32, Option<Warning>)> {
    let Some(budget) = budget else {
        return Ok((max_retries, None));
    };
    if !(budget.fract() == 0.0 && (1.0..=1_000_000.0).contains(&budget)) {
        return Err(DrillgenError::InvalidOptions(format!(
            "subrequestBudget must be a positive integer, got {budget}"
        )));
    }
    let budget = budget as u32;
    let attempts = max_retries + 1;
    let needed = batches * attempts;
    if needed <= budget || batches == 0 {
        return Ok((max_retries, None));
    }
    let refuse = |attempts| DrillgenError::SubrequestBudget {
        needed: batches * attempts,
        budget,
        batches,
        attempts,
    };
    match policy {
        BudgetPolicy::Fail => Err(refuse(attempts)),
        BudgetPolicy::Reduce if batches > budget => Err(refuse(1)),
        BudgetPolicy::Reduce => {
            let retries = budget / batches - 1;
            let warning = Warning::new(
                "RETRIES_REDUCED",
                format!(
                    "{batches} batches × {attempts} attempts would exceed the subrequest budget of {budget}; retries lowered from {max_retries} to {retries}"
                ),
            );
            Ok((retries, Some(warning)))
        }
    }
}

/// What every batch of a run shares.
#[derive(Debug, Clone)]
pub struct RunConfig {
    pub artifact_id: String,
    pub llm: LlmConfig,
    pub context: PromptContext,
    pub prompts: PromptTemplates,
    pub retry: RetryPolicy,
    pub concurrency: u32,
    /// Persist retries use the same backoff but never Retry-After.
    pub persist_retries: u32,
}

pub struct Prepared {
    pub request: ValidRequest,
    pub seed: u64,
    pub sample: Vec<Position>,
    pub batches: Vec<BatchSpec>,
    pub config: RunConfig,
    pub warnings: Vec<Warning>,
}

impl GenerateOptions {
    pub fn prepare(&self) -> Result<Prepared> {
        let request = self.request.validate()?;
        let concurrency = match self.concurrency {
            None => DEFAULT_CONCURRENCY,
            Some(c) if c.fract() == 0.0 && (1.0..=f64::from(MAX_CONCURRENCY)).contains(&c) => {
                c as u32
            }
            Some(c) => {
                return Err(DrillgenError::InvalidOptions(format!(
                    "concurrency must be an integer from 1 to {MAX_CONCURRENCY}, got {c}"
                )));
            }
        };
        let config = self.batch.run_config(concurrency)?;
        let seed = crate::sample::resolve_seed(self.batch.seed)?;
        crate::sample::validate_pool(&self.positions)?;
        let phases: Vec<GamePhase> = self.positions.iter().map(|p| p.game_phase).collect();
        let plan = crate::plan::plan(&request, Some(&phases))?;
        let sample = crate::sample::sample(&self.positions, &plan, seed)?;
        let batches = match self.mode {
            Mode::Batched => crate::partition::partition(&request, &sample.positions)?,
            Mode::Single => vec![BatchSpec {
                batch_index: 0,
                total_batches: 1,
                drill_indices: (0..request.target_drill_count).collect(),
                positions: sample.positions.clone(),
            }],
        };
        Ok(Prepared {
            request,
            seed,
            sample: sample.positions,
            batches,
            config,
            warnings: sample.warnings,
        })
    }
}

/// Options of `generateBatch`, and the part of `generateDrillSeries` options every batch shares.
#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "camelCase")]
pub struct BatchOptions {
    pub artifact_id: String,
    pub context: PromptContext,
    #[serde(default)]
    #[cfg_attr(target_arch = "wasm32", tsify(optional))]
    pub prompts: PromptTemplates,
    pub llm: LlmConfig,
    #[serde(default)]
    #[cfg_attr(target_arch = "wasm32", tsify(optional))]
    pub retry: RetryPolicy,
    /// Seeds the retry jitter and, for a run, the sample: a resume should pass the first run's `seed`.
    #[serde(default)]
    #[cfg_attr(target_arch = "wasm32", tsify(optional))]
    pub seed: Option<f64>,
}

impl BatchOptions {
    fn run_config(&self, concurrency: u32) -> Result<RunConfig> {
        if self.artifact_id.trim().is_empty() || self.artifact_id.len() > 200 {
            return Err(DrillgenError::InvalidOptions(
                "artifactId must be a non-empty string of at most 200 characters".into(),
            ));
        }
        self.llm.validate()?;
        self.retry.validate()?;
        shared_prefix(&self.context, &self.prompts)?;
        if let Some(t) = &self.prompts.user_prompt_template {
            check_user_template(t)?;
        }
        Ok(RunConfig {
            artifact_id: self.artifact_id.clone(),
            llm: self.llm.clone(),
            context: self.context.clone(),
            prompts: self.prompts.clone(),
            retry: self.retry,
            concurrency,
            persist_retries: 3,
        })
    }

    pub fn prepare(&self, batch: &BatchSpec) -> Result<RunConfig> {
        crate::sample::validate_pool(&batch.positions)?;
        if batch.drill_indices.is_empty()
            || batch.positions.is_empty()
            || batch.batch_index >= batch.total_batches
        {
            return Err(DrillgenError::InvalidOptions(
                "batch needs drill indices, positions, and batchIndex < totalBatches".into(),
            ));
        }
        self.run_config(1)
    }
}

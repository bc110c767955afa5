//! The options of a run and of one batch, as hosts pass them, and their checks. Every option
//! documents its default; every number is checked against a range before any request is made.

use serde::{Deserialize, Deserializer};

use crate::drill::Drill;
use crate::error::{DrillgenError, Result};
use crate::input::Both;
use crate::llm::{LlmConfig, MAX_TIMER_MS};
use crate::prompt::{PromptContext, PromptTemplates};
use crate::retry::RetryPolicy;
use crate::types::{DrillRequest, Position, Warning};

pub const DEFAULT_CONCURRENCY: u32 = 4;
/// Cloudflare Workers allow six simultaneous outgoing connections per request.
pub const MAX_CONCURRENCY: u32 = 6;
/// How long a host callback (`persist`, `load`, `verify`, a promise `onProgress` returned) may take.
pub const DEFAULT_HOST_TIMEOUT_MS: u64 = 30_000;
/// Stored drills a resume may pass: far more than a series holds (500), bounded all the same.
pub const MAX_EXISTING_DRILLS: usize = 5_000;

pub use crate::series::Mode;

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

/// Whether to let the first batch warm the provider's prompt cache before the others start.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "lowercase")]
pub enum CacheWarmup {
    /// When the shared prefix is long enough to be cached, the first batch is streamed and the
    /// others start once its response has begun (a cache entry exists only from then on).
    #[default]
    Auto,
    /// Every batch starts at once.
    Off,
}

/// The data part of `generateDrillSeries` options (the callbacks and the signal are the host's):
/// what every batch needs (`BatchOptions`) plus what the run decides (`RunOptions`), side by side
/// in one object.
#[derive(Debug, Clone)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
pub struct GenerateOptions {
    #[cfg_attr(target_arch = "wasm32", serde(flatten))]
    pub batch: BatchOptions,
    #[cfg_attr(target_arch = "wasm32", serde(flatten))]
    pub run: RunOptions,
}

/// Both parts read the same object, each ignoring the other's keys (what tsify's `flatten`
/// declares; serde's would buffer the object, position pool included).
impl<'de> Deserialize<'de> for GenerateOptions {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let Both(batch, run) = Both::deserialize(d)?;
        Ok(Self { batch, run })
    }
}

/// What a run decides beyond its batches.
#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "camelCase")]
pub struct RunOptions {
    pub request: DrillRequest,
    /// The host's position pool (at most 20,000).
    pub positions: Vec<Position>,
    /// Positions the sample takes only once no other of their phase is left (e.g. the class's
    /// earlier series); the result warns `AVOIDED_POSITIONS_REUSED` when it had to. A resume must
    /// pass the same list with the same `seed`. Default none; at most 20,000 ids.
    #[serde(default)]
    pub avoid_position_ids: Option<Vec<String>>,
    /// Batches in flight at once; default 4, at most 6.
    #[serde(default)]
    pub concurrency: Option<f64>,
    /// Default `batched`.
    #[serde(default)]
    pub mode: Mode,
    /// Resume: drills already stored; their indices are not generated again. Default none.
    #[serde(default)]
    pub existing_drills: Vec<Drill>,
    /// Most LLM calls the run may make (Cloudflare Workers' free plan allows 50 subrequests per
    /// invocation, and every retry is one). Checked against the worst case before the first call,
    /// and enforced at every call. Default: no limit.
    #[serde(default)]
    pub subrequest_budget: Option<f64>,
    /// Default `fail`.
    #[serde(default)]
    pub budget_policy: BudgetPolicy,
    /// Default `auto`.
    #[serde(default)]
    pub cache_warmup: CacheWarmup,
}

/// How long the host's callbacks may take and the whole call may last: checked once with the
/// options (`RunConfig.limits`), read by the bindings to bound the host side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HostLimits {
    pub host_timeout_ms: u64,
    pub deadline_ms: Option<u64>,
}

/// Options of `generateBatch`, and the part of `generateDrillSeries` options every batch shares.
#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "camelCase")]
pub struct BatchOptions {
    /// 1 to 200 characters; drill ids are `artifactId:index`.
    pub artifact_id: String,
    pub context: PromptContext,
    /// Default: drillgen's own texts.
    #[serde(default)]
    pub prompts: PromptTemplates,
    pub llm: LlmConfig,
    /// Default: 3 retries, backoff from 500 ms to 8 s, Retry-After up to 60 s.
    #[serde(default)]
    pub retry: RetryPolicy,
    /// Seeds the retry jitter and, for a run, the sample: a resume should pass the first run's
    /// `seed`. Default: a fresh random seed (returned in the result).
    #[serde(default)]
    pub seed: Option<f64>,
    /// How long `persist`, `load`, `verify` (and a promise returned by `onProgress`) may take
    /// before drillgen stops waiting: a timed-out `persist` is retried, then its drills are handed
    /// back in `unpersistedDrills`. It may still have written, so keep persistence idempotent by
    /// `drillId`. Default 30,000 ms.
    #[serde(default)]
    pub host_timeout_ms: Option<f64>,
    /// The whole call must settle within this many ms: past it, requests and waits are cut
    /// short and the run ends `CANCELLED` (batches `DEADLINE_EXCEEDED`) with what it generated.
    /// Default: no deadline.
    #[serde(default)]
    pub deadline_ms: Option<f64>,
}

/// A whole number of milliseconds a timer can wait (1 to 2^31 − 1).
pub fn timer_ms(value: Option<f64>, name: &str, default: Option<u64>) -> Result<Option<u64>> {
    match value {
        None => Ok(default),
        Some(v) if v.fract() == 0.0 && v >= 1.0 && v <= MAX_TIMER_MS as f64 => Ok(Some(v as u64)),
        Some(v) => Err(DrillgenError::InvalidOptions(format!(
            "{name} must be a whole number of milliseconds from 1 to {MAX_TIMER_MS}, got {}",
            crate::text::num(v)
        ))),
    }
}

impl BatchOptions {
    /// The host side's limits, checked: `hostTimeoutMs` (default 30 s) and `deadlineMs`.
    pub fn host_limits(&self) -> Result<HostLimits> {
        Ok(HostLimits {
            host_timeout_ms: self.host_timeout_ms()?,
            deadline_ms: self.deadline_ms()?,
        })
    }

    fn host_timeout_ms(&self) -> Result<u64> {
        Ok(timer_ms(
            self.host_timeout_ms,
            "hostTimeoutMs",
            Some(DEFAULT_HOST_TIMEOUT_MS),
        )?
        .unwrap_or(DEFAULT_HOST_TIMEOUT_MS))
    }

    fn deadline_ms(&self) -> Result<Option<u64>> {
        timer_ms(self.deadline_ms, "deadlineMs", None)
    }

    pub(crate) fn check_artifact_id(&self) -> Result<()> {
        let id = &self.artifact_id;
        if id.trim().is_empty() || id.chars().count() > 200 || id.chars().any(char::is_control) {
            return Err(DrillgenError::InvalidOptions(
                "artifactId must be 1 to 200 characters without control characters".into(),
            ));
        }
        Ok(())
    }
}

impl RunOptions {
    pub fn concurrency(&self) -> Result<u32> {
        match self.concurrency {
            None => Ok(DEFAULT_CONCURRENCY),
            Some(c) if c.fract() == 0.0 && (1.0..=f64::from(MAX_CONCURRENCY)).contains(&c) => {
                Ok(c as u32)
            }
            Some(c) => Err(DrillgenError::InvalidOptions(format!(
                "concurrency must be an integer from 1 to {MAX_CONCURRENCY}, got {}",
                crate::text::num(c)
            ))),
        }
    }

    pub fn check_existing(&self) -> Result<()> {
        if self.existing_drills.len() > MAX_EXISTING_DRILLS {
            return Err(DrillgenError::InvalidOptions(format!(
                "existingDrills has {} drills, more than the {MAX_EXISTING_DRILLS} allowed",
                self.existing_drills.len()
            )));
        }
        Ok(())
    }
}

/// Fits the retries of `batches` batches (plus `extra` calls format negotiation may need) into
/// `budget` calls, or refuses. Returns the retry count to use and a warning when it was lowered.
pub fn fit_budget(
    budget: Option<f64>,
    policy: BudgetPolicy,
    batches: u32,
    extra: u32,
    max_retries: u32,
) -> Result<(u32, Option<Warning>)> {
    let Some(budget) = budget else {
        return Ok((max_retries, None));
    };
    if !(budget.fract() == 0.0 && (1.0..=1_000_000.0).contains(&budget)) {
        return Err(DrillgenError::InvalidOptions(format!(
            "subrequestBudget must be an integer from 1 to 1,000,000, got {}",
            crate::text::num(budget)
        )));
    }
    let budget = budget as u32;
    let attempts = max_retries + 1;
    let needed = batches * attempts + extra;
    if needed <= budget || batches == 0 {
        return Ok((max_retries, None));
    }
    let refuse = |attempts| DrillgenError::SubrequestBudget {
        needed: batches * attempts + extra,
        budget,
        batches,
        attempts,
    };
    match policy {
        BudgetPolicy::Fail => Err(refuse(attempts)),
        BudgetPolicy::Reduce if batches + extra > budget => Err(refuse(1)),
        BudgetPolicy::Reduce => {
            let retries = (budget - extra) / batches - 1;
            let warning = Warning::new(
                crate::WarningCode::RETRIES_REDUCED,
                format!(
                    "{batches} batches × {attempts} attempts (+{extra} for format negotiation) would exceed the subrequest budget of {budget}; retries lowered from {max_retries} to {retries}"
                ),
            );
            Ok((retries, Some(warning)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_budget_counts_negotiation_and_lowers_or_refuses() {
        assert_eq!(
            fit_budget(None, BudgetPolicy::Fail, 100, 0, 3).unwrap().0,
            3
        );
        assert_eq!(
            fit_budget(Some(50.0), BudgetPolicy::Fail, 12, 0, 3).unwrap(),
            (3, None)
        );
        let e = fit_budget(Some(50.0), BudgetPolicy::Fail, 12, 6, 3).unwrap_err();
        assert_eq!(e.code(), "SUBREQUEST_BUDGET");
        let (retries, warning) = fit_budget(Some(50.0), BudgetPolicy::Reduce, 20, 6, 3).unwrap();
        assert_eq!(retries, 1, "(50 - 6) / 20 = 2 attempts");
        assert_eq!(
            warning.map(|w| w.code),
            Some(crate::WarningCode::RETRIES_REDUCED)
        );
        assert_eq!(
            fit_budget(Some(50.0), BudgetPolicy::Reduce, 60, 0, 3)
                .unwrap_err()
                .code(),
            "SUBREQUEST_BUDGET"
        );
        assert_eq!(
            fit_budget(Some(0.5), BudgetPolicy::Reduce, 1, 0, 3)
                .unwrap_err()
                .code(),
            "INVALID_OPTIONS"
        );
    }

    #[test]
    fn timer_values_stay_in_the_timer_range() {
        assert_eq!(timer_ms(None, "x", Some(5)).unwrap(), Some(5));
        assert_eq!(timer_ms(Some(1.0), "x", None).unwrap(), Some(1));
        for bad in [0.0, -1.0, 1.5, 1e12, f64::INFINITY] {
            assert_eq!(
                timer_ms(Some(bad), "hostTimeoutMs", None)
                    .unwrap_err()
                    .code(),
                "INVALID_OPTIONS",
                "{bad}"
            );
        }
    }
}

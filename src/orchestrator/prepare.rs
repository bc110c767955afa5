//! The run's preparation, the first step of the pipeline: check every option, then
//! plan → sample → partition, and settle what every batch shares (`RunConfig`: the checked endpoint,
//! the redactor of the run's credentials, the retry policy, the prompt-cache plan). Nothing here
//! makes a request, so a bad option is always refused before the first call.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::options::{BatchOptions, GenerateOptions, HostLimits};
use crate::drill::batch_output_schema;
use crate::error::{DrillgenError, Result};
use crate::llm::url::BaseUrl;
use crate::llm::{LlmConfig, Provider, Runtime};
use crate::plan::{MAX_BATCH_SIZE, MAX_TARGET_DRILLS, ValidRequest};
use crate::prompt::{PromptTemplates, shared_prefix, slots};
use crate::retry::RetryPolicy;
use crate::text::Redactor;
use crate::types::{BatchSpec, Position, Warning};

/// What every batch of a run shares.
#[derive(Debug, Clone)]
pub struct RunConfig {
    pub artifact_id: String,
    pub llm: LlmConfig,
    /// The base URL, checked once per run.
    pub endpoint: BaseUrl,
    pub redactor: Redactor,
    /// The system prompt every batch shares, built once (the context rendered, up to 256 KiB).
    pub system: String,
    pub prompts: PromptTemplates,
    pub retry: RetryPolicy,
    pub concurrency: u32,
    /// Persist retries use the same backoff but never Retry-After.
    pub persist_retries: u32,
    /// Hard limit on LLM calls (`subrequestBudget`), checked before each call.
    pub call_budget: Option<u32>,
    pub cache: CacheReport,
    /// The host side's limits, for the bindings' `Host` and cancellation.
    pub limits: HostLimits,
}

/// Whether the shared prefix (schema and system prompt) can be cached by the provider, and whether
/// the run warms the cache with its first batch.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "camelCase")]
pub struct CacheReport {
    /// Estimated tokens of the prefix every batch shares (4 bytes a token).
    pub prefix_tokens: u32,
    /// The provider's minimum cacheable prefix for this model.
    pub minimum_tokens: u32,
    pub cacheable: bool,
    /// The first batch ran alone until its response began.
    pub warmup: bool,
}

/// Retries of a `persist` that rejected or timed out, before its drills are handed back in
/// `unpersistedDrills`: a store that fails 4 times in a row is down, not flaky.
pub const PERSIST_RETRIES: u32 = 3;

/// Minimum cacheable prefixes per provider and model, from the providers' documentation.
const CACHE_MINIMUMS: &str = include_str!("../../data/cache-minimums.json");

#[derive(Deserialize)]
struct CacheMinimums {
    openai: u32,
    anthropic: AnthropicMinimums,
}

#[derive(Deserialize)]
struct AnthropicMinimums {
    default: u32,
    /// `[model name prefix, tokens]`, most specific first.
    models: Vec<(String, u32)>,
}

fn minimum_tokens(config: &LlmConfig) -> u32 {
    // Text to `Value`, then `input::from_value`: `from_str::<CacheMinimums>` would compile the
    // derived visitors a second time, for serde_json's text deserializer.
    let parsed = serde_json::from_str::<Value>(CACHE_MINIMUMS).ok();
    let Some(table) = parsed
        .as_ref()
        .and_then(|v| crate::input::from_value::<CacheMinimums>(v).ok())
    else {
        return 1024;
    };
    match config.provider {
        Provider::Openai => table.openai,
        Provider::Anthropic => table
            .anthropic
            .models
            .iter()
            .find(|(prefix, _)| config.model.starts_with(prefix.as_str()))
            .map_or(table.anthropic.default, |(_, n)| *n),
    }
}

/// FNV-1a: a stable short hash for `prompt_cache_key` (same prefix, same key, in every release).
fn fnv1a(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// The key that routes a series' batches to one OpenAI prompt cache: derived from the shared
/// system prompt, so every series with the same teacher's material shares it too.
pub fn cache_key_for(system: &str) -> String {
    format!("drillgen-{:016x}", fnv1a(system))
}

/// The prefix every batch of `drill_count` drills shares, as the providers cache it: the schema
/// (OpenAI puts it before the system message; Anthropic caches tools first) and the system prompt.
pub fn shared_prefix_parts(options: &BatchOptions, drill_count: usize) -> Result<(String, String)> {
    let system = shared_prefix(&options.context, &options.prompts)?;
    Ok((system, batch_output_schema(drill_count).to_string()))
}

fn shared_config(
    options: &BatchOptions,
    concurrency: u32,
    drills_per_batch: usize,
    runtime: Runtime,
) -> Result<RunConfig> {
    options.check_artifact_id()?;
    let url = options.llm.check(runtime)?;
    options.retry.check()?;
    crate::prompt::check_templates(&options.prompts)?;
    let limits = options.host_limits()?;
    let (system, schema) = shared_prefix_parts(options, drills_per_batch)?;
    let prefix_tokens = ((system.len() + schema.len()) / 4).min(u32::MAX as usize) as u32;
    let system_prompt = system;
    let minimum = minimum_tokens(&options.llm);
    Ok(RunConfig {
        artifact_id: options.artifact_id.clone(),
        redactor: options.llm.redactor(),
        llm: options.llm.clone(),
        endpoint: url,
        system: system_prompt,
        prompts: options.prompts.clone(),
        retry: options.retry,
        concurrency,
        persist_retries: PERSIST_RETRIES,
        call_budget: None,
        cache: CacheReport {
            prefix_tokens,
            minimum_tokens: minimum,
            cacheable: prefix_tokens >= minimum,
            warmup: false,
        },
        limits,
    })
}

/// The most one `generateBatch` with these options can cost, for a host that must budget it before
/// it starts (a Workflow step's subrequests and its timeout).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "camelCase")]
pub struct WorstCase {
    /// LLM calls: every attempt (`retry.maxRetries + 1`) and every format-negotiation refusal the
    /// server can still answer with (a refused feature costs a call, once).
    pub llm_calls: u32,
    /// Milliseconds, with nobody waiting for a rate governor: every call timing out
    /// (`llm.timeoutMs`, and the second a `fetch` that ignores its signal is given), every retry wait at its cap, `persist` timing out on each of its 4 tries
    /// (`hostTimeoutMs`) with its backoff, and the final wait for `onProgress` promises. With
    /// `deadlineMs`, at most the deadline plus the grace an aborted `persist` gets.
    pub duration_ms: f64,
}

/// `WorstCase` of a batch with these options (checked as `generateBatch` checks them).
pub fn batch_worst_case(options: &BatchOptions, runtime: Runtime) -> Result<WorstCase> {
    let config = shared_config(options, 1, MAX_BATCH_SIZE as usize, runtime)?;
    let negotiation = super::negotiation_for(&config);
    let retries = config.retry.max_retries;
    let llm_calls = retries + 1 + negotiation.max_steps(config.llm.streams());
    let wait = config
        .retry
        .max_delay_ms
        .max(config.retry.max_retry_after_ms) as f64;
    let host = config.limits.host_timeout_ms as f64;
    let per_call = config
        .llm
        .timeout_ms()
        .saturating_add(super::FETCH_GRACE_MS) as f64;
    let calls = f64::from(llm_calls) * per_call + f64::from(retries) * wait;
    let persist = f64::from(PERSIST_RETRIES + 1) * host
        + f64::from(PERSIST_RETRIES) * config.retry.max_delay_ms as f64;
    let mut duration_ms = calls + persist + host;
    if let Some(deadline) = config.limits.deadline_ms {
        duration_ms = duration_ms.min(deadline as f64 + host);
    }
    Ok(WorstCase {
        llm_calls,
        duration_ms,
    })
}

/// A prepared run: the checked request, the sample and its seed, the batches, the shared config.
pub struct Prepared {
    pub request: ValidRequest,
    pub seed: u64,
    pub sample: Vec<Position>,
    /// Loaded positions no drill uses, kept for a later top-up (`Sample.spares`).
    pub spares: Vec<Position>,
    pub batches: Vec<BatchSpec>,
    pub config: RunConfig,
    pub warnings: Vec<Warning>,
}

/// plan → sample → partition, after every option is checked.
pub fn prepare_run(options: &GenerateOptions, runtime: Runtime) -> Result<Prepared> {
    let request = options.run.request.check()?;
    let concurrency = options.run.concurrency()?;
    options.run.check_existing()?;
    let seed = crate::sample::resolve_seed(options.batch.seed)?;
    let avoid = options
        .run
        .avoid_position_ids
        .as_deref()
        .unwrap_or_default();
    let crate::series::Series {
        sample, batches, ..
    } = crate::series::series(
        &request,
        &options.run.positions,
        seed,
        avoid,
        options.run.mode,
    )?;
    let per_batch = batches.first().map_or(1, |b| b.drill_indices.len());
    let config = shared_config(&options.batch, concurrency, per_batch, runtime)?;
    Ok(Prepared {
        request,
        seed,
        sample: sample.positions,
        spares: sample.spares,
        batches,
        config,
        warnings: sample.warnings,
    })
}

/// Checks a batch a host fans out on its own (`generateBatch`) as strictly as a run checks its own
/// batches, then settles its config.
pub fn prepare_batch(
    batch: &BatchSpec,
    options: &BatchOptions,
    runtime: Runtime,
) -> Result<RunConfig> {
    crate::sample::check_pool(&batch.positions)?;
    let bad = |m: String| Err(DrillgenError::InvalidOptions(format!("batch: {m}")));
    let indices = &batch.drill_indices;
    if indices.is_empty() || indices.len() > MAX_BATCH_SIZE as usize {
        return bad(format!(
            "drillIndices must hold 1 to {MAX_BATCH_SIZE} indices"
        ));
    }
    if batch.total_batches == 0
        || batch.total_batches > MAX_TARGET_DRILLS
        || batch.batch_index >= batch.total_batches
    {
        return bad(format!(
            "batchIndex must be below totalBatches, which is at most {MAX_TARGET_DRILLS}"
        ));
    }
    let mut sorted = indices.clone();
    crate::order::sort(&mut sorted);
    sorted.dedup();
    if sorted.len() != indices.len() || sorted.last().is_some_and(|&i| i >= MAX_TARGET_DRILLS) {
        return bad(format!(
            "drillIndices must be distinct and below {MAX_TARGET_DRILLS}"
        ));
    }
    if batch.positions.is_empty() {
        return bad("positions is empty".into());
    }
    // Every drill must get an answer key from the engine's analysis of its position.
    slots(batch, indices)?;
    shared_config(options, 1, indices.len(), runtime)
}

//! Runs a drill series, step by step:
//! 1. `prepare_run` (prepare.rs): check every option, plan → sample → partition;
//! 2. `existing_drills`: what a resume already has (`existingDrills` or `load()`);
//! 3. `start`: the batches still to do, the subrequest budget, the cache warm-up, shared state;
//! 4. `run_batches`: batches concurrently (bounded), each generate → read → persist → progress,
//!    with retries, format negotiation, fail-fast and abort (batch.rs, attempt.rs); then the
//!    indices of batches that failed for good, again on spare positions (topup.rs);
//! 5. `finish_series` (finish.rs): the series rebuilt from storage, verified, reported.
//!
//! Generic over the outside world (`Transport`, `Clock`, `Host`) so native tests drive it with
//! fakes and the wasm bindings with `fetch`, `setTimeout` and JS callbacks.

mod attempt;
mod batch;
mod early;
pub mod events;
mod finish;
pub mod govern;
mod options;
mod prepare;
mod state;
#[cfg(test)]
mod tests;
mod topup;

use std::cell::RefCell;
use std::collections::HashSet;
use std::future::Future;

use futures_util::StreamExt;
use futures_util::stream;

use batch::{BatchJob, run_batch};
pub use events::*;
pub use options::{
    BatchOptions, BudgetPolicy, CacheWarmup, DEFAULT_HOST_TIMEOUT_MS, GenerateOptions, HostLimits,
    Mode, fit_budget, timer_ms,
};
pub use prepare::{
    CacheReport, Prepared, RunConfig, WorstCase, batch_worst_case, cache_key_for, prepare_batch,
    prepare_run,
};
use state::{Gate, Limiter, RunState};

use crate::drill::Drill;
use crate::error::DrillgenError;
use crate::llm::{HttpRequest, HttpResponse, Negotiation, Provider, Runtime, Usage};
use crate::merge::{Artifact, merge};
use crate::rng::SeededRng;
use crate::types::BatchSpec;

/// How long after `timeout_ms` a transport may take to give up on a `fetch` that ignores its
/// signal (the guard around the whole exchange).
pub const FETCH_GRACE_MS: u64 = 1_000;

/// Limits of one HTTP call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SendLimits {
    pub timeout_ms: u64,
    pub max_bytes: u64,
}

/// Sends one HTTP request. Implementations enforce `timeout_ms` over the whole exchange, body
/// included (→ `TIMEOUT`), cap the body at `max_bytes` (→ `RESPONSE_TOO_LARGE`), never follow a
/// redirect (→ the 3xx response, or `REDIRECT_REFUSED`), map connection failures to
/// `NETWORK_ERROR`, tell `watch` the status as soon as it and the headers have arrived and each
/// piece of the body as it is read, and end with the host's stop reason (`ABORTED`,
/// `DEADLINE_EXCEEDED`) as soon as the run stops.
pub trait Transport {
    fn send(
        &self,
        request: HttpRequest,
        limits: SendLimits,
        watch: &dyn Watch,
    ) -> impl Future<Output = Result<HttpResponse, DrillgenError>>;
}

/// What a call learns while its answer arrives: the status (the cue that releases batches onto a
/// warm prompt cache), then the body piece by piece (the drills of a streamed answer, as they close).
pub trait Watch {
    fn began(&self, status: u16);
    /// A piece of the body as read; pieces may split a character. An error stops the reading
    /// (the request is cancelled) and is the call's outcome: an answer over its cap.
    fn chunk(&self, bytes: &[u8]) -> Result<(), DrillgenError>;
}

/// Time, without `std::time::Instant` (it panics on wasm32-unknown-unknown).
pub trait Clock {
    /// Milliseconds since the Unix epoch (for Retry-After dates and `retryAt`).
    fn now_ms(&self) -> f64;
    /// Waits `ms`, or ends early with the stop reason when the run stops.
    fn sleep(&self, ms: u64) -> impl Future<Output = Result<(), DrillgenError>>;
}

/// The host's side: storage, progress display, verification, cancellation. Implementations bound
/// every callback in time (a callback that never settles is an error, not a hang).
pub trait Host {
    fn persist(
        &self,
        drills: &[Drill],
        batch: &BatchInfo,
    ) -> impl Future<Output = Result<(), String>>;
    /// Whether `persist` stores anything. A host without storage (a `generateBatch` with no
    /// `persist`) reports its drills as not stored: they exist only in the outcome.
    fn stores(&self) -> bool {
        true
    }
    /// The stored drills of this artifact; `None` when the host keeps no readable store.
    fn load(&self) -> impl Future<Output = Option<Result<Vec<Drill>, String>>>;
    /// Must not fail the run: implementations swallow the host's exceptions.
    fn progress(&self, event: &DrillProgressEvent);
    fn verify(
        &self,
        artifact: &Artifact,
    ) -> impl Future<Output = Option<Result<serde_json::Value, String>>>;
    /// Why the run must stop now (`ABORTED`, `DEADLINE_EXCEEDED`); `None` while it may go on.
    fn stop_reason(&self) -> Option<DrillgenError>;
    /// Waits, bounded, for what the callbacks left running (promises `onProgress` returned).
    fn settle(&self) -> impl Future<Output = ()>;
    /// The rate governor the host shares between runs (`rateGovernor`); `None`: calls go out as
    /// the run's own concurrency allows.
    fn governor(&self) -> Option<&govern::SharedGovernor> {
        None
    }
}

/// One run (or one fanned-out batch) in progress: the shared config, the outside world, the
/// shared state and the warm-up gate.
pub(crate) struct Run<'a, T, C, H> {
    pub config: RunConfig,
    pub transport: &'a T,
    pub clock: &'a C,
    pub host: &'a H,
    pub state: RefCell<RunState>,
    pub gate: Gate,
    /// The batch that warms the prompt cache: it streams, the others wait for its response to begin.
    pub warm_batch: Option<u32>,
    /// Calls in flight, at most `concurrency`, halved when queued calls time out.
    pub limiter: Limiter,
}

impl<T, C, H> Run<'_, T, C, H> {
    fn progress(&self) -> BatchProgress {
        let mut p = self.state.borrow().progress.clone();
        crate::order::sort(&mut p.failed);
        p
    }
}

/// Where format negotiation starts for this run (api.openai.com: its token field, a cache key).
fn negotiation_for(config: &RunConfig) -> Negotiation {
    let openai = config.endpoint.is_openai() && config.llm.provider == Provider::Openai;
    let cache_key = openai.then(|| cache_key_for(&config.system));
    Negotiation::new(&config.llm, openai, cache_key)
}

fn new_state(config: &RunConfig, total_drills: u32, total_batches: u32, seed: u64) -> RunState {
    RunState {
        completed_drills: 0,
        total_drills,
        progress: BatchProgress {
            completed: 0,
            total: total_batches,
            failed: vec![],
        },
        usage: Usage::default(),
        rng: SeededRng::new(seed ^ 0x9E37_79B9_7F4A_7C15),
        fatal: None,
        negotiation: negotiation_for(config),
        calls: 0,
        warnings: Vec::new(),
    }
}

/// A series whose options are checked and whose batches are planned, before any host or network
/// call. The bindings read its `limits` to set up the host side, so options are checked once.
pub struct SeriesRun {
    options: GenerateOptions,
    prepared: Prepared,
}

impl SeriesRun {
    pub fn limits(&self) -> HostLimits {
        self.prepared.config.limits
    }
}

/// Step 1: the options checked, the series planned, sampled and partitioned.
pub fn prepare_series(
    options: GenerateOptions,
    runtime: Runtime,
) -> Result<SeriesRun, DrillgenError> {
    let prepared = prepare_run(&options, runtime)?;
    Ok(SeriesRun { options, prepared })
}

/// Steps 2 to the end: what a resume has, the batches, the top-up, the merge and verification.
pub async fn run_series<T: Transport, C: Clock, H: Host>(
    series: SeriesRun,
    transport: &T,
    clock: &C,
    host: &H,
) -> Result<GenerationResult, DrillgenError> {
    let SeriesRun { options, prepared } = series;
    let existing = existing_drills(&options, host).await?;
    let jobs = jobs_to_do(&prepared, &existing);
    let run = start(&prepared, &options, &jobs, transport, clock, host)?;
    let mut outcomes = run_batches(jobs, &run).await;
    let topped = topup::top_up(&prepared, &mut outcomes, &run).await;
    finish::finish_series(&options, prepared, existing, outcomes, topped, &run).await
}

/// The whole run: `prepare_series`, then `run_series`.
pub async fn generate_series<T: Transport, C: Clock, H: Host>(
    options: GenerateOptions,
    runtime: Runtime,
    transport: &T,
    clock: &C,
    host: &H,
) -> Result<GenerationResult, DrillgenError> {
    run_series(prepare_series(options, runtime)?, transport, clock, host).await
}

/// Step 2: what a resume already has.
async fn existing_drills<H: Host>(
    options: &GenerateOptions,
    host: &H,
) -> Result<Vec<Drill>, DrillgenError> {
    if !options.run.existing_drills.is_empty() {
        return Ok(options.run.existing_drills.clone());
    }
    match host.load().await {
        Some(Ok(stored)) => Ok(stored),
        // A load cut short by the signal or the deadline says why: the run was stopped.
        Some(Err(e)) => Err(host.stop_reason().unwrap_or(DrillgenError::LoadFailed(e))),
        None => Ok(vec![]),
    }
}

/// The batches with the indices each still needs (all of them, unless resuming).
fn jobs_to_do(prepared: &Prepared, existing: &[Drill]) -> Vec<BatchJob> {
    let done: HashSet<u32> = merge(&prepared.request, existing.to_vec())
        .drills
        .iter()
        .map(|d| d.index)
        .collect();
    prepared
        .batches
        .iter()
        .map(|b| BatchJob {
            todo: b
                .drill_indices
                .iter()
                .copied()
                .filter(|i| !done.contains(i))
                .collect(),
            spec: b.clone(),
            top_up: false,
            closes_batch: false,
        })
        .collect()
}

/// Step 3: the budget (only batches with work count), the warm-up decision, the shared state.
fn start<'a, T: Transport, C: Clock, H: Host>(
    prepared: &Prepared,
    options: &GenerateOptions,
    jobs: &[BatchJob],
    transport: &'a T,
    clock: &'a C,
    host: &'a H,
) -> Result<Run<'a, T, C, H>, DrillgenError> {
    let mut config = prepared.config.clone();
    let busy: Vec<u32> = jobs
        .iter()
        .filter(|j| !j.todo.is_empty())
        .map(|j| j.spec.batch_index)
        .collect();
    config.cache.warmup = options.run.cache_warmup == CacheWarmup::Auto
        && config.cache.cacheable
        && busy.len() > 1
        && config.concurrency > 1;
    // Worst case: every batch in flight meets each refusal once before it sees the stepped-down
    // shape (streaming's refusals too when the batches stream, else only the warm-up batch's).
    let negotiation = negotiation_for(&config);
    let in_flight = config.concurrency.min(busy.len() as u32);
    let (plain, streamed) = (negotiation.max_steps(false), negotiation.max_steps(true));
    let each = if config.llm.streams() {
        streamed
    } else {
        plain
    };
    let extra = each * in_flight + (streamed - each) * u32::from(config.cache.warmup);
    let (retries, reduced) = fit_budget(
        options.run.subrequest_budget,
        options.run.budget_policy,
        busy.len() as u32,
        extra,
        config.retry.max_retries,
    )?;
    config.retry.max_retries = retries;
    config.call_budget = options.run.subrequest_budget.map(|b| b as u32);
    let mut state = new_state(
        &config,
        prepared.request.target_drill_count,
        jobs.len() as u32,
        prepared.seed,
    );
    state.warnings.extend(reduced);
    let done: u32 = jobs
        .iter()
        .map(|j| (j.spec.drill_indices.len() - j.todo.len()) as u32)
        .sum();
    state.completed_drills = done;
    state.progress.completed = (jobs.len() - busy.len()) as u32;
    let warm_batch = config.cache.warmup.then(|| busy[0]);
    Ok(Run {
        limiter: Limiter::new(config.concurrency),
        gate: if warm_batch.is_some() {
            Gate::default()
        } else {
            Gate::opened()
        },
        config,
        transport,
        clock,
        host,
        state: RefCell::new(state),
        warm_batch,
    })
}

/// Step 4: every batch, at most `concurrency` at once.
async fn run_batches<T: Transport, C: Clock, H: Host>(
    jobs: Vec<BatchJob>,
    run: &Run<'_, T, C, H>,
) -> Vec<BatchOutcome> {
    let mut outcomes: Vec<BatchOutcome> = stream::iter(jobs)
        .map(|job| run_batch(job, run))
        .buffer_unordered(run.config.concurrency as usize)
        .collect()
        .await;
    crate::order::sort_by_key(&mut outcomes, |o| o.batch_index);
    outcomes
}

/// One batch on its own, for hosts that fan batches out to separate invocations (queues,
/// workflows). Persists through `host` like a full run; merging is the host's last step.
/// One batch whose options are checked, before any host or network call (see `SeriesRun`).
pub struct BatchRun {
    batch: BatchSpec,
    options: BatchOptions,
    config: RunConfig,
}

impl BatchRun {
    pub fn limits(&self) -> HostLimits {
        self.config.limits
    }
}

pub fn prepare_batch_run(
    batch: BatchSpec,
    options: BatchOptions,
    runtime: Runtime,
) -> Result<BatchRun, DrillgenError> {
    let config = prepare_batch(&batch, &options, runtime)?;
    Ok(BatchRun {
        batch,
        options,
        config,
    })
}

pub async fn run_one_batch<T: Transport, C: Clock, H: Host>(
    prepared: BatchRun,
    transport: &T,
    clock: &C,
    host: &H,
) -> Result<BatchOutcome, DrillgenError> {
    let BatchRun {
        batch,
        options,
        config,
    } = prepared;
    // Unseeded, the jitter must differ between invocations, or fanned-out batches retry in lockstep.
    let seed = crate::sample::resolve_seed(options.seed)? ^ u64::from(batch.batch_index);
    let total = batch.drill_indices.len() as u32;
    let mut state = new_state(&config, total, batch.total_batches, seed);
    state.progress.completed = 0;
    let run = Run {
        config,
        transport,
        clock,
        host,
        state: RefCell::new(state),
        gate: Gate::opened(),
        warm_batch: None,
        limiter: Limiter::new(1),
    };
    let job = BatchJob {
        todo: batch.drill_indices.clone(),
        spec: batch,
        top_up: false,
        closes_batch: false,
    };
    let outcome = run_batch(job, &run).await;
    host.settle().await;
    Ok(outcome)
}

/// One batch: `prepare_batch_run`, then `run_one_batch`.
pub async fn generate_batch<T: Transport, C: Clock, H: Host>(
    batch: BatchSpec,
    options: BatchOptions,
    runtime: Runtime,
    transport: &T,
    clock: &C,
    host: &H,
) -> Result<BatchOutcome, DrillgenError> {
    run_one_batch(
        prepare_batch_run(batch, options, runtime)?,
        transport,
        clock,
        host,
    )
    .await
}

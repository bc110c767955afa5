//! A rate governor that many series can share: it admits a request when the provider's limits
//! have room for it, and sets how many run at once from what the provider says.
//!
//! - **Budgets.** Requests and tokens per minute, each a bucket refilling continuously (Anthropic
//!   documents its limits so; OpenAI's `x-ratelimit-reset-*` is the time to a full bucket, which
//!   the same model gives). Given by the host, or learned from `x-ratelimit-limit-*` /
//!   `anthropic-ratelimit-*-limit`; every response's `remaining` replaces our estimate of the level.
//! - **Concurrency** follows TCP's congestion control: slow start (one more per success, so it
//!   doubles per window) from 4 until the first 429/529, then AIMD: halved on a 429/529, raised by
//!   one per window of successes (`+1/limit` each), never below one. Slow start matters when many
//!   series share one governor: the token budget, not a small starting guess, should set the pace.
//! - **Waits.** A 429's `retry-after`, or a limit reported at zero, pauses every caller until its
//!   reset. Callers are served first come, first served, so no series starves another.
//!
//! Pure and clock-free: callers pass `now_ms` and sleep for the `Wait` they are given
//! (`orchestrator::govern` does, for every LLM call of a run given a governor).

use crate::retry::{header, parse_duration_ms, parse_rfc3339, retry_after_ms};

/// Where concurrency starts, and its ceiling (Workers allow six open connections per invocation;
/// a process shares one governor across many series, so it may go higher).
pub const START_CONCURRENCY: f64 = 4.0;
pub const MAX_CONCURRENCY: f64 = 64.0;
/// How often the caller right behind the first in line looks again (those further back, that many
/// times less often, up to MAX_POLL_STEPS times).
pub const QUEUE_POLL_MS: u64 = 25;
const MAX_POLL_STEPS: u64 = 40;
/// A 429 with no wait in its headers pauses everyone this long.
const DEFAULT_PAUSE_MS: f64 = 1_000.0;
/// The longest pause a response can impose on everyone: a per-minute limit refills within a
/// minute. A server asking for longer is judged by each call's own retry policy
/// (`maxRetryAfterMs`), which fails the batch rather than wait; the governor never holds the
/// others for a day because one header said so.
pub const MAX_PAUSE_MS: f64 = 60_000.0;
const MINUTE_MS: f64 = 60_000.0;

/// One per-minute limit, refilling continuously.
#[derive(Debug, Clone, Default)]
struct Bucket {
    per_minute: Option<f64>,
    /// The host gave the limit: headers do not change it.
    given: bool,
    available: f64,
    at_ms: f64,
}

impl Bucket {
    fn new(per_minute: Option<u32>, now_ms: f64) -> Self {
        let per_minute = per_minute.map(f64::from);
        Self {
            per_minute,
            given: per_minute.is_some(),
            available: per_minute.unwrap_or(0.0),
            at_ms: now_ms,
        }
    }

    fn refill(&mut self, now_ms: f64) {
        if let Some(cap) = self.per_minute {
            let gained = (now_ms - self.at_ms).max(0.0) * cap / MINUTE_MS;
            self.available = (self.available + gained).min(cap);
        }
        self.at_ms = self.at_ms.max(now_ms);
    }

    /// Milliseconds until `amount` fits (a request larger than the whole budget waits for a full one).
    fn wait_for(&self, amount: f64) -> f64 {
        match self.per_minute {
            Some(cap) if cap > 0.0 => {
                let needed = amount.min(cap) - self.available;
                (needed.max(0.0) * MINUTE_MS / cap).ceil()
            }
            _ => 0.0,
        }
    }

    fn take(&mut self, amount: f64) {
        if self.per_minute.is_some() {
            self.available -= amount;
        }
    }

    /// What the provider said: its limit (unless the host gave one; the latest report wins, so a
    /// key moved to another tier is followed) and the level now.
    fn learn(&mut self, limit: Option<f64>, remaining: Option<f64>) {
        if !self.given
            && let Some(limit) = limit.filter(|l| *l > 0.0)
        {
            self.per_minute = Some(limit);
        }
        // Only ever lowered: a response's `remaining` was counted when it was admitted, before
        // the calls admitted since, so raising our level to it would admit too much.
        if let (Some(cap), Some(left)) = (self.per_minute, remaining) {
            self.available = self.available.min(left.clamp(0.0, cap));
        }
    }
}

/// The limits a governor starts from (`createRateGovernor`). Each limit not given is learned from
/// the providers' headers; until then it does not hold calls back.
#[derive(Debug, Clone, Copy, Default, serde::Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "camelCase")]
pub struct RateLimits {
    /// Requests per minute of the key (1 to 10,000,000). Default: learned from headers.
    #[serde(default)]
    pub requests_per_minute: Option<f64>,
    /// Tokens per minute of the key, input and output (1 to 4,294,967,295). Default: learned.
    #[serde(default)]
    pub tokens_per_minute: Option<f64>,
}

impl RateLimits {
    /// The limits as whole numbers, or why not.
    pub fn check(&self) -> crate::Result<(Option<u32>, Option<u32>)> {
        let whole = |v: Option<f64>, name: &str, max: f64| match v {
            None => Ok(None),
            Some(v) if v.fract() == 0.0 && v >= 1.0 && v <= max => {
                Ok(Some(v.min(f64::from(u32::MAX)) as u32))
            }
            Some(v) => Err(crate::DrillgenError::InvalidOptions(format!(
                "{name} must be a whole number from 1 to {}, got {}",
                crate::text::num(max),
                crate::text::num(v)
            ))),
        };
        Ok((
            whole(self.requests_per_minute, "requestsPerMinute", 1e7)?,
            whole(
                self.tokens_per_minute,
                "tokensPerMinute",
                f64::from(u32::MAX),
            )?,
        ))
    }
}

/// What a host reports of a call it made under a permit (`RateGovernor.complete`).
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "camelCase")]
pub struct PermitReport {
    /// The call's HTTP status; 0 when no answer came.
    pub status: f64,
    /// The answer's headers (its rate-limit headers, `retry-after`). Default none.
    #[serde(default)]
    pub headers: std::collections::BTreeMap<String, String>,
    /// Tokens the provider billed, input and output. Default: not known.
    #[serde(default)]
    pub used_tokens: Option<f64>,
    /// Default `openai`, which charges a call's estimate when it admits it; `anthropic` charges
    /// what was used, so the rest of the estimate comes back.
    #[serde(default)]
    pub provider: Option<crate::llm::Provider>,
}

impl PermitReport {
    /// The headers as the readers expect them: names lower-cased.
    pub fn header_pairs(&self) -> Vec<(String, String)> {
        self.headers
            .iter()
            .map(|(k, v)| (k.to_ascii_lowercase(), v.clone()))
            .collect()
    }

    /// The report as the governor reads it, over `headers` (from `header_pairs`).
    pub fn report<'a>(&self, headers: &'a [(String, String)]) -> Report<'a> {
        let status = self.status;
        Report {
            status: if status.fract() == 0.0 && (0.0..=999.0).contains(&status) {
                status as u16
            } else {
                0
            },
            headers,
            used_tokens: self
                .used_tokens
                .filter(|u| *u >= 0.0)
                .map(|u| u.min(f64::from(u32::MAX)) as u32),
            refunds_unused: self.provider == Some(crate::llm::Provider::Anthropic),
        }
    }
}

/// What a caller is told: go now, or ask again after this many milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    Go(Permit),
    Wait(u64),
}

/// A place in line, given by `enqueue`; hand it back to `leave` if the caller stops waiting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ticket(u64);

/// An admitted request: its token estimate, settled against the real usage in `complete`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Permit {
    pub estimated_tokens: u32,
}

/// What came back from an admitted request.
#[derive(Debug, Clone, Default)]
pub struct Report<'a> {
    /// 0 when no response arrived (network error, timeout).
    pub status: u16,
    pub headers: &'a [(String, String)],
    /// Tokens the provider billed, input and output, when it said.
    pub used_tokens: Option<u32>,
    /// The provider charges the tokens used, not the estimate (Anthropic; or a call never sent).
    pub refunds_unused: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GovernorStats {
    pub admitted: u64,
    pub throttled: u64,
}

#[derive(Debug, Clone)]
pub struct RateGovernor {
    requests: Bucket,
    tokens: Bucket,
    concurrency: f64,
    /// No throttle seen yet: concurrency grows by one per success.
    slow_start: bool,
    in_flight: u32,
    paused_until: f64,
    /// Waiting callers as (priority, ticket): served lowest first, then first come.
    line: Vec<(u32, u64)>,
    next_ticket: u64,
    pub stats: GovernorStats,
}

impl RateGovernor {
    pub fn new(
        requests_per_minute: Option<u32>,
        tokens_per_minute: Option<u32>,
        now_ms: f64,
    ) -> Self {
        Self {
            requests: Bucket::new(requests_per_minute, now_ms),
            tokens: Bucket::new(tokens_per_minute, now_ms),
            concurrency: START_CONCURRENCY,
            slow_start: true,
            in_flight: 0,
            paused_until: 0.0,
            line: Vec::new(),
            next_ticket: 0,
            stats: GovernorStats::default(),
        }
    }

    /// How many requests may be in flight now.
    pub fn concurrency(&self) -> u32 {
        self.concurrency.floor() as u32
    }

    pub fn enqueue(&mut self) -> Ticket {
        self.enqueue_with(0)
    }

    /// A place in line behind every caller of a lower `priority` (a run passes the calls it has
    /// had admitted so far: a series' first call goes before another's tenth, so a series that
    /// starts late shows its first drill without waiting for the early ones to finish).
    pub fn enqueue_with(&mut self, priority: u32) -> Ticket {
        let id = self.next_ticket;
        self.next_ticket += 1;
        self.line.push((priority, id));
        Ticket(id)
    }

    /// Gives up a place in line (the caller was cancelled).
    pub fn leave(&mut self, ticket: Ticket) {
        self.line.retain(|(_, id)| *id != ticket.0);
    }

    /// Admits `ticket`'s request of about `estimated_tokens` if it is first in line and every
    /// limit has room; otherwise says how long to wait.
    pub fn try_admit(&mut self, ticket: Ticket, estimated_tokens: u32, now_ms: f64) -> Admission {
        let Some(&mine) = self.line.iter().find(|(_, id)| *id == ticket.0) else {
            return Admission::Wait(QUEUE_POLL_MS); // not in line: enqueue first
        };
        let ahead = self.line.iter().filter(|other| **other < mine).count();
        if ahead > 0 {
            // Those far back look again less often: nobody passes the ones ahead of them.
            return Admission::Wait(QUEUE_POLL_MS * (ahead as u64).min(MAX_POLL_STEPS));
        }
        if now_ms < self.paused_until {
            return Admission::Wait((self.paused_until - now_ms).ceil() as u64);
        }
        if self.in_flight >= self.concurrency() {
            return Admission::Wait(QUEUE_POLL_MS);
        }
        self.requests.refill(now_ms);
        self.tokens.refill(now_ms);
        let estimate = f64::from(estimated_tokens);
        let wait = self
            .requests
            .wait_for(1.0)
            .max(self.tokens.wait_for(estimate));
        if wait > 0.0 {
            return Admission::Wait(wait as u64);
        }
        self.requests.take(1.0);
        self.tokens.take(estimate);
        self.in_flight += 1;
        self.line.retain(|(_, id)| *id != ticket.0);
        self.stats.admitted += 1;
        Admission::Go(Permit { estimated_tokens })
    }

    /// Settles an admitted request: its real token count, the limits its headers report, and
    /// concurrency up (a success) or down (throttled).
    pub fn complete(&mut self, permit: Permit, report: &Report<'_>, now_ms: f64) {
        self.in_flight = self.in_flight.saturating_sub(1);
        // Anthropic's output limit counts the tokens written, so an over-estimate comes back;
        // OpenAI counts `max_tokens` when it admits a request and gives nothing back.
        if let Some(used) = report.used_tokens.filter(|_| report.refunds_unused) {
            self.tokens.available += f64::from(permit.estimated_tokens) - f64::from(used);
        }
        self.learn(report.headers, now_ms);
        match report.status {
            429 | 529 => {
                self.stats.throttled += 1;
                self.slow_start = false;
                self.concurrency = (self.concurrency / 2.0).max(1.0);
                let wait = retry_after_ms(429, report.headers, now_ms)
                    .map_or(DEFAULT_PAUSE_MS, |ms| ms as f64);
                self.pause(now_ms, wait);
            }
            200..=299 => {
                let step = if self.slow_start {
                    1.0
                } else {
                    1.0 / self.concurrency
                };
                self.concurrency = (self.concurrency + step).min(MAX_CONCURRENCY);
            }
            _ => {}
        }
    }

    /// Pauses everyone for `wait_ms` from now (a longer pause already set stays), never more
    /// than `MAX_PAUSE_MS` from now.
    fn pause(&mut self, now_ms: f64, wait_ms: f64) {
        let until = self.paused_until.max(now_ms + wait_ms.max(0.0));
        self.paused_until = until.min(now_ms + MAX_PAUSE_MS);
    }

    /// The providers' rate-limit headers: limits learned, levels replaced, and a limit at zero
    /// pauses everyone until its reset.
    fn learn(&mut self, headers: &[(String, String)], now_ms: f64) {
        for reading in readings(headers, now_ms) {
            let bucket = if reading.requests {
                &mut self.requests
            } else {
                &mut self.tokens
            };
            bucket.refill(now_ms);
            bucket.learn(reading.limit, reading.remaining);
            if reading.remaining == Some(0.0)
                && let Some(reset) = reading.reset_in_ms
            {
                self.pause(now_ms, reset);
            }
        }
    }
}

/// One limit as a response reports it.
#[derive(Debug, Clone, PartialEq)]
struct Reading {
    requests: bool,
    limit: Option<f64>,
    remaining: Option<f64>,
    reset_in_ms: Option<f64>,
}

/// OpenAI: `x-ratelimit-{limit,remaining,reset}-{requests,tokens}` (reset as `6m0s`). Anthropic:
/// `anthropic-ratelimit-{requests,tokens}-{limit,remaining,reset}` (reset as RFC 3339; its
/// input- and output-token limits are read as the token limit when no combined one is sent).
fn readings(headers: &[(String, String)], now_ms: f64) -> Vec<Reading> {
    let number = |name: &str| header(headers, name).and_then(|v| v.parse::<f64>().ok());
    let mut out = Vec::new();
    for (kind, requests) in [("requests", true), ("tokens", false)] {
        let openai = Reading {
            requests,
            limit: number(&format!("x-ratelimit-limit-{kind}")),
            remaining: number(&format!("x-ratelimit-remaining-{kind}")),
            reset_in_ms: header(headers, &format!("x-ratelimit-reset-{kind}"))
                .and_then(parse_duration_ms),
        };
        let names: &[&str] = if requests {
            &["requests"]
        } else {
            &["tokens", "input-tokens"]
        };
        let anthropic = names.iter().map(|n| Reading {
            requests,
            limit: number(&format!("anthropic-ratelimit-{n}-limit")),
            remaining: number(&format!("anthropic-ratelimit-{n}-remaining")),
            reset_in_ms: header(headers, &format!("anthropic-ratelimit-{n}-reset"))
                .and_then(parse_rfc3339)
                .map(|at| at - now_ms),
        });
        let found = std::iter::once(openai)
            .chain(anthropic)
            .find(|r| r.limit.is_some() || r.remaining.is_some());
        out.extend(found);
    }
    out
}

#[cfg(test)]
mod tests;

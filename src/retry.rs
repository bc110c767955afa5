//! When to try a batch again, and how long to wait first.

use serde::{Deserialize, Serialize};

use crate::error::DrillgenError;

/// Retry settings; every field optional on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "camelCase", default)]
pub struct RetryPolicy {
    /// Retries after the first attempt (default 3, so 4 attempts).
    pub max_retries: u32,
    pub base_delay_ms: u64,
    pub max_delay_ms: u64,
    /// A provider asking to wait longer than this fails the batch with `RATE_LIMITED`.
    pub max_retry_after_ms: u64,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_retries: 3,
            base_delay_ms: 500,
            max_delay_ms: 8_000,
            max_retry_after_ms: 60_000,
        }
    }
}

pub const MAX_RETRIES: u32 = 10;

impl RetryPolicy {
    pub fn check(&self) -> Result<(), DrillgenError> {
        if self.max_retries > MAX_RETRIES {
            return Err(DrillgenError::InvalidOptions(format!(
                "retry.maxRetries must be at most {MAX_RETRIES}, got {}",
                self.max_retries
            )));
        }
        if self.base_delay_ms == 0 || self.max_delay_ms < self.base_delay_ms {
            return Err(DrillgenError::InvalidOptions(
                "retry.baseDelayMs must be positive and at most retry.maxDelayMs".into(),
            ));
        }
        let limit = crate::llm::MAX_TIMER_MS;
        if self.max_delay_ms > limit || self.max_retry_after_ms > limit {
            return Err(DrillgenError::InvalidOptions(format!(
                "retry.maxDelayMs and retry.maxRetryAfterMs must be at most {limit} (timers cannot wait longer)"
            )));
        }
        Ok(())
    }

    /// `min(base · 2^n, max) · (1 − jitter · 0.25)` for the n-th retry (0-based), `jitter` in [0, 1).
    pub fn backoff_ms(&self, retry: u32, jitter: f64) -> u64 {
        let exp = self.base_delay_ms.saturating_mul(1u64 << retry.min(30));
        let capped = exp.min(self.max_delay_ms) as f64;
        (capped * (1.0 - jitter.clamp(0.0, 1.0) * 0.25)).round() as u64
    }
}

/// What to do after a failed attempt.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    RetryAfter { delay_ms: u64 },
    GiveUp(DrillgenError),
}

/// `attempt` is 1-based (the attempt that just failed). `retry_after_ms` is what the provider asked.
pub fn decide(
    policy: &RetryPolicy,
    error: DrillgenError,
    attempt: u32,
    retry_after_ms: Option<u64>,
    jitter: f64,
    now_ms: f64,
) -> Decision {
    if !error.is_retryable() || attempt > policy.max_retries {
        return Decision::GiveUp(error);
    }
    match retry_after_ms {
        Some(wait) if wait > policy.max_retry_after_ms => {
            Decision::GiveUp(DrillgenError::RateLimited {
                wait_ms: wait,
                max_ms: policy.max_retry_after_ms,
                retry_at_ms: now_ms + wait as f64,
            })
        }
        Some(wait) => Decision::RetryAfter { delay_ms: wait },
        None => Decision::RetryAfter {
            delay_ms: policy.backoff_ms(attempt - 1, jitter),
        },
    }
}

pub(crate) fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.trim())
}

/// The wait a response asks for: `retry-after-ms` first, then `retry-after` in seconds or as an
/// HTTP date (relative to `now_ms`, milliseconds since the Unix epoch); for a 429 without either,
/// the reset time of the exhausted limit in the providers' rate-limit headers.
pub fn retry_after_ms(status: u16, headers: &[(String, String)], now_ms: f64) -> Option<u64> {
    if let Some(ms) = header(headers, "retry-after-ms").and_then(|v| v.parse::<f64>().ok())
        && ms.is_finite()
        && ms >= 0.0
    {
        return Some(ms.round().min(u64::MAX as f64) as u64);
    }
    if let Some(value) = header(headers, "retry-after") {
        if let Ok(secs) = value.parse::<f64>() {
            return (secs.is_finite() && secs >= 0.0)
                .then(|| (secs * 1000.0).round().min(u64::MAX as f64) as u64);
        }
        let at = parse_http_date(value)?;
        return Some((at - now_ms).max(0.0).round() as u64);
    }
    (status == 429)
        .then(|| rate_limit_reset_ms(headers, now_ms))
        .flatten()
}

/// Anthropic sends `anthropic-ratelimit-{requests,tokens,input-tokens,output-tokens}-{remaining,reset}`
/// (reset as an RFC 3339 time), OpenAI `x-ratelimit-{remaining,reset}-{requests,tokens}` (reset as a
/// duration like `6m0s`). The wait is until the latest reset of a limit with nothing remaining.
fn rate_limit_reset_ms(headers: &[(String, String)], now_ms: f64) -> Option<u64> {
    let mut wait: Option<f64> = None;
    for limit in ["requests", "tokens", "input-tokens", "output-tokens"] {
        let anthropic = (
            header(headers, &format!("anthropic-ratelimit-{limit}-remaining")),
            header(headers, &format!("anthropic-ratelimit-{limit}-reset"))
                .and_then(parse_rfc3339)
                .map(|at| at - now_ms),
        );
        let openai = (
            header(headers, &format!("x-ratelimit-remaining-{limit}")),
            header(headers, &format!("x-ratelimit-reset-{limit}")).and_then(parse_duration_ms),
        );
        for (remaining, ms) in [anthropic, openai] {
            if remaining == Some("0")
                && let Some(ms) = ms.filter(|m| m.is_finite())
            {
                wait = Some(wait.map_or(ms, |w| w.max(ms)));
            }
        }
    }
    wait.map(|ms| ms.max(0.0).round() as u64)
}

/// `1s`, `6m0s`, `20ms`, `1h2m3.5s` (Go's duration format, which OpenAI's headers use).
pub fn parse_duration_ms(value: &str) -> Option<f64> {
    let (mut total, mut number) = (0.0, String::new());
    let mut chars = value.trim().chars().peekable();
    let mut any = false;
    while let Some(c) = chars.next() {
        if c.is_ascii_digit() || c == '.' {
            number.push(c);
            continue;
        }
        let n: f64 = number.parse().ok()?;
        number.clear();
        let unit = match (c, chars.peek()) {
            ('m', Some('s')) => {
                chars.next();
                1.0
            }
            ('h', _) => 3_600_000.0,
            ('m', _) => 60_000.0,
            ('s', _) => 1000.0,
            _ => return None,
        };
        total += n * unit;
        any = true;
    }
    (any && number.is_empty()).then_some(total)
}

/// `2026-11-26T18:43:35Z` or with an offset and fractional seconds; milliseconds since the epoch.
pub fn parse_rfc3339(value: &str) -> Option<f64> {
    let (date, time) = value.trim().split_once(['T', 't', ' '])?;
    let d: Vec<i64> = date
        .split('-')
        .map(|p| p.parse().ok())
        .collect::<Option<_>>()?;
    let [year, month, day] = d.as_slice() else {
        return None;
    };
    let (clock, offset_min) = if let Some(c) = time.strip_suffix(['Z', 'z']) {
        (c, 0)
    } else {
        let at = time.rfind(['+', '-'])?;
        let (c, off) = time.split_at(at);
        let sign = if off.starts_with('-') { -1 } else { 1 };
        let (h, m) = off[1..].split_once(':')?;
        (
            c,
            sign * (h.parse::<i64>().ok()? * 60 + m.parse::<i64>().ok()?),
        )
    };
    let mut hms = clock.split(':');
    let (h, m) = (
        hms.next()?.parse::<i64>().ok()?,
        hms.next()?.parse::<i64>().ok()?,
    );
    let s: f64 = hms.next()?.parse().ok()?;
    if !(1..=12).contains(month)
        || !(1..=31).contains(day)
        || h > 23
        || m > 59
        || !(0.0..61.0).contains(&s)
    {
        return None;
    }
    let days = days_from_civil(*year, *month, *day);
    Some(((days * 86_400 + h * 3600 + m * 60 - offset_min * 60) as f64 + s) * 1000.0)
}

/// Days since 1970-01-01 (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// `x-should-retry: true|false`, which OpenAI and Anthropic send to override the status class.
pub fn should_retry_override(headers: &[(String, String)]) -> Option<bool> {
    match header(headers, "x-should-retry")? {
        "true" => Some(true),
        "false" => Some(false),
        _ => None,
    }
}

/// Retryable by status: 408, 409, 429 and every 5xx (529 "overloaded" included).
pub fn status_is_retryable(status: u16) -> bool {
    matches!(status, 408 | 409 | 429) || (500..=599).contains(&status)
}

/// IMF-fixdate (`Wed, 21 Oct 2015 07:28:00 GMT`), the form RFC 9110 requires senders to use.
/// Returns milliseconds since the Unix epoch.
pub fn parse_http_date(value: &str) -> Option<f64> {
    let rest = value.split_once(", ")?.1;
    let parts: Vec<&str> = rest.split_whitespace().collect();
    let [day, month, year, time, "GMT"] = parts.as_slice() else {
        return None;
    };
    let day: i64 = day.parse().ok()?;
    let month = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ]
    .iter()
    .position(|m| m == month)? as i64
        + 1;
    let year: i64 = year.parse().ok()?;
    let hms: Vec<i64> = time
        .split(':')
        .map(|p| p.parse().ok())
        .collect::<Option<_>>()?;
    let [h, m, s] = hms.as_slice() else {
        return None;
    };
    if !(1..=31).contains(&day) || *h > 23 || *m > 59 || *s > 60 {
        return None;
    }
    let days = days_from_civil(year, month, day);
    Some(((days * 86_400 + h * 3600 + m * 60 + s) * 1000) as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn backoff_doubles_from_500_ms_to_the_8_s_cap() {
        let p = RetryPolicy::default();
        let schedule: Vec<u64> = (0..6).map(|n| p.backoff_ms(n, 0.0)).collect();
        assert_eq!(schedule, [500, 1000, 2000, 4000, 8000, 8000]);
        assert_eq!(p.backoff_ms(1, 0.999_999), 750);
        assert_eq!(p.backoff_ms(3, 0.5), 3500);
    }

    #[test]
    fn retry_after_in_ms_seconds_and_dates() {
        let now = parse_http_date("Wed, 21 Oct 2015 07:28:00 GMT").unwrap();
        assert_eq!(now, 1_445_412_480_000.0);
        assert_eq!(
            retry_after_ms(
                503,
                &h(&[("retry-after-ms", "1500"), ("retry-after", "9")]),
                now
            ),
            Some(1500)
        );
        assert_eq!(
            retry_after_ms(503, &h(&[("Retry-After", "2")]), now),
            Some(2000)
        );
        assert_eq!(
            retry_after_ms(
                503,
                &h(&[("retry-after", "Wed, 21 Oct 2015 07:28:30 GMT")]),
                now
            ),
            Some(30_000)
        );
        assert_eq!(
            retry_after_ms(
                503,
                &h(&[("retry-after", "Wed, 21 Oct 2015 07:27:00 GMT")]),
                now
            ),
            Some(0)
        );
        assert_eq!(
            retry_after_ms(503, &h(&[("retry-after", "soon")]), now),
            None
        );
        assert_eq!(retry_after_ms(503, &h(&[]), now), None);
    }

    #[test]
    fn a_429_without_retry_after_waits_for_the_exhausted_limit() {
        let now = parse_rfc3339("2026-11-26T18:00:00Z").unwrap();
        let anthropic = h(&[
            ("anthropic-ratelimit-requests-remaining", "12"),
            ("anthropic-ratelimit-requests-reset", "2026-11-26T18:00:40Z"),
            ("anthropic-ratelimit-input-tokens-remaining", "0"),
            (
                "anthropic-ratelimit-input-tokens-reset",
                "2026-11-26T18:00:07.5Z",
            ),
        ]);
        assert_eq!(retry_after_ms(429, &anthropic, now), Some(7500));
        assert_eq!(
            retry_after_ms(503, &anthropic, now),
            None,
            "only a 429 is a rate limit"
        );
        let openai = h(&[
            ("x-ratelimit-remaining-tokens", "0"),
            ("x-ratelimit-reset-tokens", "6m0s"),
            ("x-ratelimit-remaining-requests", "0"),
            ("x-ratelimit-reset-requests", "20ms"),
        ]);
        assert_eq!(retry_after_ms(429, &openai, now), Some(360_000));
        assert_eq!(parse_duration_ms("1h2m3.5s"), Some(3_723_500.0));
        assert_eq!(parse_duration_ms("soon"), None);
        assert_eq!(parse_rfc3339("2026-11-26T19:00:00+01:00"), Some(now));
        assert_eq!(parse_rfc3339("2026-13-01T00:00:00Z"), None);
    }

    #[test]
    fn statuses_split_into_retryable_and_permanent() {
        for s in [408, 409, 429, 500, 502, 503, 504, 529] {
            assert!(status_is_retryable(s), "{s}");
        }
        for s in [400, 401, 403, 404, 422] {
            assert!(!status_is_retryable(s), "{s}");
        }
        assert_eq!(
            should_retry_override(&h(&[("x-should-retry", "false")])),
            Some(false)
        );
    }

    #[test]
    fn decisions_follow_the_policy() {
        let p = RetryPolicy::default();
        let transient = DrillgenError::Http {
            status: 503,
            detail: String::new(),
            retryable: true,
        };
        assert_eq!(
            decide(&p, transient.clone(), 1, None, 0.0, 0.0),
            Decision::RetryAfter { delay_ms: 500 }
        );
        assert_eq!(
            decide(&p, transient.clone(), 3, None, 0.0, 0.0),
            Decision::RetryAfter { delay_ms: 2000 }
        );
        assert!(
            matches!(
                decide(&p, transient.clone(), 4, None, 0.0, 0.0),
                Decision::GiveUp(_)
            ),
            "4 attempts at most"
        );
        assert_eq!(
            decide(&p, transient.clone(), 1, Some(7000), 0.0, 0.0),
            Decision::RetryAfter { delay_ms: 7000 }
        );
        let Decision::GiveUp(e) = decide(&p, transient, 1, Some(90_000), 0.0, 1000.0) else {
            panic!()
        };
        assert_eq!(e.code(), "RATE_LIMITED");
        assert_eq!(
            e,
            DrillgenError::RateLimited {
                wait_ms: 90_000,
                max_ms: 60_000,
                retry_at_ms: 91_000.0
            }
        );
        let permanent = DrillgenError::Http {
            status: 401,
            detail: String::new(),
            retryable: false,
        };
        assert!(matches!(
            decide(&p, permanent, 1, None, 0.0, 0.0),
            Decision::GiveUp(_)
        ));
    }
}

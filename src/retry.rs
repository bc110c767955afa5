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
    pub fn validate(&self) -> Result<(), DrillgenError> {
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

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.trim())
}

/// The wait a response asks for: `retry-after-ms` first, then `retry-after` in seconds or as an
/// HTTP date (relative to `now_ms`, milliseconds since the Unix epoch).
pub fn retry_after_ms(headers: &[(String, String)], now_ms: f64) -> Option<u64> {
    if let Some(ms) = header(headers, "retry-after-ms").and_then(|v| v.parse::<f64>().ok())
        && ms.is_finite()
        && ms >= 0.0
    {
        return Some(ms.round() as u64);
    }
    let value = header(headers, "retry-after")?;
    if let Ok(secs) = value.parse::<f64>() {
        return (secs.is_finite() && secs >= 0.0).then(|| (secs * 1000.0).round() as u64);
    }
    let at = parse_http_date(value)?;
    Some((at - now_ms).max(0.0).round() as u64)
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
    // Days from civil date (Howard Hinnant's algorithm).
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
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
            retry_after_ms(&h(&[("retry-after-ms", "1500"), ("retry-after", "9")]), now),
            Some(1500)
        );
        assert_eq!(retry_after_ms(&h(&[("Retry-After", "2")]), now), Some(2000));
        assert_eq!(
            retry_after_ms(&h(&[("retry-after", "Wed, 21 Oct 2015 07:28:30 GMT")]), now),
            Some(30_000)
        );
        assert_eq!(
            retry_after_ms(&h(&[("retry-after", "Wed, 21 Oct 2015 07:27:00 GMT")]), now),
            Some(0)
        );
        assert_eq!(retry_after_ms(&h(&[("retry-after", "soon")]), now), None);
        assert_eq!(retry_after_ms(&h(&[]), now), None);
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

//! One error type for the whole crate. `code()` is the stable contract with JS hosts (they switch on
//! it); messages may improve over time, codes may not change. The codes are an enum of their own
//! so the TypeScript union `DrillgenErrorCode` is generated from it: a variant added here is in the
//! `.d.ts` with no second edit (the exhaustive `match` in `code()` forces the code to exist).

use thiserror::Error;

crate::codes::codes!(
    /// Stable codes of the errors drillgen throws and reports; switch on these, not on messages.
    DrillgenErrorCode {
        INVALID_TARGET_COUNT,
        INVALID_BATCH_SIZE,
        INVALID_MAX_POSITIONS,
        INVALID_PHASES,
        INVALID_SEED,
        INVALID_REQUEST,
        INVALID_POSITIONS,
        DUPLICATE_POSITION_ID,
        EMPTY_POOL,
        INSUFFICIENT_POSITIONS,
        INVALID_CONTEXT,
        INVALID_TEMPLATE,
        INVALID_DRILLS,
        INVALID_ARTIFACT,
        INVALID_OPTIONS,
        INVALID_XGID,
        RANDOM_UNAVAILABLE,
        NETWORK_ERROR,
        TIMEOUT,
        HTTP_ERROR,
        INSUFFICIENT_QUOTA,
        RATE_LIMITED,
        RESPONSE_TOO_LARGE,
        REDIRECT_REFUSED,
        INVALID_OUTPUT,
        ABORTED,
        DEADLINE_EXCEEDED,
        PERSIST_FAILED,
        LOAD_FAILED,
        SUBREQUEST_BUDGET,
        PERMIT_TIMEOUT,
    }
);

/// The short name inside the crate.
pub type ErrorCode = DrillgenErrorCode;

#[derive(Debug, Clone, PartialEq, Error)]
pub enum DrillgenError {
    #[error("targetDrillCount must be an integer from 1 to {max}, got {got}")]
    InvalidTargetCount { got: String, max: u32 },

    #[error("batchSize must be an integer from 1 to {max}, got {got}")]
    InvalidBatchSize { got: String, max: u32 },

    #[error("maxPositionsPerPhase must be an integer from 1 to {max}, got {got}")]
    InvalidMaxPositions { got: String, max: u32 },

    #[error("{0}")]
    InvalidPhases(String),

    #[error("seed must be an integer from 0 to 2^53 - 1, got {0}")]
    InvalidSeed(String),

    #[error("{0}")]
    InvalidRequest(String),

    #[error("{0}")]
    InvalidPositions(String),

    #[error("position id {0:?} appears more than once in the pool")]
    DuplicatePositionId(String),

    #[error("the position pool has no usable positions for the phases asked ({0})")]
    EmptyPool(String),

    #[error(
        "{batches} batches need at least one position each, but only {positions} positions were given"
    )]
    InsufficientPositions { positions: usize, batches: usize },

    #[error("{0}")]
    InvalidContext(String),

    #[error("{0}")]
    InvalidTemplate(String),

    #[error("{0}")]
    InvalidDrills(String),

    #[error("{0}")]
    InvalidArtifact(String),

    #[error("{0}")]
    InvalidOptions(String),

    #[error("no random source is available to draw a seed: {0}")]
    RandomUnavailable(String),

    #[error("network error: {0}")]
    Network(String),

    #[error("no response within {ms} ms")]
    Timeout { ms: u64 },

    #[error("HTTP {status}: {detail}")]
    Http {
        status: u16,
        detail: String,
        retryable: bool,
    },

    #[error("the provider account has no quota left (HTTP 429 insufficient_quota): {0}")]
    InsufficientQuota(String),

    #[error(
        "rate limited: the provider asks to wait {wait_ms} ms, more than the {max_ms} ms allowed"
    )]
    RateLimited {
        wait_ms: u64,
        max_ms: u64,
        retry_at_ms: f64,
    },

    #[error("the response body is larger than {limit} bytes")]
    ResponseTooLarge { limit: u64 },

    #[error("invalid LLM output: {0}")]
    InvalidOutput(String),

    #[error("the run was aborted")]
    Aborted,

    #[error("the run passed its deadline of {ms} ms")]
    DeadlineExceeded { ms: u64 },

    #[error("{0}")]
    RedirectRefused(String),

    #[error("{0}")]
    InvalidXgid(String),

    #[error("persist failed: {0}")]
    PersistFailed(String),

    #[error("load failed: {0}")]
    LoadFailed(String),

    #[error(
        "this run may need {needed} LLM calls ({batches} batches × {attempts} attempts), more than the subrequest budget of {budget}"
    )]
    SubrequestBudget {
        needed: u32,
        budget: u32,
        batches: u32,
        attempts: u32,
    },

    #[error(
        "the rate governor gave no permit within {ms} ms: other calls hold the key's limits; try again later or wait longer (maxWaitMs)"
    )]
    PermitTimeout { ms: u64 },
}

impl DrillgenError {
    /// Stable SCREAMING_SNAKE identifier that JS code can switch on.
    pub fn code(&self) -> ErrorCode {
        use ErrorCode as C;
        match self {
            Self::InvalidTargetCount { .. } => C::INVALID_TARGET_COUNT,
            Self::InvalidBatchSize { .. } => C::INVALID_BATCH_SIZE,
            Self::InvalidMaxPositions { .. } => C::INVALID_MAX_POSITIONS,
            Self::InvalidPhases(_) => C::INVALID_PHASES,
            Self::InvalidSeed(_) => C::INVALID_SEED,
            Self::InvalidRequest(_) => C::INVALID_REQUEST,
            Self::InvalidPositions(_) => C::INVALID_POSITIONS,
            Self::DuplicatePositionId(_) => C::DUPLICATE_POSITION_ID,
            Self::EmptyPool(_) => C::EMPTY_POOL,
            Self::InsufficientPositions { .. } => C::INSUFFICIENT_POSITIONS,
            Self::InvalidContext(_) => C::INVALID_CONTEXT,
            Self::InvalidTemplate(_) => C::INVALID_TEMPLATE,
            Self::InvalidDrills(_) => C::INVALID_DRILLS,
            Self::InvalidArtifact(_) => C::INVALID_ARTIFACT,
            Self::InvalidOptions(_) => C::INVALID_OPTIONS,
            Self::InvalidXgid(_) => C::INVALID_XGID,
            Self::RandomUnavailable(_) => C::RANDOM_UNAVAILABLE,
            Self::Network(_) => C::NETWORK_ERROR,
            Self::Timeout { .. } => C::TIMEOUT,
            Self::Http { .. } => C::HTTP_ERROR,
            Self::InsufficientQuota(_) => C::INSUFFICIENT_QUOTA,
            Self::RateLimited { .. } => C::RATE_LIMITED,
            Self::ResponseTooLarge { .. } => C::RESPONSE_TOO_LARGE,
            Self::RedirectRefused(_) => C::REDIRECT_REFUSED,
            Self::InvalidOutput(_) => C::INVALID_OUTPUT,
            Self::Aborted => C::ABORTED,
            Self::DeadlineExceeded { .. } => C::DEADLINE_EXCEEDED,
            Self::PersistFailed(_) => C::PERSIST_FAILED,
            Self::LoadFailed(_) => C::LOAD_FAILED,
            Self::SubrequestBudget { .. } => C::SUBREQUEST_BUDGET,
            Self::PermitTimeout { .. } => C::PERMIT_TIMEOUT,
        }
    }

    /// Whether trying the same operation again may succeed. Input errors never do; transient
    /// transport failures and bad model output do; an HTTP status carries its own verdict
    /// (status class, overridden by `x-should-retry`).
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Network(_)
            | Self::Timeout { .. }
            | Self::ResponseTooLarge { .. }
            | Self::InvalidOutput(_)
            | Self::PermitTimeout { .. } => true,
            Self::Http { retryable, .. } => *retryable,
            _ => false,
        }
    }

    /// Whether the same failure would hit every other batch of the run (a wrong or revoked key,
    /// no quota left, an unknown model or endpoint): the run stops starting and retrying batches.
    pub fn is_fatal_for_run(&self) -> bool {
        match self {
            Self::InsufficientQuota(_) => true,
            Self::Http { status, .. } => matches!(status, 401 | 403 | 404),
            _ => false,
        }
    }

    /// The HTTP status behind the error, when there is one.
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Http { status, .. } => Some(*status),
            Self::InsufficientQuota(_) | Self::RateLimited { .. } => Some(429),
            _ => None,
        }
    }
}

pub type Result<T, E = DrillgenError> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_is_its_variant_name_and_retryability_is_pinned() {
        let all = [
            DrillgenError::InvalidTargetCount {
                got: "0".into(),
                max: 1,
            },
            DrillgenError::InvalidBatchSize {
                got: "0".into(),
                max: 1,
            },
            DrillgenError::InvalidMaxPositions {
                got: "0".into(),
                max: 1,
            },
            DrillgenError::InvalidPhases(String::new()),
            DrillgenError::InvalidSeed(String::new()),
            DrillgenError::InvalidRequest(String::new()),
            DrillgenError::InvalidPositions(String::new()),
            DrillgenError::DuplicatePositionId(String::new()),
            DrillgenError::EmptyPool(String::new()),
            DrillgenError::InsufficientPositions {
                positions: 0,
                batches: 1,
            },
            DrillgenError::InvalidContext(String::new()),
            DrillgenError::InvalidTemplate(String::new()),
            DrillgenError::InvalidDrills(String::new()),
            DrillgenError::InvalidArtifact(String::new()),
            DrillgenError::InvalidOptions(String::new()),
            DrillgenError::InvalidXgid(String::new()),
            DrillgenError::RandomUnavailable(String::new()),
            DrillgenError::Network(String::new()),
            DrillgenError::Timeout { ms: 1 },
            DrillgenError::Http {
                status: 500,
                detail: String::new(),
                retryable: true,
            },
            DrillgenError::InsufficientQuota(String::new()),
            DrillgenError::RateLimited {
                wait_ms: 1,
                max_ms: 1,
                retry_at_ms: 0.0,
            },
            DrillgenError::ResponseTooLarge { limit: 1 },
            DrillgenError::RedirectRefused(String::new()),
            DrillgenError::InvalidOutput(String::new()),
            DrillgenError::Aborted,
            DrillgenError::DeadlineExceeded { ms: 1 },
            DrillgenError::PersistFailed(String::new()),
            DrillgenError::LoadFailed(String::new()),
            DrillgenError::SubrequestBudget {
                needed: 2,
                budget: 1,
                batches: 1,
                attempts: 2,
            },
            DrillgenError::PermitTimeout { ms: 1 },
        ];
        let mut codes: Vec<ErrorCode> = all.iter().map(DrillgenError::code).collect();
        for code in &codes {
            // What JS receives is exactly what serde (and so the generated TS union) says.
            let json = serde_json::to_string(code).unwrap_or_default();
            assert_eq!(json, format!("\"{}\"", code.as_str()));
        }
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), all.len(), "every variant has its own code");
        let retryable: Vec<&str> = all
            .iter()
            .filter(|e| e.is_retryable())
            .map(|e| e.code().as_str())
            .collect();
        assert_eq!(
            retryable,
            [
                "NETWORK_ERROR",
                "TIMEOUT",
                "HTTP_ERROR",
                "RESPONSE_TOO_LARGE",
                "INVALID_OUTPUT",
                "PERMIT_TIMEOUT"
            ]
        );
        let fatal: Vec<&str> = all
            .iter()
            .filter(|e| e.is_fatal_for_run())
            .map(|e| e.code().as_str())
            .collect();
        assert_eq!(
            fatal,
            ["INSUFFICIENT_QUOTA"],
            "a 500 is not fatal for the run"
        );
        let unauthorized = DrillgenError::Http {
            status: 401,
            detail: String::new(),
            retryable: false,
        };
        assert!(unauthorized.is_fatal_for_run());
    }
}

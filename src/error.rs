//! One error type for the whole crate. `code()` is the stable contract with JS hosts (they switch on
//! it); messages may improve over time, codes may not change.

use thiserror::Error;

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

    #[error("the position pool has no positions for the phases asked ({0})")]
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
}

impl DrillgenError {
    /// Stable SCREAMING_SNAKE identifier that JS code can switch on.
    pub fn code(&self) -> &'static str {
        match self {
            Self::InvalidTargetCount { .. } => "INVALID_TARGET_COUNT",
            Self::InvalidBatchSize { .. } => "INVALID_BATCH_SIZE",
            Self::InvalidMaxPositions { .. } => "INVALID_MAX_POSITIONS",
            Self::InvalidPhases(_) => "INVALID_PHASES",
            Self::InvalidSeed(_) => "INVALID_SEED",
            Self::InvalidRequest(_) => "INVALID_REQUEST",
            Self::InvalidPositions(_) => "INVALID_POSITIONS",
            Self::DuplicatePositionId(_) => "DUPLICATE_POSITION_ID",
            Self::EmptyPool(_) => "EMPTY_POOL",
            Self::InsufficientPositions { .. } => "INSUFFICIENT_POSITIONS",
            Self::InvalidContext(_) => "INVALID_CONTEXT",
            Self::InvalidTemplate(_) => "INVALID_TEMPLATE",
            Self::InvalidDrills(_) => "INVALID_DRILLS",
            Self::InvalidArtifact(_) => "INVALID_ARTIFACT",
            Self::InvalidOptions(_) => "INVALID_OPTIONS",
            Self::RandomUnavailable(_) => "RANDOM_UNAVAILABLE",
            Self::Network(_) => "NETWORK_ERROR",
            Self::Timeout { .. } => "TIMEOUT",
            Self::Http { .. } => "HTTP_ERROR",
            Self::InsufficientQuota(_) => "INSUFFICIENT_QUOTA",
            Self::RateLimited { .. } => "RATE_LIMITED",
            Self::ResponseTooLarge { .. } => "RESPONSE_TOO_LARGE",
            Self::InvalidOutput(_) => "INVALID_OUTPUT",
            Self::Aborted => "ABORTED",
            Self::PersistFailed(_) => "PERSIST_FAILED",
            Self::LoadFailed(_) => "LOAD_FAILED",
            Self::SubrequestBudget { .. } => "SUBREQUEST_BUDGET",
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
            | Self::InvalidOutput(_) => true,
            Self::Http { retryable, .. } => *retryable,
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
    fn codes_are_screaming_snake_and_distinct() {
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
            DrillgenError::InvalidOutput(String::new()),
            DrillgenError::Aborted,
            DrillgenError::PersistFailed(String::new()),
            DrillgenError::LoadFailed(String::new()),
            DrillgenError::SubrequestBudget {
                needed: 2,
                budget: 1,
                batches: 1,
                attempts: 2,
            },
        ];
        let mut codes: Vec<&str> = all.iter().map(|e| e.code()).collect();
        assert!(
            codes
                .iter()
                .all(|c| c.chars().all(|ch| ch.is_ascii_uppercase() || ch == '_'))
        );
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), all.len());
        // The .d.ts union is written by hand in the bindings; it must list exactly these codes.
        let ts = include_str!("bindings/ts.rs");
        let start = ts
            .find("export type DrillgenErrorCode =")
            .expect("union in ts.rs");
        let union = &ts[start..start + ts[start..].find(';').expect("union ends")];
        let mut declared: Vec<&str> = union.split('"').skip(1).step_by(2).collect();
        declared.sort_unstable();
        assert_eq!(declared, codes, "DrillgenErrorCode in src/bindings/ts.rs");
        let retryable: Vec<&str> = all
            .iter()
            .filter(|e| e.is_retryable())
            .map(|e| e.code())
            .collect();
        assert_eq!(
            retryable,
            [
                "NETWORK_ERROR",
                "TIMEOUT",
                "HTTP_ERROR",
                "RESPONSE_TOO_LARGE",
                "INVALID_OUTPUT"
            ]
        );
    }
}

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
        }
    }

    /// Whether trying the same operation again may succeed. Input errors never do.
    pub fn is_retryable(&self) -> bool {
        false
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
        assert!(all.iter().all(|e| !e.is_retryable()));
    }
}

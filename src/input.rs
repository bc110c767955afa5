//! Turning host input into typed values with coded errors. Works over any serde `Deserializer`:
//! the bindings feed it a `serde_wasm_bindgen::Deserializer` (no JSON round trip), native callers
//! and tests a `serde_json::Value`. The path of the offending field picks the error code, so
//! `{targetDrillCount: 2.5}` is `INVALID_TARGET_COUNT` and `positions[3].gamePhase` is
//! `INVALID_POSITIONS`.

use serde::de::{Deserialize, DeserializeOwned, Deserializer};

use crate::error::DrillgenError;

/// Which argument of an exported function a value came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Argument {
    Request,
    Positions,
    SampleOptions,
    Batch,
    Context,
    Prompts,
    Drills,
    Artifact,
    Options,
}

impl Argument {
    pub fn name(self) -> &'static str {
        match self {
            Self::Request => "request",
            Self::Positions => "positions",
            Self::SampleOptions => "options",
            Self::Batch => "batch",
            Self::Context => "context",
            Self::Prompts => "prompts",
            Self::Drills => "drills",
            Self::Artifact => "artifact",
            Self::Options => "options",
        }
    }

    fn error(self, path: &str, message: String) -> DrillgenError {
        let first = path.split(['.', '[']).next().unwrap_or_default();
        match (self, first) {
            (Self::Request, "targetDrillCount") => {
                DrillgenError::InvalidTargetCount { got: message, max: crate::plan::MAX_TARGET_DRILLS }
            }
            (Self::Request, "batchSize") => {
                DrillgenError::InvalidBatchSize { got: message, max: crate::plan::MAX_BATCH_SIZE }
            }
            (Self::Request, "maxPositionsPerPhase") => DrillgenError::InvalidMaxPositions {
                got: message,
                max: crate::plan::MAX_POSITIONS_PER_PHASE,
            },
            (Self::Request, "gamePhases") => DrillgenError::InvalidPhases(message),
            (Self::SampleOptions, "seed") => DrillgenError::InvalidSeed(message),
            (Self::Request, _) => DrillgenError::InvalidRequest(format!("request: {message}")),
            (Self::Positions, _) => DrillgenError::InvalidPositions(format!("{}: {message}", self.located(path))),
            (Self::Context, _) => DrillgenError::InvalidContext(format!("{}: {message}", self.located(path))),
            (Self::Prompts, _) => DrillgenError::InvalidTemplate(format!("{}: {message}", self.located(path))),
            (Self::Drills, _) => DrillgenError::InvalidDrills(format!("{}: {message}", self.located(path))),
            (Self::Artifact, _) => DrillgenError::InvalidArtifact(format!("{}: {message}", self.located(path))),
            (Self::SampleOptions | Self::Batch | Self::Options, _) => {
                DrillgenError::InvalidOptions(format!("{}: {message}", self.located(path)))
            }
        }
    }

    fn located(self, path: &str) -> String {
        match path {
            "" | "." => self.name().to_owned(),
            p if p.starts_with('[') => format!("{}{p}", self.name()),
            p => format!("{}.{p}", self.name()),
        }
    }
}

/// Deserializes one argument, mapping any failure to the coded error of the field it hit.
pub fn parse<'de, T, D>(argument: Argument, deserializer: D) -> Result<T, DrillgenError>
where
    T: Deserialize<'de>,
    D: Deserializer<'de>,
{
    serde_path_to_error::deserialize(deserializer).map_err(|err| {
        let path = err.path().to_string();
        let message = match path.as_str() {
            "" | "." => err.inner().to_string(),
            p => format!("{p}: {}", err.inner()),
        };
        argument.error(&path, message)
    })
}

/// Convenience for native callers holding JSON.
pub fn from_json<T: DeserializeOwned>(argument: Argument, value: serde_json::Value) -> Result<T, DrillgenError> {
    parse(argument, value)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::types::{DrillRequest, Position};

    #[test]
    fn a_float_target_is_an_invalid_target_count() {
        let err = from_json::<DrillRequest>(Argument::Request, json!({"targetDrillCount": 2.5})).unwrap_err();
        assert_eq!(err.code(), "INVALID_TARGET_COUNT");
        assert!(err.to_string().contains("targetDrillCount"), "{err}");
    }

    #[test]
    fn an_unknown_phase_is_invalid_phases() {
        let err = from_json::<DrillRequest>(Argument::Request, json!({"gamePhases": ["EARLY", "LATE"]})).unwrap_err();
        assert_eq!(err.code(), "INVALID_PHASES");
        assert!(err.to_string().contains("LATE"), "{err}");
    }

    #[test]
    fn a_missing_position_field_names_the_element() {
        let err = from_json::<Vec<Position>>(
            Argument::Positions,
            json!([{"positionId": "A", "gamePhase": "EARLY", "diceRoll": "3-1", "bestMove": "8/5 6/5"}]),
        )
        .unwrap_err();
        assert_eq!(err.code(), "INVALID_POSITIONS");
        assert!(err.to_string().contains("positions[0]") && err.to_string().contains("analysis"), "{err}");
    }

    #[test]
    fn a_non_array_pool_is_invalid_positions() {
        let err = from_json::<Vec<Position>>(Argument::Positions, json!({"positionId": "A"})).unwrap_err();
        assert_eq!(err.code(), "INVALID_POSITIONS");
        assert!(err.to_string().contains("sequence"), "{err}");
    }

    #[test]
    fn a_request_that_is_not_an_object_is_invalid_request() {
        let err = from_json::<DrillRequest>(Argument::Request, json!("twenty")).unwrap_err();
        assert_eq!(err.code(), "INVALID_REQUEST");
    }
}

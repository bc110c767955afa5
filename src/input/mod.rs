//! Turning host input into typed values with coded errors. Everything arrives as one
//! `serde_json::Value` (the bindings build it from the JS value with a defensive walk, native callers
//! hold JSON), and the input types derive serde's `Deserialize`, so one declaration (the struct and
//! its serde attributes) drives reading, writing and the generated TypeScript. They are read through
//! our own deserializer (`de.rs`), which tracks the path of the offending field (`path.rs`); the path
//! picks the error code, so `{targetDrillCount: "2"}` is `INVALID_TARGET_COUNT` and
//! `positions[3].gamePhase` is `INVALID_POSITIONS`.

mod de;
mod path;

use serde::de::DeserializeOwned;

use crate::error::DrillgenError;
pub use de::{Both, from_value, with_rest};
pub use path::InputError;

/// Which argument of an exported function a value came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Argument {
    Request,
    Plan,
    Position,
    Positions,
    SampleOptions,
    Batch,
    Context,
    Prompts,
    Drills,
    Artifact,
    Options,
    /// A run's result handed back by the host (`reconcileResult`).
    Result,
}

impl Argument {
    pub fn name(self) -> &'static str {
        match self {
            Self::Request => "request",
            Self::Plan => "plan",
            Self::Position => "position",
            Self::Positions => "positions",
            Self::SampleOptions => "options",
            Self::Batch => "batch",
            Self::Context => "context",
            Self::Prompts => "prompts",
            Self::Drills => "drills",
            Self::Artifact => "artifact",
            Self::Options => "options",
            Self::Result => "result",
        }
    }

    /// `inner` is the deserializer's message, `message` the same prefixed with the path.
    fn error(self, path: &str, inner: String, message: String) -> DrillgenError {
        let first = path.split(['.', '[']).next().unwrap_or_default();
        match (self, first) {
            (Self::Request, "targetDrillCount") => DrillgenError::InvalidTargetCount {
                got: inner,
                max: crate::plan::MAX_TARGET_DRILLS,
            },
            (Self::Request, "batchSize") => DrillgenError::InvalidBatchSize {
                got: inner,
                max: crate::plan::MAX_BATCH_SIZE,
            },
            (Self::Request, "maxPositionsPerPhase") => DrillgenError::InvalidMaxPositions {
                got: inner,
                max: crate::plan::MAX_POSITIONS_PER_PHASE,
            },
            (Self::Request, "gamePhases") => DrillgenError::InvalidPhases(message),
            (Self::SampleOptions, "seed") => DrillgenError::InvalidSeed(inner),
            (Self::Request, "") => DrillgenError::InvalidRequest(message),
            (Self::Request, _) => DrillgenError::InvalidRequest(format!("request: {message}")),
            (Self::Plan, _) => DrillgenError::InvalidRequest(self.located(path, &inner, &message)),
            (Self::Position | Self::Positions, _) => {
                DrillgenError::InvalidPositions(self.located(path, &inner, &message))
            }
            (Self::Context, _) => {
                DrillgenError::InvalidContext(self.located(path, &inner, &message))
            }
            (Self::Prompts, _) => {
                DrillgenError::InvalidTemplate(self.located(path, &inner, &message))
            }
            (Self::Drills, _) => DrillgenError::InvalidDrills(self.located(path, &inner, &message)),
            (Self::Artifact, _) => {
                DrillgenError::InvalidArtifact(self.located(path, &inner, &message))
            }
            (Self::SampleOptions | Self::Batch | Self::Options | Self::Result, _) => {
                DrillgenError::InvalidOptions(self.located(path, &inner, &message))
            }
        }
    }

    /// "positions[3].analysis: missing field" style: the argument name, then the path in it.
    /// An empty path is a whole-argument message that already names the argument.
    fn located(self, path: &str, inner: &str, message: &str) -> String {
        match path {
            "" => message.to_owned(),
            "." => format!("{}: {inner}", self.name()),
            p if p.starts_with('[') => format!("{}{p}: {inner}", self.name()),
            p => format!("{}.{p}: {inner}", self.name()),
        }
    }
}

/// Reads one argument, mapping any failure to the coded error of the field it hit. The wrong kind
/// of argument altogether (an object where an array was expected) is said in those words.
pub fn parse<T: DeserializeOwned>(
    argument: Argument,
    value: serde_json::Value,
) -> Result<T, DrillgenError> {
    let list = matches!(argument, Argument::Positions | Argument::Drills);
    if (list && !value.is_array()) || (!list && !value.is_object()) {
        let expected = if list { "an array" } else { "an object" };
        return Err(wrong_shape(argument, expected, &path::describe(&value)));
    }
    from_value(&value).map_err(|e| invalid(argument, &e.path, e.message))
}

/// The coded error for a bad value at `path` (`.`-separated, `[i]` for elements) of `argument`.
/// Also used by the bindings for what a JS value cannot carry (a NaN, a throwing getter).
pub fn invalid(argument: Argument, path: &str, inner: String) -> DrillgenError {
    let message = match path {
        "" | "." => format!("{}: {inner}", argument.name()),
        p => format!("{p}: {inner}"),
    };
    argument.error(path, inner, message)
}

/// The argument is not even of the right kind (an array where one was expected, say).
fn wrong_shape(argument: Argument, expected: &str, got: &str) -> DrillgenError {
    let message = format!("{} must be {expected}, got {got}", argument.name());
    argument.error("", message.clone(), message)
}

/// Convenience for native callers holding JSON.
pub fn from_json<T: DeserializeOwned>(
    argument: Argument,
    value: serde_json::Value,
) -> Result<T, DrillgenError> {
    parse(argument, value)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::types::{DrillRequest, Position};

    #[test]
    fn a_string_target_is_an_invalid_target_count() {
        let err = from_json::<DrillRequest>(Argument::Request, json!({"targetDrillCount": "20"}))
            .unwrap_err();
        assert_eq!(err.code(), "INVALID_TARGET_COUNT");
        assert!(
            err.to_string()
                .starts_with("targetDrillCount must be an integer"),
            "{err}"
        );
    }

    #[test]
    fn an_unknown_phase_is_invalid_phases() {
        let err =
            from_json::<DrillRequest>(Argument::Request, json!({"gamePhases": ["EARLY", "LATE"]}))
                .unwrap_err();
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
        assert!(
            err.to_string().contains("positions[0]") && err.to_string().contains("analysis"),
            "{err}"
        );
    }

    #[test]
    fn a_non_array_pool_is_invalid_positions() {
        let err = from_json::<Vec<Position>>(Argument::Positions, json!({"positionId": "A"}))
            .unwrap_err();
        assert_eq!(err.code(), "INVALID_POSITIONS");
        assert!(
            err.to_string()
                .ends_with("positions must be an array, got an object"),
            "{err}"
        );
    }

    #[test]
    fn a_request_that_is_not_an_object_is_invalid_request() {
        let err = from_json::<DrillRequest>(Argument::Request, json!("twenty")).unwrap_err();
        assert_eq!(err.code(), "INVALID_REQUEST");
        assert!(
            err.to_string()
                .ends_with(r#"request must be an object, got string "twenty""#),
            "{err}"
        );
    }
}

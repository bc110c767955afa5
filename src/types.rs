//! Serde data shared by every stage. Field names are camelCase on the wire (JS and stored JSON).
//! On wasm32 the same structs derive `Tsify`, so the `.d.ts` is generated from these definitions:
//! there is no second, hand-written copy of the types to drift.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

pub use crate::codes::WarningCode;

/// Game phases of the host's position library, in the order plans and prompts list them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum GamePhase {
    Opening,
    Early,
    Middle,
    Bearoff,
}

impl GamePhase {
    pub const ALL: [GamePhase; 4] = [Self::Opening, Self::Early, Self::Middle, Self::Bearoff];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Opening => "OPENING",
            Self::Early => "EARLY",
            Self::Middle => "MIDDLE",
            Self::Bearoff => "BEAROFF",
        }
    }
}

impl fmt::Display for GamePhase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What the teacher asked for. Counts are any number on the wire so that a negative, fractional
/// or huge one reaches validation and gets a precise coded error instead of a type error.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "camelCase")]
pub struct DrillRequest {
    /// Number of drills in the series (default 21, at most 500).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_drill_count: Option<f64>,
    /// Phases to draw positions from; absent = the phases present in the pool.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub game_phases: Option<Vec<GamePhase>>,
    /// Upper bound of positions loaded per phase (default 25; OPENING always keeps its 21).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_positions_per_phase: Option<f64>,
    /// Drills per LLM call (default 5, at most 25).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch_size: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "camelCase")]
pub struct PipCount {
    pub player: u32,
    pub opponent: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "camelCase")]
pub struct MoveAlternative {
    #[serde(rename = "move")]
    pub play: String,
    pub equity: f64,
}

/// One board position of the host's library, as the drill designer sees it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "camelCase", remote = "Self")]
pub struct Position {
    pub position_id: String,
    pub game_phase: GamePhase,
    /// "H-L", higher die first, e.g. "3-1".
    pub dice_roll: String,
    pub best_move: String,
    pub analysis: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub xgid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pip_count: Option<PipCount>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub best_move_equity: Option<f64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub alternatives: Vec<MoveAlternative>,
    /// The host's own fields (an id, `createdAt`, …): kept as they are through sampling and
    /// partitioning, never shown to the model. Read by `input::with_rest`, not serde's `flatten`:
    /// `skip_deserializing` keeps the declared `Position` an interface without an index signature,
    /// and no position is buffered through serde's generic `Content` code.
    #[serde(flatten, skip_deserializing)]
    #[cfg_attr(target_arch = "wasm32", tsify(type = "Record<string, unknown>"))]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

// `remote = "Self"` makes the derives inherent functions, for these two to wrap.
impl Serialize for Position {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        Position::serialize(self, s)
    }
}

/// The host's extra fields are the keys no field declares.
impl<'de> Deserialize<'de> for Position {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let (position, extra) = crate::input::with_rest(|| Position::deserialize(d))?;
        Ok(Self { extra, ..position })
    }
}

/// A warning that does not stop the run; `code` is stable like error codes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "camelCase")]
pub struct Warning {
    pub code: WarningCode,
    pub message: String,
}

impl Warning {
    pub fn new(code: WarningCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }
}

/// How many positions to load, and what that costs in prompt tokens against the spec's
/// "current" fixed loading.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "camelCase")]
pub struct Plan {
    pub target_drill_count: u32,
    pub batch_size: u32,
    /// Phases in plan order (library order, not request order).
    pub phases: Vec<GamePhase>,
    /// Positions to load per phase; OPENING is always 21.
    #[cfg_attr(
        target_arch = "wasm32",
        tsify(type = "Partial<Record<GamePhase, number>>")
    )]
    pub per_phase: BTreeMap<GamePhase, u32>,
    pub total_positions: u32,
    /// `ceil(targetDrillCount / batchSize)`.
    pub batches: u32,
    /// Position-data tokens of this plan, at `tokensPerPosition` each.
    pub estimated_prompt_tokens: u32,
    /// Positions the spec's "current" code loads: 96 for several phases, 25 (21 for OPENING) for one.
    pub baseline_positions: u32,
    pub baseline_prompt_tokens: u32,
    pub tokens_per_position: u32,
    /// `1 - estimated / baseline`, in percent, rounded to one decimal.
    pub savings_percent: f64,
}

/// The sampled positions with the seed that reproduces them.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "camelCase")]
pub struct Sample {
    /// The series' positions: `targetDrillCount` of them (fewer if the pool is short), phases
    /// spread evenly, OPENING in dice order. `partitionBatches` takes these.
    pub positions: Vec<Position>,
    /// Positions loaded but not used, in the same phase order: for a later top-up (replacing a
    /// drill), they repeat neither a position nor a (roll, best move) pair of `positions`.
    pub spares: Vec<Position>,
    /// Pass it back as `seed` to get the same sample again (an integer below 2^53).
    pub seed: u64,
    /// Which draws `seed` was used with: the same seed gives the same sample only under the same
    /// `seedFormat` (2 since rand 0.10 draws).
    pub seed_format: u32,
    /// Positions of `avoidPositionIds` in `positions`: their phase had no other left.
    pub avoided_reused: u32,
    pub warnings: Vec<Warning>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "camelCase")]
pub struct SampleOptions {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<f64>,
    /// Positions to leave out while others remain (e.g. those of the class's earlier series);
    /// `avoidedReused` counts those used all the same. At most 20,000 ids.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub avoid_position_ids: Option<Vec<String>>,
}

/// One LLM call's worth of work.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "camelCase")]
pub struct BatchSpec {
    pub batch_index: u32,
    pub total_batches: u32,
    /// Contiguous indices of the drills this batch must produce.
    pub drill_indices: Vec<u32>,
    pub positions: Vec<Position>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_position_keeps_the_hosts_fields_and_only_them() {
        let input = serde_json::json!({
            "positionId": "P1", "gamePhase": "EARLY", "diceRoll": "3-1", "bestMove": "8/5 6/5",
            "analysis": "a", "xgid": "x", "pipCount": {"player": 1, "opponent": 2}, "bestMoveEquity": 0.1,
            "alternatives": [{"move": "13/10", "equity": 0.0}], "id": 7, "createdAt": "2026-11-01"
        });
        let p: Position =
            crate::input::from_json(crate::input::Argument::Position, input.clone()).unwrap();
        assert_eq!(
            p.extra.keys().collect::<Vec<_>>(),
            ["id", "createdAt"],
            "every own field is read"
        );
        assert_eq!(
            serde_json::to_value(&p).unwrap(),
            input,
            "written back as it came"
        );
    }
}

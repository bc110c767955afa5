//! The drill, defined once: what the model writes (`DrillDraft`: only words), what the host stores
//! (`Drill`: the words plus the engine's answer key and where the drill came from), the JSON Schema
//! the model is held to, and the checks of a stored drill.
//!
//! The schema is the same for every batch of every run but for the drill count: the drill's
//! position, index and options are decided by drillgen, not written by the model. That keeps the
//! schema in the providers' cached prefix (OpenAI puts the structured-output schema before the
//! system message; Anthropic caches tools before the system prompt) and leaves the model nothing to
//! get wrong that the engine already knows.

use std::collections::HashSet;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::engine::same_move;
use crate::types::{GamePhase, Position};

/// Option ids in order; a drill has 2 to 4 options (the best move and up to three distractors).
pub const OPTION_IDS: [&str; 4] = ["A", "B", "C", "D"];

/// Longest texts, in characters. The schema states them in descriptions (OpenAI strict mode has
/// no `maxLength`); longer texts are cut at a word boundary.
pub const TITLE_MAX: usize = 80;
pub const PRINCIPLE_MAX: usize = 200;
pub const QUESTION_MAX: usize = 300;
pub const EXPLANATION_MAX: usize = 1500;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Difficulty {
    Beginner,
    Intermediate,
    Advanced,
}

impl Difficulty {
    pub const ALL: [Difficulty; 3] = [Self::Beginner, Self::Intermediate, Self::Advanced];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Beginner => "BEGINNER",
            Self::Intermediate => "INTERMEDIATE",
            Self::Advanced => "ADVANCED",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum BatchStatus {
    Pending,
    Generating,
    Completed,
    Failed,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "camelCase")]
pub struct DrillOption {
    pub id: String,
    pub text: String,
}

/// What the model writes for one drill, already cleaned and bounded (see `output`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DrillDraft {
    pub title: String,
    pub principle: String,
    pub question: String,
    pub explanation: String,
    pub difficulty: Difficulty,
    /// Why a student should not see this drill before review (`EXPLANATION_MISMATCH`).
    pub flags: Vec<crate::DrillFlag>,
}

/// A drill as the host stores it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "camelCase")]
pub struct Drill {
    /// `artifactId:index`, the idempotency key of persistence.
    pub drill_id: String,
    pub batch_index: u32,
    pub batch_status: BatchStatus,
    pub game_phase: GamePhase,
    pub index: u32,
    pub position_id: String,
    /// At most 80 characters.
    pub title: String,
    /// The curriculum principle the drill teaches.
    pub principle: String,
    pub question: String,
    /// The engine's best move and up to three of its alternatives, ids `A`.. in order.
    pub options: Vec<DrillOption>,
    /// The option holding the engine's best move.
    pub correct_option_id: String,
    pub explanation: String,
    pub difficulty: Difficulty,
    /// Reasons to hold the drill back from students until reviewed, e.g. `EXPLANATION_MISMATCH`:
    /// its explanation, asked for twice, names neither the correct option's letter nor its move,
    /// or calls another option best. Absent when there is none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub flags: Vec<crate::DrillFlag>,
}

/// A problem found in one drill. `code` is stable.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "camelCase")]
pub struct DrillIssue {
    pub code: String,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index: Option<u32>,
}

impl DrillIssue {
    pub fn new(code: &str, index: Option<u32>, message: impl Into<String>) -> Self {
        Self {
            code: code.to_owned(),
            message: message.into(),
            index,
        }
    }
}

/// Checks a stored drill on its own and against the engine's view of its position (`None` when the
/// position is not known): texts present, 2-4 options `A`.. in order and distinct, the correct one
/// among them, the correct one the engine's best move (`WRONG_ANSWER`) and every other one a move
/// the engine listed for that position (`UNKNOWN_MOVE`).
pub fn check_drill(drill: &Drill, position: Option<&Position>) -> Vec<DrillIssue> {
    let mut issues = Vec::new();
    let mut add = |code: &str, message: String| {
        issues.push(DrillIssue::new(code, Some(drill.index), message))
    };
    check_shape(drill, &mut add);
    match position {
        Some(position) => check_answer_key(drill, position, &mut add),
        None => add(
            "UNKNOWN_POSITION",
            format!(
                "drill {} uses position {:?}, which is not among the positions given",
                drill.index, drill.position_id
            ),
        ),
    }
    issues
}

/// Texts present; 2-4 options `A`.. in order, distinct; exactly one of them correct.
fn check_shape(drill: &Drill, add: &mut impl FnMut(&str, String)) {
    let i = drill.index;
    for (field, text) in [
        ("title", &drill.title),
        ("principle", &drill.principle),
        ("question", &drill.question),
        ("explanation", &drill.explanation),
    ] {
        if text.trim().is_empty() {
            add("EMPTY_TEXT", format!("drill {i} has an empty {field}"));
        }
    }
    let ids: Vec<&str> = drill.options.iter().map(|o| o.id.as_str()).collect();
    if !(2..=OPTION_IDS.len()).contains(&ids.len()) || ids != OPTION_IDS[..ids.len()] {
        add(
            "BAD_OPTIONS",
            format!("drill {i} must have 2 to 4 options A, B, … in order, got {ids:?}"),
        );
    }
    let mut texts = HashSet::new();
    for o in &drill.options {
        if o.text.trim().is_empty() {
            add(
                "EMPTY_TEXT",
                format!("drill {i} option {} has no text", o.id),
            );
        } else if !texts.insert(crate::engine::normalize_move(&o.text)) {
            add(
                "DUPLICATE_OPTION",
                format!("drill {i} offers {:?} twice", o.text),
            );
        }
    }
    let correct = drill
        .options
        .iter()
        .filter(|o| o.id == drill.correct_option_id)
        .count();
    if correct != 1 {
        add(
            "CORRECT_OPTION",
            format!(
                "drill {i} must have exactly one correct option, correctOptionId {:?} matches {correct}",
                drill.correct_option_id
            ),
        );
    }
}

/// The correct option is the engine's best move; every other option is one of its alternatives.
fn check_answer_key(drill: &Drill, position: &Position, add: &mut impl FnMut(&str, String)) {
    let i = drill.index;
    for o in &drill.options {
        let is_best = same_move(&o.text, &position.best_move);
        if o.id == drill.correct_option_id && !is_best {
            add(
                "WRONG_ANSWER",
                format!(
                    "drill {i} marks {:?} correct, but the engine's best move in {} is {:?}",
                    o.text, position.position_id, position.best_move
                ),
            );
        } else if o.id != drill.correct_option_id && is_best {
            add(
                "WRONG_ANSWER",
                format!(
                    "drill {i} offers the best move {:?} as a wrong option {}",
                    o.text, o.id
                ),
            );
        } else if o.id != drill.correct_option_id
            && !position
                .alternatives
                .iter()
                .any(|a| same_move(&a.play, &o.text))
        {
            add(
                "UNKNOWN_MOVE",
                format!(
                    "drill {i} option {} {:?} is not a move the engine lists for {}",
                    o.id, o.text, position.position_id
                ),
            );
        }
    }
}

fn text(description: String) -> Value {
    // Plain strings: `maxLength`/`minLength` are outside OpenAI strict mode's dialect, and a
    // `pattern` makes llama.cpp's grammar converter drop the whole schema (unanchored) or crash
    // the server (anchored with escapes; out/real-model-facts.md). Lengths are stated in words; a
    // blank text is filled from the engine's analysis by the reader (output.rs).
    json!({ "type": "string", "description": description })
}

/// JSON Schema of one batch's output: exactly `drill_count` drills of words. Identical for every
/// batch of that size, so it stays in the providers' cached prefix.
pub fn batch_output_schema(drill_count: usize) -> Value {
    let difficulty: Vec<&str> = Difficulty::ALL.iter().map(|d| d.as_str()).collect();
    json!({
        "type": "object",
        "additionalProperties": false,
        "required": ["drills"],
        "properties": {
            "drills": {
                "type": "array",
                "description": "One drill per requested slot, in the order the slots are listed",
                "minItems": drill_count,
                "maxItems": drill_count,
                "items": {
                    "type": "object",
                    "additionalProperties": false,
                    "required": ["title", "principle", "question", "explanation", "difficulty"],
                    "properties": {
                        "title": text(format!("Short drill title, at most {TITLE_MAX} characters")),
                        "principle": text(format!("The curriculum principle this drill teaches, at most {PRINCIPLE_MAX} characters")),
                        "question": text(format!("The decision the student must make, at most {QUESTION_MAX} characters")),
                        "explanation": text(format!("Why the correct option is best and what is wrong with each other option, at most {EXPLANATION_MAX} characters")),
                        "difficulty": { "type": "string", "enum": difficulty }
                    }
                }
            }
        }
    })
}

#[cfg(test)]
pub(crate) mod fixtures {
    use super::*;
    use crate::engine::answer_key;

    /// A stored drill on `position`, with the engine's answer key.
    pub fn drill_on(index: u32, position: &Position, artifact: &str, batch_size: u32) -> Drill {
        let key = answer_key(position, index).unwrap_or(crate::engine::AnswerKey {
            options: vec![],
            correct_option_id: "A".into(),
        });
        Drill {
            drill_id: format!("{artifact}:{index}"),
            batch_index: index / batch_size,
            batch_status: BatchStatus::Completed,
            game_phase: position.game_phase,
            index,
            position_id: position.position_id.clone(),
            title: format!("Drill {index}"),
            principle: "Make your 5-point".to_owned(),
            question: "What is the best play?".to_owned(),
            options: key.options,
            correct_option_id: key.correct_option_id,
            explanation: "The best move makes the point.".to_owned(),
            difficulty: Difficulty::Beginner,
            flags: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::fixtures::drill_on;
    use super::*;
    use crate::sample::fixtures::position;

    fn codes(issues: &[DrillIssue]) -> Vec<&str> {
        issues.iter().map(|i| i.code.as_str()).collect()
    }

    #[test]
    fn an_engine_keyed_drill_has_no_issues() {
        let p = position("P1", GamePhase::Early, "3-1");
        for i in 0..4 {
            assert_eq!(check_drill(&drill_on(i, &p, "a", 5), Some(&p)), vec![]);
        }
    }

    #[test]
    fn a_wrong_answer_key_and_invented_moves_are_caught_without_an_llm() {
        let p = position("P1", GamePhase::Early, "3-1");
        let mut d = drill_on(1, &p, "a", 5);
        // Mark a distractor correct: the engine says otherwise.
        d.correct_option_id = "A".into();
        assert_eq!(
            codes(&check_drill(&d, Some(&p))),
            ["WRONG_ANSWER", "WRONG_ANSWER"]
        );
        let mut d = drill_on(0, &p, "a", 5);
        d.options[1].text = "24/13".into();
        assert_eq!(codes(&check_drill(&d, Some(&p))), ["UNKNOWN_MOVE"]);
        let mut d = drill_on(0, &p, "a", 5);
        d.options[2].text = d.options[1].text.clone();
        assert!(codes(&check_drill(&d, Some(&p))).contains(&"DUPLICATE_OPTION"));
    }

    #[test]
    fn structural_defects_are_reported_with_their_codes() {
        let p = position("P1", GamePhase::Early, "3-1");
        let mut d = drill_on(3, &p, "a", 5);
        d.title = "  ".into();
        d.correct_option_id = "E".into();
        d.options.truncate(1);
        assert_eq!(
            codes(&check_drill(&d, None)),
            [
                "EMPTY_TEXT",
                "BAD_OPTIONS",
                "CORRECT_OPTION",
                "UNKNOWN_POSITION"
            ]
        );
    }

    #[test]
    fn the_schema_is_the_same_for_every_batch_of_a_size() {
        let s = batch_output_schema(3);
        let drills = &s["properties"]["drills"];
        assert_eq!(
            (drills["minItems"].as_u64(), drills["maxItems"].as_u64()),
            (Some(3), Some(3))
        );
        let item = &drills["items"];
        assert_eq!(item["required"].as_array().map(Vec::len), Some(5));
        assert!(
            item["properties"]["title"].get("pattern").is_none(),
            "no pattern: llama.cpp drops or crashes on it"
        );
        assert_eq!(batch_output_schema(3), s);
        assert_ne!(batch_output_schema(2), s);
    }

    #[test]
    fn stored_drill_round_trips_flat_camel_case() {
        let p = position("P1", GamePhase::Early, "3-1");
        let d = drill_on(0, &p, "a1", 5);
        let v = serde_json::to_value(&d).unwrap_or_default();
        assert_eq!(v["drillId"], "a1:0");
        assert_eq!(v["batchStatus"], "COMPLETED");
        assert_eq!(v["positionId"], "P1");
        assert_eq!(v["correctOptionId"], "A");
        let back: Drill = crate::input::from_value(&v).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(back, d);
    }
}

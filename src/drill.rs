//! The drill schema, defined once: the Rust types, the JSON Schema the LLM is held to, and the
//! checks of one drill. `verify` runs these checks on the rebuilt artifact; the LLM output validator
//! of the orchestrator runs the same ones on each batch.

use std::collections::HashSet;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::types::GamePhase;

/// Every drill offers exactly this many options, ids `A`..`D`; a fixed count lets a
/// schema-constrained decoder only produce well-formed drills.
pub const OPTION_IDS: [&str; 4] = ["A", "B", "C", "D"];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Difficulty {
    Beginner,
    Intermediate,
    Advanced,
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

/// A drill as the LLM writes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "camelCase")]
pub struct DrillDraft {
    pub index: u32,
    pub position_id: String,
    pub title: String,
    /// The principle of the curriculum this drill teaches.
    pub principle: String,
    pub question: String,
    pub options: Vec<DrillOption>,
    pub correct_option_id: String,
    pub explanation: String,
    pub difficulty: Difficulty,
}

/// A drill as the host stores it: the draft plus where it came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "camelCase")]
pub struct Drill {
    /// `artifactId:index`, the idempotency key of persistence.
    pub drill_id: String,
    pub batch_index: u32,
    pub batch_status: BatchStatus,
    pub game_phase: GamePhase,
    #[serde(flatten)]
    pub draft: DrillDraft,
}

/// A problem found in one drill. `code` is stable.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "camelCase")]
pub struct DrillIssue {
    pub code: String,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(target_arch = "wasm32", tsify(optional))]
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

/// Checks one draft on its own: texts present, options `A`..`D` in order, exactly one correct,
/// its position among `allowed_positions`.
pub fn check_draft(draft: &DrillDraft, allowed_positions: &HashSet<&str>) -> Vec<DrillIssue> {
    let idx = Some(draft.index);
    let mut issues = Vec::new();
    if !allowed_positions.contains(draft.position_id.as_str()) {
        issues.push(DrillIssue::new(
            "UNKNOWN_POSITION",
            idx,
            format!(
                "drill {} uses position {:?}, which was not given to it",
                draft.index, draft.position_id
            ),
        ));
    }
    let texts = [
        ("title", &draft.title),
        ("principle", &draft.principle),
        ("question", &draft.question),
        ("explanation", &draft.explanation),
    ];
    for (field, text) in texts {
        if text.trim().is_empty() {
            issues.push(DrillIssue::new(
                "EMPTY_TEXT",
                idx,
                format!("drill {} has an empty {field}", draft.index),
            ));
        }
    }
    let ids: Vec<&str> = draft.options.iter().map(|o| o.id.as_str()).collect();
    if ids != OPTION_IDS {
        issues.push(DrillIssue::new(
            "BAD_OPTIONS",
            idx,
            format!(
                "drill {} must have options A, B, C, D in order, got {:?}",
                draft.index, ids
            ),
        ));
    }
    if let Some(empty) = draft.options.iter().find(|o| o.text.trim().is_empty()) {
        issues.push(DrillIssue::new(
            "EMPTY_TEXT",
            idx,
            format!("drill {} option {} has no text", draft.index, empty.id),
        ));
    }
    let correct = draft
        .options
        .iter()
        .filter(|o| o.id == draft.correct_option_id)
        .count();
    if correct != 1 {
        issues.push(DrillIssue::new(
            "CORRECT_OPTION",
            idx,
            format!(
                "drill {} must have exactly one correct option, correctOptionId {:?} matches {correct}",
                draft.index, draft.correct_option_id
            ),
        ));
    }
    issues
}

/// JSON Schema of one batch's output. The allowed position ids and the exact drill indices are
/// enums and the item counts are fixed, so a decoder held to this schema cannot name a position it
/// was not given, skip an index, or mark two options correct.
pub fn batch_output_schema(position_ids: &[&str], drill_indices: &[u32]) -> Value {
    let n = drill_indices.len();
    json!({
        "type": "object",
        "additionalProperties": false,
        "required": ["drills"],
        "properties": {
            "drills": {
                "type": "array",
                "minItems": n,
                "maxItems": n,
                "items": {
                    "type": "object",
                    "additionalProperties": false,
                    "required": ["index", "positionId", "title", "principle", "question", "options",
                                 "correctOptionId", "explanation", "difficulty"],
                    "properties": {
                        "index": { "type": "integer", "enum": drill_indices },
                        "positionId": { "type": "string", "enum": position_ids },
                        "title": { "type": "string", "description": "Short drill title, at most 80 characters" },
                        "principle": { "type": "string", "description": "The curriculum principle this drill teaches" },
                        "question": { "type": "string", "description": "What the student must decide in this position" },
                        "options": {
                            "type": "array",
                            "minItems": OPTION_IDS.len(),
                            "maxItems": OPTION_IDS.len(),
                            "items": {
                                "type": "object",
                                "additionalProperties": false,
                                "required": ["id", "text"],
                                "properties": {
                                    "id": { "type": "string", "enum": OPTION_IDS },
                                    "text": { "type": "string" }
                                }
                            }
                        },
                        "correctOptionId": { "type": "string", "enum": OPTION_IDS },
                        "explanation": { "type": "string", "description": "Why the correct option is right and the others are wrong" },
                        "difficulty": { "type": "string", "enum": ["BEGINNER", "INTERMEDIATE", "ADVANCED"] }
                    }
                }
            }
        }
    })
}

#[cfg(test)]
pub(crate) mod fixtures {
    use super::*;

    pub fn draft(index: u32, position_id: &str) -> DrillDraft {
        DrillDraft {
            index,
            position_id: position_id.to_owned(),
            title: format!("Drill {index}"),
            principle: "Make your 5-point".to_owned(),
            question: "What is the best play?".to_owned(),
            options: OPTION_IDS
                .iter()
                .map(|id| DrillOption {
                    id: (*id).to_owned(),
                    text: format!("Play {id}"),
                })
                .collect(),
            correct_option_id: "B".to_owned(),
            explanation: "B makes the point.".to_owned(),
            difficulty: Difficulty::Beginner,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::fixtures::draft;
    use super::*;

    fn allowed() -> HashSet<&'static str> {
        ["P1", "P2"].into_iter().collect()
    }

    #[test]
    fn a_well_formed_draft_has_no_issues() {
        assert_eq!(check_draft(&draft(0, "P1"), &allowed()), vec![]);
    }

    #[test]
    fn each_defect_is_reported_with_its_code() {
        let mut d = draft(3, "P9");
        d.title = "  ".into();
        d.correct_option_id = "E".into();
        d.options.pop();
        let codes: Vec<String> = check_draft(&d, &allowed())
            .into_iter()
            .map(|i| i.code)
            .collect();
        assert_eq!(
            codes,
            [
                "UNKNOWN_POSITION",
                "EMPTY_TEXT",
                "BAD_OPTIONS",
                "CORRECT_OPTION"
            ]
        );
    }

    #[test]
    fn duplicate_option_ids_mean_not_exactly_one_correct() {
        let mut d = draft(1, "P1");
        d.options[2].id = "B".into();
        let codes: Vec<String> = check_draft(&d, &allowed())
            .into_iter()
            .map(|i| i.code)
            .collect();
        assert_eq!(codes, ["BAD_OPTIONS", "CORRECT_OPTION"]);
    }

    #[test]
    fn schema_pins_indices_positions_and_counts() {
        let s = batch_output_schema(&["P1", "P2"], &[5, 6, 7]);
        let drills = &s["properties"]["drills"];
        assert_eq!(drills["minItems"], 3);
        assert_eq!(drills["maxItems"], 3);
        assert_eq!(
            drills["items"]["properties"]["index"]["enum"],
            json!([5, 6, 7])
        );
        assert_eq!(
            drills["items"]["properties"]["positionId"]["enum"],
            json!(["P1", "P2"])
        );
        let required = drills["items"]["required"].as_array().map(Vec::len);
        assert_eq!(required, Some(9));
    }

    #[test]
    fn stored_drill_round_trips_flat_camel_case() {
        let d = Drill {
            drill_id: "a1:0".into(),
            batch_index: 0,
            batch_status: BatchStatus::Completed,
            game_phase: GamePhase::Early,
            draft: draft(0, "P1"),
        };
        let v = serde_json::to_value(&d).unwrap_or_default();
        assert_eq!(v["drillId"], "a1:0");
        assert_eq!(v["batchStatus"], "COMPLETED");
        assert_eq!(v["positionId"], "P1");
        assert_eq!(v["correctOptionId"], "B");
        let back: Drill = serde_json::from_value(v).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(back, d);
    }
}

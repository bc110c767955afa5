//! The prompt of one batch. Everything shared by all batches (instructions, mental model,
//! curriculum, profile) is in `system`, byte-identical across batches, so providers' prompt caches
//! reuse it; only `user` holds this batch's drills: for each, its position and the options drillgen
//! built from the engine's analysis, with the correct one named. No batch's prompt mentions another
//! batch's positions or drills.

use std::fmt::Write as _;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::engine::{AnswerKey, answer_key};
use crate::error::{DrillgenError, Result};
use crate::types::{BatchSpec, Position};

pub const DEFAULT_SYSTEM_PROMPT: &str = include_str!("prompt/system.md");
pub const DEFAULT_USER_TEMPLATE: &str = include_str!("prompt/user.md");

const PLACEHOLDERS: [&str; 6] = [
    "batchNumber",
    "totalBatches",
    "drillCount",
    "drillIndices",
    "positionIds",
    "positions",
];
const REQUIRED_PLACEHOLDERS: [&str; 2] = ["positions", "drillCount"];
/// Largest shared prefix (system prompt and context), about 64k tokens: far beyond a useful prompt,
/// small enough that a hostile context cannot make every call send megabytes.
pub const MAX_PREFIX_BYTES: usize = 256 * 1024;
/// Longest user template: it is repeated in every call.
const MAX_TEMPLATE_BYTES: usize = 20_000;

/// The teacher's material every drill must follow. Objects are rendered as JSON with sorted keys.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "camelCase")]
pub struct PromptContext {
    #[cfg_attr(target_arch = "wasm32", tsify(type = "JsonValue"))]
    pub mental_model: Value,
    #[cfg_attr(target_arch = "wasm32", tsify(type = "JsonValue"))]
    pub curriculum: Value,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(target_arch = "wasm32", tsify(optional, type = "JsonValue"))]
    pub guru_profile: Option<Value>,
}

/// Host overrides of the default texts. The user template may use `{{batchNumber}}`,
/// `{{totalBatches}}`, `{{drillCount}}`, `{{drillIndices}}`, `{{positionIds}}` and must use
/// `{{positions}}` and `{{drillCount}}`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "camelCase")]
pub struct PromptTemplates {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system_prompt: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_prompt_template: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "camelCase")]
pub struct BatchPrompt {
    pub system: String,
    pub user: String,
}

/// One position as the model reads it (about 280 tokens for the sample library).
pub fn format_position(p: &Position) -> String {
    let mut s = format!(
        "### Position {} ({})\nDice: {}",
        p.position_id, p.game_phase, p.dice_roll
    );
    if let Some(pips) = &p.pip_count {
        let _ = write!(s, " | Pips: {} vs {}", pips.player, pips.opponent);
    }
    if let Some(xgid) = &p.xgid {
        let _ = write!(s, "\nXGID: {xgid}");
    }
    let _ = write!(s, "\nBest move: {}", p.best_move);
    if let Some(eq) = p.best_move_equity {
        let _ = write!(s, " (equity {})", crate::text::fixed(eq, 3, true));
    }
    if !p.alternatives.is_empty() {
        let alts: Vec<String> = p
            .alternatives
            .iter()
            .map(|a| format!("{} ({})", a.play, crate::text::fixed(a.equity, 3, true)))
            .collect();
        let _ = write!(s, "\nAlternatives: {}", alts.join("; "));
    }
    let _ = write!(s, "\nAnalysis: {}", p.analysis.trim());
    s
}

fn render(value: &Value) -> String {
    match value {
        Value::String(s) => s.trim().to_owned(),
        other => serde_json::to_string_pretty(other).unwrap_or_default(),
    }
}

fn is_blank(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::String(s) => s.trim().is_empty(),
        Value::Object(m) => m.is_empty(),
        Value::Array(a) => a.is_empty(),
        _ => false,
    }
}

/// The shared part: identical for every batch of a run.
pub fn shared_prefix(context: &PromptContext, templates: &PromptTemplates) -> Result<String> {
    for (name, value) in [
        ("mentalModel", &context.mental_model),
        ("curriculum", &context.curriculum),
    ] {
        if is_blank(value) {
            return Err(DrillgenError::InvalidContext(format!(
                "context.{name} is empty"
            )));
        }
    }
    let system = templates
        .system_prompt
        .as_deref()
        .unwrap_or(DEFAULT_SYSTEM_PROMPT)
        .trim();
    if system.is_empty() {
        return Err(DrillgenError::InvalidTemplate(
            "prompts.systemPrompt is empty".into(),
        ));
    }
    let mut s = format!(
        "{system}\n\n## Mental model\n{}\n\n## Curriculum\n{}",
        render(&context.mental_model),
        render(&context.curriculum)
    );
    if let Some(profile) = context.guru_profile.as_ref().filter(|v| !is_blank(v)) {
        let _ = write!(s, "\n\n## Guru profile\n{}", render(profile));
    }
    if s.len() > MAX_PREFIX_BYTES {
        return Err(DrillgenError::InvalidContext(format!(
            "the system prompt with the context is {} KiB, more than the {} KiB a batch prompt may carry",
            s.len() / 1024,
            MAX_PREFIX_BYTES / 1024
        )));
    }
    Ok(s)
}

/// The longest `prompts.systemPrompt` a run accepts.
pub const MAX_SYSTEM_PROMPT_BYTES: usize = 100_000;

/// Checks the host's templates as a run does before its first call.
pub fn check_templates(templates: &PromptTemplates) -> Result<()> {
    if let Some(t) = &templates.user_prompt_template {
        check_user_template(t)?;
    }
    if templates
        .system_prompt
        .as_ref()
        .is_some_and(|s| s.len() > MAX_SYSTEM_PROMPT_BYTES)
    {
        return Err(DrillgenError::InvalidTemplate(format!(
            "prompts.systemPrompt is longer than {MAX_SYSTEM_PROMPT_BYTES} bytes"
        )));
    }
    Ok(())
}

/// Checks a user template: known placeholders only (a typo would silently leave `{{…}}` in the
/// prompt), and the ones without which the model cannot do the batch.
pub fn check_user_template(template: &str) -> Result<()> {
    if template.len() > MAX_TEMPLATE_BYTES {
        return Err(DrillgenError::InvalidTemplate(format!(
            "prompts.userPromptTemplate is longer than {MAX_TEMPLATE_BYTES} bytes"
        )));
    }
    let mut rest = template;
    while let Some(open) = rest.find("{{") {
        let after = &rest[open + 2..];
        let close = after.find("}}").ok_or_else(|| {
            DrillgenError::InvalidTemplate("prompts.userPromptTemplate has an unclosed {{".into())
        })?;
        let name = after[..close].trim();
        if !PLACEHOLDERS.contains(&name) {
            return Err(DrillgenError::InvalidTemplate(format!(
                "prompts.userPromptTemplate uses unknown placeholder {{{{{name}}}}}; known: {}",
                PLACEHOLDERS.join(", ")
            )));
        }
        rest = &after[close + 2..];
    }
    for required in REQUIRED_PLACEHOLDERS {
        if !template.contains(&format!("{{{{{required}}}}}")) {
            return Err(DrillgenError::InvalidTemplate(format!(
                "prompts.userPromptTemplate must contain {{{{{required}}}}}"
            )));
        }
    }
    Ok(())
}

/// One drill to write: its index, its position and the answer key built from the engine's analysis.
#[derive(Debug, Clone)]
pub struct Slot<'a> {
    pub index: u32,
    pub position: &'a Position,
    pub key: AnswerKey,
}

/// The slots of `batch` for `indices` (all of them, or the ones still missing). The drill at rank
/// `k` of `drillIndices` is on `positions[k % positions.length]`, whatever subset is asked, so a
/// retry writes about the same position as the first attempt.
pub fn slots<'a>(batch: &'a BatchSpec, indices: &[u32]) -> Result<Vec<Slot<'a>>> {
    if batch.positions.is_empty() || batch.drill_indices.is_empty() {
        return Err(DrillgenError::InvalidOptions(format!(
            "batch {} needs at least one position and one drill index",
            batch.batch_index
        )));
    }
    indices
        .iter()
        .map(|&index| {
            let rank = batch.drill_indices.iter().position(|&i| i == index).ok_or_else(|| {
                DrillgenError::InvalidOptions(format!("drill {index} is not in batch {}", batch.batch_index))
            })?;
            let position = &batch.positions[rank % batch.positions.len()];
            let key = answer_key(position, index).ok_or_else(|| {
                DrillgenError::InvalidPositions(format!(
                    "position {:?} has no alternative clearly worse than its best move, so it cannot make a multiple-choice drill",
                    crate::text::bound(&position.position_id, 100)
                ))
            })?;
            Ok(Slot { index, position, key })
        })
        .collect()
}

/// One drill as the model reads it: the position, then the options the student will see.
pub fn format_slot(rank: usize, count: usize, slot: &Slot) -> String {
    let mut s = format!("## Drill {} of {count} (index {})\n", rank + 1, slot.index);
    s.push_str(&format_position(slot.position));
    let options: Vec<String> = slot
        .key
        .options
        .iter()
        .map(|o| format!("{}) {}", o.id, o.text))
        .collect();
    let correct = slot
        .key
        .options
        .iter()
        .find(|o| o.id == slot.key.correct_option_id);
    let _ = write!(s, "\nOptions the student sees: {}", options.join(" | "));
    if let Some(c) = correct {
        let _ = write!(
            s,
            "\nCorrect option: {} ({}), the engine's best move",
            c.id, c.text
        );
    }
    s
}

/// The batch-specific part, last in the prompt.
pub fn batch_part(
    batch: &BatchSpec,
    slots: &[Slot],
    templates: &PromptTemplates,
) -> Result<String> {
    let template = templates
        .user_prompt_template
        .as_deref()
        .unwrap_or(DEFAULT_USER_TEMPLATE);
    check_user_template(template)?;
    let indices: Vec<String> = slots.iter().map(|s| s.index.to_string()).collect();
    let ids: Vec<&str> = slots
        .iter()
        .map(|s| s.position.position_id.as_str())
        .collect();
    let blocks: Vec<String> = slots
        .iter()
        .enumerate()
        .map(|(k, slot)| format_slot(k, slots.len(), slot))
        .collect();
    let values = [
        ("batchNumber", (batch.batch_index + 1).to_string()),
        ("totalBatches", batch.total_batches.to_string()),
        ("drillCount", slots.len().to_string()),
        ("drillIndices", indices.join(", ")),
        ("positionIds", ids.join(", ")),
        ("positions", blocks.join("\n\n")),
    ];
    let mut out = template.trim().to_owned();
    for (name, value) in values {
        out = out.replace(&format!("{{{{{name}}}}}"), &value);
    }
    Ok(out)
}

/// The retry of a batch whose output was rejected tells the model what was wrong; it goes in the
/// batch-specific part so the shared prefix stays cacheable. `feedback` is already bounded.
pub fn with_feedback(mut prompt: BatchPrompt, feedback: &str) -> BatchPrompt {
    prompt.user.push_str(&format!(
        "\n\nYour previous answer for this batch was rejected: {feedback}\nReturn the corrected JSON object."
    ));
    prompt
}

/// The whole prompt of `batch`. A run builds the shared system prompt once and only the
/// batch's part per attempt (for the indices still to do).
pub fn build_batch_prompt(
    batch: &BatchSpec,
    context: &PromptContext,
    templates: &PromptTemplates,
) -> Result<BatchPrompt> {
    let slots = slots(batch, &batch.drill_indices)?;
    Ok(BatchPrompt {
        system: shared_prefix(context, templates)?,
        user: batch_part(batch, &slots, templates)?,
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::partition::partition;
    use crate::sample::fixtures::pool;
    use crate::types::DrillRequest;

    fn context() -> PromptContext {
        PromptContext {
            mental_model: json!({"principles": ["Make points", "Hit loose checkers"], "audience": "beginners"}),
            curriculum: json!("Module 1: the opening. Module 2: priming."),
            guru_profile: Some(json!({"name": "Coach Kit"})),
        }
    }

    fn batches() -> Vec<BatchSpec> {
        let r = DrillRequest {
            target_drill_count: Some(25.0),
            ..Default::default()
        }
        .check()
        .unwrap();
        let positions: Vec<Position> = pool(10)
            .into_iter()
            .filter(|p| p.game_phase != crate::types::GamePhase::Opening)
            .collect();
        partition(&r, &positions).unwrap()
    }

    #[test]
    fn the_shared_prefix_is_identical_and_first() {
        let prompts: Vec<BatchPrompt> = batches()
            .iter()
            .map(|b| build_batch_prompt(b, &context(), &PromptTemplates::default()).unwrap())
            .collect();
        assert!(prompts.windows(2).all(|w| w[0].system == w[1].system));
        let system = &prompts[0].system;
        assert!(system.starts_with("You are the drill designer"));
        assert!(
            system.contains("Make points")
                && system.contains("Module 2")
                && system.contains("Coach Kit")
        );
        assert!(system.find("## Mental model") < system.find("## Curriculum"));
    }

    #[test]
    fn each_batch_names_only_its_positions_and_indices() {
        let all = batches();
        for b in &all {
            let user = build_batch_prompt(b, &context(), &PromptTemplates::default())
                .unwrap()
                .user;
            let indices: Vec<String> = b.drill_indices.iter().map(u32::to_string).collect();
            assert!(user.contains(&format!("exactly {} drills", b.drill_indices.len())));
            assert!(user.contains(&indices.join(", ")));
            for other in all.iter().filter(|o| o.batch_index != b.batch_index) {
                for p in &other.positions {
                    assert!(
                        !user.contains(&p.position_id),
                        "batch {} mentions {}",
                        b.batch_index,
                        p.position_id
                    );
                }
            }
            for p in &b.positions {
                assert!(user.contains(&format!("### Position {}", p.position_id)));
            }
            assert!(user.contains("Options the student sees: A) "));
            assert!(user.contains("the engine's best move"));
            assert!(!user.contains("{{"), "every placeholder is filled");
        }
    }

    #[test]
    fn hosts_may_override_templates() {
        let t = PromptTemplates {
            system_prompt: Some("Be brief.".into()),
            user_prompt_template: Some("Make {{drillCount}} drills from:\n{{positions}}".into()),
        };
        let p = build_batch_prompt(&batches()[0], &context(), &t).unwrap();
        assert!(p.system.starts_with("Be brief.\n\n## Mental model"));
        assert!(p.user.starts_with("Make 5 drills from:\n## Drill 1 of 5"));
    }

    #[test]
    fn bad_templates_and_contexts_are_coded_errors() {
        let b = &batches()[0];
        let typo = PromptTemplates {
            user_prompt_template: Some("{{drillcount}} {{positions}}".into()),
            ..Default::default()
        };
        assert_eq!(
            build_batch_prompt(b, &context(), &typo).unwrap_err().code(),
            "INVALID_TEMPLATE"
        );
        let missing = PromptTemplates {
            user_prompt_template: Some("{{drillCount}} drills".into()),
            ..Default::default()
        };
        assert_eq!(
            build_batch_prompt(b, &context(), &missing)
                .unwrap_err()
                .code(),
            "INVALID_TEMPLATE"
        );
        let empty = PromptContext {
            mental_model: json!({}),
            ..context()
        };
        assert_eq!(
            build_batch_prompt(b, &empty, &PromptTemplates::default())
                .unwrap_err()
                .code(),
            "INVALID_CONTEXT"
        );
    }
}

//! Checking one batch's LLM output before anything is stored. The message of a failure goes back
//! to the model on the retry, so it says exactly what was wrong.

use std::collections::HashSet;

use serde::Deserialize;

use crate::drill::{DrillDraft, check_draft};
use crate::error::DrillgenError;
use crate::llm::truncate;
use crate::types::BatchSpec;

#[derive(Deserialize)]
struct BatchOutput {
    drills: Vec<DrillDraft>,
}

/// Models in `text` mode like to wrap JSON in a Markdown fence; take what is inside.
fn unfence(content: &str) -> &str {
    let t = content.trim();
    let Some(rest) = t.strip_prefix("```") else {
        return t;
    };
    let rest = rest.split_once('\n').map_or(rest, |(_, body)| body);
    rest.trim_end().strip_suffix("```").unwrap_or(rest).trim()
}

/// The drafts of `batch`, sorted by index, or `INVALID_OUTPUT` naming every problem found.
pub fn parse_batch_output(
    content: &str,
    indices: &[u32],
    batch: &BatchSpec,
) -> Result<Vec<DrillDraft>, DrillgenError> {
    let text = unfence(content);
    let output: BatchOutput = serde_path_to_error::deserialize(
        &mut serde_json::Deserializer::from_str(text),
    )
    .map_err(|e| {
        let at = e.path().to_string();
        DrillgenError::InvalidOutput(format!(
            "the JSON does not match the drill schema at {at}: {} (got: {})",
            e.inner(),
            truncate(text, 120)
        ))
    })?;
    let mut problems = Vec::new();
    if output.drills.len() != indices.len() {
        problems.push(format!(
            "expected exactly {} drills, got {}",
            indices.len(),
            output.drills.len()
        ));
    }
    let wanted: HashSet<u32> = indices.iter().copied().collect();
    let mut seen = HashSet::new();
    for d in &output.drills {
        if !wanted.contains(&d.index) {
            problems.push(format!(
                "index {} is not one of this batch's indices {indices:?}",
                d.index
            ));
        } else if !seen.insert(d.index) {
            problems.push(format!("index {} appears twice", d.index));
        }
    }
    let missing: Vec<u32> = indices
        .iter()
        .copied()
        .filter(|i| !seen.contains(i))
        .collect();
    if !missing.is_empty() && output.drills.len() == indices.len() {
        problems.push(format!("indices {missing:?} are missing"));
    }
    let allowed: HashSet<&str> = batch
        .positions
        .iter()
        .map(|p| p.position_id.as_str())
        .collect();
    for d in &output.drills {
        problems.extend(check_draft(d, &allowed).into_iter().map(|i| i.message));
    }
    if !problems.is_empty() {
        return Err(DrillgenError::InvalidOutput(problems.join("; ")));
    }
    let mut drafts = output.drills;
    drafts.sort_by_key(|d| d.index);
    Ok(drafts)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::drill::fixtures::draft;
    use crate::sample::fixtures::position;
    use crate::types::GamePhase;

    fn batch() -> BatchSpec {
        BatchSpec {
            batch_index: 1,
            total_batches: 2,
            drill_indices: vec![5, 6],
            positions: vec![
                position("P1", GamePhase::Early, "3-1"),
                position("P2", GamePhase::Middle, "6-5"),
            ],
        }
    }

    fn output(drafts: &[DrillDraft]) -> String {
        json!({ "drills": drafts }).to_string()
    }

    #[test]
    fn a_good_batch_comes_back_sorted() {
        let text = output(&[draft(6, "P2"), draft(5, "P1")]);
        let drafts =
            parse_batch_output(&format!("```json\n{text}\n```"), &[5, 6], &batch()).unwrap();
        assert_eq!(drafts.iter().map(|d| d.index).collect::<Vec<_>>(), [5, 6]);
    }

    #[test]
    fn every_defect_is_named() {
        let cases: [(String, &str); 5] = [
            ("not json".into(), "does not match the drill schema"),
            (
                output(&[draft(5, "P1")]),
                "expected exactly 2 drills, got 1",
            ),
            (
                output(&[draft(5, "P1"), draft(9, "P1")]),
                "index 9 is not one of",
            ),
            (output(&[draft(5, "P1"), draft(6, "P7")]), "position \"P7\""),
            (r#"{"drills":[{"index":5}]}"#.into(), "missing field"),
        ];
        for (text, expected) in cases {
            let err = parse_batch_output(&text, &[5, 6], &batch()).unwrap_err();
            assert_eq!(err.code(), "INVALID_OUTPUT");
            assert!(err.is_retryable());
            assert!(
                err.to_string().contains(expected),
                "{err} should mention {expected}"
            );
        }
    }

    #[test]
    fn a_resumed_batch_checks_only_the_missing_indices() {
        let drafts = parse_batch_output(&output(&[draft(6, "P2")]), &[6], &batch()).unwrap();
        assert_eq!(drafts.len(), 1);
    }
}

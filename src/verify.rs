//! Verification of the rebuilt artifact: its structure, and every drill against the engine's
//! analysis of its position (`WRONG_ANSWER`, `UNKNOWN_MOVE`), listed per drill. It reports, it never
//! throws: a host decides whether a partial series is good enough.

use std::collections::{HashMap, HashSet};

use serde::Serialize;

use crate::drill::{DrillIssue, check_drill};
use crate::merge::Artifact;
use crate::types::Position;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "camelCase")]
pub struct VerificationReport {
    pub passed: bool,
    pub checked_drills: u32,
    pub issues: Vec<DrillIssue>,
}

pub fn verify(artifact: &Artifact, positions: &[Position]) -> VerificationReport {
    let mut issues = Vec::new();
    let count = artifact.drills.len();
    if count != artifact.target_drill_count as usize {
        issues.push(DrillIssue::new(
            "DRILL_COUNT",
            None,
            format!(
                "{count} drills for a target of {}",
                artifact.target_drill_count
            ),
        ));
    }
    let by_id: HashMap<&str, &Position> = positions
        .iter()
        .map(|p| (p.position_id.as_str(), p))
        .collect();
    let (mut indices, mut ids) = (HashSet::new(), HashSet::new());
    let mut previous: Option<u32> = None;
    for d in &artifact.drills {
        let index = d.index;
        if !indices.insert(index) {
            issues.push(DrillIssue::new(
                "DUPLICATE_INDEX",
                Some(index),
                format!("index {index} appears twice"),
            ));
        } else if previous.is_some_and(|p| p > index) {
            issues.push(DrillIssue::new(
                "ORDER",
                Some(index),
                format!("drill {index} comes after a higher index"),
            ));
        }
        previous = Some(index);
        if !ids.insert(d.drill_id.as_str()) {
            issues.push(DrillIssue::new(
                "DUPLICATE_DRILL_ID",
                Some(index),
                format!("drillId {:?} appears twice", d.drill_id),
            ));
        }
        if index >= artifact.target_drill_count {
            issues.push(DrillIssue::new(
                "INDEX_OUT_OF_RANGE",
                Some(index),
                format!("index {index} is beyond the target"),
            ));
        }
        let position = by_id.get(d.position_id.as_str()).copied();
        issues.extend(check_drill(d, position));
        if let Some(p) = position
            && p.game_phase != d.game_phase
        {
            issues.push(DrillIssue::new(
                "PHASE_MISMATCH",
                Some(index),
                format!(
                    "drill {index} says {} but position {} is {}",
                    d.game_phase, d.position_id, p.game_phase
                ),
            ));
        }
    }
    VerificationReport {
        passed: issues.is_empty(),
        checked_drills: count as u32,
        issues,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::merge::{fixtures::stored, merge};
    use crate::sample::fixtures::position;
    use crate::types::{DrillRequest, GamePhase};

    fn positions(n: u32) -> Vec<Position> {
        (0..n)
            .map(|i| position(&format!("EARLY-{i:03}"), GamePhase::Early, "3-1"))
            .collect()
    }

    fn artifact(target: i64, present: impl Iterator<Item = u32>) -> Artifact {
        let r = DrillRequest {
            target_drill_count: Some(target as f64),
            ..Default::default()
        }
        .check()
        .unwrap();
        merge(&r, present.map(|i| stored(i, 5)).collect())
    }

    fn codes(r: &VerificationReport) -> Vec<&str> {
        r.issues.iter().map(|i| i.code.as_str()).collect()
    }

    #[test]
    fn a_complete_artifact_passes() {
        let r = verify(&artifact(10, 0..10), &positions(10));
        assert!(r.passed, "{:?}", r.issues);
        assert_eq!(r.checked_drills, 10);
    }

    #[test]
    fn a_short_artifact_fails_the_count() {
        let r = verify(&artifact(10, 0..8), &positions(10));
        assert_eq!(codes(&r), ["DRILL_COUNT"]);
    }

    #[test]
    fn foreign_positions_phases_and_duplicates_are_reported() {
        let mut a = artifact(4, 0..4);
        a.drills[1].position_id = "MIDDLE-999".into();
        a.drills[2].game_phase = GamePhase::Bearoff;
        a.drills[3].drill_id = a.drills[0].drill_id.clone();
        a.drills[3].correct_option_id = "Z".into();
        let r = verify(&a, &positions(4));
        assert!(!r.passed);
        assert_eq!(
            codes(&r),
            [
                "UNKNOWN_POSITION",
                "PHASE_MISMATCH",
                "DUPLICATE_DRILL_ID",
                "CORRECT_OPTION",
                "WRONG_ANSWER"
            ]
        );
        assert_eq!(r.issues[0].index, Some(1));
    }

    #[test]
    fn a_drill_that_teaches_a_wrong_answer_is_listed_with_its_index() {
        let mut a = artifact(3, 0..3);
        // A stored drill (hand-edited, or written by an older version) marks a distractor correct.
        let other = a.drills[2]
            .options
            .iter()
            .find(|o| o.id != a.drills[2].correct_option_id)
            .map(|o| o.id.clone());
        a.drills[2].correct_option_id = other.unwrap_or_default();
        a.drills[1].options[0].text = "24/1".into();
        let r = verify(&a, &positions(3));
        let by_drill: Vec<(Option<u32>, &str)> = r
            .issues
            .iter()
            .map(|i| (i.index, i.code.as_str()))
            .collect();
        assert!(
            by_drill.contains(&(Some(2), "WRONG_ANSWER")),
            "{by_drill:?}"
        );
        assert!(
            by_drill.contains(&(Some(1), "UNKNOWN_MOVE"))
                || by_drill.contains(&(Some(1), "WRONG_ANSWER")),
            "{by_drill:?}"
        );
        assert!(!r.passed);
    }

    #[test]
    fn duplicated_and_unsorted_indices_are_reported() {
        let mut a = artifact(3, 0..3);
        a.drills.swap(0, 2);
        a.drills[1].index = 0;
        let r = verify(&a, &positions(3));
        assert_eq!(codes(&r), ["ORDER", "DUPLICATE_INDEX"]);
    }
}

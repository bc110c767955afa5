//! Rebuilding the artifact from what the host stored, as the spec's continuation step does
//! (`findMany({ where: { artifactId, batchStatus: 'COMPLETED' }, orderBy: { index: 'asc' } })`),
//! plus what a database query cannot tell: which indices are missing and which were duplicated.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::drill::{BatchStatus, Drill};
use crate::plan::ValidRequest;
use crate::types::Warning;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ArtifactStatus {
    /// Some or all drills exist (missing ones are listed and warned about, as the spec's
    /// "partial completion: COMPLETED with warning").
    Completed,
    /// No drill at all.
    Failed,
}

/// Several stored drills claimed one index; one was kept, by a rule that does not depend on the
/// order the host returned them in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "camelCase")]
pub struct DuplicateIndex {
    pub index: u32,
    pub kept_drill_id: String,
    pub dropped_drill_ids: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "camelCase")]
pub struct Artifact {
    pub status: ArtifactStatus,
    pub target_drill_count: u32,
    /// COMPLETED drills, one per index, sorted by index.
    pub drills: Vec<Drill>,
    pub missing_indices: Vec<u32>,
    /// Batches (by `batchSize`) with at least one missing index: what a resume must generate.
    pub incomplete_batches: Vec<u32>,
    pub duplicates: Vec<DuplicateIndex>,
    pub warnings: Vec<Warning>,
}

/// The order that decides which duplicate wins: lowest batch, then lowest drill id, then content.
fn preference(d: &Drill) -> (u32, &str, String) {
    (
        d.batch_index,
        d.drill_id.as_str(),
        serde_json::to_string(d).unwrap_or_default(),
    )
}

pub fn merge(request: &ValidRequest, stored: Vec<Drill>) -> Artifact {
    let target = request.target_drill_count;
    let mut warnings = Vec::new();
    let by_index = completed_by_index(stored, target, &mut warnings);
    let (drills, duplicates) = one_per_index(by_index, &mut warnings);
    let missing_indices: Vec<u32> = {
        let present: std::collections::BTreeSet<u32> = drills.iter().map(|d| d.index).collect();
        (0..target).filter(|i| !present.contains(i)).collect()
    };
    let mut incomplete_batches: Vec<u32> = missing_indices
        .iter()
        .map(|i| i / request.batch_size)
        .collect();
    incomplete_batches.dedup();
    if !missing_indices.is_empty() && !drills.is_empty() {
        warnings.push(Warning::new(
            crate::WarningCode::MISSING_DRILLS,
            format!(
                "{} of {target} drills are missing (batches {incomplete_batches:?})",
                missing_indices.len()
            ),
        ));
    }
    let status = if drills.is_empty() {
        ArtifactStatus::Failed
    } else {
        ArtifactStatus::Completed
    };
    Artifact {
        status,
        target_drill_count: target,
        drills,
        missing_indices,
        incomplete_batches,
        duplicates,
        warnings,
    }
}

/// COMPLETED drills within the target, grouped by index; the rest left out with a warning.
fn completed_by_index(
    stored: Vec<Drill>,
    target: u32,
    warnings: &mut Vec<Warning>,
) -> BTreeMap<u32, Vec<Drill>> {
    let (mut not_completed, mut out_of_range) = (0usize, Vec::new());
    let mut by_index: BTreeMap<u32, Vec<Drill>> = BTreeMap::new();
    for d in stored {
        if d.batch_status != BatchStatus::Completed {
            not_completed += 1;
        } else if d.index >= target {
            out_of_range.push(d.index);
        } else {
            by_index.entry(d.index).or_default().push(d);
        }
    }
    if not_completed > 0 {
        warnings.push(Warning::new(
            crate::WarningCode::IGNORED_NOT_COMPLETED,
            format!("{not_completed} stored drills are not COMPLETED and were left out"),
        ));
    }
    if !out_of_range.is_empty() {
        warnings.push(Warning::new(
            crate::WarningCode::INDEX_OUT_OF_RANGE,
            format!("stored drills with indices {out_of_range:?} are beyond targetDrillCount {target} and were left out"),
        ));
    }
    by_index
}

/// One drill per index, by `preference`, and what was dropped.
fn one_per_index(
    by_index: BTreeMap<u32, Vec<Drill>>,
    warnings: &mut Vec<Warning>,
) -> (Vec<Drill>, Vec<DuplicateIndex>) {
    let mut drills = Vec::with_capacity(by_index.len());
    let mut duplicates = Vec::new();
    for (index, mut group) in by_index {
        crate::order::sort_by(&mut group, |a, b| preference(a) < preference(b));
        let mut rest = group.into_iter();
        let Some(kept) = rest.next() else { continue };
        let dropped: Vec<String> = rest.map(|d| d.drill_id).collect();
        if !dropped.is_empty() {
            duplicates.push(DuplicateIndex {
                index,
                kept_drill_id: kept.drill_id.clone(),
                dropped_drill_ids: dropped,
            });
        }
        drills.push(kept);
    }
    if !duplicates.is_empty() {
        warnings.push(Warning::new(
            crate::WarningCode::DUPLICATE_INDEX,
            format!(
                "{} indices were stored more than once; one drill each was kept",
                duplicates.len()
            ),
        ));
    }
    (drills, duplicates)
}

#[cfg(test)]
pub(crate) mod fixtures {
    use super::*;
    use crate::drill::fixtures::drill_on;
    use crate::sample::fixtures::position;
    use crate::types::GamePhase;

    pub fn stored(index: u32, batch_size: u32) -> Drill {
        let p = position(&format!("EARLY-{index:03}"), GamePhase::Early, "3-1");
        drill_on(index, &p, "art", batch_size)
    }
}

#[cfg(test)]
mod tests {
    use super::fixtures::stored;
    use super::*;
    use crate::types::DrillRequest;

    fn request(target: i64) -> ValidRequest {
        DrillRequest {
            target_drill_count: Some(target as f64),
            ..Default::default()
        }
        .check()
        .unwrap()
    }

    fn indices(a: &Artifact) -> Vec<u32> {
        a.drills.iter().map(|d| d.index).collect()
    }

    #[test]
    fn drills_come_back_sorted_by_index() {
        let a = merge(
            &request(10),
            [7, 2, 9, 0, 1, 3, 4, 5, 6, 8]
                .map(|i| stored(i, 5))
                .to_vec(),
        );
        assert_eq!(indices(&a), (0..10).collect::<Vec<_>>());
        assert_eq!(a.status, ArtifactStatus::Completed);
        assert!(a.missing_indices.is_empty() && a.warnings.is_empty());
    }

    #[test]
    fn only_completed_drills_count_and_missing_ones_are_listed() {
        let mut drills: Vec<Drill> = (0..10).map(|i| stored(i, 5)).collect();
        drills[6].batch_status = BatchStatus::Failed;
        drills[7].batch_status = BatchStatus::Generating;
        let a = merge(&request(12), drills);
        assert_eq!(a.missing_indices, [6, 7, 10, 11]);
        assert_eq!(a.incomplete_batches, [1, 2]);
        let codes: Vec<&str> = a.warnings.iter().map(|w| w.code.as_str()).collect();
        assert_eq!(codes, ["IGNORED_NOT_COMPLETED", "MISSING_DRILLS"]);
        assert_eq!(a.status, ArtifactStatus::Completed);
    }

    #[test]
    fn duplicates_resolve_the_same_whatever_the_input_order() {
        let mut a = stored(3, 5);
        a.drill_id = "art:3-b".into();
        a.title = "second".into();
        let b = stored(3, 5);
        let first = merge(&request(5), vec![a.clone(), b.clone(), stored(0, 5)]);
        let second = merge(&request(5), vec![stored(0, 5), b, a]);
        assert_eq!(first, second);
        assert_eq!(first.duplicates.len(), 1);
        assert_eq!(first.duplicates[0].kept_drill_id, "art:3");
        assert_eq!(first.duplicates[0].dropped_drill_ids, ["art:3-b"]);
        assert_eq!(indices(&first), [0, 3]);
    }

    #[test]
    fn no_drills_is_failed_and_out_of_range_is_dropped() {
        assert_eq!(merge(&request(5), vec![]).status, ArtifactStatus::Failed);
        let a = merge(&request(5), vec![stored(0, 5), stored(9, 5)]);
        assert_eq!(indices(&a), [0]);
        assert!(a.warnings.iter().any(|w| w.code == "INDEX_OUT_OF_RANGE"));
    }
}

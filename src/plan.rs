//! Phase 1 of the spec: load only the positions the request needs.

use std::collections::BTreeMap;

use crate::error::{DrillgenError, Result};
use crate::types::{DrillRequest, GamePhase, Plan};

pub const DEFAULT_TARGET_DRILLS: u32 = 21;
pub const DEFAULT_BATCH_SIZE: u32 = 5;
pub const DEFAULT_MAX_POSITIONS_PER_PHASE: u32 = 25;
/// A series far beyond what a teacher assigns; larger requests are almost surely unit mistakes.
pub const MAX_TARGET_DRILLS: u32 = 500;
pub const MAX_BATCH_SIZE: u32 = 25;
pub const MAX_POSITIONS_PER_PHASE: u32 = 200;
/// There are 21 distinct opening rolls, and OPENING keeps all of them.
pub const OPENING_POSITIONS: u32 = 21;
/// The spec's "current" loading: 25 per phase, capped at 96 in all (27k tokens for 96 positions).
pub const BASELINE_MAX_TOTAL: u32 = 96;
/// Mean tokens of one formatted position (the spec: 96 positions ~ 27k tokens).
pub const TOKENS_PER_POSITION: u32 = 280;

/// A request with defaults applied and every field range-checked.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidRequest {
    pub target_drill_count: u32,
    /// Sorted in library order, no duplicates; `None` = use the phases present in the pool.
    pub game_phases: Option<Vec<GamePhase>>,
    pub max_positions_per_phase: u32,
    pub batch_size: u32,
}

fn in_range(value: Option<f64>, default: u32, max: u32) -> std::result::Result<u32, String> {
    match value {
        None => Ok(default),
        Some(v) if v.fract() == 0.0 && v >= 1.0 && v <= f64::from(max) => Ok(v as u32),
        Some(v) => Err(crate::text::num(v)),
    }
}

impl DrillRequest {
    pub fn check(&self) -> Result<ValidRequest> {
        let target_drill_count = in_range(
            self.target_drill_count,
            DEFAULT_TARGET_DRILLS,
            MAX_TARGET_DRILLS,
        )
        .map_err(|got| DrillgenError::InvalidTargetCount {
            got,
            max: MAX_TARGET_DRILLS,
        })?;
        let batch_size =
            in_range(self.batch_size, DEFAULT_BATCH_SIZE, MAX_BATCH_SIZE).map_err(|got| {
                DrillgenError::InvalidBatchSize {
                    got,
                    max: MAX_BATCH_SIZE,
                }
            })?;
        let max_positions_per_phase = in_range(
            self.max_positions_per_phase,
            DEFAULT_MAX_POSITIONS_PER_PHASE,
            MAX_POSITIONS_PER_PHASE,
        )
        .map_err(|got| DrillgenError::InvalidMaxPositions {
            got,
            max: MAX_POSITIONS_PER_PHASE,
        })?;
        let game_phases = match &self.game_phases {
            None => None,
            Some(phases) if phases.is_empty() => {
                return Err(DrillgenError::InvalidPhases(
                    "gamePhases must name at least one phase; omit it to use every phase in the pool".into(),
                ));
            }
            Some(phases) => {
                let mut sorted = phases.clone();
                crate::order::sort(&mut sorted);
                if let Some(w) = sorted.windows(2).find(|w| w[0] == w[1]) {
                    return Err(DrillgenError::InvalidPhases(format!(
                        "gamePhases lists {} more than once",
                        w[0]
                    )));
                }
                Some(sorted)
            }
        };
        Ok(ValidRequest {
            target_drill_count,
            game_phases,
            max_positions_per_phase,
            batch_size,
        })
    }
}

impl ValidRequest {
    pub fn batch_count(&self) -> u32 {
        self.target_drill_count.div_ceil(self.batch_size)
    }
}

/// Positions per phase = `ceil(target / phases) + 2`, capped by `maxPositionsPerPhase`;
/// OPENING always keeps its 21 rolls.
///
/// Without `gamePhases` the phases are those present in `pool_phases` (all four when no pool is
/// known). The spec's `gamePhases?.length ?? 1` would divide by one and then load
/// `target + 2` positions for *every* phase of the library: that is the bug this avoids.
pub fn plan(request: &ValidRequest, pool_phases: Option<&[GamePhase]>) -> Result<Plan> {
    let phases: Vec<GamePhase> = match (&request.game_phases, pool_phases) {
        (Some(asked), _) => asked.clone(),
        (None, Some(present)) => {
            let mut p = present.to_vec();
            crate::order::sort(&mut p);
            p.dedup();
            if p.is_empty() {
                return Err(DrillgenError::EmptyPool("the pool is empty".into()));
            }
            p
        }
        (None, None) => GamePhase::ALL.to_vec(),
    };
    let phase_count = u32::try_from(phases.len()).unwrap_or(u32::MAX);
    let dynamic =
        (request.target_drill_count.div_ceil(phase_count) + 2).min(request.max_positions_per_phase);
    let per_phase: BTreeMap<GamePhase, u32> = phases
        .iter()
        .map(|&p| {
            (
                p,
                if p == GamePhase::Opening {
                    OPENING_POSITIONS
                } else {
                    dynamic
                },
            )
        })
        .collect();
    let total_positions: u32 = per_phase.values().sum();
    let baseline_positions = baseline_positions(&phases);
    let estimated_prompt_tokens = total_positions * TOKENS_PER_POSITION;
    let baseline_prompt_tokens = baseline_positions * TOKENS_PER_POSITION;
    Ok(Plan {
        target_drill_count: request.target_drill_count,
        batch_size: request.batch_size,
        phases,
        per_phase,
        total_positions,
        batches: request.batch_count(),
        estimated_prompt_tokens,
        baseline_positions,
        baseline_prompt_tokens,
        tokens_per_position: TOKENS_PER_POSITION,
        savings_percent: savings_percent(total_positions, baseline_positions),
    })
}

/// What the spec's table calls "current": 25 per phase for one phase (an OPENING-only request can
/// only get its 21), and the 96-position cap whenever several phases are asked.
pub fn baseline_positions(phases: &[GamePhase]) -> u32 {
    match phases {
        [GamePhase::Opening] => OPENING_POSITIONS,
        [_] => DEFAULT_MAX_POSITIONS_PER_PHASE,
        _ => BASELINE_MAX_TOTAL,
    }
}

pub fn savings_percent(optimized: u32, baseline: u32) -> f64 {
    if baseline == 0 {
        return 0.0;
    }
    let pct = 100.0 * (1.0 - f64::from(optimized) / f64::from(baseline));
    (pct * 10.0).round() / 10.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use GamePhase::*;

    fn request(target: i64, phases: &[GamePhase]) -> ValidRequest {
        DrillRequest {
            target_drill_count: Some(target as f64),
            game_phases: Some(phases.to_vec()),
            ..Default::default()
        }
        .check()
        .unwrap()
    }

    #[test]
    fn twenty_drills_two_phases_is_twelve_per_phase() {
        let p = plan(&request(20, &[Early, Middle]), None).unwrap();
        assert_eq!(p.per_phase.get(&Early), Some(&12));
        assert_eq!(p.per_phase.get(&Middle), Some(&12));
        assert_eq!(p.total_positions, 24);
        assert_eq!(p.baseline_positions, 96);
        assert_eq!(p.savings_percent, 75.0);
    }

    #[test]
    fn the_spec_token_table_holds() {
        let cases = [
            (10, vec![Early], 12, 25, 52.0),
            (30, vec![Early, Middle, Bearoff], 36, 96, 62.5),
        ];
        for (target, phases, total, baseline, saving) in cases {
            let p = plan(&request(target, &phases), None).unwrap();
            assert_eq!(
                (p.total_positions, p.baseline_positions, p.savings_percent),
                (total, baseline, saving)
            );
            assert_eq!(p.estimated_prompt_tokens, total * TOKENS_PER_POSITION);
        }
    }

    #[test]
    fn opening_keeps_all_21_regardless_of_the_cap() {
        let r = DrillRequest {
            target_drill_count: Some(4.0),
            game_phases: Some(vec![Opening, Early]),
            max_positions_per_phase: Some(3.0),
            ..Default::default()
        };
        let p = plan(&r.check().unwrap(), None).unwrap();
        assert_eq!(p.per_phase.get(&Opening), Some(&21));
        assert_eq!(p.per_phase.get(&Early), Some(&3));
    }

    #[test]
    fn the_cap_applies_to_other_phases() {
        let p = plan(&request(100, &[Early]), None).unwrap();
        assert_eq!(p.per_phase.get(&Early), Some(&25));
        assert_eq!(p.batches, 20);
    }

    #[test]
    fn absent_phases_come_from_the_pool_and_are_counted() {
        let r = DrillRequest {
            target_drill_count: Some(20.0),
            ..Default::default()
        }
        .check()
        .unwrap();
        let p = plan(&r, Some(&[Middle, Early, Middle])).unwrap();
        assert_eq!(p.phases, vec![Early, Middle]);
        assert_eq!(
            p.per_phase.get(&Early),
            Some(&12),
            "20 / 2 phases, not 20 / 1"
        );
        let all = plan(&r, None).unwrap();
        assert_eq!(all.phases.len(), 4);
    }

    #[test]
    fn defaults_are_21_drills_in_batches_of_5() {
        let r = DrillRequest::default().check().unwrap();
        assert_eq!(
            (
                r.target_drill_count,
                r.batch_size,
                r.max_positions_per_phase
            ),
            (21, 5, 25)
        );
        assert_eq!(r.batch_count(), 5);
    }

    #[test]
    fn out_of_range_fields_get_their_own_codes() {
        let cases = [
            (
                DrillRequest {
                    target_drill_count: Some(0.0),
                    ..Default::default()
                },
                "INVALID_TARGET_COUNT",
            ),
            (
                DrillRequest {
                    target_drill_count: Some(-3.0),
                    ..Default::default()
                },
                "INVALID_TARGET_COUNT",
            ),
            (
                DrillRequest {
                    target_drill_count: Some(1_000_000.0),
                    ..Default::default()
                },
                "INVALID_TARGET_COUNT",
            ),
            (
                DrillRequest {
                    target_drill_count: Some(2.5),
                    ..Default::default()
                },
                "INVALID_TARGET_COUNT",
            ),
            (
                DrillRequest {
                    target_drill_count: Some(f64::NAN),
                    ..Default::default()
                },
                "INVALID_TARGET_COUNT",
            ),
            (
                DrillRequest {
                    batch_size: Some(0.0),
                    ..Default::default()
                },
                "INVALID_BATCH_SIZE",
            ),
            (
                DrillRequest {
                    max_positions_per_phase: Some(0.0),
                    ..Default::default()
                },
                "INVALID_MAX_POSITIONS",
            ),
            (
                DrillRequest {
                    game_phases: Some(vec![]),
                    ..Default::default()
                },
                "INVALID_PHASES",
            ),
            (
                DrillRequest {
                    game_phases: Some(vec![Early, Early]),
                    ..Default::default()
                },
                "INVALID_PHASES",
            ),
        ];
        for (r, code) in cases {
            assert_eq!(r.check().unwrap_err().code(), code, "{r:?}");
        }
    }

    #[test]
    fn an_empty_pool_without_phases_is_an_error() {
        let r = DrillRequest::default().check().unwrap();
        assert_eq!(plan(&r, Some(&[])).unwrap_err().code(), "EMPTY_POOL");
    }
}

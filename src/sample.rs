//! Uniform random choice of positions from the host's pool, reproducible from a seed.
//!
//! The spec shuffles "the first N rows" of a query, which only permutes whatever the database
//! returns first; here every position of a phase has the same chance to be chosen.

use std::collections::HashSet;

use crate::engine::distractors;
use crate::error::{DrillgenError, Result};
use crate::rng::SeededRng;
use crate::types::{GamePhase, Plan, Position, Sample, Warning};

/// Seeds travel through JS numbers, so they stay below 2^53 to survive the round trip.
pub const MAX_SEED: u64 = (1 << 53) - 1;

/// Most positions a pool may hold: a library far larger than any teacher's, small enough that a
/// run's preparation stays quick in a Worker.
pub const MAX_POOL: usize = 20_000;

/// Longest texts of a position, in characters: they go verbatim into prompts.
const FIELD_LIMITS: [(&str, usize); 4] = [
    ("positionId", 100),
    ("bestMove", 100),
    ("xgid", 120),
    ("analysis", 20_000),
];

/// Rejects pools the rest of the pipeline could not use: blank or duplicate ids, bad dice, a missing
/// best move, texts too long for a prompt, more than 20 alternatives or `MAX_POOL` positions.
pub fn check_pool(pool: &[Position]) -> Result<()> {
    if pool.len() > MAX_POOL {
        return Err(DrillgenError::InvalidPositions(format!(
            "the pool has {} positions, more than the {MAX_POOL} allowed",
            pool.len()
        )));
    }
    let mut seen = HashSet::with_capacity(pool.len());
    for (i, p) in pool.iter().enumerate() {
        let bad = |m: String| {
            Err(DrillgenError::InvalidPositions(format!(
                "positions[{i}].{m}"
            )))
        };
        if p.position_id.trim().is_empty() {
            return bad("positionId is empty".into());
        }
        if !is_dice_roll(&p.dice_roll) {
            return bad(format!(
                "diceRoll must look like \"3-1\" (two dice 1-6), got {:?}",
                crate::text::bound(&p.dice_roll, 40)
            ));
        }
        if p.best_move.trim().is_empty() {
            return bad("bestMove is empty".into());
        }
        let texts = [
            p.position_id.as_str(),
            &p.best_move,
            p.xgid.as_deref().unwrap_or_default(),
            &p.analysis,
        ];
        for ((name, max), text) in FIELD_LIMITS.iter().zip(texts) {
            if text.chars().count() > *max {
                return bad(format!("{name} is longer than {max} characters"));
            }
        }
        if p.alternatives.len() > 20
            || p.alternatives
                .iter()
                .any(|a| a.play.trim().is_empty() || a.play.len() > 100)
        {
            return bad("alternatives must be at most 20 moves, each 1 to 100 characters".into());
        }
        if !seen.insert(p.position_id.as_str()) {
            return Err(DrillgenError::DuplicatePositionId(
                crate::text::bound(&p.position_id, 100).into_owned(),
            ));
        }
    }
    Ok(())
}

fn dice(roll: &str) -> Option<(u8, u8)> {
    let (a, b) = roll.split_once('-')?;
    let (a, b) = (a.trim().parse::<u8>().ok()?, b.trim().parse::<u8>().ok()?);
    ((1..=6).contains(&a) && (1..=6).contains(&b)).then_some((a, b))
}

fn is_dice_roll(roll: &str) -> bool {
    dice(roll).is_some()
}

/// Orders opening rolls the way the spec's `orderBy: { diceRoll: 'asc' }` does: 1-1, 2-1, 2-2, 3-1 …
fn dice_key(p: &Position) -> (u8, u8, &str) {
    let (a, b) = dice(&p.dice_roll).unwrap_or((0, 0));
    (a.max(b), a.min(b), p.position_id.as_str())
}

/// Resolves the seed: the caller's, checked, or a fresh one from the platform's random source.
pub fn resolve_seed(seed: Option<f64>) -> Result<u64> {
    match seed {
        Some(s) if s.is_finite() && s >= 0.0 && s.fract() == 0.0 && s <= MAX_SEED as f64 => {
            Ok(s as u64)
        }
        Some(s) => Err(DrillgenError::InvalidSeed(crate::text::num(s))),
        None => getrandom::u64()
            .map(|r| r & MAX_SEED)
            .map_err(|e| DrillgenError::RandomUnavailable(e.to_string())),
    }
}

/// Draws the plan's positions from the pool. OPENING keeps every opening roll, sorted by dice;
/// other phases get `perPhase[phase]` positions chosen uniformly without replacement, in random
/// order. A phase with fewer positions than planned gives all it has and a warning. Positions for
/// which the engine lists no clearly worse alternative cannot make a multiple-choice drill: they are
/// left out, with a warning.
pub fn sample(pool: &[Position], plan: &Plan, seed: u64) -> Result<Sample> {
    check_pool(pool)?;
    let mut rng = SeededRng::new(seed);
    let mut positions = Vec::with_capacity(plan.total_positions as usize);
    let mut warnings = Vec::new();
    let mut unusable = 0usize;
    for &phase in &plan.phases {
        let want = plan.per_phase.get(&phase).copied().unwrap_or(0) as usize;
        let in_phase = pool.iter().filter(|p| p.game_phase == phase);
        let (candidates, skipped): (Vec<&Position>, Vec<&Position>) =
            in_phase.partition(|p| !distractors(p).is_empty());
        unusable += skipped.len();
        if candidates.len() < want {
            warnings.push(short_pool(phase, candidates.len(), want));
        }
        if phase == GamePhase::Opening {
            let mut all = candidates;
            crate::order::sort_by_key(&mut all, |p| dice_key(p));
            positions.extend(all.into_iter().cloned());
            continue;
        }
        let chosen = rng.choose(candidates.len(), want);
        positions.extend(chosen.into_iter().map(|i| candidates[i].clone()));
    }
    if unusable > 0 {
        warnings.push(Warning::new(
            "POSITION_UNUSABLE",
            format!(
                "{unusable} positions of the phases asked have no alternative clearly worse than the best move, so no answer key can be built from the engine's analysis; they were left out"
            ),
        ));
    }
    if positions.is_empty() {
        let names: Vec<&str> = plan.phases.iter().map(|p| p.as_str()).collect();
        return Err(DrillgenError::EmptyPool(names.join(", ")));
    }
    Ok(Sample {
        positions,
        seed,
        warnings,
    })
}

fn short_pool(phase: GamePhase, have: usize, want: usize) -> Warning {
    Warning::new(
        "POOL_TOO_SMALL",
        format!(
            "{phase}: the pool has {have} positions, the plan asked for {want}; using all {have}"
        ),
    )
}

#[cfg(test)]
pub(crate) mod fixtures {
    use crate::types::{GamePhase, MoveAlternative, Position};

    pub fn position(id: &str, phase: GamePhase, dice: &str) -> Position {
        Position {
            position_id: id.to_owned(),
            game_phase: phase,
            dice_roll: dice.to_owned(),
            best_move: "13/11 24/23".to_owned(),
            analysis: format!("Analysis of {id}. Remember: split against few builders."),
            xgid: None,
            pip_count: None,
            best_move_equity: Some(0.0),
            alternatives: [("13/11 6/5", -0.01), ("24/21", -0.03), ("13/10", -0.05)]
                .iter()
                .map(|(m, e)| MoveAlternative {
                    play: (*m).to_owned(),
                    equity: *e,
                })
                .collect(),
            extra: serde_json::Map::new(),
        }
    }

    /// 21 opening rolls in scrambled order plus `per_phase` positions in each other phase.
    pub fn pool(per_phase: usize) -> Vec<Position> {
        let mut v = Vec::new();
        for hi in (1..=6).rev() {
            for lo in 1..=hi {
                v.push(position(
                    &format!("OPENING-{hi}{lo}"),
                    GamePhase::Opening,
                    &format!("{hi}-{lo}"),
                ));
            }
        }
        v.swap(0, 20);
        v.swap(3, 11);
        for phase in [GamePhase::Early, GamePhase::Middle, GamePhase::Bearoff] {
            for i in 0..per_phase {
                let dice = format!("{}-{}", 6 - i % 6, 1 + i % 3);
                v.push(position(&format!("{phase}-{i:03}"), phase, &dice));
            }
        }
        v
    }
}

#[cfg(test)]
mod tests {
    use super::fixtures::pool;
    use super::*;
    use crate::plan::plan;
    use crate::types::DrillRequest;
    use GamePhase::*;

    fn plan_for(target: i64, phases: &[GamePhase]) -> Plan {
        let r = DrillRequest {
            target_drill_count: Some(target as f64),
            game_phases: Some(phases.to_vec()),
            ..Default::default()
        };
        plan(&r.check().unwrap(), None).unwrap()
    }

    fn ids(s: &Sample) -> Vec<&str> {
        s.positions.iter().map(|p| p.position_id.as_str()).collect()
    }

    #[test]
    fn opening_returns_all_21_sorted_by_dice() {
        let s = sample(&pool(30), &plan_for(5, &[Opening]), 7).unwrap();
        let dice: Vec<&str> = s.positions.iter().map(|p| p.dice_roll.as_str()).collect();
        assert_eq!(dice.len(), 21);
        assert_eq!(&dice[..5], ["1-1", "2-1", "2-2", "3-1", "3-2"]);
        assert_eq!(dice[20], "6-6");
        let again = sample(&pool(30), &plan_for(5, &[Opening]), 8).unwrap();
        assert_eq!(ids(&s), ids(&again), "OPENING is never shuffled");
    }

    #[test]
    fn the_same_seed_repeats_and_other_seeds_differ() {
        let plan = plan_for(20, &[Early, Middle]);
        let a = sample(&pool(30), &plan, 42).unwrap();
        let b = sample(&pool(30), &plan, 42).unwrap();
        assert_eq!(ids(&a), ids(&b));
        assert_eq!(a.positions.len(), 24);
        let distinct: HashSet<Vec<String>> = (0..20)
            .map(|seed| {
                sample(&pool(30), &plan, seed)
                    .unwrap()
                    .positions
                    .into_iter()
                    .map(|p| p.position_id)
                    .collect()
            })
            .collect();
        assert!(
            distinct.len() >= 19,
            "20 seeds gave only {} distinct samples",
            distinct.len()
        );
    }

    #[test]
    fn unseeded_runs_draw_fresh_seeds() {
        let plan = plan_for(20, &[Early, Middle]);
        let a = sample(&pool(30), &plan, resolve_seed(None).unwrap()).unwrap();
        let b = sample(&pool(30), &plan, resolve_seed(None).unwrap()).unwrap();
        assert_ne!(a.seed, b.seed);
        assert_ne!(ids(&a), ids(&b));
        assert!(a.seed <= MAX_SEED);
    }

    #[test]
    fn every_position_has_an_equal_chance() {
        // 12 of 30 EARLY positions, 3000 draws: each id expected 1200 times.
        let plan = plan_for(20, &[Early, Middle]);
        let mut counts = std::collections::HashMap::<String, u32>::new();
        for seed in 0..3000 {
            for p in sample(&pool(30), &plan, seed)
                .unwrap()
                .positions
                .into_iter()
                .filter(|p| p.game_phase == Early)
            {
                *counts.entry(p.position_id).or_default() += 1;
            }
        }
        assert_eq!(
            counts.len(),
            30,
            "every EARLY position was drawn at some point"
        );
        let (min, max) = (
            counts.values().min().unwrap(),
            counts.values().max().unwrap(),
        );
        assert!(
            *min > 1050 && *max < 1350,
            "min {min}, max {max} (expected ~1200)"
        );
    }

    #[test]
    fn a_short_pool_gives_everything_and_a_warning() {
        let s = sample(&pool(5), &plan_for(20, &[Early, Middle]), 1).unwrap();
        assert_eq!(s.positions.len(), 10);
        assert_eq!(s.warnings.len(), 2);
        assert!(s.warnings.iter().all(|w| w.code == "POOL_TOO_SMALL"));
    }

    #[test]
    fn duplicate_ids_are_rejected() {
        let mut p = pool(3);
        p[25].position_id = p[24].position_id.clone();
        let err = sample(&p, &plan_for(5, &[Early]), 1).unwrap_err();
        assert_eq!(err.code(), "DUPLICATE_POSITION_ID");
    }

    #[test]
    fn bad_dice_and_blank_ids_are_invalid_positions() {
        let mut p = pool(3);
        p[22].dice_roll = "7-1".into();
        assert_eq!(
            sample(&p, &plan_for(5, &[Early]), 1).unwrap_err().code(),
            "INVALID_POSITIONS"
        );
        let mut p = pool(3);
        p[22].position_id = " ".into();
        assert_eq!(
            sample(&p, &plan_for(5, &[Early]), 1).unwrap_err().code(),
            "INVALID_POSITIONS"
        );
    }

    #[test]
    fn a_pool_without_the_asked_phases_is_empty() {
        let p: Vec<Position> = pool(3)
            .into_iter()
            .filter(|p| p.game_phase != Bearoff)
            .collect();
        assert_eq!(
            sample(&p, &plan_for(5, &[Bearoff]), 1).unwrap_err().code(),
            "EMPTY_POOL"
        );
    }

    #[test]
    fn seeds_are_checked() {
        assert_eq!(resolve_seed(Some(42.0)).unwrap(), 42);
        for bad in [-1.0, 1.5, f64::NAN, 1e300] {
            assert_eq!(resolve_seed(Some(bad)).unwrap_err().code(), "INVALID_SEED");
        }
    }
}

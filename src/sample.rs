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

/// Most ids `avoidPositionIds` may list: a pool's worth.
pub const MAX_AVOID_IDS: usize = MAX_POOL;

/// Checks `avoidPositionIds`: at most a pool's worth of ids, each as long as a position id may be.
pub fn check_avoid(ids: &[String]) -> Result<()> {
    if ids.len() > MAX_AVOID_IDS || ids.iter().any(|id| id.chars().count() > 100) {
        return Err(DrillgenError::InvalidOptions(format!(
            "avoidPositionIds must list at most {MAX_AVOID_IDS} ids of at most 100 characters"
        )));
    }
    Ok(())
}

/// A drill asks for the best move of a roll: two positions with the same roll and the same best
/// move make the same question, so a series (spares included) holds each pair once.
fn move_key(p: &Position) -> ((u8, u8), &str) {
    let (a, b) = dice(&p.dice_roll).unwrap_or((0, 0));
    ((a.max(b), a.min(b)), p.best_move.trim())
}

/// The positions of each phase the plan loads (`perPhase`), in random order: drawn uniformly
/// among the usable positions of the phase, those listed in `avoid` only once the others run
/// out, and never a second position with a roll and best move already drawn.
struct Loaded<'a> {
    phases: Vec<(GamePhase, Vec<&'a Position>)>,
    unusable: usize,
    warnings: Vec<Warning>,
}

fn load<'a>(
    pool: &'a [Position],
    plan: &Plan,
    avoid: &HashSet<&str>,
    rng: &mut SeededRng,
) -> Loaded<'a> {
    let mut out = Loaded {
        phases: Vec::new(),
        unusable: 0,
        warnings: Vec::new(),
    };
    let mut asked = HashSet::new();
    for &phase in &plan.phases {
        let want = plan.per_phase.get(&phase).copied().unwrap_or(0) as usize;
        let in_phase = pool.iter().filter(|p| p.game_phase == phase);
        let (mut fresh, skipped): (Vec<&Position>, Vec<&Position>) =
            in_phase.partition(|p| !distractors(p).is_empty());
        out.unusable += skipped.len();
        rng.shuffle(&mut fresh);
        // Both parts keep their random order: uniform among the fresh, then among the avoided.
        let (fresh, avoided): (Vec<&Position>, Vec<&Position>) = fresh
            .into_iter()
            .partition(|p| !avoid.contains(p.position_id.as_str()));
        let mut chosen = Vec::with_capacity(want);
        for p in fresh.into_iter().chain(avoided) {
            if chosen.len() == want {
                break;
            }
            if asked.insert(move_key(p)) {
                chosen.push(p);
            }
        }
        if chosen.len() < want {
            out.warnings.push(short_pool(phase, chosen.len(), want));
        }
        out.phases.push((phase, chosen));
    }
    out
}

/// Draws the plan's positions from the pool and chooses the series' among them.
///
/// Each phase loads `perPhase[phase]` positions (OPENING: all 21 rolls) chosen uniformly, avoiding
/// the ids in `avoid` while others remain and repeating no (roll, best move) pair. The series takes
/// `targetDrillCount` of them, spread evenly over the phases (each gets its share ±1; a phase short
/// of positions gives all it has and the others make up for it), the phase receiving the remainder
/// drawn by the seed. Within a phase the first loaded are taken, so every loaded position, OPENING
/// rolls included, has the same chance. The rest are `spares`, for a later top-up. OPENING
/// positions are listed in dice order, the spec's `orderBy: { diceRoll: 'asc' }`.
///
/// Positions for which the engine lists no clearly worse alternative cannot make a multiple-choice
/// drill: they are left out, with a warning.
pub fn sample(pool: &[Position], plan: &Plan, seed: u64, avoid: &[String]) -> Result<Sample> {
    check_pool(pool)?;
    check_avoid(avoid)?;
    let avoid: HashSet<&str> = avoid.iter().map(String::as_str).collect();
    let mut rng = SeededRng::new(seed);
    let loaded = load(pool, plan, &avoid, &mut rng);
    let available: Vec<usize> = loaded.phases.iter().map(|(_, v)| v.len()).collect();
    let mut order: Vec<usize> = (0..available.len()).collect();
    rng.shuffle(&mut order);
    let shares =
        crate::partition::fair_shares(plan.target_drill_count as usize, &available, &order);
    let (mut positions, mut spares) = (Vec::new(), Vec::new());
    for ((phase, mut chosen), share) in loaded.phases.into_iter().zip(shares) {
        let mut unused = chosen.split_off(share);
        if phase == GamePhase::Opening {
            crate::order::sort_by_key(&mut chosen, |p| dice_key(p));
            crate::order::sort_by_key(&mut unused, |p| dice_key(p));
        }
        positions.extend(chosen.into_iter().cloned());
        spares.extend(unused.into_iter().cloned());
    }
    if positions.is_empty() {
        return Err(empty_pool(plan, loaded.unusable));
    }
    let reused = positions
        .iter()
        .filter(|p| avoid.contains(p.position_id.as_str()))
        .count();
    let mut warnings = loaded.warnings;
    warnings.extend(notes(loaded.unusable, reused));
    Ok(Sample {
        positions,
        spares,
        seed,
        seed_format: crate::rng::SEED_FORMAT,
        avoided_reused: reused as u32,
        warnings,
    })
}

/// Nothing to drill. When positions of the phases asked exist but all lack a clearly worse
/// alternative, saying "no positions" would be false: say how many were left out, and what to add.
fn empty_pool(plan: &Plan, unusable: usize) -> DrillgenError {
    let names: Vec<&str> = plan.phases.iter().map(|p| p.as_str()).collect();
    let names = names.join(", ");
    if unusable == 0 {
        return DrillgenError::EmptyPool(names);
    }
    DrillgenError::EmptyPool(format!(
        "{names}: {unusable} positions were left out because their analysis lists no alternative clearly worse than the best move, so no multiple-choice drill can be built from it; give each position `alternatives: [{{ \"move\": …, \"equity\": … }}]` with at least one move other than `bestMove` and an equity at least {} below `bestMoveEquity`",
        // Not `{}` of an f64: core's float formatting is 16 KB of wasm.
        crate::text::num(crate::engine::MIN_EQUITY_GAP)
    ))
}

fn notes(unusable: usize, reused: usize) -> Vec<Warning> {
    let mut warnings = Vec::new();
    if unusable > 0 {
        warnings.push(Warning::new(
            crate::WarningCode::POSITION_UNUSABLE,
            format!(
                "{unusable} positions of the phases asked have no alternative clearly worse than the best move, so no answer key can be built from the engine's analysis; they were left out"
            ),
        ));
    }
    if reused > 0 {
        warnings.push(Warning::new(
            crate::WarningCode::AVOIDED_POSITIONS_REUSED,
            format!(
                "{reused} positions listed in avoidPositionIds were used again: their phases had no other positions left"
            ),
        ));
    }
    warnings
}

fn short_pool(phase: GamePhase, have: usize, want: usize) -> Warning {
    Warning::new(
        crate::WarningCode::POOL_TOO_SMALL,
        format!(
            "{phase}: the pool has {have} usable positions, the plan asked for {want}; using all {have}"
        ),
    )
}

// proptest does not target wasm32.
#[cfg(test)]
#[cfg(not(target_arch = "wasm32"))]
mod props;

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

    /// 21 opening rolls in scrambled order plus `per_phase` positions in each other phase, no two
    /// with the same roll and best move (up to 504 per phase).
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
        for (start, phase) in [
            (24, GamePhase::Early),
            (23, GamePhase::Middle),
            (22, GamePhase::Bearoff),
        ] {
            for i in 0..per_phase {
                let dice = format!("{}-{}", 6 - i % 6, 1 + i % 3);
                let mut p = position(&format!("{phase}-{i:03}"), phase, &dice);
                // A different question each: no two positions share a roll and a best move.
                p.best_move = format!(
                    "{start}/{} 13/{} 8/{}",
                    start - 1 - i % 6,
                    12 - (i / 6) % 12,
                    7 - (i / 72) % 7
                );
                v.push(p);
            }
        }
        v
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

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

    fn dice_order(positions: &[Position]) -> bool {
        positions
            .windows(2)
            .all(|w| dice_key(&w[0]) <= dice_key(&w[1]))
    }

    #[test]
    fn opening_takes_a_random_subset_of_the_21_rolls_in_dice_order() {
        let plan = plan_for(5, &[Opening]);
        let mut seen = HashSet::new();
        let mut subsets = HashSet::new();
        for seed in 0..50 {
            let s = sample(&pool(30), &plan, seed, &[]).unwrap();
            assert_eq!(
                (s.positions.len(), s.spares.len()),
                (5, 16),
                "all 21 loaded"
            );
            assert!(dice_order(&s.positions) && dice_order(&s.spares));
            let mut all: Vec<&str> = s
                .positions
                .iter()
                .chain(&s.spares)
                .map(|p| p.dice_roll.as_str())
                .collect();
            all.sort_unstable();
            all.dedup();
            assert_eq!(all.len(), 21, "each roll once, drilled or spare");
            seen.extend(s.positions.iter().map(|p| p.dice_roll.clone()));
            subsets.insert(ids(&s).join(","));
        }
        assert_eq!(seen.len(), 21, "every roll is drilled under some seed");
        assert!(
            subsets.len() >= 45,
            "50 seeds gave {} subsets",
            subsets.len()
        );
    }

    #[test]
    fn the_same_seed_repeats_and_other_seeds_differ() {
        let plan = plan_for(20, &[Early, Middle]);
        let a = sample(&pool(30), &plan, 42, &[]).unwrap();
        let b = sample(&pool(30), &plan, 42, &[]).unwrap();
        assert_eq!(ids(&a), ids(&b));
        assert_eq!(a.spares, b.spares);
        assert_eq!((a.positions.len(), a.spares.len()), (20, 4));
        assert_eq!(a.seed_format, crate::rng::SEED_FORMAT);
        let distinct: HashSet<Vec<String>> = (0..20)
            .map(|seed| {
                sample(&pool(30), &plan, seed, &[])
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
        let a = sample(&pool(30), &plan, resolve_seed(None).unwrap(), &[]).unwrap();
        let b = sample(&pool(30), &plan, resolve_seed(None).unwrap(), &[]).unwrap();
        assert_ne!(a.seed, b.seed);
        assert_ne!(ids(&a), ids(&b));
        assert!(a.seed <= MAX_SEED);
    }

    #[test]
    fn every_position_has_an_equal_chance() {
        // 20 drills over two phases: 12 of 30 EARLY positions loaded, 10 drilled. Over 3000
        // seeds each id is expected 1200 times loaded and 1000 times drilled.
        let plan = plan_for(20, &[Early, Middle]);
        let (mut drilled, mut loaded) =
            (HashMap::<String, u32>::new(), HashMap::<String, u32>::new());
        for seed in 0..3000 {
            let s = sample(&pool(30), &plan, seed, &[]).unwrap();
            for p in s.positions.iter().filter(|p| p.game_phase == Early) {
                *drilled.entry(p.position_id.clone()).or_default() += 1;
            }
            for p in s
                .positions
                .iter()
                .chain(&s.spares)
                .filter(|p| p.game_phase == Early)
            {
                *loaded.entry(p.position_id.clone()).or_default() += 1;
            }
        }
        for (counts, expected) in [(&drilled, 1000), (&loaded, 1200)] {
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
                *min > expected * 88 / 100 && *max < expected * 112 / 100,
                "min {min}, max {max} (expected ~{expected})"
            );
        }
    }

    #[test]
    fn a_short_pool_gives_everything_and_a_warning() {
        let s = sample(&pool(5), &plan_for(20, &[Early, Middle]), 1, &[]).unwrap();
        assert_eq!((s.positions.len(), s.spares.len()), (10, 0));
        assert_eq!(s.warnings.len(), 2);
        assert!(s.warnings.iter().all(|w| w.code == "POOL_TOO_SMALL"));
    }

    #[test]
    fn duplicate_ids_are_rejected() {
        let mut p = pool(3);
        p[25].position_id = p[24].position_id.clone();
        let err = sample(&p, &plan_for(5, &[Early]), 1, &[]).unwrap_err();
        assert_eq!(err.code(), "DUPLICATE_POSITION_ID");
    }

    #[test]
    fn bad_dice_and_blank_ids_are_invalid_positions() {
        let mut p = pool(3);
        p[22].dice_roll = "7-1".into();
        assert_eq!(
            sample(&p, &plan_for(5, &[Early]), 1, &[])
                .unwrap_err()
                .code(),
            "INVALID_POSITIONS"
        );
        let mut p = pool(3);
        p[22].position_id = " ".into();
        assert_eq!(
            sample(&p, &plan_for(5, &[Early]), 1, &[])
                .unwrap_err()
                .code(),
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
            sample(&p, &plan_for(5, &[Bearoff]), 1, &[])
                .unwrap_err()
                .code(),
            "EMPTY_POOL"
        );
    }

    /// A library with best moves but no alternatives: the error says what is missing, not that
    /// the phase has no positions.
    #[test]
    fn a_library_without_alternatives_says_what_to_add() {
        let p: Vec<Position> = pool(4)
            .into_iter()
            .filter(|p| p.game_phase == Early)
            .map(|mut p| {
                p.alternatives.clear();
                p
            })
            .collect();
        let e = sample(&p, &plan_for(5, &[Early]), 1, &[]).unwrap_err();
        assert_eq!(e.code(), "EMPTY_POOL");
        let m = e.to_string();
        assert!(m.contains("no usable positions"), "{m}");
        assert!(m.contains("4 positions were left out"), "{m}");
        assert!(
            m.contains("alternatives") && m.contains("bestMoveEquity"),
            "{m}"
        );
    }

    #[test]
    fn avoid_lists_are_bounded() {
        let plan = plan_for(5, &[Early]);
        let long = vec!["x".repeat(101)];
        let many: Vec<String> = (0..=MAX_AVOID_IDS).map(|i| i.to_string()).collect();
        for avoid in [long, many] {
            let err = sample(&pool(3), &plan, 1, &avoid).unwrap_err();
            assert_eq!(err.code(), "INVALID_OPTIONS");
        }
        let unknown = vec!["not-in-the-pool".to_owned()];
        let s = sample(&pool(3), &plan, 1, &unknown).unwrap();
        assert_eq!(s.avoided_reused, 0, "an id the pool lacks is ignored");
    }

    #[test]
    fn seeds_are_checked() {
        assert_eq!(resolve_seed(Some(42.0)).unwrap(), 42);
        for bad in [-1.0, 1.5, f64::NAN, 1e300] {
            assert_eq!(resolve_seed(Some(bad)).unwrap_err().code(), "INVALID_SEED");
        }
    }
}

//! What the engine knows, turned into a drill's answer key. A position carries the engine's best
//! move and, usually, alternatives with equities. The model is never asked which move is right: the
//! correct option is the engine's best move and the distractors are the engine's alternatives for
//! that position, so a generated drill cannot teach a wrong answer or offer an invented move.
//! `verify` uses the same notation rules to check drills that were stored by anyone else.

use crate::drill::{DrillOption, OPTION_IDS};
use crate::text::clean;
use crate::types::Position;

/// Longest move text shown as an option.
pub const MOVE_MAX_CHARS: usize = 60;
/// Alternatives closer than this to the best move's equity are not "clearly worse": a student could
/// not be told they are wrong, so they are never distractors.
pub const MIN_EQUITY_GAP: f64 = 0.001;

/// A move in a canonical form, so `6/5 8/5`, `8/5 6/5*` and `8/5  6/5` compare equal: lower case,
/// hit marks dropped (the position decides whether a move hits), `(n)` repetitions expanded,
/// `25`/`0` spelled `bar`/`off`, parts sorted.
pub fn normalize_move(text: &str) -> String {
    let mut parts: Vec<String> = Vec::new();
    for token in text.split_whitespace() {
        let token = token.to_ascii_lowercase().replace('*', "");
        let (play, times) = match token.split_once('(') {
            Some((play, rest)) => {
                let n = rest.trim_end_matches(')').parse::<usize>().unwrap_or(1);
                (play.to_owned(), n.clamp(1, 4))
            }
            None => (token, 1),
        };
        let play: Vec<&str> = play
            .split('/')
            .map(|p| match p {
                "25" => "bar",
                "0" => "off",
                other => other,
            })
            .collect();
        let play = play.join("/");
        parts.extend(std::iter::repeat_n(play, times));
    }
    crate::order::sort(&mut parts);
    parts.join(" ")
}

pub fn same_move(a: &str, b: &str) -> bool {
    normalize_move(a) == normalize_move(b)
}

/// The options of a drill on `position` and which one is correct.
#[derive(Debug, Clone, PartialEq)]
pub struct AnswerKey {
    pub options: Vec<DrillOption>,
    pub correct_option_id: String,
}

/// Up to three distractors: the alternatives that are different moves from the best one and clearly
/// worse by the engine's equity, closest first (the tempting mistakes).
pub fn distractors(position: &Position) -> Vec<&str> {
    let best = normalize_move(&position.best_move);
    let mut seen = vec![best];
    let mut ranked: Vec<(f64, &str)> = Vec::new();
    for alt in &position.alternatives {
        let norm = normalize_move(&alt.play);
        let worse = position
            .best_move_equity
            .is_none_or(|best| alt.equity.is_finite() && alt.equity <= best - MIN_EQUITY_GAP);
        if norm.is_empty() || !worse || seen.contains(&norm) {
            continue;
        }
        seen.push(norm);
        ranked.push((alt.equity, alt.play.as_str()));
    }
    crate::order::sort_by(&mut ranked, |a, b| a.0 > b.0);
    ranked
        .into_iter()
        .take(OPTION_IDS.len() - 1)
        .map(|(_, m)| m)
        .collect()
}

/// The answer key of the drill with index `index` on `position`, or `None` when the engine gives no
/// usable distractor (such a position cannot make a multiple-choice drill). The correct option's
/// place rotates with the index so students cannot learn "it is always B".
pub fn answer_key(position: &Position, index: u32) -> Option<AnswerKey> {
    let wrong = distractors(position);
    if wrong.is_empty() {
        return None;
    }
    let count = wrong.len() + 1;
    let correct = index as usize % count;
    let mut moves: Vec<&str> = wrong;
    moves.insert(correct, &position.best_move);
    let options = moves
        .iter()
        .zip(OPTION_IDS)
        .map(|(m, id)| DrillOption {
            id: id.to_owned(),
            text: clean(m, MOVE_MAX_CHARS, false),
        })
        .collect();
    Some(AnswerKey {
        options,
        correct_option_id: OPTION_IDS[correct].to_owned(),
    })
}

/// The equity a student gives up by choosing the closest distractor (how subtle the drill is).
pub fn closest_gap(position: &Position) -> Option<f64> {
    let best = position.best_move_equity?;
    let first = distractors(position).into_iter().next()?;
    let alt = position.alternatives.iter().find(|a| a.play == first)?;
    Some(best - alt.equity)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sample::fixtures::position;
    use crate::types::{GamePhase, MoveAlternative};

    fn with_alternatives(best: f64, alts: &[(&str, f64)]) -> Position {
        let mut p = position("P1", GamePhase::Early, "3-1");
        p.best_move = "8/5 6/5".into();
        p.best_move_equity = Some(best);
        p.alternatives = alts
            .iter()
            .map(|(m, e)| MoveAlternative {
                play: (*m).into(),
                equity: *e,
            })
            .collect();
        p
    }

    #[test]
    fn notation_variants_normalize_to_one_form() {
        for (a, b) in [
            ("8/5 6/5", "6/5 8/5"),
            ("13/7* 8/7", "8/7 13/7"),
            ("6/4(2)", "6/4 6/4"),
            ("25/22 6/0", "bar/22 6/off"),
            ("24/18  13/11", "13/11 24/18"),
        ] {
            assert!(same_move(a, b), "{a} = {b}");
        }
        assert!(!same_move("8/5 6/5", "8/5 6/4"));
        assert!(!same_move("13/11", "13/11 6/5"));
    }

    #[test]
    fn distractors_are_worse_distinct_engine_moves_closest_first() {
        let p = with_alternatives(
            0.10,
            &[
                ("24/21 13/12", -0.20),
                ("6/5 8/5", 0.05), // the best move written differently: never a distractor
                ("13/10", 0.0995), // within the gap: as good as best, not "wrong"
                ("13/9", 0.02),
                ("24/20", 0.30), // better than "best": engine data the key must not trust
                ("13/9", 0.01),  // duplicate
                ("24/23 13/10", -0.05),
            ],
        );
        assert_eq!(distractors(&p), ["13/9", "24/23 13/10", "24/21 13/12"]);
    }

    #[test]
    fn the_key_puts_the_best_move_in_a_rotating_slot() {
        let p = with_alternatives(0.1, &[("a", 0.0), ("b", -0.1), ("c", -0.2), ("d", -0.3)]);
        let slots: Vec<String> = (0..5)
            .map(|i| {
                answer_key(&p, i)
                    .map(|k| k.correct_option_id)
                    .unwrap_or_default()
            })
            .collect();
        assert_eq!(slots, ["A", "B", "C", "D", "A"]);
        let key = answer_key(&p, 2).unwrap();
        let texts: Vec<&str> = key.options.iter().map(|o| o.text.as_str()).collect();
        assert_eq!(texts, ["a", "b", "8/5 6/5", "c"]);
        let two = with_alternatives(0.1, &[("a", 0.0)]);
        assert_eq!(answer_key(&two, 3).unwrap().options.len(), 2);
        assert_eq!(answer_key(&with_alternatives(0.1, &[]), 0), None);
    }

    #[test]
    fn without_equities_every_distinct_alternative_counts() {
        let mut p = with_alternatives(0.0, &[("13/9", f64::NAN), ("24/20", 0.0)]);
        p.best_move_equity = None;
        assert_eq!(distractors(&p).len(), 2);
    }
}

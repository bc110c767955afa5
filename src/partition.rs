//! Splitting the series into independent LLM calls.

use std::cmp::Reverse;
use std::collections::BTreeMap;

use crate::error::{DrillgenError, Result};
use crate::plan::ValidRequest;
use crate::types::{BatchSpec, GamePhase, Position};

/// `ceil(target / batchSize)` batches of contiguous drill indices, each with one position per
/// drill (`positions[k]` is the position of `drillIndices[k]`) whenever there are enough, and the
/// phases spread evenly: each phase gets its share ±1 of the series, and each batch holds of every
/// phase its proportional share rounded down or up. With fewer positions than drills each batch
/// still gets one and its drills reuse them in turn. With more (a host passing spares), each phase
/// keeps its share, taken from the front of its positions, and the rest stay out of the prompts.
pub fn partition(request: &ValidRequest, positions: &[Position]) -> Result<Vec<BatchSpec>> {
    let target = request.target_drill_count;
    let size = request.batch_size;
    let total_batches = request.batch_count();
    let batches = total_batches as usize;
    if positions.len() < batches {
        return Err(DrillgenError::InsufficientPositions {
            positions: positions.len(),
            batches,
        });
    }
    let drill_counts: Vec<u32> = (0..total_batches)
        .map(|b| size.min(target - b * size))
        .collect();

    let mut by_phase: BTreeMap<GamePhase, Vec<&Position>> = BTreeMap::new();
    for p in positions {
        by_phase.entry(p.game_phase).or_default().push(p);
    }
    let available: Vec<usize> = by_phase.values().map(Vec::len).collect();
    // The remainder goes to the phases with most positions (ties: library order).
    let mut order: Vec<usize> = (0..available.len()).collect();
    crate::order::sort_by_key(&mut order, |&i| Reverse(available[i]));
    let used = positions.len().min(target as usize);
    let totals = fair_shares(used, &available, &order);
    let grid = crate::spread::spread(&quotas(used, &drill_counts), &totals);

    let mut next = vec![0usize; available.len()];
    Ok(grid
        .into_iter()
        .enumerate()
        .map(|(b, counts)| {
            let mut batch = Vec::new();
            for (p, (count, phase)) in counts.into_iter().zip(by_phase.values()).enumerate() {
                batch.extend(phase.iter().skip(next[p]).take(count).map(|&x| x.clone()));
                next[p] += count;
            }
            let first = b as u32 * size;
            BatchSpec {
                batch_index: b as u32,
                total_batches,
                drill_indices: (first..first + drill_counts[b]).collect(),
                positions: batch,
            }
        })
        .collect())
}

/// The whole series as one batch (`mode: "single"`), phases spread as in [`partition`].
pub fn single(request: &ValidRequest, positions: &[Position]) -> Result<BatchSpec> {
    let whole = ValidRequest {
        batch_size: request.target_drill_count,
        ..request.clone()
    };
    partition(&whole, positions)?
        .pop()
        .ok_or(DrillgenError::InsufficientPositions {
            positions: positions.len(),
            batches: 1,
        })
}

/// Splits `total` among groups holding `available` items: round by round, each group that still
/// has items takes one, in `order`, so no group is more than one ahead of another unless it ran
/// out (the groups first in `order` get the remainder).
pub fn fair_shares(total: usize, available: &[usize], order: &[usize]) -> Vec<usize> {
    let mut shares = vec![0; available.len()];
    let mut left = total.min(available.iter().sum());
    while left > 0 {
        for &i in order {
            if left > 0 && shares[i] < available[i] {
                shares[i] += 1;
                left -= 1;
            }
        }
    }
    shares
}

/// Shares of `total` positions for batches of `weights` drills: one position per drill when there
/// are enough; otherwise one each, then the rest by largest remainder in proportion to the drill
/// counts.
fn quotas(total: usize, weights: &[u32]) -> Vec<usize> {
    let drills: usize = weights.iter().map(|&w| w as usize).sum();
    if total >= drills {
        return weights.iter().map(|&w| w as usize).collect();
    }
    let mut shares: Vec<usize> = vec![1; weights.len()];
    let spare = (total - shares.iter().sum::<usize>()) as u64;
    let sum = drills as u64;
    for (share, &w) in shares.iter_mut().zip(weights) {
        *share += (spare * u64::from(w) / sum) as usize;
    }
    let mut left = total - shares.iter().sum::<usize>();
    let mut by_remainder: Vec<usize> = (0..weights.len()).collect();
    crate::order::sort_by_key(&mut by_remainder, |&i| {
        (Reverse(spare * u64::from(weights[i]) % sum), i)
    });
    for &i in by_remainder.iter().cycle() {
        if left == 0 {
            break;
        }
        shares[i] += 1;
        left -= 1;
    }
    shares
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;
    use crate::sample::fixtures::position;
    use crate::types::{DrillRequest, GamePhase};

    fn request(target: i64, batch: i64) -> ValidRequest {
        DrillRequest {
            target_drill_count: Some(target as f64),
            batch_size: Some(batch as f64),
            ..Default::default()
        }
        .check()
        .unwrap()
    }

    fn positions(per_phase: &[(GamePhase, usize)]) -> Vec<Position> {
        per_phase
            .iter()
            .flat_map(|&(phase, n)| {
                (0..n).map(move |i| position(&format!("{phase}-{i}"), phase, "3-1"))
            })
            .collect()
    }

    #[test]
    fn twenty_five_drills_make_five_batches_of_five() {
        let pos = positions(&[(GamePhase::Early, 15), (GamePhase::Middle, 15)]);
        let batches = partition(&request(25, 5), &pos).unwrap();
        assert_eq!(batches.len(), 5);
        for (b, batch) in batches.iter().enumerate() {
            let first = 5 * b as u32;
            assert_eq!(batch.drill_indices, (first..first + 5).collect::<Vec<_>>());
            assert_eq!(batch.total_batches, 5);
            assert_eq!(
                batch.positions.len(),
                5,
                "one position per drill; the spare 5 are unused"
            );
            let phases: HashSet<GamePhase> = batch.positions.iter().map(|p| p.game_phase).collect();
            assert_eq!(phases.len(), 2, "batch {b} mixes both phases");
        }
    }

    #[test]
    fn a_short_last_batch_gets_a_smaller_share() {
        let pos = positions(&[(GamePhase::Opening, 21), (GamePhase::Early, 13)]);
        let batches = partition(&request(22, 5), &pos).unwrap();
        let drills: Vec<usize> = batches.iter().map(|b| b.drill_indices.len()).collect();
        assert_eq!(drills, [5, 5, 5, 5, 2]);
        let shares: Vec<usize> = batches.iter().map(|b| b.positions.len()).collect();
        assert_eq!(shares, drills);
        // With fewer positions than drills the shares follow the drill counts, one at least.
        let few = partition(&request(22, 5), &positions(&[(GamePhase::Early, 9)])).unwrap();
        let shares: Vec<usize> = few.iter().map(|b| b.positions.len()).collect();
        assert_eq!(shares.iter().sum::<usize>(), 9);
        assert!(shares[4] >= 1 && shares[4] <= shares[0], "{shares:?}");
    }

    #[test]
    fn fewer_positions_than_batches_is_an_error() {
        let err = partition(&request(25, 5), &positions(&[(GamePhase::Early, 4)])).unwrap_err();
        assert_eq!(err.code(), "INSUFFICIENT_POSITIONS");
    }

    // proptest does not target wasm32; these run natively.
    #[cfg(not(target_arch = "wasm32"))]
    mod props {
        use std::collections::{HashMap, HashSet};

        use proptest::prelude::*;

        use super::{partition, positions, request};
        use crate::types::GamePhase;

        proptest! {
            #[test]
            fn partition_invariants(
                target in 1i64..=120,
                batch in 1i64..=12,
                opening in 0usize..=21,
                early in 0usize..=30,
                middle in 0usize..=30,
                bearoff in 0usize..=30,
            ) {
                let req = request(target, batch);
                let pos = positions(&[
                    (GamePhase::Opening, opening), (GamePhase::Early, early),
                    (GamePhase::Middle, middle), (GamePhase::Bearoff, bearoff),
                ]);
                let batches = match partition(&req, &pos) {
                    Ok(b) => b,
                    Err(e) => {
                        prop_assert!(pos.len() < req.batch_count() as usize);
                        prop_assert_eq!(e.code(), "INSUFFICIENT_POSITIONS");
                        return Ok(());
                    }
                };
                prop_assert_eq!(batches.len() as u32, req.batch_count());
                // Every drill index exactly once, contiguous inside a batch, no batch over batchSize.
                let mut seen = vec![0u32; target as usize];
                for b in &batches {
                    prop_assert!(!b.drill_indices.is_empty() && b.drill_indices.len() <= batch as usize);
                    prop_assert!(b.drill_indices.windows(2).all(|w| w[1] == w[0] + 1));
                    for &i in &b.drill_indices { seen[i as usize] += 1; }
                }
                prop_assert!(seen.iter().all(|&c| c == 1));
                // No position in two batches, each batch has one at least; all are used when they
                // do not outnumber the drills.
                let mut owner = HashMap::new();
                for b in &batches {
                    prop_assert!(!b.positions.is_empty());
                    for p in &b.positions {
                        prop_assert!(owner.insert(p.position_id.clone(), b.batch_index).is_none());
                    }
                }
                prop_assert_eq!(owner.len(), pos.len().min(target as usize));
                // One position per drill whenever the sample allows it.
                if pos.len() >= target as usize {
                    for b in &batches {
                        prop_assert_eq!(b.positions.len(), b.drill_indices.len(),
                            "batch {} has {} positions for {} drills", b.batch_index, b.positions.len(), b.drill_indices.len());
                    }
                }
                // A mix: with several phases and enough positions of each, no batch that holds two
                // positions or more is single-phase.
                let phases_present = [opening, early, middle, bearoff].iter().filter(|&&n| n >= batches.len()).count();
                if phases_present >= 2 {
                    for b in batches.iter().filter(|b| b.positions.len() >= 2) {
                        let phases: HashSet<GamePhase> = b.positions.iter().map(|p| p.game_phase).collect();
                        prop_assert!(phases.len() >= 2, "batch {} has one phase only", b.batch_index);
                    }
                }
                // Given more positions than drills, each phase still gets its share ±1: a phase
                // more than one behind another has none left.
                let given = [opening, early, middle, bearoff];
                let used: Vec<usize> = [GamePhase::Opening, GamePhase::Early, GamePhase::Middle, GamePhase::Bearoff]
                    .iter()
                    .map(|&phase| batches.iter().flat_map(|b| &b.positions).filter(|p| p.game_phase == phase).count())
                    .collect();
                for (p, &n) in used.iter().enumerate() {
                    for &m in &used {
                        prop_assert!(n + 1 >= m || n == given[p], "phases used {used:?} of {given:?}");
                    }
                }
            }
        }
    }
}

//! Property tests of the partition invariants (native only: proptest does not target wasm32).
#![allow(clippy::unwrap_used, clippy::expect_used)]
#![cfg(not(target_arch = "wasm32"))]

use std::collections::{HashMap, HashSet};

use drillgen::partition::partition;
use drillgen::plan::ValidRequest;
use drillgen::types::{DrillRequest, GamePhase, Position};
use proptest::prelude::*;

fn request(target: i64, batch: i64) -> ValidRequest {
    DrillRequest {
        target_drill_count: Some(target as f64),
        batch_size: Some(batch as f64),
        ..Default::default()
    }
    .validate()
    .unwrap()
}

fn positions(per_phase: &[(GamePhase, usize)]) -> Vec<Position> {
    per_phase
        .iter()
        .flat_map(|&(phase, n)| {
            (0..n).map(move |i| Position {
                position_id: format!("{phase}-{i}"),
                game_phase: phase,
                dice_roll: "3-1".into(),
                best_move: "8/5 6/5".into(),
                analysis: "Make the 5-point.".into(),
                xgid: None,
                pip_count: None,
                best_move_equity: None,
                alternatives: vec![],
            })
        })
        .collect()
}

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
        // Every position in exactly one batch, each batch has one at least.
        let mut owner = HashMap::new();
        for b in &batches {
            prop_assert!(!b.positions.is_empty());
            for p in &b.positions {
                prop_assert!(owner.insert(p.position_id.clone(), b.batch_index).is_none());
            }
        }
        prop_assert_eq!(owner.len(), pos.len());
        // Enough positions for the drills whenever the sample allows it.
        if pos.len() >= target as usize {
            for b in &batches {
                prop_assert!(b.positions.len() >= b.drill_indices.len(),
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
    }
}

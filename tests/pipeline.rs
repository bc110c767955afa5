//! The spec's Phase 1 tests and the whole pure pipeline on the sample position library.
#![allow(clippy::unwrap_used, clippy::expect_used)]
// A test may sort with std: clippy.toml forbids it in the crate only for its wasm size.
#![allow(clippy::disallowed_methods)]
#![cfg(not(target_arch = "wasm32"))]

use std::collections::HashSet;

use drillgen::api;
use drillgen::drill::{BatchStatus, Difficulty, Drill};
use drillgen::engine::answer_key;
use drillgen::input::{Argument, from_json};
use drillgen::merge::ArtifactStatus;
use drillgen::prompt::{PromptContext, PromptTemplates, format_position};
use drillgen::types::{DrillRequest, GamePhase, Plan, Position, SampleOptions};
use serde_json::json;

fn library() -> Vec<Position> {
    let text = include_str!("../data/positions.json");
    from_json(
        Argument::Positions,
        serde_json::from_str(text).expect("library is JSON"),
    )
    .expect("library is valid")
}

fn request(value: serde_json::Value) -> DrillRequest {
    from_json(Argument::Request, value).expect("valid request")
}

fn plan(value: serde_json::Value) -> Plan {
    api::plan_positions(&request(value), Some(&library())).expect("plan")
}

fn ids(positions: &[Position]) -> Vec<&str> {
    positions.iter().map(|p| p.position_id.as_str()).collect()
}

#[test]
fn the_library_is_realistic() {
    let lib = library();
    let count = |phase| lib.iter().filter(|p| p.game_phase == phase).count();
    assert_eq!(count(GamePhase::Opening), 21);
    for phase in [GamePhase::Early, GamePhase::Middle, GamePhase::Bearoff] {
        assert!(count(phase) >= 30, "{phase}: {}", count(phase));
    }
    // About 280 o200k tokens per formatted position, like the spec's (96 positions ~ 27k tokens);
    // notation and numbers tokenize densely, ~3 characters a token. benches/tokens.mjs counts exactly.
    let mean = lib.iter().map(|p| format_position(p).len()).sum::<usize>() / lib.len();
    assert!(
        (700..=1000).contains(&mean),
        "mean formatted position is {mean} characters"
    );
}

#[test]
fn twenty_drills_over_two_phases_load_twelve_each_and_drill_ten() {
    let p = plan(json!({"targetDrillCount": 20, "gamePhases": ["EARLY", "MIDDLE"]}));
    let s = api::sample_positions(
        &library(),
        &p,
        &SampleOptions {
            seed: Some(1.0),
            ..Default::default()
        },
    )
    .expect("sample");
    for phase in [GamePhase::Early, GamePhase::Middle] {
        let count = |list: &[Position]| list.iter().filter(|q| q.game_phase == phase).count();
        assert_eq!((count(&s.positions), count(&s.spares)), (10, 2));
    }
    assert!(s.warnings.is_empty());
}

#[test]
fn opening_loads_all_21_and_drills_a_random_few_in_dice_order() {
    let p = plan(json!({"targetDrillCount": 6, "gamePhases": ["OPENING"]}));
    let run = |seed: f64| {
        let options = SampleOptions {
            seed: Some(seed),
            ..Default::default()
        };
        api::sample_positions(&library(), &p, &options).expect("sample")
    };
    let (a, b) = (run(1.0), run(2.0));
    assert_eq!((a.positions.len(), a.spares.len()), (6, 15));
    assert_ne!(
        ids(&a.positions),
        ids(&b.positions),
        "another seed, other rolls"
    );
    let keys = |list: &[Position]| -> Vec<(char, char)> {
        list.iter()
            .map(|q| {
                let mut d = q.dice_roll.chars().filter(char::is_ascii_digit);
                (d.next().unwrap_or('0'), d.next().unwrap_or('0'))
            })
            .collect()
    };
    for list in [&a.positions, &a.spares] {
        let mut sorted = keys(list);
        sorted.sort();
        assert_eq!(keys(list), sorted);
    }
}

#[test]
fn sampling_differs_across_runs_and_repeats_under_a_seed() {
    let p = plan(json!({"targetDrillCount": 20, "gamePhases": ["EARLY", "MIDDLE"]}));
    let run = |seed: Option<f64>| {
        api::sample_positions(
            &library(),
            &p,
            &SampleOptions {
                seed,
                ..Default::default()
            },
        )
        .expect("sample")
    };
    let (a, b) = (run(None), run(None));
    assert_ne!(ids(&a.positions), ids(&b.positions), "two unseeded runs");
    let replay = run(Some(a.seed as f64));
    assert_eq!(
        ids(&a.positions),
        ids(&replay.positions),
        "replaying the returned seed"
    );
}

#[test]
fn twenty_five_drills_make_five_batches_of_five() {
    let req =
        request(json!({"targetDrillCount": 25, "gamePhases": ["EARLY", "MIDDLE", "BEAROFF"]}));
    let p = api::plan_positions(&req, None).expect("plan");
    let s = api::sample_positions(
        &library(),
        &p,
        &SampleOptions {
            seed: Some(3.0),
            ..Default::default()
        },
    )
    .expect("sample");
    let batches = api::partition_batches(&req, &s.positions).expect("partition");
    assert_eq!(batches.len(), 5);
    assert!(
        batches
            .iter()
            .all(|b| b.drill_indices.len() == 5 && b.positions.len() == 5)
    );
}

/// The seeded sample that the wasm tests (Node and Chromium) must reproduce exactly.
#[test]
fn seeded_sample_matches_the_fixture() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/seeded-sample.json"
    );
    let req = json!({"targetDrillCount": 30, "gamePhases": ["EARLY", "MIDDLE", "BEAROFF"]});
    let seed = 2026u64;
    let p = api::plan_positions(&request(req.clone()), None).expect("plan");
    let s = api::sample_positions(
        &library(),
        &p,
        &SampleOptions {
            seed: Some(seed as f64),
            ..Default::default()
        },
    )
    .expect("sample");
    let actual = json!({
        "request": req,
        "seed": seed,
        "seedFormat": s.seed_format,
        "positionIds": ids(&s.positions),
        "spareIds": ids(&s.spares),
    });
    if std::env::var_os("UPDATE_FIXTURES").is_some() {
        std::fs::write(
            path,
            serde_json::to_string_pretty(&actual).expect("json") + "\n",
        )
        .expect("write fixture");
    }
    let text = std::fs::read_to_string(path)
        .expect("fixture exists (UPDATE_FIXTURES=1 cargo test writes it)");
    let expected: serde_json::Value = serde_json::from_str(&text).expect("fixture is JSON");
    assert_eq!(actual, expected);
}

/// A stored drill as a run would write it: the engine's answer key, words from the model.
fn drill_for(index: u32, batch_index: u32, position: &Position) -> Drill {
    let key = answer_key(position, index).expect("every library position has distractors");
    Drill {
        drill_id: format!("art:{index}"),
        batch_index,
        batch_status: BatchStatus::Completed,
        game_phase: position.game_phase,
        index,
        position_id: position.position_id.clone(),
        title: format!("Find the play with {}", position.dice_roll),
        principle: "Make points that block".into(),
        question: format!("You rolled {}. What is the best play?", position.dice_roll),
        options: key.options,
        correct_option_id: key.correct_option_id,
        explanation: position.analysis.clone(),
        difficulty: Difficulty::Intermediate,
        flags: Vec::new(),
    }
}

/// plan -> sample -> partition -> prompts -> drills stored per batch (one batch failed) -> merge -> verify.
#[test]
fn a_failed_batch_never_corrupts_the_others() {
    let req =
        request(json!({"targetDrillCount": 25, "gamePhases": ["OPENING", "EARLY", "MIDDLE"]}));
    let p = api::plan_positions(&req, None).expect("plan");
    let s = api::sample_positions(
        &library(),
        &p,
        &SampleOptions {
            seed: Some(11.0),
            ..Default::default()
        },
    )
    .expect("sample");
    let batches = api::partition_batches(&req, &s.positions).expect("partition");
    let context = PromptContext {
        mental_model: json!({"principles": ["Points before pips"]}),
        curriculum: json!("Opening, early game, middle game"),
        guru_profile: None,
    };
    let prompts: Vec<_> = batches
        .iter()
        .map(|b| api::batch_prompt(b, &context, &PromptTemplates::default()).expect("prompt"))
        .collect();
    assert!(prompts.windows(2).all(|w| w[0].system == w[1].system));

    let mut stored: Vec<Drill> = Vec::new();
    for b in batches.iter().filter(|b| b.batch_index != 2) {
        for (k, &index) in b.drill_indices.iter().enumerate() {
            let position = &b.positions[k % b.positions.len()];
            stored.push(drill_for(index, b.batch_index, position));
        }
    }
    // A retried persist stored batch 0 twice; a failed attempt left a FAILED row for batch 2.
    stored.extend(stored[..5].to_vec());
    let mut failed = stored[5].clone();
    failed.index = 10;
    failed.batch_status = BatchStatus::Failed;
    stored.push(failed);
    stored.reverse();

    let artifact = api::merge_drills(&req, stored).expect("merge");
    assert_eq!(artifact.status, ArtifactStatus::Completed);
    assert_eq!(artifact.drills.len(), 20);
    assert_eq!(artifact.missing_indices, [10, 11, 12, 13, 14]);
    assert_eq!(artifact.incomplete_batches, [2]);
    assert_eq!(artifact.duplicates.len(), 5);
    let report = api::verify_artifact(&artifact, &s.positions);
    let codes: HashSet<&str> = report.issues.iter().map(|i| i.code.as_str()).collect();
    assert_eq!(
        codes,
        HashSet::from(["DRILL_COUNT"]),
        "only the count is wrong: {:?}",
        report.issues
    );
}

#[test]
fn all_batches_failed_is_a_failed_artifact() {
    let req = request(json!({"targetDrillCount": 10}));
    assert_eq!(
        api::merge_drills(&req, vec![]).expect("merge").status,
        ArtifactStatus::Failed
    );
}

//! Coverage of the series the sampler and the partition build, over 200 seeds of the spec's example
//! requests: how often each OPENING roll is drilled, and how many drills each phase gets, in
//! batched and single mode. `cargo run --release --example coverage`; README.md ("Coverage") holds
//! its output.

use std::collections::BTreeMap;

use drillgen::api;
use drillgen::input::{Argument, from_json};
use drillgen::types::{BatchSpec, DrillRequest, GamePhase, Position, SampleOptions};

const SEEDS: u64 = 200;
const ROLLS: [&str; 21] = [
    "1-1", "2-1", "2-2", "3-1", "3-2", "3-3", "4-1", "4-2", "4-3", "4-4", "5-1", "5-2", "5-3",
    "5-4", "5-5", "6-1", "6-2", "6-3", "6-4", "6-5", "6-6",
];

fn library() -> Result<Vec<Position>, String> {
    let text = include_str!("../data/positions.json");
    let value = serde_json::from_str(text).map_err(|e| e.to_string())?;
    from_json(Argument::Positions, value).map_err(|e| e.to_string())
}

/// The position of every drill of the series: batch by batch, drills take their batch's positions
/// in turn (as the prompt assigns them).
fn drilled(batches: &[BatchSpec]) -> Vec<&Position> {
    batches
        .iter()
        .flat_map(|b| {
            (0..b.drill_indices.len()).filter_map(|k| b.positions.get(k % b.positions.len().max(1)))
        })
        .collect()
}

#[derive(Default)]
struct Tally {
    rolls: BTreeMap<String, u32>,
    /// Per phase, the drills of each series.
    phases: BTreeMap<GamePhase, Vec<u32>>,
}

impl Tally {
    fn add(&mut self, drills: &[&Position], phases: &[GamePhase]) {
        for &phase in phases {
            let n = drills.iter().filter(|p| p.game_phase == phase).count() as u32;
            self.phases.entry(phase).or_default().push(n);
        }
        for p in drills.iter().filter(|p| p.game_phase == GamePhase::Opening) {
            *self.rolls.entry(p.dice_roll.clone()).or_default() += 1;
        }
    }

    fn print(&self) {
        for (phase, counts) in &self.phases {
            let (min, max) = (counts.iter().min(), counts.iter().max());
            let mean = f64::from(counts.iter().sum::<u32>()) / counts.len().max(1) as f64;
            println!(
                "    {:<8} drills per series: min {} max {} mean {mean:.1}",
                phase.as_str(),
                min.unwrap_or(&0),
                max.unwrap_or(&0)
            );
        }
        if !self.rolls.is_empty() {
            let cells: Vec<String> = ROLLS
                .iter()
                .map(|r| format!("{r}:{}", self.rolls.get(*r).unwrap_or(&0)))
                .collect();
            println!("    OPENING rolls: {}", cells[..11].join(" "));
            println!("                   {}", cells[11..].join(" "));
        }
    }
}

fn run(pool: &[Position], target: u32, phases: &[GamePhase]) -> Result<(), String> {
    let request = DrillRequest {
        target_drill_count: Some(f64::from(target)),
        game_phases: Some(phases.to_vec()),
        ..Default::default()
    };
    let valid = request.check().map_err(|e| e.to_string())?;
    let plan = api::plan_positions(&request, Some(pool)).map_err(|e| e.to_string())?;
    let (mut batched, mut single) = (Tally::default(), Tally::default());
    for seed in 0..SEEDS {
        let options = SampleOptions {
            seed: Some(seed as f64),
            ..Default::default()
        };
        let sample = api::sample_positions(pool, &plan, &options).map_err(|e| e.to_string())?;
        let batches =
            api::partition_batches(&request, &sample.positions).map_err(|e| e.to_string())?;
        batched.add(&drilled(&batches), phases);
        let one =
            drillgen::partition::single(&valid, &sample.positions).map_err(|e| e.to_string())?;
        single.add(&drilled(&[one]), phases);
    }
    let names: Vec<&str> = phases.iter().map(|p| p.as_str()).collect();
    println!("{target} drills, {} ({SEEDS} seeds)", names.join("+"));
    println!("  batched (batches of {}):", valid.batch_size);
    batched.print();
    println!("  single:");
    single.print();
    Ok(())
}

fn main() -> Result<(), String> {
    use GamePhase::*;
    let pool = library()?;
    let requests: [(u32, &[GamePhase]); 4] = [
        (25, &[Opening, Early, Middle]),
        (10, &[Opening, Early]),
        (21, &[Opening, Early, Middle, Bearoff]),
        (25, &[Early, Middle, Bearoff]),
    ];
    for (target, phases) in requests {
        run(&pool, target, phases)?;
    }
    Ok(())
}

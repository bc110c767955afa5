//! Spares complete the series: a batch that fails for good is generated again on unused positions
//! of the same phase, under the same call budget; without spares the series stays partial.

use super::*;
use crate::types::GamePhase;

fn phase_of(id: &str) -> GamePhase {
    match id.split('-').next() {
        Some("EARLY") => GamePhase::Early,
        Some("MIDDLE") => GamePhase::Middle,
        Some("BEAROFF") => GamePhase::Bearoff,
        _ => GamePhase::Opening,
    }
}

fn codes(r: &GenerationResult) -> Vec<&str> {
    r.warnings.iter().map(|w| w.code.as_str()).collect()
}

#[test]
fn a_batch_failing_for_good_is_topped_up_from_spares() {
    let w = world();
    w.llm
        .script(10, &vec![Reply::Status(500, vec![], "boom".into()); 4]);
    let r = run(&w, options(json!({})));
    assert_eq!(r.status, RunStatus::Completed);
    assert_eq!(indices(&r.drills), (0..25).collect::<Vec<_>>(), "no holes");
    assert!(r.missing_indices.is_empty());
    assert_eq!(
        r.topped_up.iter().map(|t| t.index).collect::<Vec<_>>(),
        [10, 11, 12, 13, 14]
    );
    let used: std::collections::HashSet<&str> = r
        .drills
        .iter()
        .filter(|d| !(10..15).contains(&d.index))
        .map(|d| d.position_id.as_str())
        .collect();
    for t in &r.topped_up {
        assert_ne!(t.position_id, t.replaced_position_id);
        assert_eq!(phase_of(&t.position_id), phase_of(&t.replaced_position_id));
        assert!(!used.contains(t.position_id.as_str()), "a spare is unused");
        let d = r.drills.iter().find(|d| d.index == t.index).unwrap();
        assert_eq!(d.position_id, t.position_id);
    }
    assert_eq!(
        r.batch_progress,
        BatchProgress {
            completed: 5,
            total: 5,
            failed: vec![]
        }
    );
    assert!(codes(&r).contains(&"DRILLS_TOPPED_UP"));
    assert!(!codes(&r).contains(&"BATCHES_FAILED"));
    assert!(r.verification.passed, "{:?}", r.verification.issues);
    let top: Vec<&BatchOutcome> = r.batches.iter().filter(|b| b.top_up).collect();
    assert_eq!(top.len(), 1);
    assert_eq!((top[0].batch_index, top[0].stored), (2, true));
    assert_eq!(
        r.calls,
        5 + 3 + 1,
        "the top-up's call is counted like any other"
    );
    // What persist was told with the top-up's drills: the batch is completed now.
    let infos = w.host.infos.borrow();
    let info = infos.iter().find(|i| i.batch_index == 2).unwrap();
    assert!(info.complete);
    assert_eq!(
        info.batch_progress,
        BatchProgress {
            completed: 5,
            total: 5,
            failed: vec![]
        }
    );
    assert_eq!(r.calls as usize, w.llm.calls.borrow().len());
    let last = w.host.events.borrow().last().unwrap().clone();
    assert_eq!(last.message, "Generated 25/25 drills (Batch 5/5)");
    assert_nothing_lost(&w, &r, 0);
}

#[test]
fn without_spares_the_series_stays_partial() {
    // 8 positions per phase for 24 drills: every loaded position is used, none is spare.
    let w = world();
    w.llm
        .script(10, &vec![Reply::Status(500, vec![], "boom".into()); 4]);
    let r = run(
        &w,
        options(json!({
            "positions": pool(8),
            "request": { "targetDrillCount": 24, "gamePhases": ["EARLY", "MIDDLE", "BEAROFF"] },
        })),
    );
    assert_eq!(r.status, RunStatus::Completed);
    assert!(r.topped_up.is_empty());
    assert_eq!(r.missing_indices, [10, 11, 12, 13, 14]);
    assert_eq!(r.batch_progress.failed, [2]);
    assert!(codes(&r).contains(&"BATCHES_FAILED"));
    assert_eq!(w.llm.calls.borrow().len(), 4 + 4, "no top-up call");
    assert_nothing_lost(&w, &r, 0);
}

#[test]
fn spares_run_out_and_the_rest_stays_missing() {
    // 9 per phase for 25 drills: 27 loaded, 2 spares, fewer than the 5 drills the batch misses.
    let w = world();
    w.llm
        .script(10, &vec![Reply::Status(500, vec![], "boom".into()); 4]);
    let r = run(&w, options(json!({ "positions": pool(9) })));
    let topped: Vec<u32> = r.topped_up.iter().map(|t| t.index).collect();
    assert!(!topped.is_empty() && topped.len() <= 2, "{topped:?}");
    assert_eq!(r.missing_indices.len(), 5 - topped.len());
    assert!(topped.iter().all(|i| !r.missing_indices.contains(i)));
    assert_eq!(
        r.batch_progress.failed,
        [2],
        "still failed: some drills missing"
    );
    let infos = w.host.infos.borrow();
    let info = infos.iter().find(|i| i.batch_index == 2).unwrap();
    assert_eq!(
        info.batch_progress.failed,
        [2],
        "persist is told the batch is still failed"
    );
    assert!(codes(&r).contains(&"BATCHES_FAILED"));
    assert!(codes(&r).contains(&"DRILLS_TOPPED_UP"));
    assert_nothing_lost(&w, &r, 0);
}

#[test]
fn single_mode_tops_up_the_drills_its_one_call_missed() {
    let w = world();
    // 10 drills, 6 positions loaded per phase: at least 2 spares of each phase. The one call gives
    // 8 drills; asking again for the last 2 is refused for good.
    w.llm.script(0, &[Reply::Short(8)]);
    w.llm.script(8, &[Reply::Status(400, vec![], "{}".into())]);
    let request = json!({ "targetDrillCount": 10, "gamePhases": ["EARLY", "MIDDLE", "BEAROFF"] });
    let r = run(&w, options(json!({ "mode": "single", "request": request })));
    assert_eq!(indices(&r.drills), (0..10).collect::<Vec<_>>());
    assert_eq!(
        r.topped_up.iter().map(|t| t.index).collect::<Vec<_>>(),
        [8, 9]
    );
    assert_eq!(r.batch_progress.failed, Vec::<u32>::new());
    assert_eq!(r.batch_progress.completed, 1);
    assert_nothing_lost(&w, &r, 0);
}

#[test]
fn a_top_up_stays_within_the_call_budget() {
    let w = world();
    w.llm
        .script(10, &[Reply::Status(500, vec![], "boom".into())]);
    // A pinned format and plain answers need no negotiation allowance: 5 batches of 1 attempt fit 5 calls exactly,
    // and nothing is left for the top-up.
    let llm = json!({ "provider": "openai", "baseUrl": "http://127.0.0.1:1/v1", "model": "m", "responseFormat": "json_schema", "maxTokensField": "max_tokens", "stream": false });
    let r = run(
        &w,
        options(json!({ "subrequestBudget": 5, "llm": llm, "retry": { "maxRetries": 0 } })),
    );
    assert_eq!((r.calls, w.llm.calls.borrow().len()), (5, 5));
    assert!(r.topped_up.is_empty());
    assert_eq!(r.missing_indices, [10, 11, 12, 13, 14]);
    let top = r.batches.iter().find(|b| b.top_up).unwrap();
    assert_eq!(
        top.error.as_ref().unwrap().code,
        ErrorCode::SUBREQUEST_BUDGET
    );
    assert_nothing_lost(&w, &r, 0);
}

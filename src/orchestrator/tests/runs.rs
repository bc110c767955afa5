//! Whole runs: the happy path, concurrency, resume, single mode, the warm-up schedule, budgets.

use super::*;
use crate::engine::same_move;
use crate::types::GamePhase;

#[test]
fn a_full_run_generates_persists_and_reports_every_batch() {
    let w = world();
    let r = run(&w, options(json!({})));
    assert_eq!(r.status, RunStatus::Completed);
    assert_eq!(indices(&r.drills), (0..25).collect::<Vec<_>>());
    assert_eq!(w.host.persist_calls.get(), 5);
    assert_eq!(
        sorted_stored(&w),
        (0..25).collect::<Vec<_>>(),
        "each drill persisted exactly once"
    );
    assert_nothing_lost(&w, &r, 0);
    assert!(
        r.drills
            .iter()
            .all(|d| d.drill_id == format!("art:{}", d.index))
    );
    assert!(r.verification.passed, "{:?}", r.verification.issues);
    assert_eq!(
        r.batch_progress,
        BatchProgress {
            completed: 5,
            total: 5,
            failed: vec![]
        }
    );
    assert_eq!(
        r.usage,
        Usage {
            input_tokens: 5000,
            cached_input_tokens: 4000,
            cache_write_input_tokens: 0,
            output_tokens: 2500
        }
    );
    assert_eq!(
        (r.calls, r.host_verification.clone()),
        (5, Some(json!({ "checked": 25 })))
    );
    assert_eq!(
        w.host.settled.get(),
        1,
        "the run waits for the host's loose ends once, at the end"
    );
    let k = kinds(&w);
    assert_eq!(
        k.iter()
            .filter(|k| **k == ProgressKind::BatchStarted)
            .count(),
        5
    );
    assert_eq!(k.last(), Some(&ProgressKind::RunFinished));
    let events = w.host.events.borrow();
    let completed: Vec<(u32, &str)> = events
        .iter()
        .filter(|e| e.kind == ProgressKind::BatchCompleted)
        .map(|e| (e.completed_drills, e.message.as_str()))
        .collect();
    assert_eq!(
        completed.iter().map(|c| c.0).collect::<Vec<_>>(),
        [5, 10, 15, 20, 25]
    );
    assert!(
        completed
            .iter()
            .all(|(n, m)| m.starts_with(&format!("Generated {n}/25 drills (Batch ")))
    );
    assert_eq!(
        events.last().unwrap().message,
        "Generated 25/25 drills (Batch 5/5)"
    );
    assert!(
        w.host
            .infos
            .borrow()
            .iter()
            .all(|i| i.complete && i.missing_indices.is_empty() && i.calls == 1)
    );
}

/// The spec's progress shape under concurrency: `currentBatch` counts finished batches, so the
/// batch that finishes last says "Batch 5/5" whatever its number, and the message is the fields.
#[test]
fn progress_events_carry_the_specs_fields_and_count_finished_batches() {
    let w = world();
    // The first batch is retried once, so it finishes after the four others.
    w.llm
        .script(0, &[Reply::Status(500, vec![], "busy".into()), Reply::Good]);
    let r = run(&w, options(json!({ "concurrency": 5 })));
    assert_eq!(r.drills.len(), 25);
    let events = w.host.events.borrow();
    let completed: Vec<&DrillProgressEvent> = events
        .iter()
        .filter(|e| e.kind == ProgressKind::BatchCompleted)
        .collect();
    assert_eq!(completed.last().unwrap().batch_index, Some(0));
    assert_eq!(
        completed
            .iter()
            .map(|e| e.current_batch)
            .collect::<Vec<_>>(),
        [1, 2, 3, 4, 5]
    );
    for e in events.iter() {
        let v = serde_json::to_value(e).unwrap();
        assert_eq!(v["phase"], "GENERATING_CONTENT");
        for field in ["current", "total", "currentBatch", "totalBatches"] {
            assert!(v[field].is_u64(), "{field} in {v}");
        }
        assert_eq!((e.current, e.total), (e.completed_drills, e.total_drills));
        assert_eq!(e.current_batch, e.batch_progress.finished());
    }
    for e in &completed {
        assert_eq!(
            e.message,
            format!(
                "Generated {}/{} drills (Batch {}/{})",
                e.current, e.total, e.current_batch, e.total_batches
            )
        );
    }
    assert_eq!(
        completed.last().unwrap().message,
        "Generated 25/25 drills (Batch 5/5)"
    );
}

#[test]
fn every_drill_carries_the_engines_answer_key_on_its_own_position() {
    let w = world();
    let o = options(json!({}));
    let pool = o.run.positions.clone();
    let r = run(&w, o);
    for d in &r.drills {
        let p = pool
            .iter()
            .find(|p| p.position_id == d.position_id)
            .unwrap();
        let correct = d
            .options
            .iter()
            .find(|o| o.id == d.correct_option_id)
            .unwrap();
        assert!(same_move(&correct.text, &p.best_move), "drill {}", d.index);
        assert!(
            d.options
                .iter()
                .filter(|o| o.id != d.correct_option_id)
                .all(|o| p.alternatives.iter().any(|a| same_move(&a.play, &o.text)))
        );
        assert_eq!(d.game_phase, p.game_phase);
    }
    let slots: std::collections::HashSet<&str> = r
        .drills
        .iter()
        .map(|d| d.correct_option_id.as_str())
        .collect();
    assert!(
        slots.len() >= 3,
        "the correct option moves around: {slots:?}"
    );
    // Each batch's prompt names exactly its drills' positions, one per drill.
    for call in w.llm.calls.borrow().iter() {
        let asked = asked(&call.user);
        assert_eq!(asked.len(), call.indices.len());
        let ids: std::collections::HashSet<&String> = asked.iter().map(|a| &a.1).collect();
        assert_eq!(ids.len(), asked.len(), "a different position per drill");
    }
}

#[test]
fn concurrency_is_used_and_never_exceeded() {
    for limit in [1u32, 2, 4, 6] {
        let w = world();
        let r = run(
            &w,
            options(json!({ "concurrency": limit, "request": { "targetDrillCount": 50 } })),
        );
        assert_eq!(r.drills.len(), 50);
        assert_eq!(w.llm.max_in_flight.get(), limit, "limit {limit}");
    }
    let w = world();
    assert_eq!(
        try_run(&w, options(json!({ "concurrency": 7 })))
            .unwrap_err()
            .code(),
        "INVALID_OPTIONS"
    );
}

fn long_context() -> Value {
    json!({ "mentalModel": { "core": "Points before pips. ".repeat(300) }, "curriculum": "Module 1" })
}

#[test]
fn a_cacheable_prefix_is_warmed_by_the_first_batch_alone() {
    let w = world();
    let r = run(
        &w,
        options(json!({ "context": long_context(), "concurrency": 4 })),
    );
    assert!(r.cache.cacheable && r.cache.warmup, "{:?}", r.cache);
    assert!(r.cache.prefix_tokens >= 1024);
    let calls = w.llm.calls.borrow();
    assert!(
        calls.iter().all(|c| c.body["stream"] == true),
        "answers stream by default"
    );
    assert_eq!(r.drills.len(), 25);
    assert!(r.verification.passed);
    drop(calls);
    // Plain answers: the warming batch still streams, to learn when its response begins.
    let w = world();
    let llm = json!({ "provider": "openai", "baseUrl": "http://127.0.0.1:1/v1", "model": "m", "stream": false });
    let r = run(
        &w,
        options(json!({ "context": long_context(), "concurrency": 4, "llm": llm })),
    );
    assert!(r.cache.warmup);
    let calls = w.llm.calls.borrow();
    assert_eq!(calls[0].body["stream"], true);
    assert!(calls[1..].iter().all(|c| c.body.get("stream").is_none()));
    assert_eq!(r.drills.len(), 25);
    drop(calls);
    // Off, with plain answers: every batch at once, nothing streamed.
    let w = world();
    let r = run(
        &w,
        options(json!({ "context": long_context(), "cacheWarmup": "off", "llm": llm })),
    );
    assert!(r.cache.cacheable && !r.cache.warmup);
    assert!(
        w.llm
            .calls
            .borrow()
            .iter()
            .all(|c| c.body.get("stream").is_none())
    );
    // A prefix too short to cache is not worth the wait.
    let w = world();
    let r = run(&w, options(json!({})));
    assert!(!r.cache.cacheable && !r.cache.warmup);
}

#[test]
fn a_failed_warming_batch_still_releases_the_others() {
    let w = world();
    let mut replies = vec![Reply::Status(500, vec![], "boom".into()); 4];
    replies.push(Reply::Status(422, vec![], "no".into())); // its top-up
    w.llm.script(0, &replies);
    let r = run(
        &w,
        options(
            json!({ "context": long_context(), "retry": { "baseDelayMs": 1, "maxDelayMs": 2 } }),
        ),
    );
    assert_eq!(r.drills.len(), 20);
    assert_eq!(r.batch_progress.failed, [0]);
}

#[test]
fn resume_generates_only_the_missing_drills() {
    let w = world();
    // The batch, then its top-up on spare positions.
    w.llm
        .script(10, &vec![Reply::Status(422, vec![], "bad".into()); 2]);
    let first = run(&w, options(json!({})));
    assert_eq!(first.missing_indices, [10, 11, 12, 13, 14]);
    let stored = w.host.stored.borrow().clone();
    let w2 = world();
    let o = options(
        json!({ "existingDrills": serde_json::to_value(&stored).unwrap(), "seed": first.seed }),
    );
    let r = run(&w2, o);
    assert_eq!(r.status, RunStatus::Completed);
    assert_eq!(
        w2.llm
            .calls
            .borrow()
            .iter()
            .map(|c| c.indices.clone())
            .collect::<Vec<_>>(),
        [vec![10, 11, 12, 13, 14]]
    );
    let statuses: Vec<BatchOutcomeStatus> = r.batches.iter().map(|b| b.status).collect();
    use BatchOutcomeStatus::*;
    assert_eq!(statuses, [Skipped, Skipped, Completed, Skipped, Skipped]);
    assert_eq!(
        w2.host.events.borrow()[0].completed_drills,
        20,
        "progress starts from what exists"
    );
    assert_eq!(r.drills.len(), 25, "existing + new, without load()");
}

#[test]
fn resume_reads_the_hosts_store_through_load() {
    let w = World {
        host: FakeHost {
            loads: true,
            ..Default::default()
        },
        ..world()
    };
    *w.host.stop.borrow_mut() = None;
    w.llm
        .script(5, &vec![Reply::Status(422, vec![], "bad".into()); 2]);
    let first = run(&w, options(json!({})));
    assert_eq!(first.drills.len(), 20);
    w.llm.calls.borrow_mut().clear();
    let again = run(&w, options(json!({ "seed": first.seed })));
    assert_eq!(again.drills.len(), 25);
    assert_eq!(w.llm.calls.borrow().len(), 1);
    assert_nothing_lost(&w, &again, 20);
}

#[test]
fn a_lagging_store_never_hides_this_runs_own_writes() {
    let w = World {
        host: FakeHost {
            loads: true,
            lagging: true,
            ..Default::default()
        },
        ..world()
    };
    let r = run(&w, options(json!({})));
    assert_eq!(
        r.drills.len(),
        25,
        "load() saw nothing, the run's own writes count"
    );
    assert!(r.verification.passed);
}

#[test]
fn seeded_runs_are_reproducible() {
    let (a, b) = (world(), world());
    let (ra, rb) = (run(&a, options(json!({}))), run(&b, options(json!({}))));
    assert_eq!(ra.drills, rb.drills);
    let prompts = |w: &World| {
        w.llm
            .calls
            .borrow()
            .iter()
            .map(|c| c.user.clone())
            .collect::<Vec<_>>()
    };
    let (mut pa, mut pb) = (prompts(&a), prompts(&b));
    pa.sort();
    pb.sort();
    assert_eq!(pa, pb);
}

#[test]
fn single_mode_makes_one_call_for_the_whole_series() {
    let w = world();
    let r = run(&w, options(json!({ "mode": "single" })));
    assert_eq!(w.llm.calls.borrow().len(), 1);
    assert_eq!(w.llm.calls.borrow()[0].indices.len(), 25);
    assert_eq!(r.drills.len(), 25);
}

#[test]
fn the_subrequest_budget_is_planned_and_enforced() {
    // 12 batches × 4 attempts + 3 × 4 for negotiation = 60 > 50: refused before any call.
    let w = world();
    let o = options(json!({ "request": { "targetDrillCount": 60 }, "subrequestBudget": 50 }));
    assert_eq!(try_run(&w, o).unwrap_err().code(), "SUBREQUEST_BUDGET");
    assert!(w.llm.calls.borrow().is_empty());
    // Pinned formats, plain answers: no negotiation allowance, 48 ≤ 50.
    let w = world();
    let llm = json!({ "provider": "openai", "baseUrl": "http://127.0.0.1:1/v1", "model": "m", "responseFormat": "json_schema", "maxTokensField": "max_tokens", "stream": false });
    let r = run(
        &w,
        options(
            json!({ "request": { "targetDrillCount": 60 }, "subrequestBudget": 50, "llm": llm }),
        ),
    );
    assert_eq!(r.drills.len(), 60);
    // Streamed answers add streaming and its usage chunk to what can be refused: 48 + 4 × 2 = 56.
    for (budget, refused) in [(55, true), (56, false)] {
        let w = world();
        let llm = json!({ "provider": "openai", "baseUrl": "http://127.0.0.1:1/v1", "model": "m", "responseFormat": "json_schema", "maxTokensField": "max_tokens" });
        let o = options(
            json!({ "request": { "targetDrillCount": 60 }, "subrequestBudget": budget, "llm": llm }),
        );
        assert_eq!(try_run(&w, o).is_err(), refused, "budget {budget}");
    }
    // api.openai.com adds the cache key to what can be refused: 48 + 4 × 4 = 64 > 60.
    let w = world();
    let llm = json!({ "provider": "openai", "baseUrl": "https://api.openai.com/v1", "model": "m", "apiKey": "sk-x-123456", "stream": false });
    let o = options(
        json!({ "request": { "targetDrillCount": 60 }, "subrequestBudget": 60, "llm": llm }),
    );
    let e = try_run(&w, o).unwrap_err();
    assert_eq!(e.code(), "SUBREQUEST_BUDGET", "{e}");
    assert!(e.to_string().contains("64"), "{e}");
    // Reduce: retries lowered, and the hard limit holds even when every call fails.
    let w = world();
    *w.llm.default.borrow_mut() = Some(Reply::Status(503, vec![], "busy".into()));
    let o = options(
        json!({ "request": { "targetDrillCount": 100 }, "subrequestBudget": 50, "budgetPolicy": "reduce", "retry": { "baseDelayMs": 1, "maxDelayMs": 1 } }),
    );
    let r = run(&w, o);
    assert!(r.warnings.iter().any(|wn| wn.code == "RETRIES_REDUCED"));
    assert!(
        r.calls <= 50 && w.llm.calls.borrow().len() <= 50,
        "{} calls",
        r.calls
    );
}

#[test]
fn options_are_checked_before_any_request() {
    let bad = [
        json!({ "llm": { "provider": "openai", "baseUrl": "api.example.com", "model": "m" } }),
        json!({ "llm": { "provider": "openai", "baseUrl": "http://10.1.1.1/v1", "model": "m" } }),
        json!({ "llm": { "provider": "openai", "baseUrl": "http://127.0.0.1:1", "model": "m", "headers": { "x-a": "1\r\n2" } } }),
        json!({ "llm": { "provider": "openai", "baseUrl": "http://127.0.0.1:1", "model": "m", "timeoutMs": 1_000_000_000_000u64 } }),
        json!({ "hostTimeoutMs": 0 }),
        json!({ "deadlineMs": 1e13 }),
        json!({ "artifactId": "" }),
        json!({ "retry": { "maxRetries": 99 } }),
    ];
    for extra in bad {
        let w = world();
        let parsed: Result<GenerateOptions, DrillgenError> =
            crate::input::from_json(crate::input::Argument::Options, options_json(extra.clone()));
        let e = match parsed {
            Ok(o) => try_run(&w, o).unwrap_err(),
            Err(e) => e,
        };
        assert_eq!(e.code(), "INVALID_OPTIONS", "{extra}: {e}");
        assert!(w.llm.calls.borrow().is_empty());
    }
}

fn options_json(extra: Value) -> Value {
    let mut base = json!({
        "artifactId": "art",
        "request": { "targetDrillCount": 25, "gamePhases": ["EARLY", "MIDDLE", "BEAROFF"] },
        "positions": pool(30),
        "context": { "mentalModel": "m", "curriculum": "c" },
        "llm": { "provider": "openai", "baseUrl": "http://127.0.0.1:1/v1", "model": "m" },
        "seed": 5,
    });
    for (k, v) in extra.as_object().unwrap() {
        base[k] = v.clone();
    }
    base
}

#[test]
fn a_single_batch_runs_on_its_own_over_anthropic() {
    let w = world();
    let o = options(json!({}));
    let prepared = prepare_run(&o, Runtime::Server).unwrap();
    let batch = prepared.batches[1].clone();
    let mut bo = o.batch.clone();
    bo.llm = crate::input::from_json(crate::input::Argument::Options, json!({ "provider": "anthropic", "baseUrl": "http://127.0.0.1:1/v1", "model": "claude-sonnet-4-5", "apiKey": "sk-ant-secret-77" })).unwrap();
    let outcome = try_batch(&w, batch, bo).unwrap();
    assert_eq!(outcome.status, BatchOutcomeStatus::Completed);
    assert!(outcome.stored);
    assert_eq!(indices(&outcome.drills), [5, 6, 7, 8, 9]);
    assert_eq!(
        w.llm.calls.borrow()[0].body["tool_choice"]["name"],
        "submit_drills"
    );
    assert!(
        w.llm.calls.borrow()[0].body["system"][0]
            .get("cache_control")
            .is_none(),
        "a short prefix is not marked"
    );
}

#[test]
fn a_batch_without_storage_does_not_claim_its_drills_are_stored() {
    let mut w = world();
    w.host.no_storage = true;
    let o = options(json!({}));
    let batch = prepare_run(&o, Runtime::Server).unwrap().batches[0].clone();
    let outcome = try_batch(&w, batch, o.batch.clone()).unwrap();
    assert_eq!(outcome.status, BatchOutcomeStatus::Completed);
    assert!(
        !outcome.stored,
        "nothing stored them: the outcome is their only copy"
    );
    assert_eq!(indices(&outcome.drills), [0, 1, 2, 3, 4]);
}

#[test]
fn a_fanned_out_batch_is_checked_like_a_runs_own() {
    let o = options(json!({}));
    let prepared = prepare_run(&o, Runtime::Server).unwrap();
    let good = prepared.batches[0].clone();
    let mutations: Vec<Mutation<BatchSpec>> = vec![
        Box::new(|b| b.drill_indices = vec![1, 1]),
        Box::new(|b| b.drill_indices = vec![600]),
        Box::new(|b| b.drill_indices.clear()),
        Box::new(|b| b.batch_index = b.total_batches),
        Box::new(|b| b.positions.clear()),
        Box::new(|b| b.positions[0].alternatives.clear()),
        Box::new(|b| b.positions[0].dice_roll = "9-9".into()),
    ];
    for (i, m) in mutations.iter().enumerate() {
        let mut b = good.clone();
        m(&mut b);
        let w = world();
        let e = try_batch(&w, b, o.batch.clone()).unwrap_err();
        assert!(
            ["INVALID_OPTIONS", "INVALID_POSITIONS"].contains(&e.code().as_str()),
            "case {i}: {e}"
        );
        assert!(w.llm.calls.borrow().is_empty());
    }
}

#[test]
fn unseeded_fanned_out_batches_do_not_retry_in_lockstep() {
    let delays = |_: u32| {
        let w = world();
        w.llm
            .script(0, &[Reply::Status(503, vec![], "busy".into())]);
        let o = options(json!({}));
        let batch = prepare_run(&o, Runtime::Server).unwrap().batches[0].clone();
        let mut bo = o.batch.clone();
        bo.seed = None;
        try_batch(&w, batch, bo).unwrap();
        w.clock.sleeps.borrow()[0]
    };
    let all: std::collections::HashSet<u64> = (0..8).map(delays).collect();
    assert!(
        all.len() > 1,
        "eight invocations drew the same jitter: {all:?}"
    );
}

#[test]
fn single_mode_spreads_the_phases_like_batches() {
    let w = world();
    let r = run(&w, options(json!({ "mode": "single" })));
    let mut per_phase = std::collections::BTreeMap::<GamePhase, usize>::new();
    for d in &r.drills {
        *per_phase.entry(d.game_phase).or_default() += 1;
    }
    let mut counts: Vec<usize> = per_phase.values().copied().collect();
    counts.sort_unstable();
    assert_eq!(counts, [8, 8, 9], "25 drills over EARLY, MIDDLE, BEAROFF");
    assert_eq!(r.seed_format, crate::rng::SEED_FORMAT);
}

#[test]
fn avoided_positions_are_drilled_only_when_their_phase_has_no_other() {
    // 20 of the 30 EARLY positions avoided: EARLY's 8 or 9 drills take the other 10.
    let some: Vec<String> = (0..20).map(|i| format!("EARLY-{i:03}")).collect();
    let w = world();
    let r = run(&w, options(json!({ "avoidPositionIds": some })));
    assert_eq!(r.drills.len(), 25);
    assert!(r.drills.iter().all(|d| !some.contains(&d.position_id)));
    assert!(
        r.warnings
            .iter()
            .all(|w| w.code != "AVOIDED_POSITIONS_REUSED")
    );
    // Every EARLY position avoided: EARLY's drills must reuse some, and the run says how many.
    let all: Vec<String> = (0..30).map(|i| format!("EARLY-{i:03}")).collect();
    let w = world();
    let r = run(&w, options(json!({ "avoidPositionIds": all })));
    let early = r
        .drills
        .iter()
        .filter(|d| d.game_phase == GamePhase::Early)
        .count();
    let warning = r
        .warnings
        .iter()
        .find(|w| w.code == "AVOIDED_POSITIONS_REUSED");
    assert!(warning.is_some_and(|w| w.message.starts_with(&format!("{early} positions"))));
}

/// A server that refuses every feature drillgen can step down from, one per call, then fails.
fn refuses_everything() -> Personality {
    Box::new(|body: &Value| {
        let refuse = |param: &str| {
            Some((
                400,
                format!(
                    r#"{{"error":{{"message":"Unsupported parameter: '{param}'","param":"{param}"}}}}"#
                ),
            ))
        };
        if body.get("response_format").is_some() {
            return refuse("response_format");
        }
        if body.get("max_tokens").is_some() {
            return refuse("max_tokens");
        }
        if body.get("stream_options").is_some() {
            return refuse("stream_options");
        }
        if body.get("stream").is_some() {
            return refuse("stream");
        }
        Some((503, r#"{"error":{"message":"busy"}}"#.into()))
    })
}

#[test]
fn a_batch_never_makes_more_calls_than_its_worst_case() {
    let o = options(json!({ "retry": { "baseDelayMs": 1, "maxDelayMs": 1 } }));
    let worst = batch_worst_case(&o.batch, Runtime::Server).unwrap();
    let batch = prepare_run(&o, Runtime::Server).unwrap().batches[0].clone();
    let w = world();
    *w.llm.personality.borrow_mut() = Some(refuses_everything());
    let outcome = try_batch(&w, batch, o.batch.clone()).unwrap();
    assert_eq!(outcome.status, BatchOutcomeStatus::Failed);
    // 2 format steps, the token field, the usage chunk, streaming, then 4 attempts: all counted.
    assert_eq!((outcome.calls, w.llm.calls.borrow().len() as u32), (9, 9));
    assert_eq!(
        worst.llm_calls, 9,
        "the worst case is reached, not exceeded"
    );
    // 9 calls × (120 s + 1 s of grace) + 3 waits × 60 s (Retry-After's cap) + persist 4 × 30 s
    // + 3 × 1 ms + 30 s.
    assert_eq!(
        worst.duration_ms,
        9.0 * 121_000.0 + 3.0 * 60_000.0 + 120_000.0 + 3.0 + 30_000.0
    );
    // Plain answers: streaming's two refusals are not possible.
    let plain = options(
        json!({ "llm": { "provider": "openai", "baseUrl": "http://127.0.0.1:1/v1", "model": "m", "stream": false } }),
    );
    assert_eq!(
        batch_worst_case(&plain.batch, Runtime::Server)
            .unwrap()
            .llm_calls,
        7
    );
    let bounded = options(json!({ "deadlineMs": 600_000 }));
    assert_eq!(
        batch_worst_case(&bounded.batch, Runtime::Server)
            .unwrap()
            .duration_ms,
        630_000.0
    );
}

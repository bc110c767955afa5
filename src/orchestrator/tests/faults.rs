//! Faults: provider errors, bad output, failing storage, abort and deadline, fail-fast, and
//! hostile text. Every test keeps the data-safety invariant: stored + handed back = generated.

use super::*;
use crate::text::MAX_MESSAGE_BYTES;

fn quick() -> Value {
    json!({ "maxRetries": 3, "baseDelayMs": 500, "maxDelayMs": 8000, "maxRetryAfterMs": 60000 })
}

#[test]
fn one_failing_batch_leaves_the_others_complete_and_stored_once() {
    let w = world();
    let mut replies = vec![Reply::Status(500, vec![], "boom".into()); 4];
    // Its top-up on spare positions is refused (a permanent error: no retry), so it stays failed.
    replies.push(Reply::Status(422, vec![], "no".into()));
    w.llm.script(10, &replies);
    let r = run(&w, options(json!({})));
    assert_eq!(r.status, RunStatus::Completed);
    assert_eq!(
        (r.drills.len(), r.missing_indices.clone()),
        (20, vec![10, 11, 12, 13, 14])
    );
    assert_eq!(r.batch_progress.failed, [2]);
    let failed = &r.batches[2];
    assert_eq!(
        (failed.status, failed.attempts),
        (BatchOutcomeStatus::Failed, 4)
    );
    assert_eq!(failed.error.as_ref().unwrap().code, ErrorCode::HTTP_ERROR);
    let sleeps = w.clock.sleeps.borrow();
    assert_eq!(sleeps.len(), 3);
    for (delay, base) in sleeps.iter().zip([500u64, 1000, 2000]) {
        assert!(
            *delay <= base && *delay * 4 >= base * 3,
            "backoff {delay} for base {base}: at most 25 % jitter"
        );
    }
    assert!(r.warnings.iter().any(|wn| wn.code == "BATCHES_FAILED"));
    assert_nothing_lost(&w, &r, 0);
}

#[test]
fn all_batches_failing_is_failed() {
    let w = world();
    *w.llm.default.borrow_mut() = Some(Reply::Fail(DrillgenError::Timeout { ms: 10 }));
    let r = run(&w, options(json!({ "retry": quick() })));
    assert_eq!(r.status, RunStatus::Failed);
    assert!(r.drills.is_empty() && w.host.stored.borrow().is_empty());
    assert_eq!(w.llm.calls.borrow().len(), 20);
}

#[test]
fn permanent_errors_are_not_retried() {
    for status in [400u16, 422] {
        let w = world();
        // Twice: the batch, then its top-up on spare positions.
        w.llm.script(
            0,
            &vec![Reply::Status(status, vec![], "{\"error\":{\"message\":\"no\"}}".into(),); 2],
        );
        let r = run(&w, options(json!({})));
        assert_eq!(r.batches[0].attempts, 1, "{status}");
        assert_eq!(r.drills.len(), 20, "{status} fails its batch only");
    }
}

#[test]
fn a_wrong_key_fails_fast_without_burning_the_other_batches() {
    for (status, body) in [
        (
            401u16,
            r#"{"error":{"message":"Incorrect API key provided: sk-secr***42"}}"#,
        ),
        (
            403,
            r#"{"error":{"message":"this key may not use this model"}}"#,
        ),
        (
            404,
            r#"{"error":{"message":"The model `m` does not exist"}}"#,
        ),
        (
            429,
            r#"{"error":{"message":"You exceeded your current quota","code":"insufficient_quota"}}"#,
        ),
    ] {
        let w = world();
        *w.llm.default.borrow_mut() = Some(Reply::Status(status, vec![], body.into()));
        let r = run(&w, options(json!({ "concurrency": 1 })));
        assert_eq!(
            w.llm.calls.borrow().len(),
            1,
            "{status}: one call, then every batch stops"
        );
        assert_eq!(r.status, RunStatus::Failed);
        let codes: Vec<ErrorCode> = r
            .batches
            .iter()
            .map(|b| b.error.as_ref().unwrap().code)
            .collect();
        assert!(
            codes.windows(2).all(|c| c[0] == c[1]),
            "the same coded cause for all: {codes:?}"
        );
        assert!(r.batches[1..].iter().all(|b| b.attempts == 0));
    }
}

#[test]
fn retry_after_is_honoured_up_to_a_minute() {
    let w = world();
    w.llm.script(
        0,
        &[Reply::Status(429, vec![("retry-after", "7")], "{}".into())],
    );
    let r = run(&w, options(json!({})));
    assert_eq!(w.clock.sleeps.borrow()[0], 7000);
    assert_eq!(r.batches[0].attempts, 2);
    let w = world();
    w.llm.script(
        0,
        &[Reply::Status(429, vec![("retry-after", "90")], "{}".into())],
    );
    let r = run(&w, options(json!({})));
    let e = r.batches[0].error.as_ref().unwrap();
    assert_eq!(e.code, ErrorCode::RATE_LIMITED);
    assert_eq!(e.retry_at, Some(w.clock.now.get() + 90_000.0));
}

#[test]
fn bad_output_is_retried_with_the_reason_and_good_drills_are_kept() {
    let w = world();
    w.llm.script(10, &[Reply::Short(3)]);
    w.llm.script(13, &[Reply::NotObject(0)]);
    let r = run(&w, options(json!({})));
    assert_eq!(r.drills.len(), 25);
    let calls = w.llm.calls.borrow();
    let asked: Vec<Vec<u32>> = calls
        .iter()
        .filter(|c| c.indices.first().is_some_and(|&i| (10..15).contains(&i)))
        .map(|c| c.indices.clone())
        .collect();
    assert_eq!(
        asked,
        [vec![10, 11, 12, 13, 14], vec![13, 14], vec![13]],
        "only what is missing is asked again"
    );
    let second = calls.iter().find(|c| c.indices == [13, 14]).unwrap();
    assert!(
        second.user.contains("drill 4 of 5 is missing"),
        "the reason goes back to the model"
    );
    assert_eq!(r.batches[2].attempts, 3);
    assert_eq!(
        w.host.persist_calls.get(),
        5,
        "one persist per batch, once complete"
    );
    let w = world();
    w.llm.script(0, &[Reply::NotJson]);
    let r = run(&w, options(json!({})));
    assert_eq!(r.drills.len(), 25);
    assert_eq!(r.batches[0].attempts, 2);
}

#[test]
fn a_batch_that_gives_up_keeps_and_stores_what_it_read() {
    let w = world();
    w.llm.script(5, &[Reply::Short(2)]);
    w.llm
        .script(7, &vec![Reply::Status(400, vec![], "{}".into()); 2]);
    let r = run(&w, options(json!({})));
    let b = &r.batches[1];
    assert_eq!((b.status, b.stored), (BatchOutcomeStatus::Failed, true));
    assert_eq!(indices(&b.drills), [5, 6]);
    assert_eq!(r.missing_indices, [7, 8, 9]);
    assert_eq!(r.drills.len(), 22);
    assert_nothing_lost(&w, &r, 0);
    let failed = w
        .host
        .events
        .borrow()
        .iter()
        .find(|e| e.kind == ProgressKind::BatchFailed)
        .map(|e| e.message.clone())
        .unwrap();
    assert!(failed.contains("(2 of 5 drills kept)"), "{failed}");
}

/// A batch that gives up with 3 of its 5 drills read: `persist` is told it is partial, the result
/// reports it failed (never completed), and every LLM call is counted once, the call a server
/// refused for its format included.
#[test]
fn a_partial_batch_is_never_called_complete_and_its_calls_count_once() {
    let w = world();
    // llama.cpp refuses json_schema once (negotiation), then batch 2 reads 3 drills and gives up.
    *w.llm.personality.borrow_mut() = Some(Box::new(|body: &Value| {
        (body["response_format"]["type"] == "json_schema").then(|| (500, r#"{"error":{"message":"[{'type': 'literal_error', 'loc': ('body', 'response_format', 'type'), 'msg': \"Input should be 'text' or 'json_object'\"}]","type":"internal_server_error"}}"#.to_owned()))
    }));
    w.llm.script(10, &[Reply::Short(3)]);
    // The top-up of 13-14 on spare positions is refused too, so the batch stays partial.
    w.llm
        .script(13, &vec![Reply::Status(400, vec![], "{}".into()); 2]);
    let r = run(&w, options(json!({ "concurrency": 1 })));
    let infos = w.host.infos.borrow();
    let info = infos.iter().find(|i| i.batch_index == 2).unwrap();
    assert_eq!(infos.len(), 5, "the failed top-up stored nothing");
    assert!(!info.complete);
    assert_eq!(info.missing_indices, [13, 14]);
    assert_eq!(info.batch_progress.failed, [2]);
    assert_eq!(
        info.calls, 2,
        "the call that read 3 drills, the call refused with 400"
    );
    let b = &r.batches[2];
    assert_eq!((b.status, b.stored), (BatchOutcomeStatus::Failed, true));
    assert_eq!(b.missing_indices, [13, 14]);
    assert_eq!(r.batch_progress.failed, [2]);
    assert_eq!(r.batch_progress.completed, 4);
    assert!(r.warnings.iter().any(|wn| wn.code == "BATCHES_FAILED"));
    assert!(
        infos
            .iter()
            .filter(|i| i.batch_index != 2)
            .all(|i| i.complete)
    );
    // 1 refused for its format + 4 whole batches + 2 for batch 2 + 1 for its top-up.
    assert_eq!(r.calls, 8);
    assert_eq!(r.calls as usize, w.llm.calls.borrow().len());
    assert_eq!(r.batches.iter().map(|b| b.calls).sum::<u32>(), r.calls);
    assert_eq!(
        r.batches[0].calls, 2,
        "the refused call is the first batch's"
    );
    assert_nothing_lost(&w, &r, 0);
}

#[test]
fn persist_rejections_are_retried_without_asking_the_llm_again() {
    let w = world();
    w.host.reject.borrow_mut().insert(1, 2);
    let r = run(&w, options(json!({})));
    assert_eq!(r.drills.len(), 25);
    assert_eq!(w.llm.calls.borrow().len(), 5);
    let w = world();
    w.host.reject.borrow_mut().insert(3, u32::MAX);
    let r = run(&w, options(json!({})));
    let b = &r.batches[3];
    assert_eq!((b.status, b.stored), (BatchOutcomeStatus::Failed, false));
    assert_eq!(b.error.as_ref().unwrap().code, ErrorCode::PERSIST_FAILED);
    assert_eq!(indices(&r.unpersisted_drills), [15, 16, 17, 18, 19]);
    assert_nothing_lost(&w, &r, 0);
}

#[test]
fn abort_during_a_request_cancels_and_hands_back_what_was_generated() {
    let mut w = world();
    w.host.loads = true;
    w.llm
        .script(10, &[Reply::StopDuring(DrillgenError::Aborted)]);
    let r = run(&w, options(json!({ "concurrency": 1 })));
    assert_eq!(r.status, RunStatus::Cancelled);
    assert_eq!(sorted_stored(&w), (0..10).collect::<Vec<_>>());
    assert_eq!(w.llm.calls.borrow().len(), 3, "no request after the abort");
    let statuses: Vec<BatchOutcomeStatus> = r.batches.iter().map(|b| b.status).collect();
    use BatchOutcomeStatus::*;
    assert_eq!(
        statuses,
        [Completed, Completed, Cancelled, Cancelled, Cancelled]
    );
    assert_nothing_lost(&w, &r, 0);
    // No `load`/`verify` after the stop, so no warning that they were cut short.
    assert_eq!(w.host.load_calls.get(), 1, "only the first load");
    let codes: Vec<&str> = r.warnings.iter().map(|wn| wn.code.as_str()).collect();
    assert!(
        !codes.contains(&"LOAD_FAILED") && !codes.contains(&"HOST_VERIFY_FAILED"),
        "{codes:?}"
    );
    assert!(r.host_verification.is_none());
}

#[test]
fn a_persist_cut_short_by_the_stop_is_cancelled_not_failed() {
    for stop in [
        DrillgenError::Aborted,
        DrillgenError::DeadlineExceeded { ms: 5 },
    ] {
        let mut w = world();
        // Three refusals, then the stop cuts the last of its 3 retries short.
        w.host.reject.borrow_mut().insert(1, 3);
        w.host.stop_in_persist = Some((1, stop.clone()));
        let r = run(&w, options(json!({ "concurrency": 1 })));
        assert_eq!(r.status, RunStatus::Cancelled);
        let b = &r.batches[1];
        assert_eq!(
            b.status,
            BatchOutcomeStatus::Cancelled,
            "not PERSIST_FAILED"
        );
        assert_eq!(b.error.as_ref().unwrap().code, stop.code());
        assert_eq!(
            w.host.persist_calls.get(),
            1 + 4,
            "batch 0, then batch 1's four tries"
        );
        assert_eq!(indices(&r.unpersisted_drills), [5, 6, 7, 8, 9]);
        assert_nothing_lost(&w, &r, 0);
    }
}

#[test]
fn a_run_stopped_before_its_first_load_says_why() {
    for stop in [
        DrillgenError::Aborted,
        DrillgenError::DeadlineExceeded { ms: 5 },
    ] {
        let mut w = world();
        w.host.loads = true;
        *w.host.stop.borrow_mut() = Some(stop.clone());
        let e = try_run(&w, options(json!({}))).unwrap_err();
        assert_eq!(e.code(), stop.code(), "not LOAD_FAILED: {e}");
        assert!(w.llm.calls.borrow().is_empty());
    }
}

#[test]
fn abort_during_a_backoff_stops_at_once() {
    let w = world_with(Some(1));
    w.llm.script(0, &[Reply::Status(503, vec![], "{}".into())]);
    let r = run(&w, options(json!({ "concurrency": 1 })));
    assert_eq!(r.status, RunStatus::Cancelled);
    assert_eq!(w.llm.calls.borrow().len(), 1);
}

#[test]
fn a_deadline_ends_the_run_with_what_it_has() {
    let w = world();
    w.llm.script(
        15,
        &[Reply::StopDuring(DrillgenError::DeadlineExceeded {
            ms: 5000,
        })],
    );
    let r = run(&w, options(json!({ "concurrency": 1 })));
    assert_eq!(r.status, RunStatus::Cancelled);
    assert_eq!(r.drills.len(), 15);
    assert!(r.warnings.iter().any(|wn| wn.code == "DEADLINE_EXCEEDED"));
    assert_eq!(
        r.batches[3].error.as_ref().unwrap().code,
        ErrorCode::DEADLINE_EXCEEDED
    );
}

#[test]
fn no_credential_leaves_and_hostile_text_is_bounded() {
    let w = world();
    let echo = format!(
        r#"{{"error":{{"message":"bad key sk-secret-key-42 from header p1-proxy-secret {}"}}}}"#,
        "z".repeat(3_000_000)
    );
    w.llm.script(0, &[Reply::Status(503, vec![], echo)]);
    let mut o = options(json!({}));
    o.batch
        .llm
        .headers
        .insert("x-proxy-auth".into(), "p1-proxy-secret".into());
    let r = run(&w, o);
    let text = serde_json::to_string(&r).unwrap() + &format!("{:?}", w.host.events.borrow());
    assert!(!text.contains("sk-secret-key-42") && !text.contains("p1-proxy-secret"));
    for e in w.host.events.borrow().iter() {
        assert!(e.message.len() <= MAX_MESSAGE_BYTES, "{}", e.message.len());
        assert!(
            e.error
                .as_ref()
                .is_none_or(|i| i.message.len() <= MAX_MESSAGE_BYTES)
        );
    }
}

#[test]
fn hostile_usage_figures_cannot_break_the_result() {
    let w = world();
    *w.llm.personality.borrow_mut() = None;
    let body = json!({ "choices": [{ "message": { "content": "x" }, "finish_reason": "stop" }], "usage": { "prompt_tokens": u64::MAX, "completion_tokens": -1 } });
    w.llm
        .script(0, &[Reply::Status(200, vec![], body.to_string())]);
    let r = run(&w, options(json!({})));
    assert!(r.usage.input_tokens < 2 * crate::llm::MAX_TOKENS_PER_CALL);
    assert!(serde_json::to_string(&r).is_ok());
}

#[test]
fn calls_that_time_out_in_a_servers_queue_lower_the_concurrency() {
    let w = world();
    w.llm.serial.set(true);
    let retry = json!({ "maxRetries": 6, "baseDelayMs": 1, "maxDelayMs": 2 });
    let r = run(&w, options(json!({ "concurrency": 4, "retry": retry })));
    assert_eq!(
        r.drills.len(),
        25,
        "every batch gets through once calls stop queueing"
    );
    let lowered: Vec<&str> = r
        .warnings
        .iter()
        .filter(|wn| wn.code == "CONCURRENCY_LOWERED")
        .map(|wn| wn.message.as_str())
        .collect();
    assert!(
        !lowered.is_empty() && lowered[0].contains("from 4 to 2"),
        "{lowered:?}"
    );
    assert!(
        lowered.len() <= 2,
        "simultaneous timeouts halve once: {lowered:?}"
    );
    // One at a time against a serial server: no timeouts, nothing lowered.
    let w = world();
    w.llm.serial.set(true);
    let r = run(&w, options(json!({ "concurrency": 1 })));
    assert!(r.warnings.iter().all(|wn| wn.code != "CONCURRENCY_LOWERED"));
    assert!(r.batches.iter().all(|b| b.attempts == 1));
}

/// A tiny model copies the prompt's example: its placeholder texts are asked for again once, and
/// only the drills that had them; the second answer's words are kept.
#[test]
fn placeholder_echoes_are_asked_again_once() {
    let w = world();
    w.llm.script(
        0,
        &[Reply::Texts(vec![
            (1, "title", "<title>"),
            (3, "explanation", "<why_explained>}, {\""),
        ])],
    );
    let r = run(&w, options(json!({})));
    assert_eq!(r.drills.len(), 25);
    let asked: Vec<Vec<u32>> = w
        .llm
        .calls
        .borrow()
        .iter()
        .filter(|c| c.indices[0] < 5)
        .map(|c| c.indices.clone())
        .collect();
    assert_eq!(asked, [vec![0, 1, 2, 3, 4], vec![1, 3]]);
    let again = w
        .llm
        .calls
        .borrow()
        .iter()
        .find(|c| c.indices == [1, 3])
        .map(|c| c.user.clone())
        .unwrap();
    assert!(
        again.contains("placeholder \"<title>\""),
        "the reason goes back to the model"
    );
    for d in &r.drills {
        assert!(crate::output::unreadable(&d.title).is_none(), "{}", d.title);
        assert!(
            crate::output::unreadable(&d.explanation).is_none(),
            "{}",
            d.explanation
        );
    }
    assert!(r.drills.iter().all(|d| d.flags.is_empty()));
}

/// The same echoes again on the second asking: filled from the analysis, with a repair counted.
#[test]
fn placeholder_echoes_asked_twice_are_filled_from_the_analysis() {
    let w = world();
    let echo = Reply::Texts(vec![
        (1, "title", "<title>"),
        (1, "principle", "<principle>"),
    ]);
    w.llm.script(0, &[echo]);
    w.llm
        .script(1, &[Reply::Texts(vec![(0, "title", "<title>")])]);
    let r = run(&w, options(json!({})));
    let d = r.drills.iter().find(|d| d.index == 1).unwrap();
    assert!(
        d.title.contains("to play"),
        "from the analysis: {}",
        d.title
    );
    assert_eq!(
        r.batches[0]
            .repairs
            .get(&crate::RepairCode::PLACEHOLDER_REPLACED),
        Some(&1)
    );
    assert_eq!(r.batches[0].attempts, 2);
}

/// An explanation that names the wrong option is asked for again; still wrong, the drill is kept
/// (nothing generated is lost) but flagged, and the result says so.
#[test]
fn an_explanation_naming_the_wrong_option_is_flagged_after_asking_again() {
    let w = world();
    let wrong = "Option Z is the best play here.";
    w.llm.script(
        0,
        &[Reply::Texts(vec![(
            2,
            "explanation",
            "Making points wins games.",
        )])],
    );
    w.llm
        .script(2, &[Reply::Texts(vec![(0, "explanation", wrong)])]);
    let r = run(&w, options(json!({})));
    assert_eq!(r.drills.len(), 25);
    let d = r.drills.iter().find(|d| d.index == 2).unwrap();
    assert_eq!(d.flags, [crate::DrillFlag::EXPLANATION_MISMATCH]);
    assert_eq!(d.explanation, wrong);
    assert_eq!(r.drills.iter().filter(|d| !d.flags.is_empty()).count(), 1);
    let flagged = r
        .warnings
        .iter()
        .find(|wn| wn.code == "DRILLS_FLAGGED")
        .unwrap();
    assert!(flagged.message.ends_with(": 2"), "{}", flagged.message);
    assert_eq!(
        r.batches[0]
            .repairs
            .get(&crate::RepairCode::EXPLANATION_FLAGGED),
        Some(&1)
    );
    let stored = w.host.stored.borrow();
    assert_eq!(
        stored.iter().find(|d| d.index == 2).unwrap().flags.len(),
        1,
        "stored with its flag"
    );
}

#[test]
fn a_batch_whose_every_explanation_fails_is_asked_again_once_then_kept_flagged() {
    // Every drill rejected by the words checks is still a reading: asked again once, then read
    // leniently (a small model that never names the option must not fail the batch for ever).
    let w = world();
    let bad = |text: &'static str| Reply::Texts((0..5).map(|k| (k, "explanation", text)).collect());
    w.llm.script(
        0,
        &[
            bad("Making points wins games."),
            bad("Option Z is the best play here."),
        ],
    );
    let r = run(&w, options(json!({})));
    assert_eq!(r.drills.len(), 25);
    assert_eq!(r.batches[0].attempts, 2, "asked once, asked again once");
    let flagged: Vec<u32> = r
        .drills
        .iter()
        .filter(|d| d.flags == [crate::DrillFlag::EXPLANATION_MISMATCH])
        .map(|d| d.index)
        .collect();
    assert_eq!(flagged, [0, 1, 2, 3, 4]);
}

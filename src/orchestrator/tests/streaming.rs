//! Drills shown as they close in a streamed answer (`drillReady`), withdrawn when the whole
//! answer's reading does not keep them (`drillWithdrawn`), and kept when a stream breaks off.

use super::*;

/// The drills on the page after the run's events: shown, minus withdrawn, by index.
fn on_page(w: &World) -> Vec<(u32, Drill)> {
    let mut page: Vec<(u32, Drill)> = Vec::new();
    for e in w.host.events.borrow().iter() {
        match e.kind {
            ProgressKind::DrillReady => {
                let drill = e
                    .drill
                    .as_deref()
                    .expect("drillReady carries its drill")
                    .clone();
                assert_eq!(Some(drill.index), e.drill_index);
                assert!(
                    page.iter().all(|(i, _)| *i != drill.index),
                    "drill {} shown twice without a withdrawal",
                    drill.index
                );
                page.push((drill.index, drill));
            }
            ProgressKind::DrillWithdrawn => {
                let index = e.drill_index.unwrap();
                assert!(page.iter().any(|(i, _)| *i == index), "withdrawn unseen");
                page.retain(|(i, _)| *i != index);
            }
            _ => {}
        }
    }
    crate::order::sort_by_key(&mut page, |(i, _)| *i);
    page
}

#[test]
fn every_kept_drill_is_shown_once_before_its_batch_completes_streamed_or_not() {
    for stream in [true, false] {
        let w = world();
        let llm = json!({ "provider": "openai", "baseUrl": "http://127.0.0.1:1/v1", "model": "m", "stream": stream });
        let r = run(&w, options(json!({ "llm": llm })));
        assert_eq!(r.drills.len(), 25);
        let page = on_page(&w);
        let shown: Vec<&Drill> = page.iter().map(|(_, d)| d).collect();
        let stored: Vec<&Drill> = r.drills.iter().collect();
        assert_eq!(
            shown, stored,
            "the page shows what was stored (stream {stream})"
        );
        let events = w.host.events.borrow();
        for drill in &r.drills {
            let at = |kind: ProgressKind| {
                events.iter().position(|e| {
                    e.kind == kind
                        && e.batch_index == Some(drill.batch_index)
                        && (kind != ProgressKind::DrillReady || e.drill_index == Some(drill.index))
                })
            };
            assert!(at(ProgressKind::DrillReady) < at(ProgressKind::BatchCompleted));
        }
        let streamed = w
            .llm
            .calls
            .borrow()
            .iter()
            .all(|c| c.body["stream"] == true);
        assert_eq!(streamed, stream);
    }
}

#[test]
fn a_stream_cut_mid_drill_keeps_the_drills_that_closed_and_asks_for_the_rest() {
    for provider in ["openai", "anthropic"] {
        let w = world();
        // The first batch's answer breaks off a little before its middle: inside the third drill.
        w.llm.script(0, &[Reply::Cut(45)]);
        let llm = json!({ "provider": provider, "baseUrl": "http://127.0.0.1:1/v1", "model": "m" });
        let r = run(&w, options(json!({ "llm": llm, "concurrency": 1 })));
        assert_eq!(r.drills.len(), 25, "{provider}");
        assert_nothing_lost(&w, &r, 0);
        let calls = w.llm.calls.borrow();
        let first_batch: Vec<&Vec<u32>> = calls
            .iter()
            .map(|c| &c.indices)
            .filter(|i| i.first().is_some_and(|&f| f < 5))
            .collect();
        assert_eq!(first_batch.len(), 2, "{provider}: one retry");
        let kept = 5 - first_batch[1].len();
        assert!(
            (1..5).contains(&kept),
            "{provider}: the drills that closed before the cut are kept ({:?})",
            first_batch
        );
        assert_eq!(
            first_batch[1][0] as usize, kept,
            "only the rest is asked again"
        );
        drop(calls);
        let page = on_page(&w);
        assert_eq!(page.len(), 25);
        assert!(page.iter().map(|(_, d)| d).eq(r.drills.iter()));
    }
}

#[test]
fn a_drill_the_whole_reading_does_not_keep_is_withdrawn_and_the_kept_one_shown() {
    let w = world();
    w.llm.script(0, &[Reply::TwoArrays]);
    let r = run(&w, options(json!({})));
    assert_eq!(r.drills.len(), 25);
    let events = w.host.events.borrow();
    let withdrawn: Vec<u32> = events
        .iter()
        .filter(|e| e.kind == ProgressKind::DrillWithdrawn)
        .filter_map(|e| e.drill_index)
        .collect();
    assert_eq!(
        withdrawn,
        [0, 1, 2, 3, 4],
        "the first array's drills were shown, then replaced"
    );
    drop(events);
    let page = on_page(&w);
    assert!(page.iter().map(|(_, d)| d).eq(r.drills.iter()));
    assert!(
        r.drills[..5]
            .iter()
            .all(|d| d.title.starts_with("Second drill"))
    );
}

#[test]
fn max_response_bytes_bounds_a_streams_text_not_its_framing() {
    // 5 drills are ~1.4 KB of text in ~12 KB of events: the events pass, the text fits.
    let w = world();
    assert_eq!(capped_first_batch(&w, 4_000), None);
    let body = w.llm.body_bytes.borrow()[0];
    assert!(
        body > 4_000,
        "the stream's body ({body} bytes) is over the cap"
    );
    // Under the text: the answer is too large, whatever its framing.
    let error = capped_first_batch(&world(), 1_000);
    assert_eq!(error, Some(ErrorCode::RESPONSE_TOO_LARGE));
}

/// Each drill on the page and in the result is the one its index asked for (the fake titles each
/// drill "Drill <index> on …").
fn misplaced<'d>(drills: impl Iterator<Item = &'d Drill>) -> Vec<String> {
    drills
        .filter(|d| !d.title.starts_with(&format!("Drill {} ", d.index)))
        .map(|d| format!("index {} has {:?}", d.index, d.title))
        .collect()
}

#[test]
fn a_value_that_is_not_a_drill_never_shifts_the_drills_after_it() {
    for k in 0..4 {
        let w = world();
        // Element k is `7`; the answer breaks off after most of the rest closed.
        w.llm.script(0, &[Reply::NotObjectCut(k, 75)]);
        let r = run(
            &w,
            options(json!({ "concurrency": 1, "retry": { "maxRetries": 0 } })),
        );
        let events = w.host.events.borrow();
        let shown = events.iter().filter_map(|e| e.drill.as_deref());
        assert_eq!(misplaced(shown), Vec::<String>::new(), "shown, k = {k}");
        let kept = r.batches.iter().flat_map(|b| b.drills.iter());
        assert_eq!(misplaced(kept), Vec::<String>::new(), "kept, k = {k}");
        assert!(
            events.iter().any(|e| e.kind == ProgressKind::DrillReady),
            "the drills after it are still shown early"
        );
    }
}

#[test]
fn only_the_first_call_of_the_drills_tool_is_read_whole_or_cut() {
    let llm = json!({ "provider": "anthropic", "baseUrl": "http://127.0.0.1:1/v1", "model": "m" });
    let w = world();
    w.llm.script(0, &[Reply::TwoToolCalls(None)]);
    let r = run(&w, options(json!({ "llm": llm, "concurrency": 1 })));
    assert_eq!(r.drills.len(), 25);
    let page = on_page(&w);
    assert!(page.iter().map(|(_, d)| d).eq(r.drills.iter()));
    assert_eq!(misplaced(r.drills.iter()), Vec::<String>::new());
    // Cut inside the second call: the first call's drills, each once.
    let w = world();
    w.llm.script(0, &[Reply::TwoToolCalls(Some(80))]);
    let r = run(&w, options(json!({ "llm": llm, "concurrency": 1 })));
    let first: Vec<u32> = r.batches[0].drills.iter().map(|d| d.index).collect();
    assert_eq!(first, [0, 1, 2, 3, 4]);
    assert_eq!(misplaced(r.drills.iter()), Vec::<String>::new());
    assert_nothing_lost(&w, &r, 0);
}

#[test]
fn a_stream_is_known_by_any_first_field_or_a_byte_order_mark() {
    for prefix in ["retry: 3000\n\n", "id: 1\n", "\u{feff}"] {
        let w = world();
        w.llm.script(0, &[Reply::Prefixed(prefix)]);
        assert_eq!(capped_first_batch(&w, 4_000), None, "{prefix:?}");
    }
}

#[test]
fn a_plain_body_answering_a_stream_request_is_held_to_the_cap_whole() {
    let w = world();
    // Neither events nor JSON: 5,000 bytes of "x" where a stream was asked for.
    w.llm
        .script(0, &[Reply::Status(200, vec![], "x".repeat(5_000))]);
    assert_eq!(
        capped_first_batch(&w, 4_000),
        Some(ErrorCode::RESPONSE_TOO_LARGE)
    );
}

/// A 5-drill series, no retry, answers capped at `bytes`: the first batch's error code, if any.
fn capped_first_batch(w: &World, bytes: u32) -> Option<ErrorCode> {
    let llm = json!({ "provider": "openai", "baseUrl": "http://127.0.0.1:1/v1", "model": "m", "maxResponseBytes": bytes });
    let r = run(
        w,
        options(
            json!({ "llm": llm, "retry": { "maxRetries": 0 }, "request": { "targetDrillCount": 5 } }),
        ),
    );
    r.batches[0].error.as_ref().map(|e| e.code)
}

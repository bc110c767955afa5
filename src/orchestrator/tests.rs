//! The orchestrator against fakes: a scripted LLM transport, a virtual clock, a recording host.

use std::cell::{Cell, RefCell};
use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

use futures_executor::block_on;
use serde_json::{Value, json};

use super::*;
use crate::drill::fixtures::draft;
use crate::llm::HttpResponse;
use crate::sample::fixtures::pool;

/// Lets other batch futures run, as a real network wait would.
struct YieldNow(bool);
impl Future for YieldNow {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0 {
            Poll::Ready(())
        } else {
            self.0 = true;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }
}

async fn yield_times(n: usize) {
    for _ in 0..n {
        YieldNow(false).await;
    }
}

#[derive(Clone)]
enum Reply {
    Good,
    Status(u16, Vec<(&'static str, &'static str)>, &'static str),
    Fail(DrillgenError),
    WrongCount,
    ForeignPosition,
    /// The caller's signal fires while this request is in flight.
    AbortDuring,
}

/// What the fake model was asked: the batch (first index of the schema) and the request.
struct Call {
    first_index: u32,
    indices: Vec<u32>,
    body: Value,
}

#[derive(Default)]
struct FakeLlm {
    script: RefCell<HashMap<u32, VecDeque<Reply>>>,
    default: RefCell<Option<Reply>>,
    calls: RefCell<Vec<Call>>,
    in_flight: Cell<u32>,
    max_in_flight: Cell<u32>,
    aborted: Rc<Cell<bool>>,
}

impl FakeLlm {
    fn script(&self, first_index: u32, replies: &[Reply]) {
        self.script
            .borrow_mut()
            .insert(first_index, replies.iter().cloned().collect());
    }

    fn reply_for(&self, first: u32) -> Reply {
        let scripted = self
            .script
            .borrow_mut()
            .get_mut(&first)
            .and_then(VecDeque::pop_front);
        scripted
            .or_else(|| self.default.borrow().clone())
            .unwrap_or(Reply::Good)
    }
}

fn ok_body(anthropic: bool, indices: &[u32], positions: &[String]) -> String {
    let drills: Vec<Value> = indices
        .iter()
        .enumerate()
        .map(|(k, &i)| serde_json::to_value(draft(i, &positions[k % positions.len()])).unwrap())
        .collect();
    let content = json!({ "drills": drills });
    if anthropic {
        return json!({
            "content": [{ "type": "tool_use", "name": "submit_drills", "input": content }],
            "stop_reason": "tool_use",
            "usage": { "input_tokens": 200, "cache_read_input_tokens": 800, "output_tokens": 100 * indices.len() }
        })
        .to_string();
    }
    json!({
        "choices": [{ "message": { "content": content.to_string() }, "finish_reason": "stop" }],
        "usage": { "prompt_tokens": 1000, "completion_tokens": 100 * indices.len(),
                   "prompt_tokens_details": { "cached_tokens": 800 } }
    })
    .to_string()
}

impl Transport for FakeLlm {
    async fn send(
        &self,
        request: HttpRequest,
        _timeout_ms: u64,
        _max: u64,
    ) -> Result<HttpResponse, DrillgenError> {
        let body: Value = serde_json::from_str(&request.body).unwrap();
        let anthropic = request.url.ends_with("/messages");
        let schema = if anthropic {
            &body["tools"][0]["input_schema"]
        } else {
            &body["response_format"]["json_schema"]["schema"]
        };
        let item = &schema["properties"]["drills"]["items"]["properties"];
        let indices: Vec<u32> = item["index"]["enum"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap() as u32)
            .collect();
        let positions: Vec<String> = item["positionId"]["enum"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_owned())
            .collect();
        let first = indices[0];
        self.calls.borrow_mut().push(Call {
            first_index: first,
            indices: indices.clone(),
            body: body.clone(),
        });
        self.in_flight.set(self.in_flight.get() + 1);
        self.max_in_flight
            .set(self.max_in_flight.get().max(self.in_flight.get()));
        yield_times(3).await;
        self.in_flight.set(self.in_flight.get() - 1);
        let ok = |status: u16, headers: Vec<(&str, &str)>, body: String| {
            Ok(HttpResponse {
                status,
                headers: headers
                    .into_iter()
                    .map(|(k, v)| (k.to_owned(), v.to_owned()))
                    .collect(),
                body,
            })
        };
        match self.reply_for(first) {
            Reply::Good => ok(200, vec![], ok_body(anthropic, &indices, &positions)),
            Reply::Status(status, headers, body) => ok(status, headers, body.to_owned()),
            Reply::Fail(e) => Err(e),
            Reply::WrongCount => ok(200, vec![], ok_body(anthropic, &indices[..1], &positions)),
            Reply::ForeignPosition => ok(
                200,
                vec![],
                ok_body(anthropic, &indices, &["NOT-IN-BATCH".to_owned()]),
            ),
            Reply::AbortDuring => {
                self.aborted.set(true);
                Err(DrillgenError::Aborted)
            }
        }
    }
}

struct FakeClock {
    now: Cell<f64>,
    sleeps: RefCell<Vec<u64>>,
    aborted: Rc<Cell<bool>>,
    /// Abort the run during the n-th sleep (1-based).
    abort_on_sleep: Option<usize>,
}

impl Clock for FakeClock {
    fn now_ms(&self) -> f64 {
        self.now.get()
    }

    async fn sleep(&self, ms: u64) -> Result<(), DrillgenError> {
        self.sleeps.borrow_mut().push(ms);
        if self.abort_on_sleep == Some(self.sleeps.borrow().len()) {
            self.aborted.set(true);
        }
        if self.aborted.get() {
            return Err(DrillgenError::Aborted);
        }
        self.now.set(self.now.get() + ms as f64);
        YieldNow(false).await;
        Ok(())
    }
}

#[derive(Default)]
struct FakeHost {
    stored: RefCell<Vec<Drill>>,
    persist_calls: Cell<u32>,
    /// Rejections still to give, per batch (`u32::MAX` = always).
    reject: RefCell<HashMap<u32, u32>>,
    events: RefCell<Vec<DrillProgressEvent>>,
    loads: bool,
    aborted: Rc<Cell<bool>>,
}

impl Host for FakeHost {
    async fn persist(&self, drills: &[Drill], batch: &BatchInfo) -> Result<(), String> {
        self.persist_calls.set(self.persist_calls.get() + 1);
        assert!(!self.aborted.get(), "persist after abort");
        if let Some(left) = self.reject.borrow_mut().get_mut(&batch.batch_index)
            && *left > 0
        {
            *left = left.saturating_sub(1);
            return Err("database is locked".into());
        }
        self.stored.borrow_mut().extend(drills.iter().cloned());
        Ok(())
    }

    async fn load(&self) -> Option<Result<Vec<Drill>, String>> {
        self.loads.then(|| Ok(self.stored.borrow().clone()))
    }

    fn progress(&self, event: &DrillProgressEvent) {
        self.events.borrow_mut().push(event.clone());
    }

    async fn verify(&self, artifact: &Artifact) -> Option<Result<Value, String>> {
        Some(Ok(json!({ "checked": artifact.drills.len() })))
    }

    fn is_aborted(&self) -> bool {
        self.aborted.get()
    }
}

struct World {
    llm: FakeLlm,
    clock: FakeClock,
    host: FakeHost,
}

fn world() -> World {
    world_with(None)
}

fn world_with(abort_on_sleep: Option<usize>) -> World {
    let aborted = Rc::new(Cell::new(false));
    World {
        llm: FakeLlm {
            aborted: aborted.clone(),
            ..Default::default()
        },
        clock: FakeClock {
            now: Cell::new(1_700_000_000_000.0),
            sleeps: RefCell::default(),
            aborted: aborted.clone(),
            abort_on_sleep,
        },
        host: FakeHost {
            aborted,
            ..Default::default()
        },
    }
}

fn options(extra: Value) -> GenerateOptions {
    let mut base = json!({
        "artifactId": "art",
        "request": { "targetDrillCount": 25, "gamePhases": ["EARLY", "MIDDLE", "BEAROFF"] },
        "positions": pool(30),
        "context": { "mentalModel": { "core": "Points before pips" }, "curriculum": "Module 1" },
        "llm": { "provider": "openai", "baseUrl": "http://127.0.0.1:1/v1", "model": "m", "apiKey": "sk-secret-key-42" },
        "seed": 5,
    });
    for (k, v) in extra.as_object().unwrap() {
        base[k] = v.clone();
    }
    serde_json::from_value(base).unwrap()
}

fn run(w: &World, o: GenerateOptions) -> GenerationResult {
    block_on(generate_series(o, &w.llm, &w.clock, &w.host)).unwrap()
}

fn kinds(w: &World) -> Vec<ProgressKind> {
    w.host.events.borrow().iter().map(|e| e.kind).collect()
}

fn indices(drills: &[Drill]) -> Vec<u32> {
    drills.iter().map(|d| d.draft.index).collect()
}

#[test]
fn a_full_run_generates_persists_and_reports_every_batch() {
    let w = world();
    let r = run(&w, options(json!({})));
    assert_eq!(r.status, RunStatus::Completed);
    assert_eq!(indices(&r.drills), (0..25).collect::<Vec<_>>());
    assert_eq!(w.host.persist_calls.get(), 5);
    let mut stored = indices(&w.host.stored.borrow());
    stored.sort_unstable();
    assert_eq!(
        stored,
        (0..25).collect::<Vec<_>>(),
        "each drill persisted exactly once"
    );
    assert!(
        r.drills
            .iter()
            .all(|d| d.drill_id == format!("art:{}", d.draft.index))
    );
    assert!(
        r.drills
            .iter()
            .all(|d| d.batch_status == crate::drill::BatchStatus::Completed)
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
            output_tokens: 2500
        }
    );
    assert_eq!(r.host_verification, Some(json!({ "checked": 25 })));

    let events = w.host.events.borrow();
    let k = kinds(&w);
    assert_eq!(
        k.iter()
            .filter(|k| **k == ProgressKind::BatchStarted)
            .count(),
        5
    );
    assert_eq!(
        k.iter()
            .filter(|k| **k == ProgressKind::BatchCompleted)
            .count(),
        5
    );
    assert_eq!(k.last(), Some(&ProgressKind::RunFinished));
    let completed: Vec<(u32, &str)> = events
        .iter()
        .filter(|e| e.kind == ProgressKind::BatchCompleted)
        .map(|e| (e.completed_drills, e.message.as_str()))
        .collect();
    let counts: Vec<u32> = completed.iter().map(|c| c.0).collect();
    assert_eq!(
        counts,
        [5, 10, 15, 20, 25],
        "counts grow by a batch at a time"
    );
    assert!(
        completed
            .iter()
            .all(|(n, m)| m.starts_with(&format!("Generated {n}/25 drills (Batch ")))
    );
    assert_eq!(events.last().unwrap().message, "Generated 25/25 drills");
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
    let err = block_on(generate_series(
        options(json!({ "concurrency": 7 })),
        &world().llm,
        &world().clock,
        &world().host,
    ));
    assert_eq!(err.unwrap_err().code(), "INVALID_OPTIONS");
}

#[test]
fn one_failing_batch_leaves_the_other_four_complete_and_stored_once() {
    let w = world();
    *w.llm.default.borrow_mut() = None;
    w.llm
        .script(10, &vec![Reply::Status(500, vec![], "boom"); 4]);
    let r = run(&w, options(json!({})));
    assert_eq!(r.status, RunStatus::Completed);
    assert_eq!(r.drills.len(), 20);
    assert_eq!(r.missing_indices, [10, 11, 12, 13, 14]);
    assert_eq!(r.batch_progress.failed, [2]);
    let failed = &r.batches[2];
    assert_eq!(
        (failed.status, failed.attempts),
        (BatchOutcomeStatus::Failed, 4)
    );
    assert_eq!(failed.error.as_ref().unwrap().code, "HTTP_ERROR");
    assert_eq!(failed.error.as_ref().unwrap().status, Some(500));
    assert_eq!(
        w.host.stored.borrow().len(),
        20,
        "the good batches are stored once"
    );
    assert!(
        r.warnings
            .iter()
            .any(|w| w.code == "BATCHES_FAILED" && w.message.contains("3 (HTTP_ERROR)"))
    );
    // Backoff 500, 1000, 2000 ms, each less up to 25 % jitter.
    let sleeps = w.clock.sleeps.borrow();
    assert_eq!(sleeps.len(), 3);
    for (s, full) in sleeps.iter().zip([500u64, 1000, 2000]) {
        assert!(*s <= full && *s >= full * 3 / 4, "{s} vs {full}");
    }
    let retrying: Vec<(Option<u32>, Option<u64>)> = w
        .host
        .events
        .borrow()
        .iter()
        .filter(|e| e.kind == ProgressKind::BatchRetrying)
        .map(|e| (e.attempt, e.delay_ms))
        .collect();
    assert_eq!(
        retrying.iter().map(|r| r.0).collect::<Vec<_>>(),
        [Some(1), Some(2), Some(3)]
    );
    assert!(kinds(&w).contains(&ProgressKind::BatchFailed));
    assert_eq!(
        w.host.events.borrow().last().unwrap().message,
        "Generated 20/25 drills; batch 3 failed"
    );
}

#[test]
fn all_batches_failing_is_failed() {
    let w = world();
    *w.llm.default.borrow_mut() = Some(Reply::Fail(DrillgenError::Timeout { ms: 120_000 }));
    let r = run(&w, options(json!({})));
    assert_eq!(r.status, RunStatus::Failed);
    assert!(r.drills.is_empty());
    assert_eq!(r.batch_progress.failed, [0, 1, 2, 3, 4]);
    assert_eq!(
        w.llm.calls.borrow().len(),
        20,
        "4 attempts for each of 5 batches"
    );
    assert_eq!(w.host.persist_calls.get(), 0);
}

#[test]
fn permanent_errors_are_not_retried() {
    for (status, body) in [
        (401, "bad key"),
        (400, "bad request"),
        (404, "no model"),
        (422, "unprocessable"),
    ] {
        let w = world();
        *w.llm.default.borrow_mut() = Some(Reply::Status(status, vec![], body));
        let r = run(&w, options(json!({ "request": { "targetDrillCount": 5 } })));
        assert_eq!(r.batches[0].attempts, 1, "{status}");
        assert!(w.clock.sleeps.borrow().is_empty());
        assert_eq!(r.status, RunStatus::Failed);
    }
    let w = world();
    let quota = r#"{"error":{"message":"quota","code":"insufficient_quota"}}"#;
    *w.llm.default.borrow_mut() = Some(Reply::Status(429, vec![], quota));
    let r = run(&w, options(json!({ "request": { "targetDrillCount": 5 } })));
    assert_eq!(
        r.batches[0].error.as_ref().unwrap().code,
        "INSUFFICIENT_QUOTA"
    );
    assert_eq!(r.batches[0].attempts, 1);
}

#[test]
fn retry_after_is_honoured_up_to_a_minute() {
    let w = world();
    w.llm.script(
        0,
        &[
            Reply::Status(429, vec![("retry-after", "2")], "slow"),
            Reply::Status(503, vec![("retry-after-ms", "1500")], "busy"),
        ],
    );
    let r = run(&w, options(json!({ "request": { "targetDrillCount": 5 } })));
    assert_eq!(r.status, RunStatus::Completed);
    assert_eq!(*w.clock.sleeps.borrow(), [2000, 1500]);

    let w = world();
    let start = w.clock.now_ms();
    w.llm.script(
        0,
        &[Reply::Status(
            429,
            vec![("retry-after", "120")],
            "come back later",
        )],
    );
    let r = run(&w, options(json!({ "request": { "targetDrillCount": 5 } })));
    let error = r.batches[0].error.clone().unwrap();
    assert_eq!(error.code, "RATE_LIMITED");
    assert_eq!(error.retry_at, Some(start + 120_000.0));
    assert!(w.clock.sleeps.borrow().is_empty());
}

#[test]
fn invalid_output_is_retried_with_the_reason_in_the_prompt() {
    let w = world();
    w.llm
        .script(0, &[Reply::WrongCount, Reply::ForeignPosition]);
    let r = run(&w, options(json!({ "request": { "targetDrillCount": 5 } })));
    assert_eq!(r.status, RunStatus::Completed);
    assert_eq!(r.batches[0].attempts, 3);
    let calls = w.llm.calls.borrow();
    let user = |i: usize| {
        calls[i].body["messages"][1]["content"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    assert!(!user(0).contains("rejected"));
    assert!(
        user(1).contains("expected exactly 5 drills, got 1"),
        "{}",
        user(1)
    );
    assert!(user(2).contains("NOT-IN-BATCH"));
    assert_eq!(
        calls[0].body["messages"][0], calls[2].body["messages"][0],
        "the shared prefix is unchanged"
    );
}

#[test]
fn persist_rejections_are_retried_without_asking_the_llm_again() {
    let w = world();
    w.host.reject.borrow_mut().insert(1, 2);
    let r = run(
        &w,
        options(json!({ "request": { "targetDrillCount": 10 } })),
    );
    assert_eq!(r.status, RunStatus::Completed);
    assert_eq!(w.llm.calls.borrow().len(), 2);
    assert_eq!(w.host.stored.borrow().len(), 10);
    assert!(r.unpersisted_drills.is_empty());

    let w = world();
    w.host.reject.borrow_mut().insert(1, u32::MAX);
    let r = run(
        &w,
        options(json!({ "request": { "targetDrillCount": 10 } })),
    );
    assert_eq!(
        w.llm.calls.borrow().len(),
        2,
        "a storage failure never re-asks the model"
    );
    assert_eq!(w.host.persist_calls.get(), 1 + 4);
    let failed = &r.batches[1];
    assert_eq!(failed.status, BatchOutcomeStatus::Failed);
    assert_eq!(failed.error.as_ref().unwrap().code, "PERSIST_FAILED");
    assert_eq!(
        indices(&failed.drills),
        [5, 6, 7, 8, 9],
        "generated drills are kept"
    );
    assert_eq!(indices(&r.unpersisted_drills), [5, 6, 7, 8, 9]);
    assert_eq!(indices(&r.drills), [0, 1, 2, 3, 4]);
}

#[test]
fn abort_during_a_request_cancels_and_persists_nothing_after() {
    let w = world();
    w.llm.script(10, &[Reply::AbortDuring]);
    let r = run(&w, options(json!({ "concurrency": 1 })));
    assert_eq!(r.status, RunStatus::Cancelled);
    assert_eq!(
        indices(&w.host.stored.borrow()),
        (0..10).collect::<Vec<_>>()
    );
    assert_eq!(w.llm.calls.borrow().len(), 3, "no request after the abort");
    let statuses: Vec<BatchOutcomeStatus> = r.batches.iter().map(|b| b.status).collect();
    use BatchOutcomeStatus::*;
    assert_eq!(
        statuses,
        [Completed, Completed, Cancelled, Cancelled, Cancelled]
    );
    assert!(
        w.host
            .events
            .borrow()
            .last()
            .unwrap()
            .message
            .starts_with("Cancelled after 10/25")
    );
}

#[test]
fn abort_during_a_backoff_stops_at_once() {
    let w = world_with(Some(1));
    *w.llm.default.borrow_mut() = Some(Reply::Status(503, vec![], "busy"));
    let r = run(
        &w,
        options(json!({ "request": { "targetDrillCount": 10 }, "concurrency": 1 })),
    );
    assert_eq!(r.status, RunStatus::Cancelled);
    assert_eq!(w.clock.sleeps.borrow().len(), 1);
    assert_eq!(w.llm.calls.borrow().len(), 1);
    assert_eq!(w.host.persist_calls.get(), 0);
}

#[test]
fn resume_generates_only_the_missing_drills() {
    let first = world();
    first
        .llm
        .script(10, &vec![Reply::Status(500, vec![], "x"); 4]);
    first
        .llm
        .script(20, &vec![Reply::Status(500, vec![], "x"); 4]);
    let r1 = run(&first, options(json!({})));
    assert_eq!(
        r1.missing_indices,
        (10..15).chain(20..25).collect::<Vec<_>>()
    );
    let mut existing = r1.drills.clone();
    existing.retain(|d| d.draft.index != 7); // one drill of batch 1 was lost too

    let w = world();
    let r2 = run(
        &w,
        options(json!({ "existingDrills": existing, "seed": r1.seed })),
    );
    assert_eq!(r2.status, RunStatus::Completed);
    assert_eq!(indices(&r2.drills), (0..25).collect::<Vec<_>>());
    let asked: Vec<Vec<u32>> = {
        let mut c: Vec<Vec<u32>> = w
            .llm
            .calls
            .borrow()
            .iter()
            .map(|c| c.indices.clone())
            .collect();
        c.sort();
        c
    };
    assert_eq!(
        asked,
        [vec![7], vec![10, 11, 12, 13, 14], vec![20, 21, 22, 23, 24]]
    );
    let skipped: Vec<u32> = r2
        .batches
        .iter()
        .filter(|b| b.status == BatchOutcomeStatus::Skipped)
        .map(|b| b.batch_index)
        .collect();
    assert_eq!(skipped, [0, 3]);
    let first_event = &w.host.events.borrow()[0];
    assert_eq!(
        first_event.completed_drills, 14,
        "progress starts from what exists"
    );
    assert_eq!(first_event.batch_progress.completed, 2);
    assert!(r2.verification.passed, "{:?}", r2.verification.issues);
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
    w.host.stored.borrow_mut().extend(
        run(&world(), options(json!({})))
            .drills
            .into_iter()
            .filter(|d| d.draft.index < 20),
    );
    let r = run(&w, options(json!({})));
    assert_eq!(w.llm.calls.borrow().len(), 1);
    assert_eq!(w.llm.calls.borrow()[0].first_index, 20);
    assert_eq!(r.drills.len(), 25);
}

#[test]
fn seeded_runs_are_reproducible() {
    let go = || {
        let w = world();
        *w.llm.default.borrow_mut() = None;
        w.llm.script(
            5,
            &[
                Reply::Status(503, vec![], "x"),
                Reply::Status(503, vec![], "x"),
            ],
        );
        let r = run(&w, options(json!({ "seed": 77 })));
        let sleeps = w.clock.sleeps.borrow().clone();
        (r.drills, r.seed, sleeps)
    };
    assert_eq!(go(), go());
}

#[test]
fn single_mode_makes_one_call_for_the_whole_series() {
    let w = world();
    let r = run(&w, options(json!({ "mode": "single" })));
    assert_eq!(w.llm.calls.borrow().len(), 1);
    assert_eq!(w.llm.calls.borrow()[0].indices.len(), 25);
    assert_eq!(r.drills.len(), 25);
    assert_eq!(r.batch_progress.total, 1);
}

#[test]
fn the_api_key_never_leaves() {
    let w = world();
    w.llm.script(
        0,
        &[Reply::Status(
            500,
            vec![],
            "upstream said: Authorization: Bearer sk-secret-key-42",
        )],
    );
    let r = run(&w, options(json!({ "request": { "targetDrillCount": 5 } })));
    let events = serde_json::to_string(&*w.host.events.borrow()).unwrap();
    assert!(events.contains("[redacted]"));
    assert!(!events.contains("sk-secret-key-42"));
    assert!(
        !serde_json::to_string(&r)
            .unwrap()
            .contains("sk-secret-key-42")
    );
}

#[test]
fn options_are_checked_before_any_request() {
    let w = world();
    for bad in [
        json!({ "llm": { "provider": "openai", "baseUrl": "localhost:1", "model": "m" } }),
        json!({ "artifactId": "" }),
        json!({ "request": { "targetDrillCount": 0 } }),
        json!({ "retry": { "maxRetries": 50 } }),
        json!({ "prompts": { "userPromptTemplate": "{{nope}}" } }),
    ] {
        assert!(block_on(generate_series(options(bad), &w.llm, &w.clock, &w.host)).is_err());
    }
    assert!(w.llm.calls.borrow().is_empty());
}

#[test]
fn a_single_batch_runs_on_its_own_over_anthropic() {
    let w = world();
    let batch = options(json!({})).prepare().unwrap().batches[3].clone();
    let batch_options: BatchOptions = serde_json::from_value(json!({
        "artifactId": "art", "context": { "mentalModel": "m", "curriculum": "c" },
        "llm": { "provider": "anthropic", "baseUrl": "http://127.0.0.1:1/v1", "model": "m", "apiKey": "k-123456" },
    }))
    .unwrap();
    let outcome = block_on(generate_batch(
        batch,
        batch_options,
        &w.llm,
        &w.clock,
        &w.host,
    ))
    .unwrap();
    assert_eq!(outcome.status, BatchOutcomeStatus::Completed);
    assert_eq!(indices(&outcome.drills), [15, 16, 17, 18, 19]);
    assert!(outcome.drills.iter().all(|d| d.batch_index == 3));
    assert_eq!(
        outcome.usage,
        Usage {
            input_tokens: 1000,
            cached_input_tokens: 800,
            output_tokens: 500
        }
    );
    assert_eq!(w.host.stored.borrow().len(), 5);
}

#[test]
fn the_subrequest_budget_is_checked_before_the_first_call() {
    let w = world();
    let err = block_on(generate_series(
        options(json!({ "subrequestBudget": 12 })),
        &w.llm,
        &w.clock,
        &w.host,
    ))
    .unwrap_err();
    assert_eq!(err.code(), "SUBREQUEST_BUDGET");
    assert!(
        err.to_string()
            .contains("20 LLM calls (5 batches × 4 attempts)"),
        "{err}"
    );
    assert!(w.llm.calls.borrow().is_empty());

    let w = world();
    *w.llm.default.borrow_mut() = None;
    w.llm.script(10, &vec![Reply::Status(503, vec![], "x"); 4]);
    let r = run(
        &w,
        options(json!({ "subrequestBudget": 12, "budgetPolicy": "reduce" })),
    );
    assert_eq!(
        r.batches[2].attempts, 2,
        "retries lowered to 12 / 5 - 1 = 1"
    );
    assert!(w.llm.calls.borrow().len() <= 12);
    assert!(r.warnings.iter().any(|w| w.code == "RETRIES_REDUCED"));

    let w = world();
    let tight = options(json!({ "subrequestBudget": 3, "budgetPolicy": "reduce" }));
    assert_eq!(
        block_on(generate_series(tight, &w.llm, &w.clock, &w.host))
            .unwrap_err()
            .code(),
        "SUBREQUEST_BUDGET"
    );

    // A resume with one batch left fits where the whole run would not.
    let existing: Vec<Drill> = run(&world(), options(json!({})))
        .drills
        .into_iter()
        .filter(|d| d.draft.index < 20)
        .collect();
    let w = world();
    let r = run(
        &w,
        options(json!({ "subrequestBudget": 4, "existingDrills": existing })),
    );
    assert_eq!(r.drills.len(), 25);
}

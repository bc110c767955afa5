//! The orchestrator against fakes: an LLM that reads the prompt as a model would (with server
//! personalities that refuse request features the way real servers do), a virtual clock, and a
//! recording host that can reject, lag or stop the run.

mod faults;
mod governed;
mod negotiation;
mod runs;
mod streaming;
mod topup;

use std::cell::{Cell, RefCell};
use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

use futures_executor::block_on;
use serde_json::{Value, json};

use super::*;
use crate::ErrorCode;
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
    Status(u16, Vec<(&'static str, &'static str)>, String),
    Fail(DrillgenError),
    /// Only the first `n` drills.
    Short(usize),
    /// Item `k` (0-based) is not a drill object.
    NotObject(usize),
    NotJson,
    /// The host's stop fires while this request is in flight.
    StopDuring(DrillgenError),
    /// Every drill, with these fields of drill `k` (0-based) replaced: `(k, field, text)`.
    Texts(Vec<(usize, &'static str, &'static str)>),
    /// Every drill, but the connection drops after this percentage of the body (a cut stream).
    Cut(usize),
    /// Every drill, then a second `drills` array with other titles: a JSON reader keeps the last.
    TwoArrays,
    /// Item `k` is not an object, and the body is cut at this percentage.
    NotObjectCut(usize, usize),
    /// Anthropic: two calls of the drills tool (the second with other titles); the body cut at
    /// this percentage, if given.
    TwoToolCalls(Option<usize>),
    /// A good answer whose body starts with this (an SSE `retry:` or `id:` field, a BOM).
    Prefixed(&'static str),
}

/// A server's rules about the request shape: `Some((status, body))` refuses it.
type Personality = Box<dyn Fn(&Value) -> Option<(u16, String)>>;
/// A change to a test value.
type Mutation<T> = Box<dyn Fn(&mut T)>;

/// What the fake model was asked.
struct Call {
    indices: Vec<u32>,
    body: Value,
    user: String,
}

#[derive(Default)]
struct FakeLlm {
    script: RefCell<HashMap<u32, VecDeque<Reply>>>,
    default: RefCell<Option<Reply>>,
    personality: RefCell<Option<Personality>>,
    /// A server that answers one request at a time: a call that arrives while another is in
    /// flight waits in its queue past the client's timeout.
    serial: Cell<bool>,
    calls: RefCell<Vec<Call>>,
    in_flight: Cell<u32>,
    max_in_flight: Cell<u32>,
    stop: Rc<RefCell<Option<DrillgenError>>>,
    /// Where the current answer's body is cut (`Reply::Cut`).
    cut: Cell<Option<usize>>,
    /// The size of each answer's body.
    body_bytes: RefCell<Vec<usize>>,
    /// A log several fakes share (one server, several series): this fake's name per call.
    log: Option<(Rc<RefCell<Vec<char>>>, char)>,
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

/// The drills the prompt asks for: `## Drill k of n (index i)` then `### Position ID (PHASE)`.
fn asked(user: &str) -> Vec<(u32, String)> {
    let mut out = Vec::new();
    let mut lines = user.lines();
    while let Some(line) = lines.next() {
        let Some(rest) = line.strip_prefix("## Drill ") else {
            continue;
        };
        let index = rest
            .split("(index ")
            .nth(1)
            .and_then(|s| s.trim_end_matches(')').parse().ok())
            .unwrap_or(0);
        let id = lines
            .next()
            .and_then(|l| l.strip_prefix("### Position "))
            .and_then(|l| l.split(' ').next())
            .unwrap_or("?");
        out.push((index, id.to_owned()));
    }
    out
}

/// The correct option's letter of each drill asked, in order (`Correct option: B (…)`).
fn correct_letters(user: &str) -> Vec<String> {
    user.lines()
        .filter_map(|l| l.strip_prefix("Correct option: "))
        .map(|rest| rest.chars().take(1).collect())
        .collect()
}

fn drill_json(index: u32, position: &str, correct: &str) -> Value {
    let difficulty = ["BEGINNER", "INTERMEDIATE", "ADVANCED"][index as usize % 3];
    json!({
        "title": format!("Drill {index} on {position}"),
        "principle": "Make the points that block",
        "question": "Which play is best?",
        "explanation": format!("Option {correct} is best: it makes the point; the others leave shots."),
        "difficulty": difficulty,
    })
}

/// `content` in pieces of about `size` bytes (on character boundaries), as a model streams it.
fn pieces(content: &str, size: usize) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = content;
    while !rest.is_empty() {
        let mut end = size.min(rest.len());
        while !rest.is_char_boundary(end) {
            end += 1;
        }
        out.push(&rest[..end]);
        rest = &rest[end..];
    }
    out
}

fn answer(anthropic: bool, stream: bool, content: &str, n: usize) -> String {
    let usage = (1000, 800, 100 * n as u64);
    if anthropic {
        let input: Value = serde_json::from_str(content).unwrap_or(json!({"drills": []}));
        let usage = json!({ "input_tokens": usage.0 - usage.1, "cache_read_input_tokens": usage.1, "output_tokens": usage.2 });
        if stream {
            let event = |v: Value| format!("event: {}\ndata: {v}\n\n", v["type"].as_str().unwrap());
            let mut body = event(json!({ "type": "message_start", "message": { "usage": usage } }));
            body += &event(
                json!({ "type": "content_block_start", "index": 0, "content_block": { "type": "tool_use", "name": "submit_drills", "input": {} } }),
            );
            for piece in pieces(content, 10) {
                body += &event(
                    json!({ "type": "content_block_delta", "index": 0, "delta": { "type": "input_json_delta", "partial_json": piece } }),
                );
            }
            body += &event(
                json!({ "type": "message_delta", "delta": { "stop_reason": "tool_use" }, "usage": { "output_tokens": usage["output_tokens"] } }),
            );
            return body;
        }
        return json!({
            "content": [{ "type": "tool_use", "name": "submit_drills", "input": input }],
            "stop_reason": "tool_use",
            "usage": usage
        })
        .to_string();
    }
    let usage = json!({ "prompt_tokens": usage.0, "completion_tokens": usage.2, "prompt_tokens_details": { "cached_tokens": usage.1 } });
    if stream {
        let mut body = String::new();
        for piece in pieces(content, 10) {
            let chunk =
                json!({ "choices": [{ "delta": { "content": piece }, "finish_reason": null }] });
            body += &format!("data: {chunk}\n\n");
        }
        let end = json!({ "choices": [{ "delta": {}, "finish_reason": "stop" }] });
        return format!(
            "{body}data: {end}\n\ndata: {}\n\ndata: [DONE]\n\n",
            json!({ "choices": [], "usage": usage })
        );
    }
    json!({ "choices": [{ "message": { "content": content }, "finish_reason": "stop" }], "usage": usage }).to_string()
}

/// An Anthropic stream that calls the drills tool twice: `first`, then the same with other titles.
fn two_tool_calls(first: &str) -> String {
    let second = first.replace("\"Drill ", "\"Second drill ");
    let event = |v: Value| format!("event: {}\ndata: {v}\n\n", v["type"].as_str().unwrap());
    let mut body = event(
        json!({ "type": "message_start", "message": { "usage": { "input_tokens": 10, "output_tokens": 1 } } }),
    );
    for (i, content) in [first, &second].iter().enumerate() {
        body += &event(
            json!({ "type": "content_block_start", "index": i, "content_block": { "type": "tool_use", "name": "submit_drills", "input": {} } }),
        );
        for piece in pieces(content, 10) {
            body += &event(
                json!({ "type": "content_block_delta", "index": i, "delta": { "type": "input_json_delta", "partial_json": piece } }),
            );
        }
        body += &event(json!({ "type": "content_block_stop", "index": i }));
    }
    body + &event(
        json!({ "type": "message_delta", "delta": { "stop_reason": "tool_use" }, "usage": { "output_tokens": 500 } }),
    )
}

fn reply(
    status: u16,
    headers: Vec<(&str, &str)>,
    body: String,
) -> Result<HttpResponse, DrillgenError> {
    Ok(HttpResponse {
        status,
        headers: headers
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect(),
        body,
    })
}

impl Transport for FakeLlm {
    /// The answer, its body handed to `watch` in small pieces as a network would (a `Cut` answer
    /// stops there and fails).
    async fn send(
        &self,
        request: HttpRequest,
        limits: SendLimits,
        watch: &dyn Watch,
    ) -> Result<HttpResponse, DrillgenError> {
        self.cut.set(None);
        let response = self.respond(request, limits, watch).await?;
        let cut = self.cut.take();
        let len = response.body.len();
        self.body_bytes.borrow_mut().push(len);
        let body = &response.body.as_bytes()[..cut.map_or(len, |percent| len * percent / 100)];
        for piece in body.chunks(7) {
            watch.chunk(piece)?;
        }
        match cut {
            Some(_) => Err(DrillgenError::Network("the connection dropped".into())),
            None => Ok(response),
        }
    }
}

impl FakeLlm {
    async fn respond(
        &self,
        request: HttpRequest,
        _limits: SendLimits,
        watch: &dyn Watch,
    ) -> Result<HttpResponse, DrillgenError> {
        let body: Value = serde_json::from_str(&request.body).unwrap();
        let anthropic = request.url.ends_with("/messages");
        let user = if anthropic {
            body["messages"][0]["content"].as_str()
        } else {
            body["messages"][1]["content"].as_str()
        }
        .unwrap_or_default()
        .to_owned();
        let slots = asked(&user);
        let letters = correct_letters(&user);
        let indices: Vec<u32> = slots.iter().map(|s| s.0).collect();
        if let Some((log, name)) = &self.log {
            log.borrow_mut().push(*name);
        }
        self.calls.borrow_mut().push(Call {
            indices: indices.clone(),
            body: body.clone(),
            user,
        });
        if let Some(refusal) = self.personality.borrow().as_ref().and_then(|p| p(&body)) {
            return reply(refusal.0, vec![], refusal.1);
        }
        if self.serial.get() && self.in_flight.get() > 0 {
            yield_times(3).await;
            return Err(DrillgenError::Timeout { ms: 120_000 });
        }
        self.in_flight.set(self.in_flight.get() + 1);
        self.max_in_flight
            .set(self.max_in_flight.get().max(self.in_flight.get()));
        let stream = body["stream"] == true;
        if stream {
            watch.began(200);
        }
        yield_times(3).await;
        self.in_flight.set(self.in_flight.get() - 1);
        let drills = |n: usize, broken: Option<usize>| {
            let mut d: Vec<Value> = slots
                .iter()
                .zip(&letters)
                .take(n)
                .map(|((i, p), c)| drill_json(*i, p, c))
                .collect();
            if let Some(k) = broken {
                d[k] = json!(7);
            }
            json!({ "drills": d }).to_string()
        };
        match self.reply_for(indices.first().copied().unwrap_or(0)) {
            Reply::Good => reply(
                200,
                vec![],
                answer(anthropic, stream, &drills(slots.len(), None), slots.len()),
            ),
            Reply::Short(n) => reply(200, vec![], answer(anthropic, stream, &drills(n, None), n)),
            Reply::NotObject(k) => reply(
                200,
                vec![],
                answer(
                    anthropic,
                    stream,
                    &drills(slots.len(), Some(k)),
                    slots.len(),
                ),
            ),
            Reply::NotJson => reply(
                200,
                vec![],
                answer(anthropic, stream, "Sure! Here are your drills.", 1),
            ),
            Reply::Status(status, headers, body) => reply(status, headers, body),
            Reply::Fail(e) => Err(e),
            Reply::Texts(changes) => {
                let mut all: Value = serde_json::from_str(&drills(slots.len(), None)).unwrap();
                for (k, name, text) in changes {
                    all["drills"][k][name] = json!(text);
                }
                let content = all.to_string();
                reply(
                    200,
                    vec![],
                    answer(anthropic, stream, &content, slots.len()),
                )
            }
            Reply::Cut(bytes) => {
                self.cut.set(Some(bytes));
                reply(
                    200,
                    vec![],
                    answer(anthropic, stream, &drills(slots.len(), None), slots.len()),
                )
            }
            Reply::TwoArrays => {
                let first = drills(slots.len(), None);
                let second = first.replace("\"Drill ", "\"Second drill ");
                let content = format!("{},{}", &first[..first.len() - 1], &second[1..]);
                reply(
                    200,
                    vec![],
                    answer(anthropic, stream, &content, slots.len()),
                )
            }
            Reply::NotObjectCut(k, percent) => {
                self.cut.set(Some(percent));
                let content = drills(slots.len(), Some(k));
                reply(
                    200,
                    vec![],
                    answer(anthropic, stream, &content, slots.len()),
                )
            }
            Reply::TwoToolCalls(cut) => {
                self.cut.set(cut);
                reply(200, vec![], two_tool_calls(&drills(slots.len(), None)))
            }
            Reply::Prefixed(prefix) => {
                let body = answer(anthropic, stream, &drills(slots.len(), None), slots.len());
                reply(200, vec![], format!("{prefix}{body}"))
            }
            Reply::StopDuring(e) => {
                *self.stop.borrow_mut() = Some(e.clone());
                Err(e)
            }
        }
    }
}

struct FakeClock {
    now: Rc<Cell<f64>>,
    sleeps: RefCell<Vec<u64>>,
    stop: Rc<RefCell<Option<DrillgenError>>>,
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
            *self.stop.borrow_mut() = Some(DrillgenError::Aborted);
        }
        if let Some(e) = self.stop.borrow().clone() {
            return Err(e);
        }
        self.now.set(self.now.get() + ms as f64);
        YieldNow(false).await;
        Ok(())
    }
}

#[derive(Default)]
struct FakeHost {
    stored: RefCell<Vec<Drill>>,
    /// What each successful `persist` was told.
    infos: RefCell<Vec<BatchInfo>>,
    persist_calls: Cell<u32>,
    /// Rejections still to give, per batch (`u32::MAX` = always).
    reject: RefCell<HashMap<u32, u32>>,
    events: RefCell<Vec<DrillProgressEvent>>,
    loads: bool,
    /// `load()` at the end of the run sees nothing this run wrote (a lagging read replica).
    lagging: bool,
    load_calls: Cell<u32>,
    settled: Cell<u32>,
    stop: Rc<RefCell<Option<DrillgenError>>>,
    /// No `persist` (a `generateBatch` without storage).
    no_storage: bool,
    /// The run stops while this batch's `persist` is running, which is then cut short.
    stop_in_persist: Option<(u32, DrillgenError)>,
    governor: Option<govern::SharedGovernor>,
}

impl Host for FakeHost {
    async fn persist(&self, drills: &[Drill], batch: &BatchInfo) -> Result<(), String> {
        self.persist_calls.set(self.persist_calls.get() + 1);
        assert!(
            self.stop.borrow().is_none(),
            "persist after the run stopped"
        );
        if let Some(left) = self.reject.borrow_mut().get_mut(&batch.batch_index)
            && *left > 0
        {
            *left = left.saturating_sub(1);
            return Err("database is locked".into());
        }
        if let Some((index, reason)) = &self.stop_in_persist
            && *index == batch.batch_index
        {
            *self.stop.borrow_mut() = Some(reason.clone());
            return Err(format!("persist() was cut short: {reason}"));
        }
        self.stored.borrow_mut().extend(drills.iter().cloned());
        self.infos.borrow_mut().push(batch.clone());
        Ok(())
    }

    fn stores(&self) -> bool {
        !self.no_storage
    }

    async fn load(&self) -> Option<Result<Vec<Drill>, String>> {
        self.load_calls.set(self.load_calls.get() + 1);
        // As `JsHost` does: a callback made once the run has stopped is cut short.
        if self.loads
            && let Some(reason) = self.stop.borrow().clone()
        {
            return Some(Err(format!("load() was cut short: {reason}")));
        }
        let lag = self.lagging && self.load_calls.get() > 1;
        self.loads.then(|| {
            Ok(if lag {
                vec![]
            } else {
                self.stored.borrow().clone()
            })
        })
    }

    fn progress(&self, event: &DrillProgressEvent) {
        self.events.borrow_mut().push(event.clone());
    }

    async fn verify(&self, artifact: &Artifact) -> Option<Result<Value, String>> {
        // As `JsHost` does: a callback made once the run has stopped is cut short.
        if let Some(reason) = self.stop.borrow().clone() {
            return Some(Err(format!("verify() was cut short: {reason}")));
        }
        Some(Ok(json!({ "checked": artifact.drills.len() })))
    }

    fn stop_reason(&self) -> Option<DrillgenError> {
        self.stop.borrow().clone()
    }

    async fn settle(&self) {
        self.settled.set(self.settled.get() + 1);
    }

    fn governor(&self) -> Option<&govern::SharedGovernor> {
        self.governor.as_ref()
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
    let stop = Rc::new(RefCell::new(None));
    let now = Rc::new(Cell::new(1_700_000_000_000.0));
    World {
        llm: FakeLlm {
            stop: stop.clone(),
            ..Default::default()
        },
        clock: FakeClock {
            now,
            sleeps: RefCell::default(),
            stop: stop.clone(),
            abort_on_sleep,
        },
        host: FakeHost {
            stop,
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
    crate::input::from_json(crate::input::Argument::Options, base).unwrap()
}

fn try_run(w: &World, o: GenerateOptions) -> Result<GenerationResult, DrillgenError> {
    block_on(generate_series(
        o,
        Runtime::Server,
        &w.llm,
        &w.clock,
        &w.host,
    ))
}

fn try_batch(w: &World, batch: BatchSpec, o: BatchOptions) -> Result<BatchOutcome, DrillgenError> {
    block_on(generate_batch(
        batch,
        o,
        Runtime::Server,
        &w.llm,
        &w.clock,
        &w.host,
    ))
}

fn run(w: &World, o: GenerateOptions) -> GenerationResult {
    try_run(w, o).unwrap()
}

fn kinds(w: &World) -> Vec<ProgressKind> {
    w.host.events.borrow().iter().map(|e| e.kind).collect()
}

fn indices(drills: &[Drill]) -> Vec<u32> {
    drills.iter().map(|d| d.index).collect()
}

fn sorted_stored(w: &World) -> Vec<u32> {
    let mut s = indices(&w.host.stored.borrow());
    s.sort_unstable();
    s
}

/// The data-safety invariant: every drill this run generated is stored or handed back, and
/// nothing is stored twice. `before` = drills the host held before the run.
fn assert_nothing_lost(w: &World, r: &GenerationResult, before: usize) {
    let mut generated: Vec<u32> = r
        .batches
        .iter()
        .flat_map(|b| b.drills.iter().map(|d| d.index))
        .collect();
    generated.sort_unstable();
    let mut accounted = indices(&w.host.stored.borrow()[before..]);
    accounted.extend(indices(&r.unpersisted_drills));
    accounted.sort_unstable();
    assert_eq!(accounted, generated, "stored + handed back = generated");
    let mut seen = std::collections::HashSet::new();
    for d in w.host.stored.borrow().iter() {
        assert!(seen.insert(d.index), "drill {} stored twice", d.index);
    }
}

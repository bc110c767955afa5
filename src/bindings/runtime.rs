//! Time and cancellation for the orchestrator in any JS runtime: `setTimeout`, `Date.now`, and one
//! `Cancel` per call that joins the caller's `AbortSignal` and the `deadlineMs` timer. Requests
//! (`fetch.rs`), waits and host callbacks obey it.
//!
//! Two rules keep a long-lived process flat (thousands of series in one Node server):
//! - Cancellation fans out in Rust, not through JS listeners: the caller's signal gets one
//!   listener per call, and every wait and request registers a Rust callback that is removed on
//!   drop. (Listeners on one shared signal piled up past Node's limit of ten with six requests in
//!   flight, each with a timer race: `MaxListenersExceededWarning`.)
//! - Every `JsFuture` is over a promise that settles: wasm-bindgen's `JsFuture` frees its two
//!   callbacks only when its promise settles (js-sys `futures/mod.rs`: "we're currently assuming
//!   that JS engines will unconditionally invoke precisely one of these callbacks"), so one dropped
//!   while its promise is pending (a cleared timer, a host promise that never settles, a `fetch`
//!   that ignores its signal) kept its closures for ever: 20 per series. Waits are plain Rust
//!   futures woken by a timer; JS promises are awaited through `Settling`, which settles them on drop.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

use js_sys::{Array, Function, Promise, Reflect};
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use web_sys::AbortSignal;

use crate::error::DrillgenError;
use crate::llm::MAX_TIMER_MS;
use crate::orchestrator::Clock;

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_name = setTimeout)]
    fn set_timeout(handler: &Function, ms: f64) -> JsValue;
    #[wasm_bindgen(js_name = clearTimeout)]
    fn clear_timeout(handle: &JsValue);
    #[wasm_bindgen(js_namespace = Promise, js_name = race, catch)]
    fn promise_race(values: &Array) -> Result<Promise, JsValue>;
}

/// A pending `setTimeout`, cleared on drop. Delays are clamped to the timer range: Node turns a
/// larger one into 1 ms.
pub struct Timer {
    handle: JsValue,
    _callback: Closure<dyn FnMut()>,
}

impl Timer {
    pub fn new(ms: u64, callback: impl FnMut() + 'static) -> Self {
        let callback = Closure::<dyn FnMut()>::new(callback);
        let handle = set_timeout(
            callback.as_ref().unchecked_ref(),
            ms.min(MAX_TIMER_MS) as f64,
        );
        Self {
            handle,
            _callback: callback,
        }
    }
}

impl Drop for Timer {
    fn drop(&mut self) {
        clear_timeout(&self.handle);
    }
}

/// Runs `on_abort` when `signal` fires; the listener is removed on drop.
struct AbortLink {
    signal: AbortSignal,
    listener: Closure<dyn FnMut()>,
}

impl AbortLink {
    fn new(signal: &AbortSignal, on_abort: impl FnMut() + 'static) -> Result<Self, JsValue> {
        let listener = Closure::<dyn FnMut()>::new(on_abort);
        signal.add_event_listener_with_callback("abort", listener.as_ref().unchecked_ref())?;
        Ok(Self {
            signal: signal.clone(),
            listener,
        })
    }
}

impl Drop for AbortLink {
    fn drop(&mut self) {
        let _ = self
            .signal
            .remove_event_listener_with_callback("abort", self.listener.as_ref().unchecked_ref());
    }
}

/// A caller's signal read defensively (another realm's, or a look-alike): `aborted`, or false.
fn is_aborted(signal: &AbortSignal) -> bool {
    Reflect::get(signal, &JsValue::from_str("aborted"))
        .ok()
        .and_then(|v| v.as_bool())
        .unwrap_or(false)
}

type Callback = Box<dyn FnOnce()>;

/// Why the call stopped, and who is waiting to hear it.
#[derive(Default)]
struct CancelState {
    reason: RefCell<Option<DrillgenError>>,
    waiting: RefCell<Vec<(u64, Callback)>>,
    next_id: Cell<u64>,
}

impl CancelState {
    /// The first reason wins; every registered callback runs once, outside any borrow (a callback
    /// may register or drop another).
    fn fire(&self, why: DrillgenError) {
        if self.reason.borrow().is_some() {
            return;
        }
        *self.reason.borrow_mut() = Some(why);
        let waiting = std::mem::take(&mut *self.waiting.borrow_mut());
        for (_, callback) in waiting {
            callback();
        }
    }
}

/// The call's own cancellation: fired by the caller's signal or by the deadline, with the reason.
pub struct Cancel {
    state: Rc<CancelState>,
    _link: Option<AbortLink>,
    _deadline: Option<Timer>,
}

impl Cancel {
    pub fn new(
        caller: Option<&AbortSignal>,
        deadline_ms: Option<u64>,
    ) -> Result<Self, DrillgenError> {
        let state = Rc::new(CancelState::default());
        let fire = |why: DrillgenError| {
            let state = state.clone();
            move || state.fire(why.clone())
        };
        let link = match caller {
            Some(signal) if is_aborted(signal) => {
                fire(DrillgenError::Aborted)();
                None
            }
            Some(signal) => Some(
                AbortLink::new(signal, fire(DrillgenError::Aborted)).map_err(|e| {
                    DrillgenError::InvalidOptions(format!(
                        "options.signal: adding an abort listener threw: {}",
                        super::convert::message_of(&e)
                    ))
                })?,
            ),
            None => None,
        };
        let deadline =
            deadline_ms.map(|ms| Timer::new(ms, fire(DrillgenError::DeadlineExceeded { ms })));
        Ok(Self {
            state,
            _link: link,
            _deadline: deadline,
        })
    }

    pub fn handle(&self) -> CancelHandle {
        CancelHandle {
            state: self.state.clone(),
        }
    }
}

/// What requests, waits and callbacks hold of the `Cancel`.
#[derive(Clone)]
pub struct CancelHandle {
    state: Rc<CancelState>,
}

/// A callback registered with `CancelHandle::on_cancel`, unregistered on drop.
pub struct OnCancel {
    state: Rc<CancelState>,
    id: u64,
}

impl Drop for OnCancel {
    fn drop(&mut self) {
        if let Ok(mut waiting) = self.state.waiting.try_borrow_mut() {
            waiting.retain(|(id, _)| *id != self.id);
        }
    }
}

impl CancelHandle {
    pub fn reason(&self) -> Option<DrillgenError> {
        self.state.reason.borrow().clone()
    }

    /// Runs `callback` once when the call stops (at once if it has stopped already).
    pub fn on_cancel(&self, callback: impl FnOnce() + 'static) -> Option<OnCancel> {
        if self.reason().is_some() {
            callback();
            return None;
        }
        let id = self.state.next_id.get();
        self.state.next_id.set(id + 1);
        self.state
            .waiting
            .borrow_mut()
            .push((id, Box::new(callback)));
        Some(OnCancel {
            state: self.state.clone(),
            id,
        })
    }

    /// Waits `ms`; ends early with the reason when the call is cancelled.
    pub async fn sleep(&self, ms: u64) -> Result<(), DrillgenError> {
        if let Some(reason) = self.reason() {
            return Err(reason);
        }
        wait(ms, Some(self))
            .await
            .map_err(|()| self.reason().unwrap_or(DrillgenError::Aborted))
    }
}

/// Waits `ms` whatever happens to the call: for what must not be cut short (a write in flight).
pub async fn delay(ms: u64) {
    let _ = wait(ms, None).await;
}

/// The outcome of a wait, and the task to wake when it comes.
#[derive(Default)]
struct Slot {
    outcome: Option<Result<(), ()>>,
    waker: Option<Waker>,
}

fn settle(slot: &RefCell<Slot>, outcome: Result<(), ()>) {
    let waker = {
        let mut slot = slot.borrow_mut();
        slot.outcome.get_or_insert(outcome);
        slot.waker.take()
    };
    if let Some(waker) = waker {
        waker.wake();
    }
}

/// `Ok` after `ms`, `Err` as soon as `cancel` fires. Dropping it clears the timer and unregisters
/// from the cancellation: nothing outlives the wait.
struct Wait {
    slot: Rc<RefCell<Slot>>,
    _timer: Timer,
    _on_cancel: Option<OnCancel>,
}

fn wait(ms: u64, cancel: Option<&CancelHandle>) -> Wait {
    let slot = Rc::new(RefCell::new(Slot::default()));
    let timer = {
        let slot = slot.clone();
        Timer::new(ms, move || settle(&slot, Ok(())))
    };
    let on_cancel = cancel.and_then(|c| {
        let slot = slot.clone();
        c.on_cancel(move || settle(&slot, Err(())))
    });
    Wait {
        slot,
        _timer: timer,
        _on_cancel: on_cancel,
    }
}

impl Future for Wait {
    type Output = Result<(), ()>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut slot = self.slot.borrow_mut();
        match slot.outcome {
            Some(outcome) => Poll::Ready(outcome),
            None => {
                slot.waker = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }
}

/// A JS value awaited as `await` would (a promise, a thenable, or a plain value), so that its
/// `JsFuture` always finishes: it awaits `Promise.race([value, gate])`, and dropping it resolves
/// `gate`, so the race settles even when `value` never does.
pub struct Settling {
    future: JsFuture,
    release: Option<Function>,
}

impl Settling {
    pub fn new(promise: &JsValue) -> Self {
        let mut release = None;
        let gate = Promise::new(&mut |resolve, _reject| release = Some(resolve));
        // `Promise.race` never throws for an array (a throwing `then` is a rejection); the catch
        // is for a patched global.
        let race =
            promise_race(&Array::of2(promise, &gate)).unwrap_or_else(|e| Promise::reject(&e));
        Self {
            future: JsFuture::from(race),
            release,
        }
    }
}

impl Future for Settling {
    type Output = Result<JsValue, JsValue>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut self.future).poll(cx)
    }
}

impl Drop for Settling {
    fn drop(&mut self) {
        if let Some(release) = self.release.take() {
            let _ = release.call0(&JsValue::UNDEFINED);
        }
    }
}

pub struct JsClock {
    pub cancel: CancelHandle,
}

impl Clock for JsClock {
    fn now_ms(&self) -> f64 {
        js_sys::Date::now()
    }

    async fn sleep(&self, ms: u64) -> Result<(), DrillgenError> {
        self.cancel.sleep(ms).await
    }
}

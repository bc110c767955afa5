//! The outside world for the orchestrator in any JS runtime: the global `fetch` (Node, browsers,
//! web workers, workerd), `setTimeout`, `Date.now` and cancellation. One `Cancel` per call joins
//! the caller's `AbortSignal` and the `deadlineMs` timer into one internal signal that every
//! request, wait and host callback obeys. Timers and listeners are removed on drop (workers-rs'
//! habit), so many attempts on one signal do not pile up listeners (Node warns past ten).

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use futures_util::future::{Either, select};
use js_sys::{Array, Function, Object, Promise, Reflect, Uint8Array};
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use web_sys::{AbortController, AbortSignal, ReadableStreamDefaultReader, Response};

use super::convert::message_of;
use crate::error::DrillgenError;
use crate::llm::{HttpRequest, HttpResponse, MAX_TIMER_MS};
use crate::orchestrator::{Clock, SendLimits, Transport};

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_name = setTimeout)]
    fn set_timeout(handler: &Function, ms: f64) -> JsValue;
    #[wasm_bindgen(js_name = clearTimeout)]
    fn clear_timeout(handle: &JsValue);
    #[wasm_bindgen(js_name = fetch, catch)]
    fn fetch_with(input: &str, init: &JsValue) -> Result<Promise, JsValue>;
}

/// How long after `timeoutMs` the guard around a whole exchange gives up on `fetch` itself.
const FETCH_GRACE_MS: u64 = 1_000;

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
pub struct AbortLink {
    signal: AbortSignal,
    listener: Closure<dyn FnMut()>,
}

impl AbortLink {
    pub fn new(signal: &AbortSignal, on_abort: impl FnMut() + 'static) -> Result<Self, JsValue> {
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
pub fn is_aborted(signal: &AbortSignal) -> bool {
    Reflect::get(signal, &JsValue::from_str("aborted"))
        .ok()
        .and_then(|v| v.as_bool())
        .unwrap_or(false)
}

/// The call's own cancellation: fired by the caller's signal or by the deadline, with the reason.
pub struct Cancel {
    controller: AbortController,
    reason: Rc<RefCell<Option<DrillgenError>>>,
    _link: Option<AbortLink>,
    _deadline: Option<Timer>,
}

impl Cancel {
    pub fn new(
        caller: Option<&AbortSignal>,
        deadline_ms: Option<u64>,
    ) -> Result<Self, DrillgenError> {
        let controller =
            AbortController::new().map_err(|e| DrillgenError::Network(message_of(&e)))?;
        let reason = Rc::new(RefCell::new(None));
        let fire = |why: DrillgenError| {
            let (c, r) = (controller.clone(), reason.clone());
            move || {
                r.borrow_mut().get_or_insert_with(|| why.clone());
                c.abort();
            }
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
                        message_of(&e)
                    ))
                })?,
            ),
            None => None,
        };
        let deadline =
            deadline_ms.map(|ms| Timer::new(ms, fire(DrillgenError::DeadlineExceeded { ms })));
        Ok(Self {
            controller,
            reason,
            _link: link,
            _deadline: deadline,
        })
    }

    pub fn signal(&self) -> AbortSignal {
        self.controller.signal()
    }

    pub fn handle(&self) -> CancelHandle {
        CancelHandle {
            signal: self.signal(),
            reason: self.reason.clone(),
        }
    }
}

/// What requests, waits and callbacks hold of the `Cancel`.
#[derive(Clone)]
pub struct CancelHandle {
    pub signal: AbortSignal,
    reason: Rc<RefCell<Option<DrillgenError>>>,
}

impl CancelHandle {
    pub fn reason(&self) -> Option<DrillgenError> {
        if self.signal.aborted() {
            return Some(
                self.reason
                    .borrow()
                    .clone()
                    .unwrap_or(DrillgenError::Aborted),
            );
        }
        None
    }

    /// Waits `ms`; ends early with the reason when the call is cancelled.
    pub async fn sleep(&self, ms: u64) -> Result<(), DrillgenError> {
        if let Some(reason) = self.reason() {
            return Err(reason);
        }
        wait(ms, Some(&self.signal))
            .await
            .map_err(|()| self.reason().unwrap_or(DrillgenError::Aborted))
    }
}

/// Waits `ms` whatever happens to the call: for what must not be cut short (a write in flight).
pub async fn delay(ms: u64) {
    let _ = wait(ms, None).await;
}

/// Resolves after `ms`, or rejects as soon as `signal` aborts; the timer and the listener are
/// removed either way.
async fn wait(ms: u64, signal: Option<&AbortSignal>) -> Result<(), ()> {
    let mut timer = None;
    let mut link = None;
    let promise = Promise::new(&mut |resolve, reject| {
        timer = Some(Timer::new(ms, move || {
            let _ = resolve.call0(&JsValue::UNDEFINED);
        }));
        link = signal.and_then(|s| {
            AbortLink::new(s, move || {
                let _ = reject.call0(&JsValue::UNDEFINED);
            })
            .ok()
        });
    });
    let outcome = JsFuture::from(promise).await;
    drop((timer, link));
    outcome.map(|_| ()).map_err(|_| ())
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

pub struct FetchTransport {
    pub cancel: CancelHandle,
}

/// Headers read from a response: bounded in count and size (a hostile server could send many).
const MAX_HEADERS: usize = 200;

fn init(request: &HttpRequest, signal: &AbortSignal) -> JsValue {
    let init = Object::new();
    let headers = Array::new();
    for (name, value) in &request.headers {
        headers.push(&Array::of2(
            &JsValue::from_str(name),
            &JsValue::from_str(value),
        ));
    }
    let set = |k: &str, v: &JsValue| {
        let _ = Reflect::set(&init, &JsValue::from_str(k), v);
    };
    set("method", &JsValue::from_str("POST"));
    set("headers", &headers);
    set("body", &JsValue::from_str(&request.body));
    set("signal", signal);
    // Never follow a redirect with the key on it: the 3xx comes back and is refused with a code.
    set("redirect", &JsValue::from_str("manual"));
    init.into()
}

fn headers_of(response: &Response) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let Ok(Some(entries)) = js_sys::try_iter(&response.headers()) else {
        return out;
    };
    for entry in entries.take(MAX_HEADERS).flatten() {
        let pair: Array = entry.unchecked_into();
        if let (Some(k), Some(v)) = (pair.get(0).as_string(), pair.get(1).as_string()) {
            out.push((
                k.to_ascii_lowercase(),
                crate::text::bound(&v, 8192).into_owned(),
            ));
        }
    }
    out
}

/// Reads the body chunk by chunk and stops (cancelling the stream) as soon as it passes the cap,
/// so an endless or huge body never fills memory.
async fn read_capped(response: &Response, max_bytes: u64) -> Result<String, DrillgenError> {
    let Some(stream) = response.body() else {
        return Ok(String::new());
    };
    let reader: ReadableStreamDefaultReader = stream.get_reader().unchecked_into();
    let mut bytes: Vec<u8> = Vec::new();
    loop {
        let chunk = JsFuture::from(reader.read())
            .await
            .map_err(|e| DrillgenError::Network(message_of(&e)))?;
        let done = Reflect::get(&chunk, &JsValue::from_str("done"))
            .ok()
            .and_then(|d| d.as_bool())
            .unwrap_or(true);
        if done {
            break;
        }
        let value = Reflect::get(&chunk, &JsValue::from_str("value")).unwrap_or(JsValue::UNDEFINED);
        let Some(value) = value.dyn_ref::<Uint8Array>() else {
            return Err(DrillgenError::Network(
                "the response body is not bytes".into(),
            ));
        };
        if bytes.len() as u64 + u64::from(value.length()) > max_bytes {
            let _ = reader.cancel();
            return Err(DrillgenError::ResponseTooLarge { limit: max_bytes });
        }
        let start = bytes.len();
        bytes.resize(start + value.length() as usize, 0);
        value.copy_to(&mut bytes[start..]);
    }
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

impl FetchTransport {
    async fn exchange(
        &self,
        request: &HttpRequest,
        limits: SendLimits,
        signal: &AbortSignal,
        began: &dyn Fn(u16),
    ) -> Result<HttpResponse, DrillgenError> {
        let pending = fetch_with(&request.url, &init(request, signal))
            .map_err(|e| DrillgenError::Network(message_of(&e)))?;
        let response: Response = JsFuture::from(pending)
            .await
            .map_err(|e| DrillgenError::Network(message_of(&e)))?
            .unchecked_into();
        if response.type_() == web_sys::ResponseType::Opaqueredirect {
            return Err(DrillgenError::RedirectRefused(
                "the provider answered with a redirect; drillgen does not follow redirects, so credentials never go to another origin: set llm.baseUrl to the final URL".into(),
            ));
        }
        let headers = headers_of(&response);
        let declared = headers
            .iter()
            .find(|(k, _)| k == "content-length")
            .and_then(|(_, v)| v.parse::<u64>().ok());
        if declared.is_some_and(|n| n > limits.max_bytes) {
            return Err(DrillgenError::ResponseTooLarge {
                limit: limits.max_bytes,
            });
        }
        began(response.status());
        let body = read_capped(&response, limits.max_bytes).await?;
        Ok(HttpResponse {
            status: response.status(),
            headers,
            body,
        })
    }
}

impl Transport for FetchTransport {
    async fn send(
        &self,
        request: HttpRequest,
        limits: SendLimits,
        began: &dyn Fn(u16),
    ) -> Result<HttpResponse, DrillgenError> {
        if let Some(reason) = self.cancel.reason() {
            return Err(reason);
        }
        // One controller per attempt: aborted by our timeout or by the call's cancellation.
        let controller =
            AbortController::new().map_err(|e| DrillgenError::Network(message_of(&e)))?;
        let timed_out = Rc::new(Cell::new(false));
        let _timer = {
            let (c, t) = (controller.clone(), timed_out.clone());
            Timer::new(limits.timeout_ms, move || {
                t.set(true);
                c.abort();
            })
        };
        let _link = {
            let c = controller.clone();
            AbortLink::new(&self.cancel.signal, move || c.abort()).ok()
        };
        let signal = controller.signal();
        let exchange = self.exchange(&request, limits, &signal, began);
        // A `fetch` that ignores its signal (a patched or polyfilled global) must end too: the same
        // limits race the whole exchange, a moment later so an obedient fetch reports first.
        let guard = self
            .cancel
            .sleep(limits.timeout_ms.saturating_add(FETCH_GRACE_MS));
        let outcome = match select(Box::pin(exchange), Box::pin(guard)).await {
            Either::Left((outcome, _)) => outcome,
            Either::Right((stopped, _)) => {
                controller.abort();
                timed_out.set(stopped.is_ok());
                Err(stopped.err().unwrap_or(DrillgenError::Timeout {
                    ms: limits.timeout_ms,
                }))
            }
        };
        match outcome {
            Ok(response) => Ok(response),
            Err(
                e @ (DrillgenError::ResponseTooLarge { .. } | DrillgenError::RedirectRefused(_)),
            ) => {
                controller.abort();
                Err(e)
            }
            Err(e) => Err(if let Some(reason) = self.cancel.reason() {
                reason
            } else if timed_out.get() {
                DrillgenError::Timeout {
                    ms: limits.timeout_ms,
                }
            } else {
                e
            }),
        }
    }
}

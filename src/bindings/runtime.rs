//! The outside world for the orchestrator in any JS runtime: `fetch` (through gloo-net, which binds
//! it as a global, so it works in Node, browsers, web workers and workerd), `setTimeout`, `Date.now`
//! and the caller's `AbortSignal`. Nothing here touches `window`.

use std::cell::Cell;
use std::rc::Rc;

use gloo_net::http::RequestBuilder;
use js_sys::{Function, Promise, Reflect, Uint8Array};
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use web_sys::{AbortController, AbortSignal, ReadableStream, ReadableStreamDefaultReader};

use crate::error::DrillgenError;
use crate::llm::{HttpRequest, HttpResponse};
use crate::orchestrator::{Clock, Transport};

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_name = setTimeout)]
    fn set_timeout(handler: &Function, ms: f64) -> JsValue;
    #[wasm_bindgen(js_name = clearTimeout)]
    fn clear_timeout(handle: &JsValue);
}

/// Runs `on_abort` when `signal` fires; the listener is removed on drop, so many attempts and
/// sleeps on one signal do not pile up listeners (Node warns past ten).
struct AbortLink {
    signal: AbortSignal,
    listener: Closure<dyn FnMut()>,
}

impl AbortLink {
    fn new(signal: &AbortSignal, on_abort: impl FnMut() + 'static) -> Self {
        let listener = Closure::<dyn FnMut()>::new(on_abort);
        let _ = signal.add_event_listener_with_callback("abort", listener.as_ref().unchecked_ref());
        Self {
            signal: signal.clone(),
            listener,
        }
    }
}

impl Drop for AbortLink {
    fn drop(&mut self) {
        let _ = self
            .signal
            .remove_event_listener_with_callback("abort", self.listener.as_ref().unchecked_ref());
    }
}

/// A pending `setTimeout`, cleared on drop.
struct Timer {
    handle: JsValue,
    _callback: Closure<dyn FnMut()>,
}

impl Timer {
    fn new(ms: f64, callback: impl FnMut() + 'static) -> Self {
        let callback = Closure::<dyn FnMut()>::new(callback);
        let handle = set_timeout(callback.as_ref().unchecked_ref(), ms);
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

pub(super) fn message_of(value: &JsValue) -> String {
    Reflect::get(value, &JsValue::from_str("message"))
        .ok()
        .and_then(|m| m.as_string())
        .or_else(|| value.as_string())
        .unwrap_or_else(|| format!("{value:?}"))
}

pub struct FetchTransport {
    pub signal: Option<AbortSignal>,
}

impl FetchTransport {
    fn caller_aborted(&self) -> bool {
        self.signal.as_ref().is_some_and(AbortSignal::aborted)
    }

    async fn attempt(
        &self,
        request: &HttpRequest,
        max_bytes: u64,
        controller: &AbortController,
    ) -> Result<HttpResponse, JsValue> {
        let mut builder = RequestBuilder::new(&request.url).method(gloo_net::http::Method::POST);
        for (name, value) in &request.headers {
            builder = builder.header(name, value);
        }
        let response = builder
            .abort_signal(Some(&controller.signal()))
            .body(request.body.as_str())
            .map_err(|e| JsValue::from_str(&e.to_string()))?
            .send()
            .await
            .map_err(|e| JsValue::from_str(&e.to_string()))?;
        let headers: Vec<(String, String)> = response
            .headers()
            .entries()
            .map(|(k, v)| (k.to_ascii_lowercase(), v))
            .collect();
        let declared = headers
            .iter()
            .find(|(k, _)| k == "content-length")
            .and_then(|(_, v)| v.parse::<u64>().ok());
        if declared.is_some_and(|n| n > max_bytes) {
            controller.abort();
            return Err(too_large(max_bytes));
        }
        let body = match response.body() {
            Some(stream) => read_capped(&stream, max_bytes).await?,
            None => String::new(),
        };
        Ok(HttpResponse {
            status: response.status(),
            headers,
            body,
        })
    }
}

fn too_large(limit: u64) -> JsValue {
    let marker = js_sys::Object::new();
    let _ = Reflect::set(
        &marker,
        &JsValue::from_str("tooLarge"),
        &JsValue::from_f64(limit as f64),
    );
    marker.into()
}

/// Reads the body chunk by chunk and stops (cancelling the stream) as soon as it passes the cap,
/// so an endless or huge body never fills memory.
async fn read_capped(stream: &ReadableStream, max_bytes: u64) -> Result<String, JsValue> {
    let reader: ReadableStreamDefaultReader = stream.get_reader().unchecked_into();
    let mut bytes: Vec<u8> = Vec::new();
    loop {
        let chunk = JsFuture::from(reader.read()).await?;
        if Reflect::get(&chunk, &JsValue::from_str("done"))?
            .as_bool()
            .unwrap_or(true)
        {
            break;
        }
        let value: Uint8Array = Reflect::get(&chunk, &JsValue::from_str("value"))?.unchecked_into();
        if bytes.len() as u64 + u64::from(value.length()) > max_bytes {
            let _ = reader.cancel();
            return Err(too_large(max_bytes));
        }
        let start = bytes.len();
        bytes.resize(start + value.length() as usize, 0);
        value.copy_to(&mut bytes[start..]);
    }
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

impl Transport for FetchTransport {
    async fn send(
        &self,
        request: HttpRequest,
        timeout_ms: u64,
        max_bytes: u64,
    ) -> Result<HttpResponse, DrillgenError> {
        if self.caller_aborted() {
            return Err(DrillgenError::Aborted);
        }
        // One controller per attempt: aborted by our timeout or by the caller's signal.
        let controller =
            AbortController::new().map_err(|e| DrillgenError::Network(message_of(&e)))?;
        let timed_out = Rc::new(Cell::new(false));
        let _timer = {
            let (c, t) = (controller.clone(), timed_out.clone());
            Timer::new(timeout_ms as f64, move || {
                t.set(true);
                c.abort();
            })
        };
        let _link = self.signal.as_ref().map(|s| {
            let c = controller.clone();
            AbortLink::new(s, move || c.abort())
        });
        match self.attempt(&request, max_bytes, &controller).await {
            Ok(response) => Ok(response),
            Err(e) => {
                if let Some(limit) = Reflect::get(&e, &JsValue::from_str("tooLarge"))
                    .ok()
                    .and_then(|v| v.as_f64())
                {
                    Err(DrillgenError::ResponseTooLarge {
                        limit: limit as u64,
                    })
                } else if self.caller_aborted() {
                    Err(DrillgenError::Aborted)
                } else if timed_out.get() {
                    Err(DrillgenError::Timeout { ms: timeout_ms })
                } else {
                    Err(DrillgenError::Network(message_of(&e)))
                }
            }
        }
    }
}

pub struct JsClock {
    pub signal: Option<AbortSignal>,
}

impl Clock for JsClock {
    fn now_ms(&self) -> f64 {
        js_sys::Date::now()
    }

    async fn sleep(&self, ms: u64) -> Result<(), DrillgenError> {
        if self.signal.as_ref().is_some_and(AbortSignal::aborted) {
            return Err(DrillgenError::Aborted);
        }
        let mut timer = None;
        let mut link = None;
        let promise = Promise::new(&mut |resolve, reject| {
            timer = Some(Timer::new(ms as f64, move || {
                let _ = resolve.call0(&JsValue::UNDEFINED);
            }));
            link = self.signal.as_ref().map(|s| {
                AbortLink::new(s, move || {
                    let _ = reject.call0(&JsValue::UNDEFINED);
                })
            });
        });
        let outcome = JsFuture::from(promise).await;
        drop((timer, link));
        outcome.map(|_| ()).map_err(|_| DrillgenError::Aborted)
    }
}

//! The orchestrator's `Transport`. gloo-net's `RequestBuilder` builds every LLM request (POST,
//! headers, body, `redirect: "manual"`, this attempt's `AbortSignal`) into a standard `Request`,
//! which goes to the global `fetch` (browsers, web workers, Node 20+, workerd), as gloo-net's own
//! `send` does.
//!
//! Ours, where gloo-net cannot serve without breaking "every promise settles" (a panic aborts the
//! module under `panic = "abort"`, and a JS throw through wasm leaves the task's state borrowed):
//! - the call to `fetch`: `Request::send` panics when `fetch` rejects with something that is not an
//!   `Error` (`unreachable!` in its error conversion) or resolves to something that is not a
//!   `Response` of this realm (`panic!`) — an npm undici's `Response` is one. We call the same
//!   global through a catching binding;
//! - reading the answer: gloo-net's `Response` and `Headers` accessors are non-catching bindings
//!   and `unwrap_throw` on a header that is not a string, so an answer from a patched or foreign
//!   `fetch` could throw through wasm. We read `status`, `type`, `headers` and `body` once each with
//!   catching reads, accept any answer shaped like a `Response`, and read the body with a byte cap
//!   while it streams (gloo-net reads whole bodies);
//! - the URL, parsed by the platform's `URL` before gloo-net builds the `Request`: gloo-net turns
//!   a constructor's throw into a panic when the error is from another realm (a test runner's);
//! - the race of the whole exchange against the call's limits, for a `fetch` that ignores its
//!   signal, and one `AbortController` per attempt linked to the call's cancellation in Rust
//!   (`runtime.rs`), so nothing piles up on a shared signal.

use std::cell::Cell;
use std::rc::Rc;

use futures_util::future::{Either, select};
use gloo_net::http::{Method, RequestBuilder};
use js_sys::{Function, Promise, Reflect, Uint8Array};
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;
use web_sys::{AbortController, AbortSignal, RequestRedirect};

use super::convert::message_of;
use super::runtime::{CancelHandle, Settling, Timer};
use crate::error::DrillgenError;
use crate::llm::{HttpRequest, HttpResponse};
use crate::orchestrator::{FETCH_GRACE_MS, SendLimits, Transport, Watch};

#[wasm_bindgen]
extern "C" {
    /// The global `fetch`, as gloo-net binds it, but catching: a patched global may throw.
    #[wasm_bindgen(js_name = fetch, catch)]
    fn fetch_request(request: &web_sys::Request) -> Result<Promise, JsValue>;
}

/// Headers read from a response: bounded in count and size (a hostile server could send many).
const MAX_HEADERS: usize = 200;

fn network(e: &JsValue) -> DrillgenError {
    DrillgenError::Network(message_of(e))
}

/// The request as gloo-net builds it. Header names and values were checked when the options
/// were read (RFC 9110 tokens, printable ASCII), so gloo-net's `Headers::append` cannot throw.
fn build(request: &HttpRequest, signal: &AbortSignal) -> Result<web_sys::Request, DrillgenError> {
    web_sys::Url::new(&request.url).map_err(|e| network(&e))?;
    let mut builder = RequestBuilder::new(&request.url)
        .method(Method::POST)
        // Never follow a redirect with the key on it: the 3xx comes back and is refused with a code.
        .redirect(RequestRedirect::Manual)
        .abort_signal(Some(signal));
    for (name, value) in &request.headers {
        builder = builder.header(name, value);
    }
    builder
        .body(request.body.as_str())
        .map(web_sys::Request::from)
        .map_err(|e| DrillgenError::Network(e.to_string()))
}

/// A property of a value from the host's `fetch`, read once with a catching `Reflect.get`.
fn prop(target: &JsValue, name: &str) -> Result<JsValue, DrillgenError> {
    Reflect::get(target, &JsValue::from_str(name)).map_err(|e| network(&e))
}

/// Calls `target[name]()` with a catching read and call.
fn call(target: &JsValue, name: &str) -> Result<JsValue, DrillgenError> {
    let Ok(method) = prop(target, name)?.dyn_into::<Function>() else {
        return Err(DrillgenError::Network(format!(
            "the response has no {name}()"
        )));
    };
    method.call0(target).map_err(|e| network(&e))
}

/// What the answer said, read once: a status, whether it is an opaque redirect, its headers and
/// its body stream (or `null`).
struct Answer {
    status: u16,
    opaque_redirect: bool,
    headers: Vec<(String, String)>,
    body: JsValue,
}

/// Sends through the global `fetch`; a throw, a rejection with any value, or an answer that is
/// not shaped like a `Response` is a `NETWORK_ERROR`.
async fn send_request(request: &web_sys::Request) -> Result<Answer, DrillgenError> {
    let pending = fetch_request(request).map_err(|e| network(&e))?;
    let answer = Settling::new(&pending).await.map_err(|e| network(&e))?;
    let not_a_response =
        || DrillgenError::Network("fetch resolved to something other than a Response".into());
    if !answer.is_object() {
        return Err(not_a_response());
    }
    let status = prop(&answer, "status")?
        .as_f64()
        .filter(|s| s.fract() == 0.0 && (0.0..=999.0).contains(s))
        .ok_or_else(not_a_response)?;
    Ok(Answer {
        status: status as u16,
        opaque_redirect: prop(&answer, "type")?.as_string().as_deref() == Some("opaqueredirect"),
        headers: headers_of(&prop(&answer, "headers")?)?,
        body: prop(&answer, "body")?,
    })
}

/// The headers as lower-case names and bounded values, from anything iterable as `[name, value]`
/// pairs (a `Headers` of any realm); bounded in count (a hostile server could send many).
fn headers_of(headers: &JsValue) -> Result<Vec<(String, String)>, DrillgenError> {
    let unreadable = || DrillgenError::Network("the response's headers cannot be read".into());
    if !headers.is_object() {
        return Err(unreadable());
    }
    let entries = match js_sys::try_iter(headers) {
        Ok(Some(entries)) => entries,
        Ok(None) => return Err(unreadable()),
        Err(e) => return Err(network(&e)),
    };
    let mut out = Vec::new();
    for entry in entries.take(MAX_HEADERS) {
        let entry = entry.map_err(|e| network(&e))?;
        let part = |i| Reflect::get_u32(&entry, i).ok().and_then(|v| v.as_string());
        if let (Some(k), Some(v)) = (part(0), part(1)) {
            out.push((
                k.to_ascii_lowercase(),
                crate::text::bound(&v, 8192).into_owned(),
            ));
        }
    }
    Ok(out)
}

/// Reads the body chunk by chunk and stops (cancelling the stream) as soon as it passes the cap,
/// so an endless or huge body never fills memory.
async fn read_capped(
    body: &JsValue,
    max_bytes: u64,
    watch: &dyn Watch,
) -> Result<String, DrillgenError> {
    if body.is_null() || body.is_undefined() {
        return Ok(String::new());
    }
    let reader = call(body, "getReader")?;
    let mut bytes: Vec<u8> = Vec::new();
    loop {
        let pending = call(&reader, "read")?;
        let chunk = Settling::new(&pending).await.map_err(|e| network(&e))?;
        let done = prop(&chunk, "done")?.as_bool().unwrap_or(true);
        if done {
            break;
        }
        let value = prop(&chunk, "value")?;
        let Some(value) = value.dyn_ref::<Uint8Array>() else {
            return Err(DrillgenError::Network(
                "the response body is not bytes".into(),
            ));
        };
        if bytes.len() as u64 + u64::from(value.length()) > max_bytes {
            let _ = call(&reader, "cancel");
            return Err(DrillgenError::ResponseTooLarge { limit: max_bytes });
        }
        let start = bytes.len();
        bytes.resize(start + value.length() as usize, 0);
        value.copy_to(&mut bytes[start..]);
        if let Err(e) = watch.chunk(&bytes[start..]) {
            let _ = call(&reader, "cancel");
            return Err(e);
        }
    }
    // Moved, not copied, when valid UTF-8 (a body can be tens of MiB).
    Ok(String::from_utf8(bytes)
        .unwrap_or_else(|invalid| String::from_utf8_lossy(invalid.as_bytes()).into_owned()))
}

/// One request and its whole answer, under `signal`.
async fn exchange(
    request: &HttpRequest,
    limits: SendLimits,
    signal: &AbortSignal,
    watch: &dyn Watch,
) -> Result<HttpResponse, DrillgenError> {
    let answer = send_request(&build(request, signal)?).await?;
    if answer.opaque_redirect {
        return Err(DrillgenError::RedirectRefused(
            "the provider answered with a redirect; drillgen does not follow redirects, so credentials never go to another origin: set llm.baseUrl to the final URL".into(),
        ));
    }
    let declared = answer
        .headers
        .iter()
        .find(|(k, _)| k == "content-length")
        .and_then(|(_, v)| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limits.max_bytes) {
        return Err(DrillgenError::ResponseTooLarge {
            limit: limits.max_bytes,
        });
    }
    watch.began(answer.status);
    let body = read_capped(&answer.body, limits.max_bytes, watch).await?;
    Ok(HttpResponse {
        status: answer.status,
        headers: answer.headers,
        body,
    })
}

pub struct FetchTransport {
    pub cancel: CancelHandle,
}

impl Transport for FetchTransport {
    async fn send(
        &self,
        request: HttpRequest,
        limits: SendLimits,
        watch: &dyn Watch,
    ) -> Result<HttpResponse, DrillgenError> {
        if let Some(reason) = self.cancel.reason() {
            return Err(reason);
        }
        // One controller per attempt: aborted by our timeout or by the call's cancellation.
        let controller = AbortController::new().map_err(|e| network(&e))?;
        let timed_out = Rc::new(Cell::new(false));
        let _timer = {
            let (c, t) = (controller.clone(), timed_out.clone());
            Timer::new(limits.timeout_ms, move || {
                t.set(true);
                c.abort();
            })
        };
        let _on_cancel = {
            let c = controller.clone();
            self.cancel.on_cancel(move || c.abort())
        };
        let signal = controller.signal();
        let exchange = exchange(&request, limits, &signal, watch);
        // A `fetch` that ignores its signal (a patched or polyfilled global) must end too: the same
        // limits race the whole exchange, a moment later so an obedient fetch reports first.
        let guard = self
            .cancel
            .sleep(limits.timeout_ms.saturating_add(FETCH_GRACE_MS));
        let outcome = match select(Box::pin(exchange), Box::pin(guard)).await {
            Either::Left((outcome, _)) => outcome,
            Either::Right((stopped, _)) => {
                timed_out.set(stopped.is_ok());
                Err(stopped.err().unwrap_or(DrillgenError::Timeout {
                    ms: limits.timeout_ms,
                }))
            }
        };
        self.classify(outcome, &controller, &timed_out, limits)
    }
}

impl FetchTransport {
    /// An exchange that ended early aborts its request (the server stops writing); a failure
    /// while stopping or after our timer fired says so, whatever `fetch` reported.
    fn classify(
        &self,
        outcome: Result<HttpResponse, DrillgenError>,
        controller: &AbortController,
        timed_out: &Cell<bool>,
        limits: SendLimits,
    ) -> Result<HttpResponse, DrillgenError> {
        let error = match outcome {
            Ok(response) => return Ok(response),
            Err(e) => e,
        };
        controller.abort();
        if matches!(
            error,
            DrillgenError::ResponseTooLarge { .. } | DrillgenError::RedirectRefused(_)
        ) {
            return Err(error);
        }
        Err(if let Some(reason) = self.cancel.reason() {
            reason
        } else if timed_out.get() {
            DrillgenError::Timeout {
                ms: limits.timeout_ms,
            }
        } else {
            error
        })
    }
}

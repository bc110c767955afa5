//! The orchestrator's `Transport` on gloo-net: `gloo_net::http::RequestBuilder` builds every LLM
//! request (POST, headers, body, `redirect: "manual"`, this attempt's `AbortSignal`) and
//! `gloo_net::http::Response` reads the answer (status, headers, `type_()` for an opaque
//! redirect, `body()` for the capped read). gloo-net binds the global `fetch`, so the same code
//! runs in browsers, web workers, Node 20+ and workerd.
//!
//! Ours, where gloo-net has no equivalent:
//! - the call to `fetch` itself (`send_request`): gloo-net's `Request::send` panics when `fetch`
//!   rejects with something that is not an `Error` (`unreachable!` in its error conversion) or
//!   resolves to something that is not a `Response` (`panic!`), and under `panic = "abort"` a panic
//!   kills the module for every later call. A patched or polyfilled global `fetch` can do both, so
//!   we call the same global through a catching binding and check the answer is a `Response`;
//! - the body read with a byte cap while it streams (gloo-net reads whole bodies);
//! - the race of the whole exchange against the call's limits, for a `fetch` that ignores its
//!   signal;
//! - one `AbortController` per attempt, linked to the call's cancellation in Rust (`runtime.rs`),
//!   so nothing piles up on a shared signal.

use std::cell::Cell;
use std::rc::Rc;

use futures_util::future::{Either, select};
use gloo_net::http::{Method, RequestBuilder, Response};
use js_sys::{Promise, Reflect, Uint8Array};
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;
use web_sys::{AbortController, AbortSignal, ReadableStreamDefaultReader, RequestRedirect};

use super::convert::message_of;
use super::runtime::{CancelHandle, Settling, Timer};
use crate::error::DrillgenError;
use crate::llm::{HttpRequest, HttpResponse};
use crate::orchestrator::{SendLimits, Transport};

#[wasm_bindgen]
extern "C" {
    /// The global `fetch`, as gloo-net binds it, but catching: a patched global may throw.
    #[wasm_bindgen(js_name = fetch, catch)]
    fn fetch_request(request: &web_sys::Request) -> Result<Promise, JsValue>;
}

/// How long after `timeoutMs` the guard around a whole exchange gives up on `fetch` itself.
const FETCH_GRACE_MS: u64 = 1_000;

/// Headers read from a response: bounded in count and size (a hostile server could send many).
const MAX_HEADERS: usize = 200;

fn network(e: &JsValue) -> DrillgenError {
    DrillgenError::Network(message_of(e))
}

/// The request as gloo-net builds it. Header names and values were checked when the options
/// were read (RFC 9110 tokens, printable ASCII), so gloo-net's `Headers::append` cannot throw.
fn build(request: &HttpRequest, signal: &AbortSignal) -> Result<web_sys::Request, DrillgenError> {
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

/// Sends through the global `fetch`; a throw, a rejection with any value, or an answer that is
/// not a `Response` is a `NETWORK_ERROR`.
async fn send_request(request: &web_sys::Request) -> Result<Response, DrillgenError> {
    let pending = fetch_request(request).map_err(|e| network(&e))?;
    let answer = Settling::new(&pending).await.map_err(|e| network(&e))?;
    let Ok(raw) = answer.dyn_into::<web_sys::Response>() else {
        return Err(DrillgenError::Network(
            "fetch resolved to something other than a Response".into(),
        ));
    };
    // A `Response` subclass could return anything from `headers`, and gloo-net reads it as `Headers`.
    if !raw.headers().is_instance_of::<web_sys::Headers>() {
        return Err(DrillgenError::Network(
            "the response's headers are not a Headers object".into(),
        ));
    }
    Ok(Response::from(raw))
}

fn headers_of(response: &Response) -> Vec<(String, String)> {
    response
        .headers()
        .entries()
        .take(MAX_HEADERS)
        .map(|(k, v)| {
            (
                k.to_ascii_lowercase(),
                crate::text::bound(&v, 8192).into_owned(),
            )
        })
        .collect()
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
        let chunk = Settling::new(&reader.read())
            .await
            .map_err(|e| network(&e))?;
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

/// One request and its whole answer, under `signal`.
async fn exchange(
    request: &HttpRequest,
    limits: SendLimits,
    signal: &AbortSignal,
    began: &dyn Fn(u16),
) -> Result<HttpResponse, DrillgenError> {
    let response = send_request(&build(request, signal)?).await?;
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

pub struct FetchTransport {
    pub cancel: CancelHandle,
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
        let exchange = exchange(&request, limits, &signal, began);
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

//! The host's JS callbacks behind the orchestrator's `Host` trait, under one contract:
//! - whatever a callback returns is awaited as `await` would (a lazy thenable such as Prisma's
//!   `PrismaPromise` is started and awaited, a promise from another realm too), never by calling
//!   the host's `then` from wasm (a throwing `then` is a rejection, not an escaping exception);
//! - every call is bounded by `hostTimeoutMs` and by the call's cancellation: a callback that
//!   never settles is an error the run handles (a retried, then failed `persist`), not a hang.
//!   A `persist` in flight gets a short grace after an abort (not the deadline), so drills it stores
//!   are not also handed back as unpersisted (one that lands later still can be: hosts upsert);
//! - nothing a callback throws, rejects with or returns escapes as an exception: throwing getters,
//!   Proxies, non-`Error` throws all become messages;
//! - `onProgress` is never waited for between events (the run does not wait on a UI), but the
//!   promises it returns are settled (or timed out) before the run resolves.

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;

use futures_util::future::{Either, select};
use js_sys::{Function, Promise, Reflect};
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;
use web_sys::AbortSignal;

use super::convert::{from_js, message_of, to_js};
use super::runtime::{CancelHandle, Settling, delay};
use crate::drill::Drill;
use crate::error::DrillgenError;
use crate::input::Argument;
use crate::merge::Artifact;
use crate::orchestrator::govern::SharedGovernor;
use crate::orchestrator::{BatchInfo, DrillProgressEvent, Host};
use crate::text::Redactor;

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_namespace = Promise, js_name = all, catch)]
    fn promise_all(values: &js_sys::Array) -> Result<Promise, JsValue>;
}

thread_local! {
    /// One shared no-op rejection handler (a closure per event would leak one each time).
    static IGNORE: Closure<dyn FnMut(JsValue)> = Closure::new(|_: JsValue| {});
}

/// `value` as a promise of our own, `new Promise(r => r(value))`. Not `Promise.resolve`: that
/// hands a native promise back as it is, and its own `then` (the host's, possibly throwing) would
/// then be called synchronously from wasm. Resolving adopts a thenable in a later job, where a
/// throwing `then` or `then` getter becomes a rejection.
fn adopt(value: &JsValue) -> Promise {
    Promise::new(&mut |resolve, _reject| {
        // `resolve` never throws: it catches what reading `then` throws and rejects.
        let _ = resolve.call1(&JsValue::UNDEFINED, value);
    })
}

/// What a call does when the run is cancelled mid-call.
#[derive(Clone, Copy, PartialEq, Eq)]
enum OnCancel {
    /// Stop waiting at once (`load`, `verify`: their results no longer matter).
    Abandon,
    /// At an abort, wait `STOP_GRACE_MS` more, within the call's `hostTimeoutMs`: a `persist` in
    /// flight usually lands in milliseconds, and abandoning it would hand back as unpersisted drills
    /// it then stores. Not at the deadline, which bounds the whole call (a late store is a
    /// duplicate, harmless: persistence is idempotent by `drillId`).
    Grace,
}

/// How long a `persist` in flight may still finish after an abort.
const STOP_GRACE_MS: u64 = 2_000;

/// The option keys that hold the host's callbacks and signal rather than data.
pub const HOST_KEYS: [&str; 6] = [
    "persist",
    "load",
    "onProgress",
    "verify",
    "signal",
    "rateGovernor",
];

/// The callbacks and the signal, read once, defensively.
pub struct Callbacks {
    pub persist: Option<Function>,
    pub load: Option<Function>,
    pub on_progress: Option<Function>,
    pub verify: Option<Function>,
    pub signal: Option<AbortSignal>,
    pub governor: Option<SharedGovernor>,
}

fn read(options: &JsValue, name: &str) -> Result<JsValue, DrillgenError> {
    Reflect::get(options, &JsValue::from_str(name)).map_err(|e| {
        DrillgenError::InvalidOptions(format!(
            "options.{name}: reading it threw: {}",
            message_of(&e)
        ))
    })
}

fn function(
    options: &JsValue,
    name: &str,
    required: bool,
) -> Result<Option<Function>, DrillgenError> {
    let value = read(options, name)?;
    if value.is_undefined() || value.is_null() {
        return if required {
            Err(DrillgenError::InvalidOptions(format!(
                "options.{name} is required (a function)"
            )))
        } else {
            Ok(None)
        };
    }
    // `typeof`, never `instanceof`: the latter runs a Proxy's traps and throws on a revoked one.
    if !value.is_function() {
        return Err(DrillgenError::InvalidOptions(format!(
            "options.{name} must be a function"
        )));
    }
    Ok(Some(value.unchecked_into()))
}

impl Callbacks {
    pub fn read(options: &JsValue, persist_required: bool) -> Result<Self, DrillgenError> {
        let array = super::convert::is_array(options).map_err(|e| {
            DrillgenError::InvalidOptions(format!("options: reading it threw: {}", message_of(&e)))
        })?;
        if !options.is_object() || array {
            return Err(DrillgenError::InvalidOptions(
                "options must be an object".into(),
            ));
        }
        let signal = read(options, "signal")?;
        let signal = if signal.is_undefined() || signal.is_null() {
            None
        } else {
            // Duck-typed: a signal from another realm fails `instanceof` but works.
            let listens = Reflect::get(&signal, &JsValue::from_str("addEventListener"))
                .is_ok_and(|f| f.is_function());
            let flag = Reflect::get(&signal, &JsValue::from_str("aborted"))
                .is_ok_and(|a| a.as_bool().is_some());
            if !(signal.is_object() && listens && flag) {
                return Err(DrillgenError::InvalidOptions(
                    "options.signal must be an AbortSignal".into(),
                ));
            }
            Some(signal.unchecked_into())
        };
        Ok(Self {
            persist: function(options, "persist", persist_required)?,
            load: function(options, "load", false)?,
            on_progress: function(options, "onProgress", false)?,
            verify: function(options, "verify", false)?,
            signal,
            governor: super::rate::governor_of(options)?,
        })
    }
}

pub struct JsHost {
    pub callbacks: Callbacks,
    pub cancel: CancelHandle,
    pub timeout_ms: u64,
    pub redactor: Redactor,
    /// Promises `onProgress` returned, each with a rejection handler already attached.
    pending: RefCell<Vec<Promise>>,
}

impl JsHost {
    pub fn new(
        callbacks: Callbacks,
        cancel: CancelHandle,
        timeout_ms: u64,
        redactor: Redactor,
    ) -> Self {
        Self {
            callbacks,
            cancel,
            timeout_ms,
            redactor,
            pending: RefCell::new(Vec::new()),
        }
    }

    /// Calls `f`, then waits for what it returned as `await` would, at most `timeout_ms` and,
    /// unless `on_cancel` says otherwise, never past the call's cancellation.
    async fn call(
        &self,
        name: &str,
        f: &Function,
        args: &[JsValue],
        on_cancel: OnCancel,
    ) -> Result<JsValue, String> {
        let returned = match args {
            [] => f.call0(&JsValue::UNDEFINED),
            [a] => f.call1(&JsValue::UNDEFINED, a),
            [a, b, ..] => f.call2(&JsValue::UNDEFINED, a, b),
        }
        .map_err(|e| format!("{name}() threw: {}", message_of(&e)))?;
        let settled = Settling::new(&adopt(&returned));
        let limit: Pin<Box<dyn Future<Output = Result<(), DrillgenError>>>> = match on_cancel {
            OnCancel::Abandon => Box::pin(self.cancel.sleep(self.timeout_ms)),
            OnCancel::Grace => Box::pin(async {
                let started = js_sys::Date::now();
                let stopped = self.cancel.sleep(self.timeout_ms).await;
                // An abort only: when the stop is the deadline, the call ends at it. (A deadline
                // falling inside an abort's grace does not cut it: the run is already stopping.)
                if let Err(DrillgenError::Aborted) = stopped {
                    let spent = (js_sys::Date::now() - started).max(0.0) as u64;
                    delay(STOP_GRACE_MS.min(self.timeout_ms.saturating_sub(spent))).await;
                }
                stopped
            }),
        };
        match select(settled, limit).await {
            Either::Left((Ok(value), _)) => Ok(value),
            Either::Left((Err(e), _)) => Err(format!("{name}() rejected: {}", message_of(&e))),
            Either::Right((Ok(()), _)) => Err(format!(
                "{name}() did not settle within {} ms (hostTimeoutMs)",
                self.timeout_ms
            )),
            Either::Right((Err(reason), _)) => Err(format!("{name}() was cut short: {reason}")),
        }
    }
}

impl Host for JsHost {
    async fn persist(&self, drills: &[Drill], batch: &BatchInfo) -> Result<(), String> {
        let Some(f) = &self.callbacks.persist else {
            return Ok(());
        };
        // Drills go to storage as the model wrote them (it never saw a credential).
        let drills = to_js(drills, &Redactor::default()).map_err(|e| message_of(&e))?;
        let batch = to_js(batch, &self.redactor).map_err(|e| message_of(&e))?;
        self.call("persist", f, &[drills, batch], OnCancel::Grace)
            .await
            .map(|_| ())
    }

    fn stores(&self) -> bool {
        self.callbacks.persist.is_some()
    }

    async fn load(&self) -> Option<Result<Vec<Drill>, String>> {
        let f = self.callbacks.load.as_ref()?;
        Some(match self.call("load", f, &[], OnCancel::Abandon).await {
            Ok(value) => from_js::<Vec<Drill>>(Argument::Drills, &value)
                .map_err(|e| format!("load() returned {e}")),
            Err(e) => Err(e),
        })
    }

    fn progress(&self, event: &DrillProgressEvent) {
        let Some(f) = &self.callbacks.on_progress else {
            return;
        };
        let Ok(event) = to_js(event, &self.redactor) else {
            return;
        };
        // A throwing or rejecting onProgress must never break the run.
        let Ok(returned) = f.call1(&JsValue::UNDEFINED, &event) else {
            return;
        };
        if !(returned.is_object() || returned.is_function()) {
            return;
        }
        let handled = IGNORE.with(|ignore| adopt(&returned).catch(ignore));
        self.pending.borrow_mut().push(handled);
    }

    async fn verify(&self, artifact: &Artifact) -> Option<Result<serde_json::Value, String>> {
        let f = self.callbacks.verify.as_ref()?;
        let artifact = match to_js(artifact, &self.redactor) {
            Ok(a) => a,
            Err(e) => return Some(Err(message_of(&e))),
        };
        Some(
            match self.call("verify", f, &[artifact], OnCancel::Abandon).await {
                Ok(v) if v.is_undefined() => Ok(serde_json::Value::Null),
                Ok(v) => super::convert::snapshot(Argument::Artifact, &v, &[])
                    .map_err(|e| format!("verify() returned {e}")),
                Err(e) => Err(e),
            },
        )
    }

    fn stop_reason(&self) -> Option<DrillgenError> {
        self.cancel.reason()
    }

    fn governor(&self) -> Option<&SharedGovernor> {
        self.callbacks.governor.as_ref()
    }

    async fn settle(&self) {
        let pending: js_sys::Array = self.pending.borrow_mut().drain(..).collect();
        if pending.length() == 0 {
            return;
        }
        let Ok(all) = promise_all(&pending) else {
            return;
        };
        let limit = self.cancel.sleep(self.timeout_ms);
        let _ = select(Settling::new(&all), Box::pin(limit)).await;
    }
}

//! The host's JS callbacks behind the orchestrator's `Host` trait.

use js_sys::{Function, Promise, Reflect};
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use web_sys::AbortSignal;

use super::convert::{from_js, to_js};
use super::runtime::message_of;
use crate::drill::Drill;
use crate::error::DrillgenError;
use crate::input::Argument;
use crate::merge::Artifact;
use crate::orchestrator::{BatchInfo, DrillProgressEvent, Host};

thread_local! {
    /// One shared no-op rejection handler (a closure per event would leak one each time).
    static IGNORE_REJECTION: Closure<dyn FnMut(JsValue)> = Closure::new(|_: JsValue| {});
}

pub struct JsHost {
    pub persist: Option<Function>,
    pub load: Option<Function>,
    pub on_progress: Option<Function>,
    pub verify: Option<Function>,
    pub signal: Option<AbortSignal>,
}

fn function(
    options: &JsValue,
    name: &str,
    required: bool,
) -> Result<Option<Function>, DrillgenError> {
    let value = Reflect::get(options, &JsValue::from_str(name)).unwrap_or(JsValue::UNDEFINED);
    if value.is_undefined() || value.is_null() {
        return if required {
            Err(DrillgenError::InvalidOptions(format!(
                "options.{name} is required (a function)"
            )))
        } else {
            Ok(None)
        };
    }
    value
        .dyn_into::<Function>()
        .map(Some)
        .map_err(|_| DrillgenError::InvalidOptions(format!("options.{name} must be a function")))
}

/// The option keys that hold the host's callbacks and signal rather than data.
const HOST_KEYS: [&str; 5] = ["persist", "load", "onProgress", "verify", "signal"];

/// A shallow copy of `options` without the host's callbacks, for deserializing the data part
/// (serde buffers unknown keys of flattened structs, and a function is no value it can buffer).
pub fn data_part(options: &JsValue) -> JsValue {
    let copy = js_sys::Object::assign(&js_sys::Object::new(), options.unchecked_ref());
    for key in HOST_KEYS {
        let _ = Reflect::delete_property(&copy, &JsValue::from_str(key));
    }
    copy.into()
}

impl JsHost {
    pub fn from_options(options: &JsValue, persist_required: bool) -> Result<Self, DrillgenError> {
        let signal =
            Reflect::get(options, &JsValue::from_str("signal")).unwrap_or(JsValue::UNDEFINED);
        let signal = if signal.is_undefined() || signal.is_null() {
            None
        } else {
            Some(signal.dyn_into::<AbortSignal>().map_err(|_| {
                DrillgenError::InvalidOptions("options.signal must be an AbortSignal".into())
            })?)
        };
        Ok(Self {
            persist: function(options, "persist", persist_required)?,
            load: function(options, "load", false)?,
            on_progress: function(options, "onProgress", false)?,
            verify: function(options, "verify", false)?,
            signal,
        })
    }
}

/// Calls a host callback and waits for it if it returned a promise (sync callbacks are fine).
async fn call(f: &Function, args: &[JsValue]) -> Result<JsValue, String> {
    let result = match args {
        [] => f.call0(&JsValue::UNDEFINED),
        [a] => f.call1(&JsValue::UNDEFINED, a),
        [a, b, ..] => f.call2(&JsValue::UNDEFINED, a, b),
    }
    .map_err(|e| message_of(&e))?;
    match result.dyn_into::<Promise>() {
        Ok(promise) => JsFuture::from(promise).await.map_err(|e| message_of(&e)),
        Err(value) => Ok(value),
    }
}

impl Host for JsHost {
    async fn persist(&self, drills: &[Drill], batch: &BatchInfo) -> Result<(), String> {
        let Some(f) = &self.persist else {
            return Ok(());
        };
        let drills: JsValue = to_js(drills).map_err(|e| message_of(&e))?;
        let batch: JsValue = to_js(batch).map_err(|e| message_of(&e))?;
        call(f, &[drills, batch]).await.map(|_| ())
    }

    async fn load(&self) -> Option<Result<Vec<Drill>, String>> {
        let f = self.load.as_ref()?;
        Some(match call(f, &[]).await {
            Ok(value) => from_js::<Vec<Drill>>(Argument::Drills, value).map_err(|e| message_of(&e)),
            Err(e) => Err(e),
        })
    }

    fn progress(&self, event: &DrillProgressEvent) {
        let Some(f) = &self.on_progress else { return };
        let Ok(event) = to_js::<_, JsValue>(event) else {
            return;
        };
        // A throwing or rejecting onProgress must never break the run.
        if let Ok(returned) = f.call1(&JsValue::UNDEFINED, &event)
            && let Ok(promise) = returned.dyn_into::<Promise>()
        {
            IGNORE_REJECTION.with(|ignore| {
                let _ = promise.catch(ignore);
            });
        }
    }

    async fn verify(&self, artifact: &Artifact) -> Option<Result<serde_json::Value, String>> {
        let f = self.verify.as_ref()?;
        let artifact: JsValue = match to_js(artifact) {
            Ok(a) => a,
            Err(e) => return Some(Err(message_of(&e))),
        };
        Some(match call(f, &[artifact]).await {
            Ok(v) if v.is_undefined() => Ok(serde_json::Value::Null),
            Ok(v) => serde_wasm_bindgen::from_value(v).map_err(|e| e.to_string()),
            Err(e) => Err(e),
        })
    }

    fn is_aborted(&self) -> bool {
        self.signal.as_ref().is_some_and(AbortSignal::aborted)
    }
}

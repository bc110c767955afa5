//! Crossing the boundary: JS values in, coded `DrillgenError` JS `Error`s and plain objects out.

use serde::{Deserialize, Serialize};
use wasm_bindgen::{JsCast, JsValue};

use crate::error::DrillgenError;
use crate::input::{Argument, parse, wrong_shape};

/// Deserializes straight from the JS value (no JSON round trip); a failure names the field.
pub fn from_js<T: for<'de> Deserialize<'de>>(
    argument: Argument,
    value: JsValue,
) -> Result<T, JsValue> {
    let expects_array = matches!(argument, Argument::Positions | Argument::Drills);
    let (fits, expected) = if expects_array {
        (js_sys::Array::is_array(&value), "an array")
    } else {
        (
            value.is_object() && !js_sys::Array::is_array(&value),
            "an object",
        )
    };
    if !fits {
        return Err(js_error(&wrong_shape(
            argument,
            expected,
            &describe(&value),
        )));
    }
    parse(argument, serde_wasm_bindgen::Deserializer::from(value)).map_err(|e| js_error(&e))
}

fn describe(value: &JsValue) -> String {
    if value.is_null() {
        "null".to_owned()
    } else if js_sys::Array::is_array(value) {
        "an array".to_owned()
    } else {
        value
            .js_typeof()
            .as_string()
            .unwrap_or_else(|| "an unknown value".to_owned())
    }
}

/// `undefined` and `null` mean "not given".
pub fn from_js_opt<T: for<'de> Deserialize<'de>>(
    argument: Argument,
    value: Option<JsValue>,
) -> Result<Option<T>, JsValue> {
    match value {
        Some(v) if !v.is_undefined() && !v.is_null() => from_js(argument, v).map(Some),
        _ => Ok(None),
    }
}

/// Plain JS objects (not `Map`s), numbers (not `BigInt`s): what `JSON.stringify` and IndexedDB expect.
pub fn to_js<T: Serialize + ?Sized, R: JsCast>(value: &T) -> Result<R, JsValue> {
    value
        .serialize(&serde_wasm_bindgen::Serializer::json_compatible())
        .map(JsCast::unchecked_into)
        .map_err(|e| {
            js_error(&DrillgenError::InvalidOptions(format!(
                "could not convert the result: {e}"
            )))
        })
}

/// A real `Error` (with a stack) whose `name` is `DrillgenError` and whose `code` is stable.
pub fn js_error(error: &DrillgenError) -> JsValue {
    let err = js_sys::Error::new(&error.to_string());
    err.set_name("DrillgenError");
    let obj: &JsValue = err.as_ref();
    // Reflect::set only fails on frozen or proxy objects, which a fresh Error is not.
    let _ = js_sys::Reflect::set(
        obj,
        &JsValue::from_str("code"),
        &JsValue::from_str(error.code()),
    );
    let _ = js_sys::Reflect::set(
        obj,
        &JsValue::from_str("retryable"),
        &JsValue::from_bool(error.is_retryable()),
    );
    err.into()
}

pub fn map_err<T>(result: crate::Result<T>) -> Result<T, JsValue> {
    result.map_err(|e| js_error(&e))
}

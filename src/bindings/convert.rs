//! Crossing the boundary. In: a defensive walk turns any JS value into one `serde_json::Value`
//! (catching every throwing getter, Proxy trap and revoked object, refusing NaN, BigInt, functions,
//! cycles, depth past 64 and inputs past 2 million values or 64 Mi characters of text), so a hostile argument
//! becomes a coded error naming its field, never an exception escaping from wasm. Out: results as
//! a JSON tree, credentials redacted, carried to JS by serde-wasm-bindgen as plain objects (a
//! `__proto__` key an ordinary own property, as `JSON.parse` has it).
//! Errors: real `Error`s named `DrillgenError` with a stable `code` and `retryable`.

use js_sys::{Array, JsString, Object, Reflect};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Number, Value};
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;

use crate::error::DrillgenError;
use crate::input::{Argument, invalid, parse};
use crate::text::{MAX_MESSAGE_BYTES, Redactor, bound};

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_namespace = Object, js_name = keys, catch)]
    fn object_keys(value: &JsValue) -> Result<Array, JsValue>;
    /// `Array.isArray` throws on a revoked Proxy: only ever call it through this catching binding.
    #[wasm_bindgen(js_namespace = Array, js_name = isArray, catch)]
    pub(super) fn is_array(value: &JsValue) -> Result<bool, JsValue>;
}

const MAX_DEPTH: usize = 64;
const MAX_VALUES: usize = 2_000_000;
const MAX_TEXT_UNITS: usize = 64 * 1024 * 1024;

/// One walk over a JS value: its budget and where it is.
struct Walk<'a> {
    values: usize,
    text_units: usize,
    path: Vec<String>,
    /// Top-level keys that hold the host's callbacks rather than data.
    skip: &'a [&'a str],
}

impl Walk<'_> {
    fn path(&self) -> String {
        let mut out = String::new();
        for seg in &self.path {
            if !seg.starts_with('[') && !out.is_empty() {
                out.push('.');
            }
            out.push_str(seg);
        }
        out
    }

    /// `None` for `undefined` (an absent field, as `JSON.stringify` treats it).
    fn value(&mut self, v: &JsValue, depth: usize) -> Result<Option<Value>, String> {
        self.values += 1;
        if self.values > MAX_VALUES {
            return Err(format!("the input holds more than {MAX_VALUES} values"));
        }
        if v.is_undefined() {
            return Ok(None);
        }
        if v.is_null() {
            return Ok(Some(Value::Null));
        }
        if let Some(b) = v.as_bool() {
            return Ok(Some(Value::Bool(b)));
        }
        if let Some(n) = v.as_f64() {
            return number(n).map(Some);
        }
        if v.is_string() {
            return self.string(v).map(Some);
        }
        if v.is_bigint() {
            return Err("a BigInt is not accepted; pass a number".into());
        }
        if v.is_symbol() || v.is_function() {
            return Err(format!(
                "a {} is not data",
                if v.is_symbol() { "symbol" } else { "function" }
            ));
        }
        if depth >= MAX_DEPTH {
            return Err(format!(
                "nested deeper than {MAX_DEPTH} levels (or a cycle)"
            ));
        }
        let array = is_array(v).map_err(|e| format!("reading it threw: {}", message_of(&e)))?;
        if array {
            self.array(v, depth).map(Some)
        } else {
            self.object(v, depth).map(Some)
        }
    }

    fn string(&mut self, v: &JsValue) -> Result<Value, String> {
        // Measured before copying, in UTF-16 units as JS counts a string's length (its UTF-8 copy
        // is at most 3 bytes a unit).
        let units = v.unchecked_ref::<JsString>().length() as usize;
        self.text_units += units;
        if self.text_units > MAX_TEXT_UNITS {
            return Err(format!(
                "the input holds more than {} Mi characters of text",
                MAX_TEXT_UNITS >> 20
            ));
        }
        Ok(Value::String(v.as_string().unwrap_or_default()))
    }

    fn array(&mut self, v: &JsValue, depth: usize) -> Result<Value, String> {
        let length = Reflect::get(v, &JsValue::from_str("length"))
            .map_err(|e| format!("reading its length threw: {}", message_of(&e)))?
            .as_f64()
            .unwrap_or(0.0);
        if !(0.0..=MAX_VALUES as f64).contains(&length) {
            return Err(format!(
                "an array of {} elements is too long",
                crate::text::num(length)
            ));
        }
        let mut items = Vec::with_capacity((length as usize).min(1024));
        for i in 0..length as u32 {
            self.path.push(format!("[{i}]"));
            let item = Reflect::get_u32(v, i)
                .map_err(|e| format!("reading it threw: {}", message_of(&e)))?;
            items.push(self.value(&item, depth + 1)?.unwrap_or(Value::Null));
            self.path.pop();
        }
        Ok(Value::Array(items))
    }

    fn object(&mut self, v: &JsValue, depth: usize) -> Result<Value, String> {
        let keys =
            object_keys(v).map_err(|e| format!("listing its keys threw: {}", message_of(&e)))?;
        let mut map = Map::new();
        for key in keys.iter() {
            let Some(name) = key.as_string() else {
                continue;
            };
            if depth == 0 && self.skip.contains(&name.as_str()) {
                continue;
            }
            self.path.push(name.clone());
            let field = Reflect::get(v, &key)
                .map_err(|e| format!("reading it threw: {}", message_of(&e)))?;
            if let Some(value) = self.value(&field, depth + 1)? {
                map.insert(name, value);
            }
            self.path.pop();
        }
        Ok(Value::Object(map))
    }
}

/// JS numbers as JSON numbers: integers stay integers (so `u32` fields accept `5`), NaN and
/// ±Infinity are refused (JSON cannot carry them; `JSON.stringify` would silently make them null).
fn number(n: f64) -> Result<Value, String> {
    if !n.is_finite() {
        return Err(format!("{} is not a finite number", crate::text::num(n)));
    }
    let n = if n == 0.0 { 0.0 } else { n }; // -0 → 0
    if n.fract() == 0.0 && n.abs() <= 9_007_199_254_740_992.0 {
        return Ok(if n >= 0.0 {
            Value::from(n as u64)
        } else {
            Value::from(n as i64)
        });
    }
    Number::from_f64(n)
        .map(Value::Number)
        .ok_or_else(|| "not a finite number".to_owned())
}

/// The JSON of a JS value (`skip`: top-level keys to leave out), or the coded error of
/// `argument` naming the field that could not be read.
pub fn snapshot(
    argument: Argument,
    value: &JsValue,
    skip: &[&str],
) -> Result<Value, DrillgenError> {
    let mut walk = Walk {
        values: 0,
        text_units: 0,
        path: Vec::new(),
        skip,
    };
    match walk.value(value, 0) {
        Ok(v) => Ok(v.unwrap_or(Value::Null)),
        Err(inner) => Err(invalid(
            argument,
            &walk.path(),
            bound(&inner, MAX_MESSAGE_BYTES).into_owned(),
        )),
    }
}

/// Reads one argument: a defensive snapshot, then typed with coded errors.
pub fn from_js<T: DeserializeOwned>(
    argument: Argument,
    value: &JsValue,
) -> Result<T, DrillgenError> {
    parse(argument, snapshot(argument, value, &[])?)
}

/// `undefined` and `null` mean "not given".
pub fn from_js_opt<T: DeserializeOwned>(
    argument: Argument,
    value: &JsValue,
) -> Result<Option<T>, DrillgenError> {
    if value.is_undefined() || value.is_null() {
        return Ok(None);
    }
    from_js(argument, value).map(Some)
}

/// Keys whose values are drills: written by the model, which never sees a credential, so a
/// header value that happens to occur in a drill's text (`X-Title: Backgammon Drills`) stays.
const DRILL_KEYS: [&str; 3] = ["drills", "unpersistedDrills", "drill"];

/// Removes credentials from the string leaves of `value`, drills aside. Leaves, not the JSON
/// text: a secret such as `true` or `1234` must not turn `"stored":true` into invalid JSON.
fn redact_leaves(value: &mut Value, redactor: &Redactor) {
    match value {
        Value::String(s) => {
            if let std::borrow::Cow::Owned(clean) = redactor.redact(s) {
                *s = clean;
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| redact_leaves(v, redactor)),
        Value::Object(map) => map
            .iter_mut()
            .filter(|(k, _)| !DRILL_KEYS.contains(&k.as_str()))
            .for_each(|(_, v)| redact_leaves(v, redactor)),
        _ => {}
    }
}

/// A result for JS: a JSON tree first (so redaction sees every string leaf), then carried out by
/// serde-wasm-bindgen as plain objects and arrays, as `JSON.parse` would give them. Drills handed
/// to `persist` go out as they are (pass `Redactor::default()`).
pub fn to_js<T: Serialize + ?Sized>(value: &T, redactor: &Redactor) -> Result<JsValue, JsValue> {
    let fail = |e: &dyn std::fmt::Display| {
        js_error(
            &DrillgenError::InvalidOptions(format!("could not convert the result: {e}")),
            redactor,
        )
    };
    let mut tree = serde_json::to_value(value).map_err(|e| fail(&e))?;
    if !redactor.is_empty() {
        redact_leaves(&mut tree, redactor);
    }
    let out = plain(&tree).map_err(|e| fail(&e))?;
    if !holds_proto_key(&tree) {
        return Ok(out);
    }
    restore_proto_keys(&tree, out).map_err(|e| fail(&message_of(&e)))
}

fn plain(tree: &Value) -> Result<JsValue, serde_wasm_bindgen::Error> {
    Plain(tree).serialize(&serde_wasm_bindgen::Serializer::json_compatible())
}

/// A JSON tree as `JSON.parse` gives it: every number a double (serde-wasm-bindgen refuses an
/// integer past 2^53, which a provider's `usage` can hold), every object a plain object.
struct Plain<'a>(&'a Value);

impl Serialize for Plain<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            Value::Null => s.serialize_unit(),
            Value::Bool(b) => s.serialize_bool(*b),
            Value::Number(n) => s.serialize_f64(n.as_f64().unwrap_or(f64::NAN)),
            Value::String(text) => s.serialize_str(text),
            Value::Array(items) => s.collect_seq(items.iter().map(Plain)),
            Value::Object(map) => s.collect_map(map.iter().map(|(k, v)| (k, Plain(v)))),
        }
    }
}

const PROTO: &str = "__proto__";

fn holds_proto_key(tree: &Value) -> bool {
    match tree {
        Value::Array(items) => items.iter().any(holds_proto_key),
        Value::Object(map) => map.contains_key(PROTO) || map.values().any(holds_proto_key),
        _ => false,
    }
}

/// serde-wasm-bindgen writes object keys with `obj[key] = value`, so a key `__proto__` (a host's
/// own field on a position, a verifier's report) set the object's prototype instead of an own
/// property. Such an object is rebuilt as `JSON.parse` makes it: every key an own, enumerable data
/// property, in the tree's order. Returns the value to use in place of `js`.
fn restore_proto_keys(tree: &Value, js: JsValue) -> Result<JsValue, JsValue> {
    match tree {
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate().filter(|(_, v)| holds_proto_key(v)) {
                let child = restore_proto_keys(item, Reflect::get_u32(&js, i as u32)?)?;
                Reflect::set_u32(&js, i as u32, &child)?;
            }
            Ok(js)
        }
        Value::Object(map) if map.contains_key(PROTO) => {
            let object = Object::new();
            for (key, item) in map {
                let child = if key == PROTO {
                    plain(item).map_err(JsValue::from)?
                } else {
                    Reflect::get(&js, &JsValue::from_str(key))?
                };
                define(&object, key, &restore_proto_keys(item, child)?)?;
            }
            Ok(object.into())
        }
        Value::Object(map) => {
            for (key, item) in map.iter().filter(|(_, v)| holds_proto_key(v)) {
                let key = JsValue::from_str(key);
                let child = restore_proto_keys(item, Reflect::get(&js, &key)?)?;
                Reflect::set(&js, &key, &child)?;
            }
            Ok(js)
        }
        _ => Ok(js),
    }
}

/// `Object.defineProperty(object, key, { value, enumerable, writable, configurable })`.
fn define(object: &Object, key: &str, value: &JsValue) -> Result<(), JsValue> {
    let descriptor = Object::new();
    for (name, v) in [
        ("value", value),
        ("enumerable", &JsValue::TRUE),
        ("writable", &JsValue::TRUE),
        ("configurable", &JsValue::TRUE),
    ] {
        Reflect::set(&descriptor, &JsValue::from_str(name), v)?;
    }
    Object::define_property(object, &JsValue::from_str(key), &descriptor);
    Ok(())
}

/// A real `Error` (with a stack) whose `name` is `DrillgenError`, with a stable `code` and
/// `retryable`; its message redacted and at most 2 KB.
pub fn js_error(error: &DrillgenError, redactor: &Redactor) -> JsValue {
    let err = js_sys::Error::new(&redactor.message(&error.to_string()));
    err.set_name("DrillgenError");
    let obj: &JsValue = err.as_ref();
    // Reflect::set only fails on frozen or proxy objects, which a fresh Error is not.
    let _ = Reflect::set(
        obj,
        &JsValue::from_str("code"),
        &JsValue::from_str(error.code().as_str()),
    );
    let _ = Reflect::set(
        obj,
        &JsValue::from_str("retryable"),
        &JsValue::from_bool(error.is_retryable()),
    );
    err.into()
}

pub fn coded<T>(result: crate::Result<T>) -> Result<T, JsValue> {
    result.map_err(|e| js_error(&e, &Redactor::default()))
}

/// What a thrown or rejected value says, without running more of the host's code than reading
/// `message` (a getter there is caught too): bounded, never itself a throw.
pub fn message_of(value: &JsValue) -> String {
    let text = if let Some(s) = value.as_string() {
        s
    } else if value.is_object() {
        match Reflect::get(value, &JsValue::from_str("message"))
            .ok()
            .and_then(|m| m.as_string())
        {
            Some(m) => m,
            None => "a value that is not an Error".to_owned(),
        }
    } else if value.is_undefined() || value.is_null() {
        "nothing (undefined)".to_owned()
    } else if let Some(n) = value.as_f64() {
        format!("the number {}", crate::text::num(n))
    } else {
        "a value that is not an Error".to_owned()
    };
    bound(&text, MAX_MESSAGE_BYTES).into_owned()
}

/// The credentials in raw options, for redacting even errors about options that did not parse.
pub fn redactor_from(options: &Value) -> Redactor {
    let llm = &options["llm"];
    let headers = llm["headers"].as_object().into_iter().flatten();
    crate::llm::credentials(
        llm["apiKey"].as_str(),
        headers.filter_map(|(name, v)| Some((name.as_str(), v.as_str()?))),
        llm["baseUrl"].as_str(),
    )
}

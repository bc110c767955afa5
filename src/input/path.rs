//! Where in the input the reader is, and the error that remembers it. The path lives in a
//! thread-local stack: readers push a segment before each field, map value or element and pop it
//! after (an error too, on its way out), and an error captures the stack when it is created, which
//! is always inside the value that is wrong ("positions[3].diceRoll"). `from_value` also clears it
//! before each argument, so nothing can leave a stale prefix for the next one.

use std::cell::RefCell;
use std::fmt;

use serde_json::Value;

thread_local! {
    static PATH: RefCell<Vec<Segment>> = const { RefCell::new(Vec::new()) };
}

/// One step of a path. Field names are the readers' own literals, so the common case allocates
/// nothing; map keys come from the input.
#[derive(Debug, Clone)]
pub(crate) enum Segment {
    Field(&'static str),
    Key(String),
    Index(usize),
}

pub(crate) fn push(segment: Segment) {
    PATH.with(|p| p.borrow_mut().push(segment));
}

pub(crate) fn pop() {
    PATH.with(|p| p.borrow_mut().pop());
}

pub(crate) fn clear() {
    PATH.with(|p| p.borrow_mut().clear());
}

/// `a.b[3].c`: keys joined by dots, indices in brackets.
fn current_path() -> String {
    PATH.with(|p| {
        let mut out = String::new();
        for seg in p.borrow().iter() {
            let key = match seg {
                Segment::Field(k) => *k,
                Segment::Key(k) => k.as_str(),
                Segment::Index(i) => {
                    out.push('[');
                    out.push_str(&i.to_string());
                    out.push(']');
                    continue;
                }
            };
            if !out.is_empty() {
                out.push('.');
            }
            out.push_str(key);
        }
        out
    })
}

/// Where the error happened and what it says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputError {
    pub path: String,
    pub message: String,
}

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for InputError {}

// The wording follows serde's ("invalid type: …, expected …", "missing field `x`") because hosts and
// tests already match on it.
impl InputError {
    /// An error at the current path.
    pub fn new(message: String) -> Self {
        Self {
            path: current_path(),
            message,
        }
    }

    pub fn invalid_type(got: &Value, expected: &str) -> Self {
        Self::new(format!(
            "invalid type: {}, expected {expected}",
            describe(got)
        ))
    }

    pub fn invalid_value(got: &Value, expected: &str) -> Self {
        Self::new(format!(
            "invalid value: {}, expected {expected}",
            describe(got)
        ))
    }

    pub fn missing_field(name: &str) -> Self {
        Self::new(format!("missing field `{name}`"))
    }

    /// "expected `a`", "expected `a` or `b`", "expected one of `a`, `b`, `c`", as serde lists them.
    pub fn unknown_variant(got: &str, names: &[&str]) -> Self {
        let quoted: Vec<String> = names.iter().map(|n| format!("`{n}`")).collect();
        let expected = match quoted.as_slice() {
            [] => "there are no variants".to_owned(),
            [one] => format!("expected {one}"),
            [a, b] => format!("expected {a} or {b}"),
            all => format!("expected one of {}", all.join(", ")),
        };
        let got = crate::text::bound(got, 80);
        Self::new(format!("unknown variant `{got}`, {expected}"))
    }
}

/// The longest string an error message quotes.
const SHORT_QUOTED: usize = 16;

/// A value as a message names it. Numbers go through `text::num`: `Number`'s own Display would
/// link core's float formatting (~20 KB of wasm).
pub(super) fn describe(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => format!("boolean `{b}`"),
        Value::Number(n) => match (n.as_u64(), n.as_i64(), n.as_f64()) {
            (Some(u), _, _) => format!("integer `{u}`"),
            (None, Some(i), _) => format!("integer `{i}`"),
            (None, None, f) => format!("number `{}`", float(f.unwrap_or(f64::NAN))),
        },
        // Longer strings by length only: a key pasted into the wrong field (`llm.headers:
        // "Authorization: Bearer sk-…"`) is in no redactor, and a message must not quote it. No
        // provider's key is as short as `SHORT_QUOTED`.
        Value::String(s) if s.len() <= SHORT_QUOTED => format!("string {s:?}"),
        Value::String(s) => format!("a string of {} bytes", s.len()),
        Value::Array(_) => "an array".into(),
        Value::Object(_) => "an object".into(),
    }
}

/// A float that happens to be whole shows as `2.0`, so "expected u32" does not read as refusing 2.
fn float(f: f64) -> String {
    let mut s = crate::text::num(f);
    if f.is_finite() && !s.contains(['.', 'e', 'E']) {
        s.push_str(".0");
    }
    s
}

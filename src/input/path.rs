//! Where in the input a value is, and the error that names it. The path is a chain of steps on the
//! deserializer's stack, turned into text (`positions[3].diceRoll`) only when an error passes
//! through, so reading a valid argument allocates nothing for it.

use std::fmt;

use serde::de::Unexpected;
use serde_json::Value;

/// One step down from the argument: a key of an object or an index of an array.
#[derive(Clone, Copy)]
pub(crate) enum Path<'a> {
    Root,
    Key(&'a Path<'a>, &'a str),
    Index(&'a Path<'a>, usize),
}

/// `a.b[3].c`: keys joined by dots, indices in brackets.
impl fmt::Display for Path<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Root => Ok(()),
            Self::Key(Self::Root, key) => f.write_str(key),
            Self::Key(parent, key) => write!(f, "{parent}.{key}"),
            Self::Index(parent, i) => write!(f, "{parent}[{i}]"),
        }
    }
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

/// "expected `a`", "expected `a` or `b`", "expected one of `a`, `b`, `c`", as serde lists them; the
/// name given is bounded, since it comes from the host.
pub(crate) fn unknown_variant(got: &str, names: &[&str]) -> String {
    let quoted: Vec<String> = names.iter().map(|n| format!("`{n}`")).collect();
    let expected = match quoted.as_slice() {
        [] => "there are no variants".to_owned(),
        [one] => format!("expected {one}"),
        [a, b] => format!("expected {a} or {b}"),
        all => format!("expected one of {}", all.join(", ")),
    };
    let got = crate::text::bound(got, 80);
    format!("unknown variant `{got}`, {expected}")
}

/// The longest string an error message quotes.
const SHORT_QUOTED: usize = 16;

/// A value as a message names it.
pub(super) fn describe(v: &Value) -> String {
    describe_unexpected(&unexpected(v))
}

pub(super) fn unexpected(v: &Value) -> Unexpected<'_> {
    match v {
        Value::Null => Unexpected::Unit,
        Value::Bool(b) => Unexpected::Bool(*b),
        Value::Number(n) => match (n.as_u64(), n.as_i64()) {
            (Some(u), _) => Unexpected::Unsigned(u),
            (None, Some(i)) => Unexpected::Signed(i),
            (None, None) => Unexpected::Float(n.as_f64().unwrap_or(f64::NAN)),
        },
        Value::String(s) => Unexpected::Str(s),
        Value::Array(_) => Unexpected::Seq,
        Value::Object(_) => Unexpected::Map,
    }
}

/// serde's wording ("integer `5`", "null"), which hosts and tests match on, with two changes.
/// Numbers go through `text::num`: serde's float Display links core's float formatting (~20 KB of
/// wasm). Longer strings by length only: a key pasted into the wrong field (`llm.headers:
/// "Authorization: Bearer sk-…"`) is in no redactor, and a message must not quote it. No
/// provider's key is as short as `SHORT_QUOTED`.
pub(super) fn describe_unexpected(u: &Unexpected<'_>) -> String {
    match *u {
        Unexpected::Unit => "null".into(),
        Unexpected::Bool(b) => format!("boolean `{b}`"),
        Unexpected::Unsigned(u) => format!("integer `{u}`"),
        Unexpected::Signed(i) => format!("integer `{i}`"),
        Unexpected::Float(f) => format!("number `{}`", float(f)),
        Unexpected::Str(s) if s.len() <= SHORT_QUOTED => format!("string {s:?}"),
        Unexpected::Str(s) => format!("a string of {} bytes", s.len()),
        Unexpected::Seq => "an array".into(),
        Unexpected::Map => "an object".into(),
        Unexpected::Other(other) => other.into(),
        _ => "another kind of value".into(),
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

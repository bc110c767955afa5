//! Typed values read from a `serde_json::Value` by hand. serde's derived `Deserialize` compiled one
//! visitor state machine per struct (≈110 KB of the wasm module before wasm-opt, plus ≈30 KB of
//! serde's own deserialization code); here a struct is a short sequence of calls to a few small
//! helpers (all readers together ≈42 KB), and the package went from 214 to 191 KB gzipped.
//!
//! The rules mirror serde's for the attributes the types carry, so the JSON accepted and the
//! TypeScript types generated from those attributes agree:
//! - `req` is a plain field: absent is "missing field `x`", reported at the object;
//! - `or`/`or_default` is `#[serde(default)]` (or a container default): absent takes the default,
//!   `null` is still an error unless the field is an `Option`;
//! - `opt` is `#[serde(default)] Option<T>`: absent or `null` is `None`;
//! - unknown keys are ignored; `Obj::rest` hands back the ones no reader took;
//! - string enums come from a `(name, variant)` table (`one_of`).
//!
//! Integers are exact: a fraction, a negative or an out-of-range number is an error naming the
//! field, never a silent cast.
//!
//! Two things serde did that this does not: a struct given as an array of its fields (never declared
//! in the `.d.ts`) is refused, and with several bad fields the first *declared* one is reported
//! (serde reported the first in the input's key order).

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::path::{self, InputError, Segment};

type Result<T> = std::result::Result<T, InputError>;

/// Reads `T` from `value`, naming the path of the first bad field.
pub fn from_value<T: FromJson>(value: &Value) -> Result<T> {
    path::clear();
    T::from_json(value)
}

/// A type the host can send.
pub trait FromJson: Sized {
    fn from_json(v: &Value) -> Result<Self>;
}

/// A type usable as a JSON object key (`Record<K, V>`).
pub trait FromKey: Sized {
    fn from_key(k: &str) -> Result<Self>;
}

/// Reads `T` from `v` with `segment` on the path while it does.
fn within<T: FromJson>(segment: Segment, v: &Value) -> Result<T> {
    path::push(segment);
    let out = T::from_json(v);
    path::pop();
    out
}

/// The fields of one JSON object, read by name.
pub struct Obj<'a> {
    map: &'a Map<String, Value>,
    /// Keys some reader took, for `rest`.
    taken: Vec<&'a str>,
}

impl<'a> Obj<'a> {
    /// `expected` names the type in the error for a non-object ("struct Position").
    pub fn new(v: &'a Value, expected: &str) -> Result<Self> {
        match v {
            Value::Object(map) => Ok(Self {
                map,
                taken: Vec::with_capacity(map.len()),
            }),
            other => Err(InputError::invalid_type(other, expected)),
        }
    }

    fn take(&mut self, name: &'static str) -> Option<&'a Value> {
        let (key, value) = self.map.get_key_value(name)?;
        self.taken.push(key.as_str());
        Some(value)
    }

    /// A field that must be present.
    pub fn req<T: FromJson>(&mut self, name: &'static str) -> Result<T> {
        match self.take(name) {
            Some(v) => within(Segment::Field(name), v),
            None => Err(InputError::missing_field(name)),
        }
    }

    /// A field that takes `default` when absent.
    pub fn or<T: FromJson>(&mut self, name: &'static str, default: T) -> Result<T> {
        match self.take(name) {
            Some(v) => within(Segment::Field(name), v),
            None => Ok(default),
        }
    }

    pub fn or_default<T: FromJson + Default>(&mut self, name: &'static str) -> Result<T> {
        self.or(name, T::default())
    }

    /// An optional field: absent and `null` are both `None`.
    pub fn opt<T: FromJson>(&mut self, name: &'static str) -> Result<Option<T>> {
        self.or(name, None)
    }

    /// The keys no reader took, as they came (a host's own fields on a position).
    pub fn rest(&self) -> Map<String, Value> {
        self.map
            .iter()
            .filter(|(k, _)| !self.taken.contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }
}

/// The variant of a string enum named by `v`, from its `(wire name, variant)` table.
pub fn one_of<T: Copy>(v: &Value, table: &[(&str, T)]) -> Result<T> {
    variant(str_of(v)?, table)
}

/// The variant named `name`, or "unknown variant `x`, expected …".
pub fn variant<T: Copy>(name: &str, table: &[(&str, T)]) -> Result<T> {
    match table.iter().find(|(n, _)| *n == name) {
        Some((_, t)) => Ok(*t),
        None => Err(unknown(name, &mut table.iter().map(|(n, _)| *n))),
    }
}

fn unknown(name: &str, names: &mut dyn Iterator<Item = &str>) -> InputError {
    InputError::unknown_variant(name, &names.collect::<Vec<_>>())
}

fn str_of(v: &Value) -> Result<&str> {
    match v {
        Value::String(s) => Ok(s),
        other => Err(InputError::invalid_type(other, "a string")),
    }
}

fn object_of<'a>(v: &'a Value, expected: &str) -> Result<&'a Map<String, Value>> {
    match v {
        Value::Object(map) => Ok(map),
        other => Err(InputError::invalid_type(other, expected)),
    }
}

impl FromJson for String {
    fn from_json(v: &Value) -> Result<Self> {
        str_of(v).map(str::to_owned)
    }
}

impl FromKey for String {
    fn from_key(k: &str) -> Result<Self> {
        Ok(k.to_owned())
    }
}

impl FromJson for bool {
    fn from_json(v: &Value) -> Result<Self> {
        match v {
            Value::Bool(b) => Ok(*b),
            other => Err(InputError::invalid_type(other, "a boolean")),
        }
    }
}

impl FromJson for f64 {
    fn from_json(v: &Value) -> Result<Self> {
        match v {
            Value::Number(n) => n.as_f64().ok_or_else(|| InputError::invalid_type(v, "f64")),
            other => Err(InputError::invalid_type(other, "f64")),
        }
    }
}

/// A whole number from 0 to `max`; `expected` names the type as serde would ("u32").
fn whole(v: &Value, expected: &str, max: u64) -> Result<u64> {
    match v {
        Value::Number(n) => match n.as_u64() {
            Some(u) if u <= max => Ok(u),
            // Negative, fractional, too large: the message shows the number (`describe`).
            _ => Err(InputError::invalid_value(v, expected)),
        },
        other => Err(InputError::invalid_type(other, expected)),
    }
}

impl FromJson for u32 {
    fn from_json(v: &Value) -> Result<Self> {
        let n = whole(v, "u32", u64::from(u32::MAX))?;
        u32::try_from(n).map_err(|_| InputError::invalid_value(v, "u32"))
    }
}

impl FromJson for u64 {
    fn from_json(v: &Value) -> Result<Self> {
        whole(v, "u64", u64::MAX)
    }
}

impl FromJson for Value {
    fn from_json(v: &Value) -> Result<Self> {
        Ok(v.clone())
    }
}

impl FromJson for Map<String, Value> {
    fn from_json(v: &Value) -> Result<Self> {
        object_of(v, "a map").cloned()
    }
}

impl<T: FromJson> FromJson for Option<T> {
    fn from_json(v: &Value) -> Result<Self> {
        match v {
            Value::Null => Ok(None),
            v => T::from_json(v).map(Some),
        }
    }
}

impl<T: FromJson> FromJson for Vec<T> {
    fn from_json(v: &Value) -> Result<Self> {
        let Value::Array(items) = v else {
            return Err(InputError::invalid_type(v, "a sequence"));
        };
        let mut out = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            out.push(within(Segment::Index(i), item)?);
        }
        Ok(out)
    }
}

/// An object as a map. A bad key is reported at the map, a bad value at its key.
impl<K: FromKey + Ord, V: FromJson> FromJson for BTreeMap<K, V> {
    fn from_json(v: &Value) -> Result<Self> {
        let mut out = BTreeMap::new();
        for (k, value) in object_of(v, "a map")? {
            let key = K::from_key(k)?;
            out.insert(key, within(Segment::Key(k.clone()), value)?);
        }
        Ok(out)
    }
}

/// `[a, b]`, as serde reads a pair.
impl<A: FromJson, B: FromJson> FromJson for (A, B) {
    fn from_json(v: &Value) -> Result<Self> {
        let Value::Array(items) = v else {
            return Err(InputError::invalid_type(v, "a tuple of size 2"));
        };
        match items.as_slice() {
            [a, b] => Ok((within(Segment::Index(0), a)?, within(Segment::Index(1), b)?)),
            _ => Err(InputError::new(format!(
                "invalid length {}, expected a tuple of size 2",
                items.len()
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[derive(Debug, PartialEq)]
    struct Inner {
        dice: String,
        n: Option<u32>,
    }

    #[derive(Debug, PartialEq, Clone, Copy)]
    enum Kind {
        A,
        B,
    }

    #[derive(Debug, PartialEq)]
    struct Outer {
        items: Vec<Inner>,
        kind: Kind,
        tags: BTreeMap<String, String>,
        flag: bool,
        rest: Map<String, Value>,
    }

    impl FromJson for Inner {
        fn from_json(v: &Value) -> Result<Self> {
            let mut o = Obj::new(v, "struct Inner")?;
            Ok(Self {
                dice: o.req("dice")?,
                n: o.opt("n")?,
            })
        }
    }

    impl FromJson for Kind {
        fn from_json(v: &Value) -> Result<Self> {
            one_of(v, &[("A", Self::A), ("B", Self::B)])
        }
    }

    impl FromJson for Outer {
        fn from_json(v: &Value) -> Result<Self> {
            let mut o = Obj::new(v, "struct Outer")?;
            Ok(Self {
                items: o.req("items")?,
                kind: o.or("kind", Kind::A)?,
                tags: o.or_default("tags")?,
                flag: o.or_default("flag")?,
                rest: o.rest(),
            })
        }
    }

    fn read<T: FromJson>(v: Value) -> Result<T> {
        from_value(&v)
    }

    fn err<T: FromJson + std::fmt::Debug>(v: Value) -> (String, String) {
        let e = read::<T>(v).unwrap_err();
        (e.path, e.message)
    }

    #[test]
    fn errors_name_the_path_of_the_bad_value() {
        let (path, message) = err::<Outer>(json!({"items": [{"dice": "3-1"}, {"dice": 5}]}));
        assert_eq!(path, "items[1].dice");
        assert_eq!(message, "invalid type: integer `5`, expected a string");
        assert_eq!(
            err::<Outer>(json!({"items": [{"dice": "3-1"}, {}]})),
            ("items[1]".into(), "missing field `dice`".into()),
            "a missing field is the object's"
        );
        assert_eq!(
            err::<Outer>(json!({"items": [], "kind": "C"})),
            (
                "kind".into(),
                "unknown variant `C`, expected `A` or `B`".into()
            )
        );
        let (path, _) = err::<Outer>(json!({"items": [{"dice": "x", "n": 5_000_000_000u64}]}));
        assert_eq!(path, "items[0].n");
        let (path, _) = err::<Outer>(json!({"items": [], "tags": {"a": "b", "x": 1}}));
        assert_eq!(path, "tags.x");
        assert_eq!(
            err::<Outer>(json!("twenty")),
            (
                String::new(),
                "invalid type: string \"twenty\", expected struct Outer".into()
            )
        );
        // The stack is balanced after an error: the next read starts from a clean path.
        let e = Inner::from_json(&json!({"dice": 1})).unwrap_err();
        assert_eq!(e.path, "dice");
    }

    #[test]
    fn defaults_apply_to_absent_fields_and_null_only_to_options() {
        let ok = read::<Outer>(json!({"items": [{"dice": "x", "n": null}]})).unwrap();
        assert_eq!(
            (ok.kind, ok.tags.len(), ok.flag, ok.items[0].n),
            (Kind::A, 0, false, None)
        );
        assert_eq!(
            err::<Outer>(json!({"items": [], "kind": null})).1,
            "invalid type: null, expected a string"
        );
        assert_eq!(
            err::<Outer>(json!({"items": [], "flag": null})).1,
            "invalid type: null, expected a boolean"
        );
        assert_eq!(
            err::<Outer>(json!({"items": null})).1,
            "invalid type: null, expected a sequence"
        );
    }

    #[test]
    fn unknown_keys_are_ignored_and_kept_in_rest() {
        let ok = read::<Outer>(json!({"z": 1, "items": [], "kind": "B", "a": {"b": [2]}})).unwrap();
        assert_eq!(ok.kind, Kind::B);
        assert_eq!(Value::Object(ok.rest), json!({"z": 1, "a": {"b": [2]}}));
        let inner = read::<Vec<Inner>>(json!([{"dice": "d", "extra": true}])).unwrap();
        assert_eq!(
            inner,
            [Inner {
                dice: "d".into(),
                n: None
            }]
        );
    }

    #[test]
    fn integers_are_exact() {
        assert_eq!(read::<u32>(json!(7)).unwrap(), 7);
        assert_eq!(read::<u32>(json!(u32::MAX)).unwrap(), u32::MAX);
        assert_eq!(read::<u64>(json!(u64::MAX)).unwrap(), u64::MAX);
        for (bad, message) in [
            (json!(2.5), "invalid value: number `2.5`, expected u32"),
            (json!(2.0), "invalid value: number `2.0`, expected u32"),
            (json!(-1), "invalid value: integer `-1`, expected u32"),
            (
                json!(5e9),
                "invalid value: number `5000000000.0`, expected u32",
            ),
            (
                json!(5_000_000_000u64),
                "invalid value: integer `5000000000`, expected u32",
            ),
            (json!("1"), "invalid type: string \"1\", expected u32"),
            (
                json!("Bearer sk-live-0123456789"),
                "invalid type: a string of 25 bytes, expected u32",
            ),
            (json!(null), "invalid type: null, expected u32"),
        ] {
            assert_eq!(
                read::<u32>(bad.clone()).unwrap_err().message,
                message,
                "{bad}"
            );
        }
        assert_eq!(
            read::<u64>(json!(1e20)).unwrap_err().message,
            "invalid value: number `1e+20`, expected u64"
        );
        assert_eq!(read::<f64>(json!(3)).unwrap(), 3.0);
        assert_eq!(read::<f64>(json!(-3)).unwrap(), -3.0);
        assert_eq!(
            read::<f64>(json!(true)).unwrap_err().message,
            "invalid type: boolean `true`, expected f64"
        );
    }

    #[test]
    fn leaves_and_containers() {
        assert_eq!(read::<Option<bool>>(json!(null)).unwrap(), None);
        assert_eq!(read::<Option<bool>>(json!(true)).unwrap(), Some(true));
        assert_eq!(
            read::<Value>(json!([1, {"a": null}])).unwrap(),
            json!([1, {"a": null}])
        );
        assert_eq!(
            read::<Map<String, Value>>(json!([])).unwrap_err().message,
            "invalid type: an array, expected a map"
        );
        assert_eq!(
            read::<(String, u32)>(json!(["a", 2])).unwrap(),
            ("a".to_owned(), 2)
        );
        let e = read::<Vec<(String, u32)>>(json!([["a", 1], ["b", "2"]])).unwrap_err();
        assert_eq!(e.path, "[1][1]");
        assert_eq!(
            read::<(String, u32)>(json!(["a"])).unwrap_err().message,
            "invalid length 1, expected a tuple of size 2"
        );
        let long = "x".repeat(500);
        let e = read::<String>(json!(0.25)).unwrap_err();
        assert_eq!(e.message, "invalid type: number `0.25`, expected a string");
        let e = read::<Kind>(json!(long)).unwrap_err();
        assert!(e.message.len() < 200, "a hostile variant name is bounded");
    }

    #[test]
    fn variant_lists_read_like_serde() {
        let one = variant("x", &[("a", 1)]).unwrap_err().message;
        assert_eq!(one, "unknown variant `x`, expected `a`");
        let three = variant("x", &[("a", 1), ("b", 2), ("c", 3)])
            .unwrap_err()
            .message;
        assert_eq!(three, "unknown variant `x`, expected one of `a`, `b`, `c`");
        assert_eq!(variant("b", &[("a", 1), ("b", 2)]).unwrap(), 2);
    }
}

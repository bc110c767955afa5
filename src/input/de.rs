//! A serde `Deserializer` over a borrowed `serde_json::Value` that knows where it is, so the input
//! types only derive `Deserialize`. It stands in for serde_json's own `Value` deserializer plus the
//! `serde_path_to_error` wrapper (which wraps every visitor, doubling the derived code in the wasm
//! module), and decides what serde_json would decide differently:
//! - the path: each accessor keeps its step on the stack, and the innermost one an error passes
//!   through writes the path into it ("positions[3].diceRoll"; a missing field is the object's);
//! - the wording (`path::describe_unexpected`): long strings by length only, no float formatting;
//! - a struct is an object only (serde also takes an array of its fields, never declared in the
//!   `.d.ts`), and an integer field given a fraction is an invalid value naming the field;
//! - `Both` reads one object as two types, and `with_rest` hands a struct the keys its fields did
//!   not take, where serde's `flatten` would buffer the input through its generic `Content` code.

use std::cell::RefCell;
use std::fmt;
use std::marker::PhantomData;

use serde::de::value::BorrowedStrDeserializer;
use serde::de::{self, DeserializeOwned, DeserializeSeed, Unexpected, Visitor};
use serde::{Deserialize, Deserializer};
use serde_json::{Map, Value};

use super::path::{self, InputError, Path};

/// Reads `T` from `value`, naming the path of the first bad field.
pub fn from_value<T: DeserializeOwned>(value: &Value) -> std::result::Result<T, InputError> {
    T::deserialize(ValueDe::new(value, &Path::Root)).map_err(|e| InputError {
        path: e.path.unwrap_or_default(),
        message: e.message,
    })
}

/// A message, and its path once an accessor has named the place.
#[derive(Debug)]
pub struct Error {
    path: Option<String>,
    message: String,
}

impl Error {
    fn at(mut self, path: &Path<'_>) -> Self {
        if self.path.is_none() {
            self.path = Some(path.to_string());
        }
        self
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

impl de::Error for Error {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        Self {
            path: None,
            message: msg.to_string(),
        }
    }

    fn invalid_type(unexp: Unexpected, exp: &dyn de::Expected) -> Self {
        let got = path::describe_unexpected(&unexp);
        Self::custom(format_args!("invalid type: {got}, expected {exp}"))
    }

    fn invalid_value(unexp: Unexpected, exp: &dyn de::Expected) -> Self {
        let got = path::describe_unexpected(&unexp);
        Self::custom(format_args!("invalid value: {got}, expected {exp}"))
    }

    fn unknown_variant(variant: &str, expected: &'static [&'static str]) -> Self {
        Self::custom(path::unknown_variant(variant, expected))
    }
}

type Result<T> = std::result::Result<T, Error>;

/// The value at `at`.
#[derive(Clone, Copy)]
struct ValueDe<'p, 'de> {
    value: &'de Value,
    at: &'p Path<'p>,
}

impl<'p, 'de> ValueDe<'p, 'de> {
    fn new(value: &'de Value, at: &'p Path<'p>) -> Self {
        Self { value, at }
    }

    fn invalid_type(&self, expected: &dyn de::Expected) -> Error {
        de::Error::invalid_type(path::unexpected(self.value), expected)
    }
}

/// Integer visitors would call a fraction an invalid *type*; it is the right type with a wrong value.
macro_rules! integers {
    ($($method:ident)*) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
            match self.value {
                Value::Number(n) if n.as_u64().is_none() && n.as_i64().is_none() => {
                    let f = n.as_f64().unwrap_or(f64::NAN);
                    Err(de::Error::invalid_value(Unexpected::Float(f), &visitor))
                }
                _ => self.deserialize_any(visitor),
            }
        }
    )*};
}

impl<'de> Deserializer<'de> for ValueDe<'_, 'de> {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        match self.value {
            Value::Null => visitor.visit_unit(),
            Value::Bool(b) => visitor.visit_bool(*b),
            Value::Number(n) => match (n.as_u64(), n.as_i64()) {
                (Some(u), _) => visitor.visit_u64(u),
                (None, Some(i)) => visitor.visit_i64(i),
                (None, None) => visitor.visit_f64(n.as_f64().unwrap_or(f64::NAN)),
            },
            Value::String(s) => visitor.visit_borrowed_str(s),
            Value::Array(items) => visitor.visit_seq(Elements {
                items: items.iter(),
                index: 0,
                at: self.at,
            }),
            Value::Object(map) => visitor.visit_map(Fields::new(map, self.at)),
        }
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value> {
        let keep_rest = rest_wanted();
        let Value::Object(map) = self.value else {
            return Err(self.invalid_type(&visitor));
        };
        let out = visitor.visit_map(Fields::new(map, self.at))?;
        if keep_rest {
            keep(map, fields);
        }
        Ok(out)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        match self.value {
            Value::Null => visitor.visit_none(),
            _ => visitor.visit_some(self),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        visitor: V,
    ) -> Result<V::Value> {
        visitor.visit_newtype_struct(self)
    }

    /// Only unit variants, named by a string.
    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _: &'static str,
        _: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value> {
        match self.value {
            Value::String(s) => visitor.visit_enum(BorrowedStrDeserializer::new(s)),
            _ => Err(self.invalid_type(&"a string")),
        }
    }

    /// An array of another length is refused, not cut.
    fn deserialize_tuple<V: Visitor<'de>>(self, len: usize, visitor: V) -> Result<V::Value> {
        match self.value {
            Value::Array(items) if items.len() != len => {
                Err(de::Error::invalid_length(items.len(), &visitor))
            }
            _ => self.deserialize_any(visitor),
        }
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        len: usize,
        visitor: V,
    ) -> Result<V::Value> {
        if name == BOTH {
            return visitor.visit_seq(Twice { de: self, left: 2 });
        }
        self.deserialize_tuple(len, visitor)
    }

    /// An unknown key's value is skipped without being walked.
    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        visitor.visit_unit()
    }

    integers! {
        deserialize_u8 deserialize_u16 deserialize_u32 deserialize_u64
        deserialize_i8 deserialize_i16 deserialize_i32 deserialize_i64
    }

    serde::forward_to_deserialize_any! {
        bool i128 u128 f32 f64 char str string bytes byte_buf unit unit_struct seq map identifier
    }
}

/// The elements of an array, each at its index.
struct Elements<'p, 'de> {
    items: std::slice::Iter<'de, Value>,
    index: usize,
    at: &'p Path<'p>,
}

impl<'de> de::SeqAccess<'de> for Elements<'_, 'de> {
    type Error = Error;

    fn next_element_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<Option<T::Value>> {
        let Some(item) = self.items.next() else {
            return Ok(None);
        };
        let at = Path::Index(self.at, self.index);
        self.index += 1;
        let out = seed.deserialize(ValueDe::new(item, &at));
        out.map(Some).map_err(|e| e.at(&at))
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.items.len())
    }
}

/// The entries of an object, each value at its key. A bad key is the object's error.
struct Fields<'p, 'de> {
    entries: serde_json::map::Iter<'de>,
    value: Option<(&'de str, &'de Value)>,
    at: &'p Path<'p>,
}

impl<'p, 'de> Fields<'p, 'de> {
    fn new(map: &'de Map<String, Value>, at: &'p Path<'p>) -> Self {
        Self {
            entries: map.iter(),
            value: None,
            at,
        }
    }
}

impl<'de> de::MapAccess<'de> for Fields<'_, 'de> {
    type Error = Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>> {
        let Some((key, value)) = self.entries.next() else {
            return Ok(None);
        };
        self.value = Some((key, value));
        seed.deserialize(BorrowedStrDeserializer::new(key))
            .map(Some)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value> {
        let Some((key, value)) = self.value.take() else {
            return Err(de::Error::custom("a value was asked for before its key"));
        };
        let at = Path::Key(self.at, key);
        let out = seed.deserialize(ValueDe::new(value, &at));
        out.map_err(|e| e.at(&at))
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.entries.len())
    }
}

/// The tuple-struct name by which `Both` asks for its object twice.
const BOTH: &str = "$drillgen::Both";

/// Two types read from one object, each ignoring the other's keys: what tsify declares for two
/// `#[serde(flatten)]` fields, without serde's buffering of the whole object (a run's object holds
/// the position pool). Only `from_value`'s deserializer knows how; others refuse it.
#[derive(Debug)]
pub struct Both<A, B>(pub A, pub B);

impl<'de, A: Deserialize<'de>, B: Deserialize<'de>> Deserialize<'de> for Both<A, B> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        d.deserialize_tuple_struct(BOTH, 2, BothVisitor(PhantomData))
    }
}

struct BothVisitor<A, B>(PhantomData<(A, B)>);

impl<'de, A: Deserialize<'de>, B: Deserialize<'de>> Visitor<'de> for BothVisitor<A, B> {
    type Value = Both<A, B>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object read as two parts")
    }

    fn visit_seq<S: de::SeqAccess<'de>>(
        self,
        mut seq: S,
    ) -> std::result::Result<Self::Value, S::Error> {
        let a = seq.next_element()?;
        let b = seq.next_element()?;
        match (a, b) {
            (Some(a), Some(b)) => Ok(Both(a, b)),
            _ => Err(de::Error::invalid_length(0, &self)),
        }
    }
}

/// The same value, handed out twice at the same path.
struct Twice<'p, 'de> {
    de: ValueDe<'p, 'de>,
    left: u8,
}

impl<'de> de::SeqAccess<'de> for Twice<'_, 'de> {
    type Error = Error;

    fn next_element_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<Option<T::Value>> {
        if self.left == 0 {
            return Ok(None);
        }
        self.left -= 1;
        seed.deserialize(self.de).map(Some)
    }
}

/// What `with_rest` asked the next struct for, and what it left.
enum Rest {
    Idle,
    Wanted,
    Kept(Map<String, Value>),
}

thread_local! {
    static REST: RefCell<Rest> = const { RefCell::new(Rest::Idle) };
}

/// Runs `read`, which must deserialize a struct first thing, and returns with its result the keys
/// of that struct's object that none of its fields declares, as they came (a position's host
/// fields). Only `from_value`'s deserializer collects them; others leave the map empty.
pub fn with_rest<T, E>(
    read: impl FnOnce() -> std::result::Result<T, E>,
) -> std::result::Result<(T, Map<String, Value>), E> {
    REST.with(|r| *r.borrow_mut() = Rest::Wanted);
    let out = read();
    let rest = REST.with(|r| std::mem::replace(&mut *r.borrow_mut(), Rest::Idle));
    let rest = match rest {
        Rest::Kept(map) => map,
        Rest::Idle | Rest::Wanted => Map::new(),
    };
    out.map(|t| (t, rest))
}

/// Whether this struct is the one `with_rest` waits for; nested ones are not.
fn rest_wanted() -> bool {
    REST.with(|r| {
        let mut r = r.borrow_mut();
        let wanted = matches!(*r, Rest::Wanted);
        if wanted {
            *r = Rest::Idle;
        }
        wanted
    })
}

fn keep(map: &Map<String, Value>, fields: &[&str]) {
    let rest = map
        .iter()
        .filter(|(k, _)| !fields.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    REST.with(|r| *r.borrow_mut() = Rest::Kept(rest));
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde_json::json;

    use super::*;

    #[derive(Debug, PartialEq, Deserialize)]
    struct Inner {
        dice: String,
        #[serde(default)]
        n: Option<u32>,
    }

    #[derive(Debug, PartialEq, Eq, PartialOrd, Ord, Clone, Copy, Default, Deserialize)]
    enum Kind {
        #[default]
        A,
        B,
    }

    #[derive(Debug, PartialEq, Deserialize)]
    struct Outer {
        items: Vec<Inner>,
        #[serde(default)]
        kind: Kind,
        #[serde(default)]
        tags: BTreeMap<String, String>,
        #[serde(default)]
        flag: bool,
    }

    /// Keeps the keys its fields do not declare, as `Position` does.
    #[derive(Debug, PartialEq, Deserialize)]
    #[serde(remote = "Self")]
    struct Host {
        id: String,
        #[serde(default)]
        inner: Option<Inner>,
        #[serde(skip_deserializing)]
        rest: Map<String, Value>,
    }

    impl<'de> Deserialize<'de> for Host {
        fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
            let (host, rest) = with_rest(|| Host::deserialize(d))?;
            Ok(Self { rest, ..host })
        }
    }

    fn read<T: DeserializeOwned>(v: Value) -> std::result::Result<T, InputError> {
        from_value(&v)
    }

    fn err<T: DeserializeOwned + fmt::Debug>(v: Value) -> (String, String) {
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
        let (path, _) = err::<BTreeMap<Kind, u32>>(json!({"A": 1, "C": 2}));
        assert_eq!(path, "", "a bad key is the map's");
        assert_eq!(
            err::<Outer>(json!("twenty")),
            (
                String::new(),
                "invalid type: string \"twenty\", expected struct Outer".into()
            )
        );
        assert_eq!(err::<Inner>(json!({"dice": 1})).0, "dice");
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
    fn unknown_keys_are_ignored_or_kept_as_they_came() {
        let ok = read::<Outer>(json!({"z": 1, "items": [], "kind": "B", "a": {"b": [2]}})).unwrap();
        assert_eq!(ok.kind, Kind::B);
        let host = json!({"__proto__": {"x": 1}, "id": "h", "constructor": null, "prototype": [1],
            "inner": {"dice": "d", "extra": true}});
        let read_host = read::<Host>(host).unwrap();
        assert_eq!(
            Value::Object(read_host.rest),
            json!({"__proto__": {"x": 1}, "constructor": null, "prototype": [1]}),
            "only the host's own level, every key an ordinary one"
        );
        assert_eq!(read_host.inner.map(|i| i.dice), Some("d".into()));
        let hosts = read::<Vec<Host>>(json!([{"id": "a", "k": 1}, {"id": "b"}])).unwrap();
        assert_eq!(
            (hosts[0].rest.len(), hosts[1].rest.len()),
            (1, 0),
            "each keeps its own"
        );
    }

    #[test]
    fn a_failed_read_leaves_nothing_for_the_next() {
        let e = read::<Vec<Host>>(json!([{"id": "a", "k": 1}, {"id": 2, "k": 1}])).unwrap_err();
        assert_eq!(e.path, "[1].id");
        assert!(read::<Host>(json!("x")).is_err());
        let outer = read::<Outer>(json!({"items": [], "q": 1})).unwrap();
        assert_eq!(outer.items, []);
        let host = read::<Host>(json!({"id": "c"})).unwrap();
        assert!(host.rest.is_empty());
    }

    #[test]
    fn both_reads_one_object_as_two_parts() {
        let v = json!({"dice": "d", "items": [{"dice": "e"}], "flag": true});
        let Both(inner, outer) = read::<Both<Inner, Outer>>(v).unwrap();
        assert_eq!((inner.dice.as_str(), outer.flag), ("d", true));
        let e = read::<Both<Inner, Outer>>(json!({"dice": "d", "items": [{"dice": 1}]}));
        assert_eq!(e.unwrap_err().path, "items[0].dice");
        let e = read::<Both<Inner, Outer>>(json!({"items": []})).unwrap_err();
        assert_eq!(
            (e.path.as_str(), e.message.as_str()),
            ("", "missing field `dice`")
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
            read::<Value>(json!([1, -2, 2.5, {"a": null}])).unwrap(),
            json!([1, -2, 2.5, {"a": null}])
        );
        assert_eq!(
            read::<Map<String, Value>>(json!([])).unwrap_err().message,
            "invalid type: an array, expected a map"
        );
        assert_eq!(
            read::<Inner>(json!(["d", 1])).unwrap_err().message,
            "invalid type: an array, expected struct Inner",
            "a struct is an object, never an array of its fields"
        );
        assert_eq!(
            read::<(String, u32)>(json!(["a", 2])).unwrap(),
            ("a".to_owned(), 2)
        );
        let e = read::<Vec<(String, u32)>>(json!([["a", 1], ["b", "2"]])).unwrap_err();
        assert_eq!(e.path, "[1][1]");
        for short_or_long in [json!(["a"]), json!(["a", 1, 2])] {
            let n = short_or_long.as_array().map_or(0, Vec::len);
            assert_eq!(
                read::<(String, u32)>(short_or_long).unwrap_err().message,
                format!("invalid length {n}, expected a tuple of size 2")
            );
        }
        let e = read::<String>(json!(0.25)).unwrap_err();
        assert_eq!(e.message, "invalid type: number `0.25`, expected a string");
        let e = read::<Kind>(json!("x".repeat(500))).unwrap_err();
        assert!(e.message.len() < 200, "a hostile variant name is bounded");
        assert_eq!(
            read::<Kind>(json!(1)).unwrap_err().message,
            "invalid type: integer `1`, expected a string"
        );
    }

    #[test]
    fn variant_lists_read_like_serde() {
        assert_eq!(
            path::unknown_variant("x", &["a"]),
            "unknown variant `x`, expected `a`"
        );
        assert_eq!(
            path::unknown_variant("x", &["a", "b", "c"]),
            "unknown variant `x`, expected one of `a`, `b`, `c`"
        );
    }
}

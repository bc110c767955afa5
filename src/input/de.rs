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

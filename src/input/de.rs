//! A serde `Deserializer` over a borrowed `serde_json::Value` that knows where it is. It replaces two
//! things at once: serde_json's own `Value` deserializer and the `serde_path_to_error` wrapper
//! around it (which wraps every visitor and so doubled the deserialization code in the wasm
//! module). The path lives in a thread-local stack: map and sequence accessors push a segment
//! before each value and pop it after, and an error captures the stack when it is created, which
//! is always inside the value that is wrong ("positions[3].diceRoll"). After an error the stack is
//! left as it was (nothing pops on the way out): `parse` resets it before each argument.

use std::fmt;

use serde::de::{self, DeserializeSeed, IntoDeserializer, Visitor};
use serde_json::Value;

use super::path::{self, InputError, Segment};

impl de::Error for InputError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        Self::new(msg.to_string())
    }

    // serde's own wording goes through `Unexpected`'s Display, whose float branch links core's
    // float formatting (~20 KB of wasm); these say the same without it.
    fn invalid_type(unexp: de::Unexpected, exp: &dyn de::Expected) -> Self {
        Self::custom(format_args!(
            "invalid type: {}, expected {exp}",
            describe(&unexp)
        ))
    }

    fn invalid_value(unexp: de::Unexpected, exp: &dyn de::Expected) -> Self {
        Self::custom(format_args!(
            "invalid value: {}, expected {exp}",
            describe(&unexp)
        ))
    }
}

fn describe(u: &de::Unexpected) -> String {
    use de::Unexpected as U;
    match u {
        U::Bool(b) => format!("boolean `{b}`"),
        U::Unsigned(n) => format!("integer `{n}`"),
        U::Signed(n) => format!("integer `{n}`"),
        U::Float(f) => format!("number `{}`", crate::text::num(*f)),
        U::Char(c) => format!("character `{c}`"),
        U::Str(s) => format!("string {:?}", crate::text::bound(s, 80)),
        U::Unit => "null".into(),
        U::Seq => "an array".into(),
        U::Map => "an object".into(),
        U::Other(o) => (*o).into(),
        _ => "another kind of value".into(),
    }
}

/// Deserializes `T` from `value`, naming the path of the first bad field.
pub fn from_value<'a, T: de::Deserialize<'a>>(value: &'a Value) -> Result<T, InputError> {
    path::clear();
    T::deserialize(ValueDe(value))
}

fn within<R>(segment: Segment, f: impl FnOnce() -> Result<R, InputError>) -> Result<R, InputError> {
    path::push(segment);
    let out = f()?;
    path::pop();
    Ok(out)
}

/// An integer field given a fractional number is refused here, in words, before serde's integer
/// visitors would print the float (which links core's float formatting, ~20 KB of wasm).
macro_rules! integers {
    ($($method:ident)*) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, InputError> {
            match self.0 {
                Value::Number(n) if n.as_u64().is_none() && n.as_i64().is_none() => {
                    Err(de::Error::custom("expected a whole number, got a fraction or one too large"))
                }
                _ => self.deserialize_any(visitor),
            }
        }
    )*};
}

#[derive(Clone, Copy)]
pub struct ValueDe<'a>(pub &'a Value);

impl<'de> de::Deserializer<'de> for ValueDe<'de> {
    type Error = InputError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, InputError> {
        match self.0 {
            Value::Null => visitor.visit_unit(),
            Value::Bool(b) => visitor.visit_bool(*b),
            Value::Number(n) => {
                if let Some(u) = n.as_u64() {
                    visitor.visit_u64(u)
                } else if let Some(i) = n.as_i64() {
                    visitor.visit_i64(i)
                } else {
                    visitor.visit_f64(n.as_f64().unwrap_or(f64::NAN))
                }
            }
            Value::String(s) => visitor.visit_borrowed_str(s),
            Value::Array(items) => visitor.visit_seq(Seq {
                items: items.iter(),
                index: 0,
            }),
            Value::Object(map) => visitor.visit_map(Fields {
                iter: map.iter(),
                value: None,
            }),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, InputError> {
        match self.0 {
            Value::Null => visitor.visit_none(),
            _ => visitor.visit_some(self),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        visitor: V,
    ) -> Result<V::Value, InputError> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _: &'static str,
        _: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, InputError> {
        match self.0 {
            Value::String(s) => visitor.visit_enum(s.as_str().into_deserializer()),
            other => Err(de::Error::invalid_type(unexpected(other), &"a string")),
        }
    }

    integers! {
        deserialize_u8 deserialize_u16 deserialize_u32 deserialize_u64
        deserialize_i8 deserialize_i16 deserialize_i32 deserialize_i64
    }

    serde::forward_to_deserialize_any! {
        bool i128 u128 f32 f64 char str string bytes byte_buf unit
        unit_struct seq tuple tuple_struct map struct identifier ignored_any
    }
}

fn unexpected(v: &Value) -> de::Unexpected<'_> {
    match v {
        Value::Null => de::Unexpected::Unit,
        Value::Bool(b) => de::Unexpected::Bool(*b),
        Value::Number(_) => de::Unexpected::Other("a number"),
        Value::String(s) => de::Unexpected::Str(s),
        Value::Array(_) => de::Unexpected::Seq,
        Value::Object(_) => de::Unexpected::Map,
    }
}

struct Seq<'a> {
    items: std::slice::Iter<'a, Value>,
    index: usize,
}

impl<'de> de::SeqAccess<'de> for Seq<'de> {
    type Error = InputError;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, InputError> {
        let Some(item) = self.items.next() else {
            return Ok(None);
        };
        let index = self.index;
        self.index += 1;
        within(Segment::Index(index), || seed.deserialize(ValueDe(item))).map(Some)
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.items.len())
    }
}

struct Fields<'a> {
    iter: serde_json::map::Iter<'a>,
    value: Option<(&'a String, &'a Value)>,
}

impl<'de> de::MapAccess<'de> for Fields<'de> {
    type Error = InputError;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, InputError> {
        let Some((key, value)) = self.iter.next() else {
            return Ok(None);
        };
        self.value = Some((key, value));
        seed.deserialize(de::value::BorrowedStrDeserializer::new(key))
            .map(Some)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(
        &mut self,
        seed: V,
    ) -> Result<V::Value, InputError> {
        let Some((key, value)) = self.value.take() else {
            return Err(de::Error::custom("a value was asked for before its key"));
        };
        within(Segment::Key(key.clone()), || {
            seed.deserialize(ValueDe(value))
        })
    }
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;
    use serde_json::json;

    use super::*;

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Inner {
        dice: String,
        n: Option<u32>,
    }

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Outer {
        items: Vec<Inner>,
        kind: Kind,
    }

    #[derive(Debug, Deserialize)]
    enum Kind {
        A,
    }

    #[test]
    fn errors_name_the_path_of_the_bad_value() {
        let v = json!({"items": [{"dice": "3-1"}, {"dice": 5}], "kind": "A"});
        let e = from_value::<Outer>(&v).unwrap_err();
        assert_eq!(e.path, "items[1].dice");
        assert!(
            e.message.contains("invalid type: integer `5`"),
            "{}",
            e.message
        );
        let v = json!({"items": [{"dice": "3-1"}, {}], "kind": "A"});
        assert_eq!(
            from_value::<Outer>(&v).unwrap_err().path,
            "items[1]",
            "a missing field is the object's"
        );
        let v = json!({"items": [], "kind": "B"});
        let e = from_value::<Outer>(&v).unwrap_err();
        assert_eq!(
            (e.path.as_str(), e.message.contains("unknown variant `B`")),
            ("kind", true)
        );
        let v = json!({"items": [{"dice": "x", "n": 5000000000u64}], "kind": "A"});
        assert_eq!(from_value::<Outer>(&v).unwrap_err().path, "items[0].n");
        // A later, good argument starts from a clean path.
        let ok =
            from_value::<Outer>(&json!({"items": [{"dice": "x", "n": 2}], "kind": "A"})).unwrap();
        assert_eq!(ok.items[0].n, Some(2));
    }
}

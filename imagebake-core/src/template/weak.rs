//! Packer's weak decoding of legacy JSON templates (mapstructure's
//! `WeaklyTypedInput`): `"true"` for a bool, `"30"` for a number, a number
//! for a string, one value for a list.
//!
//! A plan keeps values as the template wrote them, because only the
//! builder knows which type a key has. These helpers belong to the
//! builders' and provisioners' decoders: use them with
//! `#[serde(deserialize_with = "...")]` on fields that Packer users write
//! as strings in JSON templates (`"most_recent": "true"`).

use serde::Deserializer;
use serde::de::{DeserializeSeed, Error as _, IntoDeserializer, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

/// A bool as Packer reads one: `true`, or the strings `1 t T TRUE true
/// True` (and the false forms, `""` too), or a number (non-zero is true).
pub fn to_bool(v: &Value) -> Option<bool> {
    match v {
        Value::Bool(b) => Some(*b),
        Value::Number(n) => n.as_f64().map(|f| f != 0.0),
        Value::String(s) => match s.as_str() {
            "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
            "0" | "f" | "F" | "FALSE" | "false" | "False" | "" => Some(false),
            _ => None,
        },
        _ => None,
    }
}

/// An integer as Packer reads one: a number, a decimal string, `0x…` hex,
/// `0…` octal, `""` as 0, a bool as 0/1.
pub fn to_i64(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n
            .as_i64()
            .or_else(|| n.as_f64().filter(|f| f.fract() == 0.0).map(|f| f as i64)),
        Value::Bool(b) => Some(i64::from(*b)),
        Value::String(s) => {
            let t = s.trim();
            let (neg, t) = match t.strip_prefix('-') {
                Some(r) => (true, r),
                None => (false, t.strip_prefix('+').unwrap_or(t)),
            };
            let n = if t.is_empty() {
                Some(0)
            } else if let Some(h) = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
                i64::from_str_radix(h, 16).ok()
            } else if t.len() > 1 && t.starts_with('0') {
                i64::from_str_radix(&t[1..], 8).ok()
            } else {
                t.parse().ok()
            };
            n.map(|n| if neg { -n } else { n })
        }
        _ => None,
    }
}

/// A string as Packer reads one: numbers in decimal, bools as `1`/`0`.
pub fn to_string(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(if *b { "1" } else { "0" }.into()),
        _ => None,
    }
}

/// A list of strings as Packer reads one: a list, or a single value (a
/// string with commas is split on them).
pub fn to_string_list(v: &Value) -> Option<Vec<String>> {
    match v {
        Value::Array(a) => a.iter().map(to_string).collect(),
        Value::String(s) if s.contains(',') => Some(s.split(',').map(str::to_owned).collect()),
        other => to_string(other).map(|s| vec![s]),
    }
}

/// A JSON value decoded as weakly as Packer's decoder does, whatever the
/// target type: wrap a builder's or provisioner's block in it and
/// deserialize (`T::deserialize(Weak(value))`, or through
/// `serde_path_to_error`). Where the target asks for a bool, a number or a
/// string, the other scalar forms are converted with [`to_bool`],
/// [`to_i64`] and [`to_string`]; where it asks for a list, one value is a
/// list of one. Everything else decodes as plain `serde_json` does.
#[derive(Debug, Clone)]
pub struct Weak(pub Value);

type JsonError = serde_json::Error;

impl Weak {
    fn mismatch(self, expected: &str) -> JsonError {
        JsonError::custom(format!("expected {expected}, got {}", self.0))
    }

    fn int(self) -> Result<i64, JsonError> {
        match to_i64(&self.0) {
            Some(n) => Ok(n),
            None => Err(self.mismatch("a whole number")),
        }
    }
}

macro_rules! weak_ints {
    ($($method:ident),*) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, JsonError> {
            match self.0 {
                Value::Number(_) => self.0.$method(visitor),
                _ => visitor.visit_i64(self.int()?),
            }
        }
    )*};
}

impl<'de> Deserializer<'de> for Weak {
    type Error = JsonError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, JsonError> {
        match self.0 {
            Value::Array(a) => visitor.visit_seq(WeakSeq(a.into_iter())),
            Value::Object(m) => visitor.visit_map(WeakMap {
                entries: m.into_iter(),
                value: None,
            }),
            other => other.deserialize_any(visitor),
        }
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, JsonError> {
        match to_bool(&self.0) {
            Some(b) => visitor.visit_bool(b),
            None => Err(self.mismatch("a bool")),
        }
    }

    weak_ints!(
        deserialize_i8,
        deserialize_i16,
        deserialize_i32,
        deserialize_i64,
        deserialize_u8,
        deserialize_u16,
        deserialize_u32,
        deserialize_u64
    );

    fn deserialize_f32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, JsonError> {
        self.deserialize_f64(visitor)
    }

    fn deserialize_f64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, JsonError> {
        match &self.0 {
            Value::String(s) => match s.trim().parse::<f64>() {
                Ok(f) => visitor.visit_f64(f),
                Err(_) => Err(self.mismatch("a number")),
            },
            _ => self.0.deserialize_f64(visitor),
        }
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, JsonError> {
        self.deserialize_string(visitor)
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, JsonError> {
        match self.0 {
            Value::Number(_) | Value::Bool(_) => match to_string(&self.0) {
                Some(s) => visitor.visit_string(s),
                None => Err(self.mismatch("a string")),
            },
            other => other.deserialize_string(visitor),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, JsonError> {
        match self.0 {
            Value::Null => visitor.visit_none(),
            _ => visitor.visit_some(self),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, JsonError> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, JsonError> {
        match self.0 {
            Value::Array(a) => visitor.visit_seq(WeakSeq(a.into_iter())),
            Value::Null => Value::Null.deserialize_seq(visitor),
            one => visitor.visit_seq(WeakSeq(vec![one].into_iter())),
        }
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, JsonError> {
        self.0.deserialize_enum(name, variants, visitor)
    }

    serde::forward_to_deserialize_any! {
        char bytes byte_buf unit unit_struct tuple tuple_struct map struct identifier ignored_any
    }
}

struct WeakSeq(std::vec::IntoIter<Value>);

impl<'de> SeqAccess<'de> for WeakSeq {
    type Error = JsonError;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, JsonError> {
        self.0.next().map(|v| seed.deserialize(Weak(v))).transpose()
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.0.len())
    }
}

struct WeakMap {
    entries: serde_json::map::IntoIter,
    value: Option<Value>,
}

impl<'de> MapAccess<'de> for WeakMap {
    type Error = JsonError;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, JsonError> {
        match self.entries.next() {
            Some((k, v)) => {
                self.value = Some(v);
                seed.deserialize(k.into_deserializer()).map(Some)
            }
            None => Ok(None),
        }
    }

    fn next_value_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<T::Value, JsonError> {
        let v = self
            .value
            .take()
            .ok_or_else(|| JsonError::custom("a map value was asked for before its key"))?;
        seed.deserialize(Weak(v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn decodes_as_weakly_as_packer() {
        assert_eq!(to_bool(&json!("true")), Some(true));
        assert_eq!(to_bool(&json!("T")), Some(true));
        assert_eq!(to_bool(&json!("")), Some(false));
        assert_eq!(to_bool(&json!("yes")), None);
        assert_eq!(to_i64(&json!("30")), Some(30));
        assert_eq!(to_i64(&json!("0x1f")), Some(31));
        assert_eq!(to_i64(&json!("010")), Some(8));
        assert_eq!(to_string(&json!(true)), Some("1".into()));
        assert_eq!(
            to_string_list(&json!("a,b")),
            Some(vec!["a".into(), "b".into()])
        );
    }

    #[test]
    fn weak_values_decode_into_any_type_as_packer_s_decoder_does() {
        use serde::Deserialize;
        #[derive(Deserialize, Debug, PartialEq)]
        #[serde(deny_unknown_fields)]
        struct Filter {
            most_recent: bool,
            name: Option<String>,
        }
        #[derive(Deserialize, Debug, PartialEq)]
        #[serde(deny_unknown_fields)]
        struct C {
            filter: Filter,
            ssh_port: u16,
            ratio: f64,
            version: String,
            networks: Vec<String>,
            tags: std::collections::BTreeMap<String, String>,
            skip: Option<bool>,
        }
        let v = json!({
            "filter": {"most_recent": "true", "name": "base"},
            "ssh_port": "2222", "ratio": "0.5", "version": 7,
            "networks": "net-1", "tags": {"n": 1}, "skip": null
        });
        let c = C::deserialize(Weak(v)).unwrap();
        assert_eq!(
            c,
            C {
                filter: Filter {
                    most_recent: true,
                    name: Some("base".into())
                },
                ssh_port: 2222,
                ratio: 0.5,
                version: "7".into(),
                networks: vec!["net-1".into()],
                tags: [("n".to_owned(), "1".to_owned())].into(),
                skip: None,
            }
        );
        let bad = C::deserialize(Weak(json!({"filter": {"most_recent": "yes"}})));
        assert!(bad.unwrap_err().to_string().contains("expected a bool"));
        let unknown = Filter::deserialize(Weak(json!({"most_recent": true, "x": 1})));
        assert!(
            unknown
                .unwrap_err()
                .to_string()
                .contains("unknown field `x`")
        );
        let path = serde_path_to_error::deserialize::<_, C>(Weak(json!({
            "filter": {"most_recent": true}, "ssh_port": "port"
        })))
        .unwrap_err();
        assert_eq!(path.path().to_string(), "ssh_port");
    }
}

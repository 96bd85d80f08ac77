//! Packer's weak decoding of legacy JSON templates (mapstructure's
//! `WeaklyTypedInput`): `"true"` for a bool, `"30"` for a number, a number
//! for a string, one value for a list.
//!
//! A plan keeps values as the template wrote them, because only the
//! builder knows which type a key has. These helpers belong to the
//! builders' and provisioners' decoders: use them with
//! `#[serde(deserialize_with = "...")]` on fields that Packer users write
//! as strings in JSON templates (`"most_recent": "true"`).

use serde::{Deserialize, Deserializer, de::Error as _};
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

/// `deserialize_with` for a weakly typed `bool`.
pub fn bool<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    let v = Value::deserialize(d)?;
    to_bool(&v).ok_or_else(|| D::Error::custom(format!("expected a bool, got {v}")))
}

/// `deserialize_with` for a weakly typed `Option<bool>`.
pub fn opt_bool<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    match Value::deserialize(d)? {
        Value::Null => Ok(None),
        v => to_bool(&v)
            .map(Some)
            .ok_or_else(|| D::Error::custom(format!("expected a bool, got {v}"))),
    }
}

/// `deserialize_with` for a weakly typed `i64`.
pub fn i64<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    let v = Value::deserialize(d)?;
    to_i64(&v).ok_or_else(|| D::Error::custom(format!("expected a whole number, got {v}")))
}

/// `deserialize_with` for a weakly typed list of strings.
pub fn string_list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    let v = Value::deserialize(d)?;
    to_string_list(&v)
        .ok_or_else(|| D::Error::custom(format!("expected a list of strings, got {v}")))
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
        #[derive(serde::Deserialize)]
        struct C {
            #[serde(deserialize_with = "bool")]
            most_recent: bool,
        }
        let c: C = serde_json::from_value(json!({"most_recent": "true"})).unwrap();
        assert!(c.most_recent);
    }
}

//! HCL2 variable types (`string`, `list(string)`, `object({...})`...) and
//! cty's conversion rules between values.

use hcl::edit::expr::{Expression, ObjectKey};
use serde_json::{Map, Number, Value};

/// A variable's `type`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Type {
    Any,
    String,
    Number,
    Bool,
    List(Box<Type>),
    Set(Box<Type>),
    Map(Box<Type>),
    /// Attributes with their type and whether they are `optional(...)`.
    Object(Vec<(String, Type, bool)>),
    Tuple(Vec<Type>),
}

impl Type {
    /// Whether a `-var`/`PKR_VAR_` value of this type is taken as a literal
    /// string (else it is parsed as an HCL expression).
    pub fn takes_literal(&self) -> bool {
        matches!(self, Type::Any | Type::String | Type::Number)
    }

    /// Parses a type expression.
    pub fn parse(expr: &Expression) -> Result<Type, String> {
        let bad = || {
            "not a type (use string, number, bool, any, list(T), set(T), map(T), \
             object({...}) or tuple([...]))"
                .to_string()
        };
        match expr {
            Expression::Variable(v) => match v.as_str() {
                "string" => Ok(Type::String),
                "number" => Ok(Type::Number),
                "bool" => Ok(Type::Bool),
                "any" => Ok(Type::Any),
                "list" => Ok(Type::List(Box::new(Type::Any))),
                "map" => Ok(Type::Map(Box::new(Type::Any))),
                "set" => Ok(Type::Set(Box::new(Type::Any))),
                _ => Err(bad()),
            },
            Expression::FuncCall(call) => {
                let args: Vec<&Expression> = call.args.iter().collect();
                let one = || -> Result<Type, String> {
                    match args.as_slice() {
                        [a] => Type::parse(a),
                        _ => Err(format!("`{}(...)` takes one type", call.name.name.as_str())),
                    }
                };
                match call.name.name.as_str() {
                    "list" => Ok(Type::List(Box::new(one()?))),
                    "set" => Ok(Type::Set(Box::new(one()?))),
                    "map" => Ok(Type::Map(Box::new(one()?))),
                    "object" => {
                        let [Expression::Object(o)] = args.as_slice() else {
                            return Err("`object(...)` takes `{ name = type, ... }`".into());
                        };
                        let mut attrs = Vec::new();
                        for (k, v) in o.iter() {
                            let name = match k {
                                ObjectKey::Ident(i) => i.as_str().to_owned(),
                                ObjectKey::Expression(Expression::String(s)) => s.value().clone(),
                                ObjectKey::Expression(_) => return Err(bad()),
                            };
                            let (ty, optional) = match v.expr() {
                                Expression::FuncCall(c) if c.name.name.as_str() == "optional" => {
                                    let a: Vec<&Expression> = c.args.iter().collect();
                                    let Some(first) = a.first() else {
                                        return Err("`optional(...)` takes a type".into());
                                    };
                                    (Type::parse(first)?, true)
                                }
                                other => (Type::parse(other)?, false),
                            };
                            attrs.push((name, ty, optional));
                        }
                        Ok(Type::Object(attrs))
                    }
                    "tuple" => {
                        let [Expression::Array(a)] = args.as_slice() else {
                            return Err("`tuple(...)` takes `[type, ...]`".into());
                        };
                        Ok(Type::Tuple(
                            a.iter().map(Type::parse).collect::<Result<_, _>>()?,
                        ))
                    }
                    _ => Err(bad()),
                }
            }
            Expression::Parenthesis(p) => Type::parse(p.inner()),
            _ => Err(bad()),
        }
    }

    /// The type's name as HCL writes it.
    pub fn name(&self) -> String {
        match self {
            Type::Any => "any".into(),
            Type::String => "string".into(),
            Type::Number => "number".into(),
            Type::Bool => "bool".into(),
            Type::List(t) => format!("list({})", t.name()),
            Type::Set(t) => format!("set({})", t.name()),
            Type::Map(t) => format!("map({})", t.name()),
            Type::Object(_) => "object({...})".into(),
            Type::Tuple(_) => "tuple([...])".into(),
        }
    }
}

/// The name of a value's type, for messages.
pub(crate) fn type_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "list",
        Value::Object(_) => "object",
    }
}

/// A number value: an integer when the float is integral (so `30` decodes
/// into integer fields), else a float.
pub(crate) fn number(f: f64) -> Option<Value> {
    if f.fract() == 0.0 && f.abs() < 9.0e15 {
        Some(Value::Number(Number::from(f as i64)))
    } else {
        Number::from_f64(f).map(Value::Number)
    }
}

/// A string as cty turns it into a number (decimal, sign, fraction,
/// exponent).
pub(crate) fn parse_number(s: &str) -> Option<Value> {
    let t = s.trim();
    if t.is_empty() || t.contains(|c: char| c.is_ascii_alphabetic() && c != 'e' && c != 'E') {
        return None;
    }
    t.parse::<f64>()
        .ok()
        .filter(|f| f.is_finite())
        .and_then(number)
}

/// The string form of a primitive value (cty's number/bool → string).
pub(crate) fn to_string(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Converts `value` to `ty` as cty does: `"true"`/`"false"` (and `"1"`/`"0"`)
/// to bool, decimal strings to numbers, numbers and bools to strings,
/// tuples to lists and sets, objects to maps; null stays null. The error
/// says what was expected, never the value.
pub(crate) fn convert(value: &Value, ty: &Type) -> Result<Value, String> {
    let mismatch = || format!("a {} cannot be used as {}", type_of(value), ty.name());
    match (ty, value) {
        (_, Value::Null) | (Type::Any, _) => Ok(value.clone()),
        (Type::String, v) => to_string(v).map(Value::String).ok_or_else(mismatch),
        (Type::Number, Value::Number(_)) => Ok(value.clone()),
        (Type::Number, Value::String(s)) => parse_number(s)
            .ok_or_else(|| "a string that is not a number cannot be used as number".to_string()),
        (Type::Bool, Value::Bool(_)) => Ok(value.clone()),
        (Type::Bool, Value::String(s)) => match s.as_str() {
            "true" | "1" => Ok(Value::Bool(true)),
            "false" | "0" => Ok(Value::Bool(false)),
            "True" | "TRUE" | "False" | "FALSE" => {
                Err("a bool must be written in lowercase: true or false".into())
            }
            _ => Err("a string other than \"true\" or \"false\" cannot be used as bool".into()),
        },
        (Type::List(t) | Type::Set(t), Value::Array(a)) => {
            let mut out = Vec::with_capacity(a.len());
            for (i, v) in a.iter().enumerate() {
                out.push(convert(v, t).map_err(|e| format!("element {i}: {e}"))?);
            }
            if matches!(ty, Type::Set(_)) {
                let mut seen = Vec::new();
                out.retain(|v| {
                    let dup = seen.contains(v);
                    if !dup {
                        seen.push(v.clone());
                    }
                    !dup
                });
            }
            Ok(Value::Array(out))
        }
        (Type::Map(t), Value::Object(o)) => {
            let mut out = Map::new();
            for (k, v) in o {
                out.insert(
                    k.clone(),
                    convert(v, t).map_err(|e| format!("key {k:?}: {e}"))?,
                );
            }
            Ok(Value::Object(out))
        }
        (Type::Object(attrs), Value::Object(o)) => {
            let mut out = Map::new();
            for (name, t, optional) in attrs {
                match o.get(name) {
                    Some(v) => {
                        out.insert(
                            name.clone(),
                            convert(v, t).map_err(|e| format!("attribute {name:?}: {e}"))?,
                        );
                    }
                    None if *optional => {
                        out.insert(name.clone(), Value::Null);
                    }
                    None => return Err(format!("attribute {name:?} is required")),
                }
            }
            Ok(Value::Object(out))
        }
        (Type::Tuple(types), Value::Array(a)) => {
            if types.len() != a.len() {
                return Err(format!(
                    "a list of {} elements cannot be used as a tuple of {}",
                    a.len(),
                    types.len()
                ));
            }
            a.iter()
                .zip(types)
                .enumerate()
                .map(|(i, (v, t))| convert(v, t).map_err(|e| format!("element {i}: {e}")))
                .collect::<Result<Vec<_>, _>>()
                .map(Value::Array)
        }
        _ => Err(mismatch()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ty(s: &str) -> Type {
        Type::parse(&hcl::edit::parser::parse_expr(s).unwrap()).unwrap()
    }

    #[test]
    fn converts_as_cty_does() {
        assert_eq!(convert(&json!("true"), &Type::Bool), Ok(json!(true)));
        assert!(
            convert(&json!("True"), &Type::Bool)
                .unwrap_err()
                .contains("lowercase")
        );
        assert_eq!(convert(&json!("30"), &Type::Number), Ok(json!(30)));
        assert_eq!(convert(&json!("1.5"), &Type::Number), Ok(json!(1.5)));
        assert_eq!(convert(&json!(30), &Type::String), Ok(json!("30")));
        assert!(convert(&json!("abc"), &Type::Number).is_err());
        assert!(convert(&json!("a"), &ty("list(string)")).is_err());
        assert_eq!(
            convert(&json!(["a", 1]), &ty("list(string)")),
            Ok(json!(["a", "1"]))
        );
        assert_eq!(
            convert(
                &json!({"a": 1}),
                &ty("object({a = string, b = optional(number)})")
            ),
            Ok(json!({"a": "1", "b": null}))
        );
        assert!(convert(&json!({}), &ty("object({a = string})")).is_err());
        assert_eq!(
            convert(&json!(["a", "a"]), &ty("set(string)")),
            Ok(json!(["a"]))
        );
        assert!(Type::parse(&hcl::edit::parser::parse_expr("strin").unwrap()).is_err());
    }
}

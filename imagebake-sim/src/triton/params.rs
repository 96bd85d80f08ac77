//! Request parameters as restify's `mapParams` builds them: the query string
//! and the body's fields in one map, the body winning.

use serde_json::{Map, Value};

use super::error::ApiError;

/// Merged query and body parameters.
#[derive(Debug, Default, Clone)]
pub(crate) struct Params(pub Map<String, Value>);

impl Params {
    /// Merges the query string with a JSON-object or form-encoded body.
    pub fn merge(
        query: Option<&str>,
        content_type: Option<&str>,
        body: &[u8],
    ) -> Result<Self, ApiError> {
        let mut map = Map::new();
        if let Some(q) = query {
            for (k, v) in url::form_urlencoded::parse(q.as_bytes()) {
                map.insert(k.into_owned(), Value::String(v.into_owned()));
            }
        }
        let content_type = content_type.unwrap_or("application/json");
        if body.iter().all(u8::is_ascii_whitespace) {
            return Ok(Self(map));
        }
        if content_type.starts_with("application/x-www-form-urlencoded") {
            for (k, v) in url::form_urlencoded::parse(body) {
                map.insert(k.into_owned(), Value::String(v.into_owned()));
            }
        } else if content_type.contains("json") {
            let value: Value = serde_json::from_slice(body)
                .map_err(|e| ApiError::new(400, "InvalidContent", format!("Invalid JSON: {e}")))?;
            if let Value::Object(fields) = value {
                map.extend(fields);
            }
        }
        Ok(Self(map))
    }

    /// A parameter as a string (numbers and booleans in their JSON text).
    pub fn str(&self, key: &str) -> Option<String> {
        match self.0.get(key)? {
            Value::String(s) => Some(s.clone()),
            Value::Null => None,
            other => Some(other.to_string()),
        }
    }

    /// A required string parameter (409 `MissingParameter` when absent or empty).
    pub fn required(&self, key: &str) -> Result<String, ApiError> {
        self.str(key)
            .filter(|s| !s.is_empty())
            .ok_or_else(|| ApiError::missing(key))
    }

    /// A boolean parameter: JSON `true`/`false` or the strings.
    pub fn bool(&self, key: &str) -> Result<Option<bool>, ApiError> {
        match self.0.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(Value::String(s)) if s == "true" => Ok(Some(true)),
            Some(Value::String(s)) if s == "false" => Ok(Some(false)),
            Some(other) => Err(ApiError::invalid_argument(format!(
                "{key} must be a boolean, not {other}"
            ))),
        }
    }

    /// A non-negative integer parameter.
    pub fn u64(&self, key: &str) -> Result<Option<u64>, ApiError> {
        match self.0.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Number(n)) if n.as_u64().is_some() => Ok(n.as_u64()),
            Some(Value::String(s)) if s.parse::<u64>().is_ok() => Ok(s.parse().ok()),
            Some(other) => Err(ApiError::invalid_argument(format!(
                "{key} must be a non-negative integer, not {other}"
            ))),
        }
    }

    /// A list of strings: a JSON array, or a comma-separated string.
    pub fn list(&self, key: &str) -> Result<Option<Vec<String>>, ApiError> {
        match self.0.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(
                s.split(',')
                    .filter(|p| !p.is_empty())
                    .map(str::to_owned)
                    .collect(),
            )),
            Some(Value::Array(items)) => items
                .iter()
                .map(|v| match v {
                    Value::String(s) => Ok(s.clone()),
                    other => Err(ApiError::invalid_argument(format!(
                        "{key} must hold strings, not {other}"
                    ))),
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Some),
            Some(other) => Err(ApiError::invalid_argument(format!(
                "{key} must be an array, not {other}"
            ))),
        }
    }

    /// Fields whose name starts with `prefix`, with the prefix removed
    /// (`metadata.user-script` → `user-script`).
    pub fn prefixed<'a>(
        &'a self,
        prefix: &'a str,
    ) -> impl Iterator<Item = (&'a str, &'a Value)> + 'a {
        self.0.iter().filter_map(move |(k, v)| {
            k.strip_prefix(prefix)
                .filter(|k| !k.is_empty())
                .map(|k| (k, v))
        })
    }
}

/// A metadata value as stored: strings as they are, anything else as JSON text.
pub(crate) fn metadata_string(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_wins_over_query_and_prefixes_strip() {
        let p = Params::merge(
            Some("action=start&metadata.a=1"),
            Some("application/json"),
            br#"{"action":"stop","tag.role":"web","firewall_enabled":true}"#,
        )
        .expect("merges");
        assert_eq!(p.str("action").as_deref(), Some("stop"));
        assert_eq!(p.bool("firewall_enabled").expect("bool"), Some(true));
        let meta: Vec<_> = p.prefixed("metadata.").collect();
        assert_eq!(meta, [("a", &Value::String("1".into()))]);
        assert!(Params::merge(None, None, b"{nope").is_err());
        assert_eq!(
            Params::merge(Some("limit=5"), None, b"")
                .expect("q")
                .u64("limit")
                .expect("u64"),
            Some(5)
        );
    }
}

//! What every builder shares with Packer: decoding a builder's JSON block with
//! errors that name the key and the builder, Go-style durations (`5m`,
//! `1h30m`), the `{{timestamp}}` and `{{uuid}}` template functions, and
//! `{{env `NAME`}}` ([`expand_env`]).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::Error;

/// Decodes a builder's JSON object (a Packer template's `builders[i]`)
/// into `T`.
///
/// The Packer keys `type` (which must be `builder`, when present) and `name`
/// are accepted and left out. Any key not in `known` is an error naming it
/// and the builder ("builder triton: unknown key `x`"); so is a key of
/// `required` that is missing, null or an empty string; a value of the
/// wrong type names its key path.
pub fn decode<T: DeserializeOwned>(
    builder: &str,
    value: &Value,
    known: &[&str],
    required: &[&str],
) -> Result<T, Error> {
    let Value::Object(obj) = value else {
        return Err(config_error(
            builder,
            "the configuration must be a JSON object",
        ));
    };
    let mut fields = Map::new();
    for (k, v) in obj {
        match k.as_str() {
            "type" => {
                if v.as_str() != Some(builder) {
                    return Err(config_key_error(
                        builder,
                        "type",
                        &format!("key `type` is {v}, not \"{builder}\""),
                    ));
                }
            }
            "name" => {}
            _ if known.contains(&k.as_str()) => {
                fields.insert(k.clone(), v.clone());
            }
            _ => return Err(config_key_error(builder, k, &format!("unknown key `{k}`"))),
        }
    }
    for r in required {
        let missing = match fields.get(*r) {
            None | Some(Value::Null) => true,
            Some(Value::String(s)) => s.trim().is_empty(),
            Some(_) => false,
        };
        if missing {
            return Err(config_key_error(
                builder,
                r,
                &format!("missing required key `{r}`"),
            ));
        }
    }
    serde_path_to_error::deserialize(crate::template::weak::Weak(Value::Object(fields))).map_err(
        |e| {
            let path = e.path().to_string();
            config_key_error(builder, &path, &format!("key `{path}`: {}", e.into_inner()))
        },
    )
}

/// [`Error::ConfigKey`] about `key`, the message prefixed by "builder NAME: ".
pub fn config_key_error(builder: &str, key: &str, message: &str) -> Error {
    Error::config_at(key, format!("builder {builder}: {message}"))
}

/// `Error::Config` with the message prefixed by "builder NAME: ".
pub fn config_error(builder: &str, message: &str) -> Error {
    Error::Config(format!("builder {builder}: {message}"))
}

/// Parses a Go duration (`300ms`, `30s`, `5m`, `1h30m`, `1.5h`, `0`), as
/// Packer's `ssh_timeout` and friends take them.
pub fn parse_duration(text: &str) -> Option<Duration> {
    let s = text.trim();
    if s == "0" {
        return Some(Duration::ZERO);
    }
    if s.is_empty() {
        return None;
    }
    let mut total = 0f64;
    let mut rest = s;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        if num_len == 0 {
            return None;
        }
        let n: f64 = rest[..num_len].parse().ok()?;
        rest = &rest[num_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let unit = match &rest[..unit_len] {
            "ns" => 1e-9,
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return None,
        };
        rest = &rest[unit_len..];
        total += n * unit;
    }
    total.is_finite().then(|| Duration::from_secs_f64(total))
}

/// A duration option: `default` when absent, else its Go duration, else an
/// error naming the key.
pub fn duration_key(
    builder: &str,
    key: &str,
    value: Option<&str>,
    default: Duration,
) -> Result<Duration, Error> {
    match value {
        None => Ok(default),
        Some(v) => parse_duration(v).ok_or_else(|| {
            config_key_error(
                builder,
                key,
                &format!("key `{key}`: {v:?} is not a duration (like 30s, 5m, 1h30m)"),
            )
        }),
    }
}

/// The values of Packer's template functions for one build: `{{timestamp}}`
/// (Unix seconds when the build was prepared) and `{{uuid}}` (one random
/// UUID per build, the same in every key so names stay consistent).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateVars {
    /// `{{timestamp}}`.
    pub timestamp: String,
    /// `{{uuid}}`.
    pub uuid: String,
}

impl TemplateVars {
    /// Values for a build prepared now.
    pub fn now() -> Self {
        let secs = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        Self {
            timestamp: secs.to_string(),
            uuid: uuid::Uuid::new_v4().to_string(),
        }
    }

    /// Replaces `{{timestamp}}` and `{{uuid}}` (spaces inside the braces
    /// allowed) in the value of `key`; any other `{{…}}` is an error naming
    /// the key and the builder.
    pub fn expand(&self, builder: &str, key: &str, text: &str) -> Result<String, Error> {
        self.expand_keeping(builder, key, text, &[])
    }

    /// [`TemplateVars::expand`] for a key that is also rendered later with
    /// build template data: `{{.Name}}` (and `{{.Name.Key}}`) for each name
    /// of `data` is kept as written, for the builder to fill in once the
    /// values are known; any other `{{…}}` is an error naming the key.
    pub fn expand_keeping(
        &self,
        builder: &str,
        key: &str,
        text: &str,
        data: &[&str],
    ) -> Result<String, Error> {
        crate::template::replace_actions(
            text,
            || {
                config_key_error(
                    builder,
                    key,
                    &format!("key `{key}`: unclosed `{{{{` in {text:?}"),
                )
            },
            |inner| {
                let t = inner.trim();
                let kept = t.strip_prefix('.').is_some_and(|n| {
                    let head = n.split_once('.').map_or(n, |(h, _)| h);
                    data.contains(&head)
                });
                match t {
                    _ if kept => Ok(format!("{{{{{inner}}}}}")),
                    "timestamp" => Ok(self.timestamp.clone()),
                    "uuid" => Ok(self.uuid.clone()),
                    other => {
                        let mut known = vec!["{{timestamp}}".to_owned(), "{{uuid}}".to_owned()];
                        known.extend(data.iter().map(|d| format!("{{{{.{d}}}}}")));
                        Err(config_key_error(
                            builder,
                            key,
                            &format!(
                                "key `{key}`: unsupported template function `{{{{{other}}}}}` \
                                 (supported: {})",
                                known.join(", ")
                            ),
                        ))
                    }
                }
            },
        )
    }
}

/// Replaces Packer's `{{env `NAME`}}` (backquotes or double quotes, spaces
/// inside the braces allowed) in every string of a template with the
/// environment variable's value; other `{{…}}` are left for the builders.
/// Unlike Packer (which only allows it in `variables` and gives an empty
/// string for an unset variable), it works in any value, and an unset
/// variable is an error naming it and the value's path
/// (`builders[0].triton_url`), so a template never silently falls back to
/// a default endpoint.
pub fn expand_env(value: &Value) -> Result<Value, Error> {
    expand_env_with(value, &|name| std::env::var(name).ok())
}

/// [`expand_env`] with the variables `lookup` gives.
pub fn expand_env_with(
    value: &Value,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<Value, Error> {
    fn walk(
        v: &Value,
        path: &str,
        lookup: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Value, Error> {
        Ok(match v {
            Value::String(s) => Value::String(env_in(s, path, lookup)?),
            Value::Array(a) => Value::Array(
                a.iter()
                    .enumerate()
                    .map(|(i, x)| walk(x, &format!("{path}[{i}]"), lookup))
                    .collect::<Result<_, _>>()?,
            ),
            Value::Object(o) => Value::Object(
                o.iter()
                    .map(|(k, x)| {
                        let p = if path.is_empty() {
                            k.clone()
                        } else {
                            format!("{path}.{k}")
                        };
                        Ok((k.clone(), walk(x, &p, lookup)?))
                    })
                    .collect::<Result<_, Error>>()?,
            ),
            other => other.clone(),
        })
    }
    walk(value, "", lookup)
}

/// The `{{env …}}` of one string replaced.
fn env_in(
    text: &str,
    path: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<String, Error> {
    let err = |m: String| Error::config_at(path, format!("template: key `{path}`: {m}"));
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else { break };
        let inner = after[..end].trim();
        let Some(arg) = inner
            .strip_prefix("env")
            .filter(|a| a.starts_with(char::is_whitespace))
            .map(str::trim)
        else {
            // Not ours: keep it for the builder's own functions.
            out.push_str(&rest[..start + 2 + end + 2]);
            rest = &after[end + 2..];
            continue;
        };
        let name = ['`', '"']
            .iter()
            .find_map(|q| arg.strip_prefix(*q).and_then(|a| a.strip_suffix(*q)))
            .filter(|n| !n.is_empty())
            .ok_or_else(|| {
                err(format!(
                    "`{{{{{inner}}}}}`: write the variable as {{{{env `NAME`}}}}"
                ))
            })?;
        let value =
            lookup(name).ok_or_else(|| err(format!("environment variable {name} is not set")))?;
        out.push_str(&rest[..start]);
        out.push_str(&value);
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

/// Deserializes a map whose values may be strings, numbers or booleans (as
/// Packer's weakly typed decoding accepts them) into strings.
pub fn string_map<'de, D>(d: D) -> Result<std::collections::BTreeMap<String, String>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    use serde::Deserialize as _;
    let raw = Option::<Map<String, Value>>::deserialize(d)?.unwrap_or_default();
    raw.into_iter()
        .map(|(k, v)| match v {
            Value::String(s) => Ok((k, s)),
            Value::Number(n) => Ok((k, n.to_string())),
            Value::Bool(b) => Ok((k, b.to_string())),
            other => Err(serde::de::Error::custom(format!(
                "value of `{k}` must be a string, number or boolean, not {other}"
            ))),
        })
        .collect()
}

/// Deserializes an optional secret (key text, password) straight into
/// [`imagebake_http::Secret`], so it never sits in a plain `String`.
pub fn secret_opt<'de, D>(d: D) -> Result<Option<imagebake_http::Secret>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    use serde::Deserialize as _;
    Ok(Option::<String>::deserialize(d)?
        .filter(|s| !s.is_empty())
        .map(imagebake_http::Secret::new))
}

/// `base` with the keys of `extra` set; a null value removes the key (the
/// builders' test configurations).
#[cfg(all(test, any(feature = "triton", feature = "oxide")))]
pub(crate) fn merged(mut base: Value, extra: &Value) -> Value {
    if let (Value::Object(b), Value::Object(x)) = (&mut base, extra) {
        for (k, v) in x {
            if v.is_null() {
                b.remove(k);
            } else {
                b.insert(k.clone(), v.clone());
            }
        }
    }
    base
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decode_errors_carry_the_key_path_as_data() {
        #[derive(Debug, serde::Deserialize)]
        #[allow(dead_code)]
        struct C {
            ssh_port: u16,
            filter: Option<std::collections::BTreeMap<String, u32>>,
        }
        let key = |v: serde_json::Value| {
            let e = decode::<C>("t", &v, &["ssh_port", "filter"], &["ssh_port"]).unwrap_err();
            (e.config_key().map(str::to_owned), e.to_string())
        };
        let (k, m) = key(serde_json::json!({"ssh_port": "twenty-two"}));
        assert_eq!(k.as_deref(), Some("ssh_port"), "{m}");
        let (k, m) = key(serde_json::json!({"ssh_port": 22, "filter": {"name": "x"}}));
        assert_eq!(k.as_deref(), Some("filter.name"), "{m}");
        let (k, _) = key(serde_json::json!({"ssh_port": 22, "ssh_pty": true}));
        assert_eq!(k.as_deref(), Some("ssh_pty"));
        let (k, _) = key(serde_json::json!({}));
        assert_eq!(k.as_deref(), Some("ssh_port"));
    }

    #[test]
    fn go_durations() {
        let d = |s| parse_duration(s);
        assert_eq!(d("5m"), Some(Duration::from_secs(300)));
        assert_eq!(d("1h30m"), Some(Duration::from_secs(5400)));
        assert_eq!(d("1.5s"), Some(Duration::from_millis(1500)));
        assert_eq!(d("250ms"), Some(Duration::from_millis(250)));
        assert_eq!(d("0"), Some(Duration::ZERO));
        for bad in ["", "5", "m", "5 minutes", "-1s", "1x"] {
            assert_eq!(d(bad), None, "{bad}");
        }
    }

    #[test]
    fn env_function() {
        let env = |n: &str| (n == "URL").then(|| "http://127.0.0.1:9".to_owned());
        let t = serde_json::json!({"builders": [{"triton_url": "{{env `URL`}}",
            "image_name": "a-{{ env \"URL\" }}-{{timestamp}}", "n": 3,
            "tags": {"k": "{{isotime}} {{env `URL`}}"}}]});
        let got = expand_env_with(&t, &env).unwrap();
        assert_eq!(
            got,
            serde_json::json!({"builders": [{"triton_url": "http://127.0.0.1:9",
                "image_name": "a-http://127.0.0.1:9-{{timestamp}}", "n": 3,
                "tags": {"k": "{{isotime}} http://127.0.0.1:9"}}]})
        );
        let t = serde_json::json!({"builders": [{"type": "x"}, {"token": "{{env `NOPE`}}"}]});
        let e = expand_env_with(&t, &env).unwrap_err().to_string();
        assert!(
            e.contains("key `builders[1].token`") && e.contains("NOPE is not set"),
            "{e}"
        );
        let t = serde_json::json!({"a": "{{env URL}}"});
        let e = expand_env_with(&t, &env).unwrap_err().to_string();
        assert!(e.contains("key `a`") && e.contains("env `NAME`"), "{e}");
        // `{{environment}}` is not `{{env …}}`; an unclosed `{{` is kept.
        let t = serde_json::json!(["{{environment}}", "x {{env `URL`"]);
        assert_eq!(expand_env_with(&t, &env).unwrap(), t);
    }

    #[test]
    fn template_functions() {
        let v = TemplateVars {
            timestamp: "1700000000".into(),
            uuid: "u-u".into(),
        };
        assert_eq!(
            v.expand("t", "image_name", "img-{{timestamp}}-{{ uuid }}")
                .unwrap(),
            "img-1700000000-u-u"
        );
        let e = v.expand("t", "image_name", "{{user `x`}}").unwrap_err();
        assert!(e.to_string().contains("builder t: key `image_name`"), "{e}");
        assert!(v.expand("t", "k", "a {{timestamp").is_err());
    }

    #[test]
    fn functions_expanded_build_data_kept() {
        let v = TemplateVars {
            timestamp: "1700000000".into(),
            uuid: "u-u".into(),
        };
        let data = ["BuildRegion", "SourceOMITags"];
        let got = v
            .expand_keeping(
                "b",
                "tags",
                "{{timestamp}} {{ .BuildRegion }} {{.SourceOMITags.Name}}",
                &data,
            )
            .unwrap();
        assert_eq!(got, "1700000000 {{ .BuildRegion }} {{.SourceOMITags.Name}}");
        let e = v
            .expand_keeping("b", "tags", "{{.Nope}}", &data)
            .unwrap_err();
        assert_eq!(e.config_key(), Some("tags"));
        assert!(e.to_string().contains("{{.BuildRegion}}"), "{e}");
    }
}

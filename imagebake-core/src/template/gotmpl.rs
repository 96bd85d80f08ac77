//! Packer's Go-template functions in strings: `{{user `x`}}`,
//! `{{env `X`}}` (variable defaults only), `{{isotime "layout"}}`,
//! `{{timestamp}}`, `{{uuid}}`, `{{build_name}}`, `{{build_type}}`,
//! `{{template_dir}}`, `{{pwd}}`, `{{lower}}`/`{{upper}}` (also as pipes),
//! `{{split}}`, `{{replace}}`, `{{replace_all}}`, `{{strftime}}`.
//!
//! Actions that use per-field data (`{{.Device}}`, `{{ .Vars }}`) or
//! builder data (`{{build `ID`}}`) are left untouched for the builder or
//! provisioner that renders them later, as Packer does.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use super::funcs::go_layout;

/// The Packer version templates see (`{{packer_version}}`,
/// `min_packer_version`): the one whose behaviour imagebake follows.
pub const PACKER_VERSION: &str = "1.16.0";

/// What the functions see.
#[derive(Debug, Clone)]
pub(crate) struct GoCtx<'a> {
    /// JSON user variables; `None` in HCL2 (where `{{user}}` is an error).
    pub user: Option<&'a Map<String, Value>>,
    /// The environment, only while rendering JSON variable defaults.
    pub env: Option<&'a BTreeMap<String, String>>,
    pub build_name: Option<&'a str>,
    pub build_type: Option<&'a str>,
    /// Only in JSON templates.
    pub template_dir: Option<&'a str>,
    pub pwd: &'a str,
    pub init: DateTime<Utc>,
    pub uuid: &'a str,
}

enum Tok {
    Str(String),
    Word(String),
}

fn tokenize(action: &str) -> Result<Vec<Vec<Tok>>, String> {
    let mut cmds = vec![Vec::new()];
    let mut chars = action.chars().peekable();
    while let Some(&c) = chars.peek() {
        match c {
            ' ' | '\t' | '\n' => {
                chars.next();
            }
            '|' => {
                chars.next();
                cmds.push(Vec::new());
            }
            '`' => {
                chars.next();
                let s: String = chars.by_ref().take_while(|&x| x != '`').collect();
                if let Some(c) = cmds.last_mut() {
                    c.push(Tok::Str(s));
                }
            }
            '"' => {
                chars.next();
                let mut s = String::new();
                let mut closed = false;
                while let Some(x) = chars.next() {
                    match x {
                        '\\' => {
                            if let Some(e) = chars.next() {
                                s.push(match e {
                                    'n' => '\n',
                                    't' => '\t',
                                    other => other,
                                });
                            }
                        }
                        '"' => {
                            closed = true;
                            break;
                        }
                        other => s.push(other),
                    }
                }
                if !closed {
                    return Err("unterminated quoted string".into());
                }
                if let Some(c) = cmds.last_mut() {
                    c.push(Tok::Str(s));
                }
            }
            _ => {
                let mut w = String::new();
                while let Some(&x) = chars.peek() {
                    if x.is_whitespace() || x == '|' {
                        break;
                    }
                    w.push(x);
                    chars.next();
                }
                if let Some(c) = cmds.last_mut() {
                    c.push(Tok::Word(w));
                }
            }
        }
    }
    Ok(cmds)
}

/// Whether an action is for a later stage (field data or builder data).
fn is_deferred(action: &str) -> bool {
    let a = action.trim_start_matches('-').trim();
    a.starts_with('.')
        || a.starts_with('$')
        || a == "build"
        || a.starts_with("build ")
        || a.starts_with("if ")
        || a.starts_with("range ")
        || a.starts_with("with ")
        || a == "end"
        || a == "else"
        || a.starts_with("/*")
        || a.contains(" .")
}

/// The fix offered with a Go-template error.
pub(crate) const FIX: &str = "use Packer's template functions (user, isotime, timestamp, uuid, \
    build_name, build_type, template_dir, pwd, lower, upper, split, replace); {{env}} works \
    only in a JSON variable's default; in HCL2 use var., local. and functions";

/// The names of the functions, for messages.
const FUNCS: &str = "user, env (variable defaults only), isotime, strftime, timestamp, uuid, \
    build_name, build_type, template_dir, pwd, packer_version, lower, upper, split, replace, replace_all";

fn call(name: &str, args: &[String], cx: &GoCtx<'_>) -> Result<String, String> {
    let want = |n: usize| -> Result<(), String> {
        if args.len() == n {
            Ok(())
        } else {
            Err(format!(
                "`{name}` takes {n} argument(s), got {}",
                args.len()
            ))
        }
    };
    match name {
        "user" => {
            want(1)?;
            let vars = cx.user.ok_or_else(|| {
                format!(
                    "{{{{user `{}`}}}} does not work in HCL2 templates (use var.{})",
                    args[0], args[0]
                )
            })?;
            Ok(vars
                .get(&args[0])
                .and_then(super::types::to_string)
                .unwrap_or_default())
        }
        "env" => {
            want(1)?;
            let env = cx.env.ok_or_else(|| {
                "env vars are not allowed here: use {{env}} in a variable's default and {{user}} here"
                    .to_string()
            })?;
            Ok(env.get(&args[0]).cloned().unwrap_or_default())
        }
        "isotime" => match args {
            [] => Ok(cx.init.format("%Y-%m-%dT%H:%M:%SZ").to_string()),
            [layout] => Ok(go_layout(layout, &cx.init)),
            _ => Err("`isotime` takes at most one layout".into()),
        },
        "strftime" => {
            want(1)?;
            use std::fmt::Write;
            let mut s = String::new();
            write!(s, "{}", cx.init.format(&args[0]))
                .map_err(|_| format!("invalid strftime format {:?}", args[0]))?;
            Ok(s)
        }
        "timestamp" => {
            want(0)?;
            Ok(cx.init.timestamp().to_string())
        }
        "uuid" => {
            want(0)?;
            Ok(cx.uuid.to_owned())
        }
        "build_name" => {
            want(0)?;
            cx.build_name
                .map(str::to_owned)
                .ok_or_else(|| "build_name is not available here".into())
        }
        "build_type" => {
            want(0)?;
            cx.build_type
                .map(str::to_owned)
                .ok_or_else(|| "build_type is not available here".into())
        }
        "template_dir" => {
            want(0)?;
            cx.template_dir
                .map(str::to_owned)
                .ok_or_else(|| "template path not available: in HCL2 use path.root".to_string())
        }
        "pwd" => {
            want(0)?;
            Ok(cx.pwd.to_owned())
        }
        "packer_version" => {
            want(0)?;
            Ok(PACKER_VERSION.to_owned())
        }
        "lower" => {
            want(1)?;
            Ok(args[0].to_lowercase())
        }
        "upper" => {
            want(1)?;
            Ok(args[0].to_uppercase())
        }
        "split" => {
            want(3)?;
            let i: usize = args[2]
                .parse()
                .map_err(|_| "the index of `split` must be a number".to_string())?;
            args[0]
                .split(args[1].as_str())
                .nth(i)
                .map(str::to_owned)
                .ok_or_else(|| format!("`split`: there is no piece {i}"))
        }
        "replace" => {
            want(4)?;
            let n: i64 = args[2]
                .parse()
                .map_err(|_| "the count of `replace` must be a number".to_string())?;
            Ok(if n < 0 {
                args[3].replace(&args[0], &args[1])
            } else {
                args[3].replacen(&args[0], &args[1], n as usize)
            })
        }
        "replace_all" => {
            want(3)?;
            Ok(args[2].replace(&args[0], &args[1]))
        }
        other => Err(format!(
            "function {other:?} not defined (functions: {FUNCS})"
        )),
    }
}

fn action(text: &str, cx: &GoCtx<'_>) -> Result<String, String> {
    let mut piped: Option<String> = None;
    for cmd in tokenize(text)? {
        let mut toks = cmd.into_iter();
        let value = match toks.next() {
            None => return Err("empty action in a pipeline".into()),
            Some(Tok::Str(s)) => s,
            Some(Tok::Word(w)) => {
                let mut args: Vec<String> = toks
                    .map(|t| match t {
                        Tok::Str(s) | Tok::Word(s) => s,
                    })
                    .collect();
                if let Some(p) = piped.take() {
                    args.push(p);
                }
                call(&w, &args, cx)?
            }
        };
        piped = Some(value);
    }
    Ok(piped.unwrap_or_default())
}

/// `text` with each `{{ACTION}}` replaced by what `f` makes of `ACTION`
/// (the text between the braces, untrimmed); `unclosed` is the error for a
/// `{{` without `}}`. The one scanner of Go-template text.
pub(crate) fn replace_actions<E>(
    text: &str,
    unclosed: impl FnOnce() -> E,
    mut f: impl FnMut(&str) -> Result<String, E>,
) -> Result<String, E> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else {
            return Err(unclosed());
        };
        out.push_str(&f(&after[..end])?);
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

/// Renders the functions in `text`; deferred actions stay as written.
pub(crate) fn render(text: &str, cx: &GoCtx<'_>) -> Result<String, String> {
    replace_actions(
        text,
        || "unclosed `{{`".to_string(),
        |inner| {
            if is_deferred(inner) {
                return Ok(format!("{{{{{inner}}}}}"));
            }
            let trimmed = inner.trim_start_matches('-').trim_end_matches('-');
            action(trimmed, cx).map_err(|e| format!("in `{{{{{inner}}}}}`: {e}"))
        },
    )
}

/// Renders every string inside `value`; the error names the path of the
/// string (`a.b[0]`).
pub(crate) fn render_value(value: &Value, cx: &GoCtx<'_>) -> Result<Value, (String, String)> {
    fn go(v: &Value, path: &str, cx: &GoCtx<'_>) -> Result<Value, (String, String)> {
        Ok(match v {
            Value::String(s) => Value::String(render(s, cx).map_err(|e| (path.to_owned(), e))?),
            Value::Array(a) => Value::Array(
                a.iter()
                    .enumerate()
                    .map(|(i, x)| go(x, &format!("{path}[{i}]"), cx))
                    .collect::<Result<_, _>>()?,
            ),
            Value::Object(o) => {
                let mut m = Map::new();
                for (k, x) in o {
                    let p = if path.is_empty() {
                        k.clone()
                    } else {
                        format!("{path}.{k}")
                    };
                    m.insert(k.clone(), go(x, &p, cx)?);
                }
                Value::Object(m)
            }
            other => other.clone(),
        })
    }
    go(value, "", cx)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cx<'a>(user: &'a Map<String, Value>) -> GoCtx<'a> {
        GoCtx {
            user: Some(user),
            env: None,
            build_name: Some("web"),
            build_type: Some("triton"),
            template_dir: Some("/t"),
            pwd: "/w",
            init: DateTime::parse_from_rfc3339("2018-01-02T23:12:01Z")
                .unwrap()
                .with_timezone(&Utc),
            uuid: "u-1",
        }
    }

    #[test]
    fn renders_functions_and_passes_field_data_through() {
        let mut user = Map::new();
        user.insert("v".into(), Value::from("1.2"));
        let c = cx(&user);
        let r = |s: &str| render(s, &c);
        assert_eq!(
            r("img-{{user `v`}}-{{ timestamp }}").unwrap(),
            "img-1.2-1514934721"
        );
        assert_eq!(r("{{isotime \"20060102\"}}").unwrap(), "20180102");
        assert_eq!(r("{{ isotime \"Mon\" | lower }}").unwrap(), "tue");
        assert_eq!(
            r("{{build_name}}.{{build_type}} {{uuid}} {{template_dir}}").unwrap(),
            "web.triton u-1 /t"
        );
        assert_eq!(
            r("{{.Device}} {{ .Vars }} {{build `ID`}}").unwrap(),
            "{{.Device}} {{ .Vars }} {{build `ID`}}"
        );
        assert!(
            r("{{env `HOME`}}")
                .unwrap_err()
                .contains("not allowed here")
        );
        assert!(r("{{nope}}").unwrap_err().contains("not defined"));
        assert!(r("{{timestamp").is_err());
    }
}

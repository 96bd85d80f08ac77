//! The HCL2 functions Packer templates use (Packer's `hcl2template`
//! function table), and the date formats of `formatdate` and Go layouts.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Datelike, FixedOffset, Timelike, Utc};
use serde_json::{Map, Value};
use unicode_segmentation::UnicodeSegmentation;

use super::types::{self, type_of};

/// Which functions an expression may call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FuncSet {
    /// Variable defaults: only `env()`.
    OnlyEnv,
    /// Var files and `templatefile` bodies: none.
    None,
    /// Everything but `env()` (locals, sources, builds).
    All,
}

/// What functions see of the world.
#[derive(Debug, Clone)]
pub(crate) struct FuncEnv<'a> {
    pub set: FuncSet,
    pub env: &'a BTreeMap<String, String>,
    /// Where `file()` and `templatefile()` resolve relative paths.
    pub template_dir: &'a Path,
    /// Where `abspath()` resolves relative paths.
    pub cwd: &'a Path,
}

/// The names of every function, for "unknown function" messages.
pub(crate) const NAMES: &[&str] = &[
    "abspath",
    "basename",
    "can",
    "chomp",
    "coalesce",
    "concat",
    "contains",
    "dirname",
    "env",
    "file",
    "fileexists",
    "format",
    "formatdate",
    "join",
    "keys",
    "length",
    "lookup",
    "lower",
    "max",
    "merge",
    "min",
    "regex_replace",
    "replace",
    "split",
    "startswith",
    "endswith",
    "substr",
    "templatefile",
    "timestamp",
    "tolist",
    "tomap",
    "tonumber",
    "toset",
    "tostring",
    "trim",
    "trimprefix",
    "trimspace",
    "trimsuffix",
    "try",
    "upper",
    "uuidv4",
    "values",
];

fn arity(name: &str, args: &[Value], min: usize, max: Option<usize>) -> Result<(), String> {
    let n = args.len();
    if n < min || max.is_some_and(|m| n > m) {
        let want = match max {
            Some(m) if m == min => format!("{min}"),
            Some(m) => format!("{min} to {m}"),
            None => format!("at least {min}"),
        };
        return Err(format!("`{name}()` takes {want} argument(s), got {n}"));
    }
    Ok(())
}

fn string(name: &str, i: usize, v: &Value) -> Result<String, String> {
    types::to_string(v).ok_or_else(|| {
        format!(
            "argument {} of `{name}()` must be a string, not a {}",
            i + 1,
            type_of(v)
        )
    })
}

fn list<'v>(name: &str, i: usize, v: &'v Value) -> Result<&'v Vec<Value>, String> {
    v.as_array().ok_or_else(|| {
        format!(
            "argument {} of `{name}()` must be a list, not a {}",
            i + 1,
            type_of(v)
        )
    })
}

fn object<'v>(name: &str, i: usize, v: &'v Value) -> Result<&'v Map<String, Value>, String> {
    v.as_object().ok_or_else(|| {
        format!(
            "argument {} of `{name}()` must be a map or object, not a {}",
            i + 1,
            type_of(v)
        )
    })
}

fn num(name: &str, i: usize, v: &Value) -> Result<f64, String> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => types::parse_number(s).and_then(|n| n.as_f64()),
        _ => None,
    }
    .ok_or_else(|| format!("argument {} of `{name}()` must be a number", i + 1))
}

/// Calls function `name` (every function but `templatefile`, `try` and
/// `can`, which the evaluator handles).
pub(crate) fn call(name: &str, args: &[Value], fx: &FuncEnv<'_>) -> Result<Value, String> {
    let s = |i: usize| string(name, i, &args[i]);
    match name {
        "env" => {
            arity(name, args, 1, Some(1))?;
            Ok(Value::String(
                fx.env.get(&s(0)?).cloned().unwrap_or_default(),
            ))
        }
        "timestamp" => {
            arity(name, args, 0, Some(0))?;
            Ok(Value::String(
                Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string(),
            ))
        }
        "uuidv4" => {
            arity(name, args, 0, Some(0))?;
            Ok(Value::String(uuid::Uuid::new_v4().to_string()))
        }
        "formatdate" => {
            arity(name, args, 2, Some(2))?;
            let ts = s(1)?;
            let t = DateTime::parse_from_rfc3339(&ts).map_err(|_| {
                "the timestamp given to `formatdate()` must be RFC 3339 (like timestamp() gives: 2026-01-02T03:04:05Z)"
                    .to_string()
            })?;
            formatdate(&s(0)?, &t).map(Value::String)
        }
        "lower" | "upper" | "trimspace" | "chomp" => {
            arity(name, args, 1, Some(1))?;
            let v = s(0)?;
            Ok(Value::String(match name {
                "lower" => v.to_lowercase(),
                "upper" => v.to_uppercase(),
                "trimspace" => v.trim().to_owned(),
                _ => v.trim_end_matches(['\n', '\r']).to_owned(),
            }))
        }
        "replace" => {
            arity(name, args, 3, Some(3))?;
            let (v, sub, rep) = (s(0)?, s(1)?, s(2)?);
            if sub.is_empty() {
                return Ok(Value::String(v));
            }
            Ok(Value::String(v.replace(&sub, &rep)))
        }
        "regex_replace" => {
            arity(name, args, 3, Some(3))?;
            let re = regex::Regex::new(&s(1)?)
                .map_err(|e| format!("the pattern of `regex_replace()` is not valid: {e}"))?;
            Ok(Value::String(
                re.replace_all(&s(0)?, s(2)?.as_str()).into_owned(),
            ))
        }
        "split" => {
            arity(name, args, 2, Some(2))?;
            let (sep, v) = (s(0)?, s(1)?);
            let parts: Vec<Value> = if sep.is_empty() {
                v.chars().map(|c| Value::String(c.to_string())).collect()
            } else {
                v.split(sep.as_str())
                    .map(|p| Value::String(p.to_owned()))
                    .collect()
            };
            Ok(Value::Array(parts))
        }
        "join" => {
            arity(name, args, 2, None)?;
            let sep = s(0)?;
            let mut parts = Vec::new();
            for (i, l) in args.iter().enumerate().skip(1) {
                for v in list(name, i, l)? {
                    parts.push(string(name, i, v)?);
                }
            }
            Ok(Value::String(parts.join(&sep)))
        }
        "concat" => {
            let mut out = Vec::new();
            for (i, l) in args.iter().enumerate() {
                out.extend(list(name, i, l)?.iter().cloned());
            }
            Ok(Value::Array(out))
        }
        "merge" => {
            let mut out = Map::new();
            for (i, m) in args.iter().enumerate() {
                if m.is_null() {
                    continue;
                }
                for (k, v) in object(name, i, m)? {
                    out.insert(k.clone(), v.clone());
                }
            }
            Ok(Value::Object(out))
        }
        "lookup" => {
            arity(name, args, 2, Some(3))?;
            let m = object(name, 0, &args[0])?;
            let k = s(1)?;
            match (m.get(&k), args.get(2)) {
                (Some(v), _) => Ok(v.clone()),
                (None, Some(d)) => Ok(d.clone()),
                (None, None) => Err(format!(
                    "`lookup()`: the map has no key {k:?} (give a default as third argument)"
                )),
            }
        }
        "coalesce" => args
            .iter()
            .find(|v| !v.is_null() && v.as_str() != Some(""))
            .cloned()
            .ok_or_else(|| "`coalesce()`: no non-null, non-empty argument".to_string()),
        "length" => {
            arity(name, args, 1, Some(1))?;
            let n = match &args[0] {
                Value::String(v) => v.graphemes(true).count(),
                Value::Array(a) => a.len(),
                Value::Object(o) => o.len(),
                other => {
                    return Err(format!(
                        "`length()` takes a string, list or map, not a {}",
                        type_of(other)
                    ));
                }
            };
            Ok(Value::from(n))
        }
        "format" => {
            arity(name, args, 1, None)?;
            format(&s(0)?, &args[1..]).map(Value::String)
        }
        "abspath" => {
            arity(name, args, 1, Some(1))?;
            let p = PathBuf::from(s(0)?);
            let abs = if p.is_absolute() { p } else { fx.cwd.join(p) };
            Ok(Value::String(clean(&abs.to_string_lossy())))
        }
        "basename" => {
            arity(name, args, 1, Some(1))?;
            Ok(Value::String(basename(&s(0)?)))
        }
        "dirname" => {
            arity(name, args, 1, Some(1))?;
            Ok(Value::String(dirname(&s(0)?)))
        }
        "file" => {
            arity(name, args, 1, Some(1))?;
            read_file(&s(0)?, fx).map(Value::String)
        }
        "fileexists" => {
            arity(name, args, 1, Some(1))?;
            Ok(Value::Bool(resolve(&s(0)?, fx).is_file()))
        }
        "trim" | "trimprefix" | "trimsuffix" | "startswith" | "endswith" => {
            arity(name, args, 2, Some(2))?;
            let (v, x) = (s(0)?, s(1)?);
            Ok(match name {
                "trim" => Value::String(v.trim_matches(|c| x.contains(c)).to_owned()),
                "trimprefix" => Value::String(v.strip_prefix(&x).unwrap_or(&v).to_owned()),
                "trimsuffix" => Value::String(v.strip_suffix(&x).unwrap_or(&v).to_owned()),
                "startswith" => Value::Bool(v.starts_with(&x)),
                _ => Value::Bool(v.ends_with(&x)),
            })
        }
        "substr" => {
            arity(name, args, 3, Some(3))?;
            let v = s(0)?;
            let g: Vec<&str> = v.graphemes(true).collect();
            let off = num(name, 1, &args[1])? as i64;
            let len = num(name, 2, &args[2])? as i64;
            let start = if off < 0 { g.len() as i64 + off } else { off }.max(0) as usize;
            let start = start.min(g.len());
            let end = if len < 0 {
                g.len()
            } else {
                (start + len as usize).min(g.len())
            };
            Ok(Value::String(g[start..end].concat()))
        }
        "contains" => {
            arity(name, args, 2, Some(2))?;
            Ok(Value::Bool(list(name, 0, &args[0])?.contains(&args[1])))
        }
        "keys" | "values" => {
            arity(name, args, 1, Some(1))?;
            let m = object(name, 0, &args[0])?;
            Ok(Value::Array(if name == "keys" {
                m.keys().map(|k| Value::String(k.clone())).collect()
            } else {
                m.values().cloned().collect()
            }))
        }
        "max" | "min" => {
            arity(name, args, 1, None)?;
            let mut nums = Vec::new();
            for (i, v) in args.iter().enumerate() {
                nums.push(num(name, i, v)?);
            }
            let r = if name == "max" {
                nums.iter().copied().fold(f64::MIN, f64::max)
            } else {
                nums.iter().copied().fold(f64::MAX, f64::min)
            };
            types::number(r).ok_or_else(|| "not a finite number".into())
        }
        "tostring" => {
            arity(name, args, 1, Some(1))?;
            types::convert(&args[0], &types::Type::String)
        }
        "tonumber" => {
            arity(name, args, 1, Some(1))?;
            types::convert(&args[0], &types::Type::Number)
        }
        "tolist" | "toset" => {
            arity(name, args, 1, Some(1))?;
            let t = Box::new(types::Type::Any);
            let ty = if name == "tolist" {
                types::Type::List(t)
            } else {
                types::Type::Set(t)
            };
            types::convert(&args[0], &ty)
        }
        "tomap" => {
            arity(name, args, 1, Some(1))?;
            types::convert(&args[0], &types::Type::Map(Box::new(types::Type::Any)))
        }
        _ => Err(format!("unknown function `{name}`")),
    }
}

/// `p` with `~` expanded and a relative path joined to the template
/// directory.
pub(crate) fn resolve(p: &str, fx: &FuncEnv<'_>) -> PathBuf {
    let expanded = match p.strip_prefix("~/") {
        Some(rest) => match fx.env.get("HOME") {
            Some(home) => Path::new(home).join(rest),
            None => PathBuf::from(p),
        },
        None => PathBuf::from(p),
    };
    if expanded.is_absolute() {
        expanded
    } else {
        fx.template_dir.join(expanded)
    }
}

/// The UTF-8 text of file `p` (see [`resolve`]).
pub(crate) fn read_file(p: &str, fx: &FuncEnv<'_>) -> Result<String, String> {
    let path = resolve(p, fx);
    let bytes =
        std::fs::read(&path).map_err(|e| format!("no file exists at {}: {e}", path.display()))?;
    String::from_utf8(bytes).map_err(|_| {
        format!(
            "contents of {} are not valid UTF-8 (use filebase64 in Packer)",
            path.display()
        )
    })
}

/// Go's `filepath.Clean` on `/`-separated paths.
pub(crate) fn clean(p: &str) -> String {
    if p.is_empty() {
        return ".".into();
    }
    let rooted = p.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for c in p.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|l| *l != "..") {
                    parts.pop();
                } else if !rooted {
                    parts.push("..");
                }
            }
            c => parts.push(c),
        }
    }
    let joined = parts.join("/");
    match (rooted, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".into(),
        (false, false) => joined,
    }
}

/// Go's `filepath.Base`.
pub(crate) fn basename(p: &str) -> String {
    let t = p.trim_end_matches('/');
    if p.is_empty() {
        return ".".into();
    }
    if t.is_empty() {
        return "/".into();
    }
    t.rsplit('/').next().unwrap_or(t).to_owned()
}

/// Go's `filepath.Dir`.
pub(crate) fn dirname(p: &str) -> String {
    match p.rfind('/') {
        Some(i) => clean(&p[..=i]),
        None => ".".into(),
    }
}

/// The largest width or precision `format()` honours (no giant strings
/// from a typo).
const MAX_WIDTH: usize = 4096;

/// `format()`: Go's printf verbs `%s %d %f %t %v %q %%` with flags, width
/// and precision.
fn format(spec: &str, args: &[Value]) -> Result<String, String> {
    let mut out = String::new();
    let mut chars = spec.chars().peekable();
    let mut next = 0usize;
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let mut flags = String::new();
        while let Some(&f) = chars.peek() {
            if "-+ 0#".contains(f) {
                flags.push(f);
                chars.next();
            } else {
                break;
            }
        }
        let mut width = String::new();
        while let Some(&d) = chars.peek().filter(|d| d.is_ascii_digit()) {
            width.push(d);
            chars.next();
        }
        let mut precision: Option<usize> = None;
        if chars.peek() == Some(&'.') {
            chars.next();
            let mut p = String::new();
            while let Some(&d) = chars.peek().filter(|d| d.is_ascii_digit()) {
                p.push(d);
                chars.next();
            }
            precision = Some(p.parse::<usize>().unwrap_or(0).min(MAX_WIDTH));
        }
        let Some(verb) = chars.next() else {
            return Err("`format()`: the format ends in the middle of a `%` verb".into());
        };
        if verb == '%' {
            out.push('%');
            continue;
        }
        let Some(arg) = args.get(next) else {
            return Err(format!(
                "`format()`: not enough arguments for the format (verb %{verb})"
            ));
        };
        next += 1;
        let text = match verb {
            's' | 'v' => match arg {
                Value::Array(_) | Value::Object(_) if verb == 'v' => arg.to_string(),
                _ => types::to_string(arg).ok_or_else(|| {
                    format!("`format()`: %{verb} cannot format a {}", type_of(arg))
                })?,
            },
            'q' => serde_json::to_string(
                &types::to_string(arg)
                    .ok_or_else(|| format!("`format()`: %q cannot format a {}", type_of(arg)))?,
            )
            .unwrap_or_default(),
            'd' => {
                let n = types::convert(arg, &types::Type::Number)?;
                let f = n.as_f64().unwrap_or(0.0);
                if f.fract() != 0.0 {
                    return Err("`format()`: %d needs a whole number".into());
                }
                let s = format!("{}", f as i64);
                if flags.contains('+') && f >= 0.0 {
                    format!("+{s}")
                } else {
                    s
                }
            }
            'f' => {
                let n = types::convert(arg, &types::Type::Number)?;
                format!("{:.*}", precision.unwrap_or(6), n.as_f64().unwrap_or(0.0))
            }
            't' => match types::convert(arg, &types::Type::Bool)? {
                Value::Bool(b) => b.to_string(),
                _ => "false".into(),
            },
            other => return Err(format!("`format()`: unsupported verb %{other}")),
        };
        let text = match (precision, verb) {
            (Some(p), 's' | 'v') => text.chars().take(p).collect(),
            _ => text,
        };
        let w: usize = width.parse::<usize>().unwrap_or(0).min(MAX_WIDTH);
        let len = text.chars().count();
        if len < w {
            let pad = w - len;
            if flags.contains('-') {
                out.push_str(&text);
                out.push_str(&" ".repeat(pad));
            } else if flags.contains('0') && matches!(verb, 'd' | 'f') {
                let (sign, digits) = match text.strip_prefix(['-', '+']) {
                    Some(d) => (&text[..1], d),
                    None => ("", text.as_str()),
                };
                out.push_str(sign);
                out.push_str(&"0".repeat(pad));
                out.push_str(digits);
            } else {
                out.push_str(&" ".repeat(pad));
                out.push_str(&text);
            }
        } else {
            out.push_str(&text);
        }
    }
    if next < args.len() {
        return Err(format!(
            "`format()`: {} argument(s) left over after the format",
            args.len() - next
        ));
    }
    Ok(out)
}

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const DAYS: [&str; 7] = [
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];

fn offset_text(t: &DateTime<FixedOffset>, colon: bool) -> String {
    let secs = t.offset().local_minus_utc();
    let sign = if secs < 0 { '-' } else { '+' };
    let (h, m) = (secs.abs() / 3600, secs.abs() % 3600 / 60);
    if colon {
        format!("{sign}{h:02}:{m:02}")
    } else {
        format!("{sign}{h:02}{m:02}")
    }
}

/// cty's `formatdate` (`YYYY-MM-DD`, `hh:mm` 24-hour, `HH` 12-hour...).
pub(crate) fn formatdate(spec: &str, t: &DateTime<FixedOffset>) -> Result<String, String> {
    let chars: Vec<char> = spec.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '\'' {
            // A quoted literal; '' is a single quote.
            if chars.get(i + 1) == Some(&'\'') {
                out.push('\'');
                i += 2;
                continue;
            }
            i += 1;
            loop {
                match chars.get(i) {
                    None => {
                        return Err(
                            "`formatdate()`: unterminated quoted literal in the format".into()
                        );
                    }
                    Some('\'') if chars.get(i + 1) == Some(&'\'') => {
                        out.push('\'');
                        i += 2;
                    }
                    Some('\'') => {
                        i += 1;
                        break;
                    }
                    Some(&x) => {
                        out.push(x);
                        i += 1;
                    }
                }
            }
            continue;
        }
        if !c.is_ascii_alphabetic() {
            out.push(c);
            i += 1;
            continue;
        }
        let mut n = 1;
        while chars.get(i + n) == Some(&c) {
            n += 1;
        }
        let tok: String = chars[i..i + n].iter().collect();
        let h12 = match t.hour() % 12 {
            0 => 12,
            h => h,
        };
        let text = match tok.as_str() {
            "YYYY" => format!("{:04}", t.year()),
            "YY" => format!("{:02}", t.year() % 100),
            "MMMM" => MONTHS[t.month0() as usize].to_string(),
            "MMM" => MONTHS[t.month0() as usize][..3].to_string(),
            "MM" => format!("{:02}", t.month()),
            "M" => t.month().to_string(),
            "DD" => format!("{:02}", t.day()),
            "D" => t.day().to_string(),
            "EEEE" => DAYS[t.weekday().num_days_from_monday() as usize].to_string(),
            "EEE" => DAYS[t.weekday().num_days_from_monday() as usize][..3].to_string(),
            "hh" => format!("{:02}", t.hour()),
            "h" => t.hour().to_string(),
            "HH" => format!("{h12:02}"),
            "H" => h12.to_string(),
            "AA" => if t.hour() < 12 { "AM" } else { "PM" }.to_string(),
            "aa" => if t.hour() < 12 { "am" } else { "pm" }.to_string(),
            "mm" => format!("{:02}", t.minute()),
            "m" => t.minute().to_string(),
            "ss" => format!("{:02}", t.second()),
            "s" => t.second().to_string(),
            "ZZZZZ" => offset_text(t, true),
            "ZZZZ" => offset_text(t, false),
            "ZZZ" if t.offset().local_minus_utc() == 0 => "UTC".into(),
            "ZZZ" => offset_text(t, false),
            "Z" if t.offset().local_minus_utc() == 0 => "Z".into(),
            "Z" => offset_text(t, true),
            _ => {
                return Err(format!(
                    "`formatdate()`: invalid date format verb {tok:?} (quote literal text: 'T')"
                ));
            }
        };
        out.push_str(&text);
        i += n;
    }
    Ok(out)
}

/// A time in a Go reference-time layout (`2006-01-02T15:04:05Z07:00`), as
/// `{{isotime "layout"}}` and `legacy_isotime` format it.
pub(crate) fn go_layout(layout: &str, t: &DateTime<Utc>) -> String {
    let t: DateTime<FixedOffset> = t.fixed_offset();
    let mut out = String::new();
    let mut rest = layout;
    let h12 = match t.hour() % 12 {
        0 => 12,
        h => h,
    };
    // Longest chunks first, as Go's nextStdChunk checks them.
    let table: Vec<(&str, String)> = vec![
        ("January", MONTHS[t.month0() as usize].to_string()),
        ("Jan", MONTHS[t.month0() as usize][..3].to_string()),
        (
            "Monday",
            DAYS[t.weekday().num_days_from_monday() as usize].to_string(),
        ),
        (
            "Mon",
            DAYS[t.weekday().num_days_from_monday() as usize][..3].to_string(),
        ),
        ("MST", "UTC".to_string()),
        ("2006", format!("{:04}", t.year())),
        ("002", format!("{:03}", t.ordinal())),
        ("01", format!("{:02}", t.month())),
        ("02", format!("{:02}", t.day())),
        ("03", format!("{h12:02}")),
        ("04", format!("{:02}", t.minute())),
        ("05", format!("{:02}", t.second())),
        ("06", format!("{:02}", t.year() % 100)),
        ("15", format!("{:02}", t.hour())),
        ("__2", format!("{:>3}", t.ordinal())),
        ("_2", format!("{:>2}", t.day())),
        ("1", t.month().to_string()),
        ("2", t.day().to_string()),
        ("3", h12.to_string()),
        ("4", t.minute().to_string()),
        ("5", t.second().to_string()),
        ("PM", if t.hour() < 12 { "AM" } else { "PM" }.to_string()),
        ("pm", if t.hour() < 12 { "am" } else { "pm" }.to_string()),
        ("-07:00:00", offset_text(&t, true) + ":00"),
        ("-070000", offset_text(&t, false) + "00"),
        ("-07:00", offset_text(&t, true)),
        ("-0700", offset_text(&t, false)),
        ("-07", offset_text(&t, false)[..3].to_string()),
        ("Z07:00:00", "Z".to_string()),
        ("Z070000", "Z".to_string()),
        ("Z07:00", "Z".to_string()),
        ("Z0700", "Z".to_string()),
        ("Z07", "Z".to_string()),
    ];
    'outer: while !rest.is_empty() {
        // Fractional seconds: .000 / .999 (and , forms) followed by a non-digit.
        if let Some(sep @ ('.' | ',')) = rest.chars().next() {
            let digits: String = rest[1..]
                .chars()
                .take_while(|c| *c == '0' || *c == '9')
                .collect();
            let after = rest[1 + digits.len()..].chars().next();
            if !digits.is_empty()
                && digits
                    .chars()
                    .all(|c| c == digits.chars().next().unwrap_or('0'))
                && !after.is_some_and(|c| c.is_ascii_digit())
            {
                let nanos = format!("{:09}", t.nanosecond() % 1_000_000_000);
                let frac = &nanos[..digits.len().min(9)];
                if digits.starts_with('9') {
                    let trimmed = frac.trim_end_matches('0');
                    if !trimmed.is_empty() {
                        out.push(sep);
                        out.push_str(trimmed);
                    }
                } else {
                    out.push(sep);
                    out.push_str(frac);
                }
                rest = &rest[1 + digits.len()..];
                continue;
            }
        }
        for (chunk, value) in &table {
            if let Some(r) = rest.strip_prefix(chunk) {
                // Go: "Jan"/"Mon" must not continue with a lowercase letter
                // (so "Monday" wins); the table order already handles that.
                out.push_str(value);
                rest = r;
                continue 'outer;
            }
        }
        let c = rest.chars().next().unwrap_or(' ');
        out.push(c);
        rest = &rest[c.len_utf8()..];
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<FixedOffset> {
        DateTime::parse_from_rfc3339(s).unwrap()
    }

    #[test]
    fn formatdate_matches_the_cty_vectors() {
        let t = at("2018-01-02T23:12:01Z");
        assert_eq!(
            formatdate("DD MMM YYYY hh:mm ZZZ", &t).unwrap(),
            "02 Jan 2018 23:12 UTC"
        );
        assert_eq!(formatdate("HH:mmaa", &t).unwrap(), "11:12pm");
        assert_eq!(
            formatdate("h'h'mm", &at("2018-01-02T23:12:01-08:00")).unwrap(),
            "23h12"
        );
        assert!(
            formatdate("YYY", &t)
                .unwrap_err()
                .contains("invalid date format verb")
        );
        assert_eq!(
            formatdate("YYYYMMDD-hhmmss", &t).unwrap(),
            "20180102-231201"
        );
    }

    #[test]
    fn go_layouts_format_as_go_does() {
        let t = at("2018-01-02T23:12:01Z").with_timezone(&Utc);
        assert_eq!(
            go_layout("2006-01-02T15:04:05Z07:00", &t),
            "2018-01-02T23:12:01Z"
        );
        assert_eq!(go_layout("20060102-1504", &t), "20180102-2312");
        assert_eq!(
            go_layout("Mon Jan _2 3:04PM MST", &t),
            "Tue Jan  2 11:12PM UTC"
        );
        assert_eq!(go_layout("v1", &t), "v1");
        assert_eq!(go_layout("v2", &t), "v2");
        assert_eq!(go_layout("05.000", &t), "01.000");
    }

    #[test]
    fn format_and_paths() {
        assert_eq!(
            format(
                "%s-%03d %.1f %t %%",
                &[
                    Value::from("a"),
                    Value::from(7),
                    Value::from(1.25),
                    Value::from(true)
                ]
            )
            .unwrap(),
            "a-007 1.2 true %"
        );
        assert!(format("%s %s", &[Value::from("a")]).is_err());
        assert_eq!(
            format("%99999999999999d", &[Value::from(1)]).unwrap().len(),
            MAX_WIDTH
        );
        assert_eq!(basename("a/b/"), "b");
        assert_eq!(dirname("a/b/c.sh"), "a/b");
        assert_eq!(dirname("c.sh"), ".");
        assert_eq!(clean("/a/./b/../c/"), "/a/c");
    }
}

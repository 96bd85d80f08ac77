//! HTTP Signature authentication as CloudAPI does it (http-signature 1.4
//! parser, the legacy fallback parser, and lib/auth.js key lookup).

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use axum::http::{HeaderMap, Method};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use super::error::ApiError;
use super::state::Account;
use super::verify::{self, Algorithm, KeyKind};

/// Who signed the request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Caller {
    /// The account login (from the keyId).
    pub login: String,
    /// The RBAC sub-user, if a sub-user key signed.
    pub user: Option<String>,
    /// The signature's `keyId` as sent (`/LOGIN/keys/KEY`).
    pub key_id: String,
}

/// A parsed `Authorization: Signature ...` header.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Parsed {
    pub key_id: String,
    pub algorithm: String,
    pub headers: Vec<String>,
    pub signature: String,
    pub legacy: bool,
}

/// What the signer of a request is checked against.
pub(crate) struct Request<'a> {
    pub method: &'a Method,
    /// Path and query exactly as received.
    pub target: &'a str,
    pub headers: &'a HeaderMap,
}

/// Checks the request's signature against `account`'s keys (and its
/// sub-users' keys).
pub(crate) fn authenticate(
    req: &Request<'_>,
    account: &Account,
    skew_limit: Duration,
    now: SystemTime,
) -> Result<Caller, ApiError> {
    let Some(value) = req.headers.get(axum::http::header::AUTHORIZATION) else {
        return Err(not_authenticated());
    };
    let Ok(value) = value.to_str() else {
        return Err(ApiError::invalid_header("bad param format"));
    };
    if value.trim().is_empty() {
        return Err(not_authenticated());
    }
    let parsed = match parse_modern(value, req.headers) {
        Ok(p) => p,
        Err(modern_error) => match parse_legacy(value) {
            Some(p) => p,
            None => return Err(ApiError::invalid_header(modern_error)),
        },
    };
    let algorithm = Algorithm::parse(&parsed.algorithm).map_err(ApiError::invalid_header)?;
    if parsed.legacy && algorithm.kind != KeyKind::Rsa {
        return Err(ApiError::invalid_header(format!(
            "{} is not supported",
            parsed.algorithm
        )));
    }
    let signing_string = signing_string(&parsed, req)?;
    check_date(req.headers, &parsed.headers, skew_limit, now)?;

    let caller = caller_of(&parsed.key_id)?;
    let key_name = parsed.key_id.rsplit('/').next().unwrap_or_default();
    if caller.login != account.login {
        return Err(ApiError::bad_credentials());
    }
    let keys = match &caller.user {
        None => Some(&account.keys),
        Some(user) => account.users.get(user),
    };
    let Some(key) = keys.and_then(|ks| ks.iter().find(|k| k.matches(key_name))) else {
        return Err(ApiError::bad_credentials());
    };
    let Ok(signature) = STANDARD.decode(parsed.signature.as_bytes()) else {
        return Err(ApiError::bad_credentials());
    };
    if !verify::verify(&key.key, algorithm, signing_string.as_bytes(), &signature) {
        return Err(ApiError::bad_credentials());
    }
    Ok(caller)
}

fn not_authenticated() -> ApiError {
    ApiError::credentials("You must make authenticated requests to use CloudAPI")
}

/// `/LOGIN/keys/KEY` or `/LOGIN/users/USER/keys/KEY` (lib/auth.js
/// `signatureAuth`: 4 parts with `keys` third, or 6 with `keys` fifth).
fn caller_of(key_id: &str) -> Result<Caller, ApiError> {
    let parts: Vec<&str> = key_id.split('/').collect();
    match parts.as_slice() {
        ["", login, "keys", _] => Ok(Caller {
            login: (*login).to_owned(),
            user: None,
            key_id: key_id.to_owned(),
        }),
        ["", login, _, user, "keys", _] => Ok(Caller {
            login: (*login).to_owned(),
            user: Some((*user).to_owned()),
            key_id: key_id.to_owned(),
        }),
        _ => Err(ApiError::credentials(format!(
            "Invalid KeyId {key_id} in authorization header"
        ))),
    }
}

/// http-signature 1.4 `parseRequest`: `Signature` then `name="value"` pairs
/// separated by a bare comma (names are letters only, so a space after a
/// comma is "bad param format"); bare integers allowed as values.
pub(crate) fn parse_modern(value: &str, headers: &HeaderMap) -> Result<Parsed, String> {
    #[derive(PartialEq)]
    enum S {
        Name,
        Quote,
        Value,
        Number,
        Comma,
    }
    let (scheme, rest) = value.split_once(' ').unwrap_or((value, ""));
    let mut params: BTreeMap<String, String> = BTreeMap::new();
    let (mut state, mut name, mut val) = (S::Name, String::new(), String::new());
    for c in rest.chars() {
        match state {
            S::Name if c.is_ascii_alphabetic() => name.push(c),
            S::Name if c == '=' && !name.is_empty() => state = S::Quote,
            S::Quote if c == '"' => {
                val.clear();
                state = S::Value;
            }
            S::Quote if c.is_ascii_digit() => {
                val = c.to_string();
                state = S::Number;
            }
            S::Value if c == '"' => {
                params.insert(std::mem::take(&mut name), std::mem::take(&mut val));
                state = S::Comma;
            }
            S::Value => val.push(c),
            S::Number if c == ',' => {
                params.insert(std::mem::take(&mut name), std::mem::take(&mut val));
                state = S::Name;
            }
            S::Number if c.is_ascii_digit() => val.push(c),
            S::Comma if c == ',' => state = S::Name,
            _ => return Err("bad param format".to_owned()),
        }
    }
    let signed = match params.get("headers").filter(|h| !h.is_empty()) {
        Some(h) => h.split(' ').map(str::to_ascii_lowercase).collect(),
        None if headers.contains_key("x-date") => vec!["x-date".to_owned()],
        None => vec!["date".to_owned()],
    };
    if scheme != "Signature" {
        return Err("scheme was not \"Signature\"".to_owned());
    }
    let mut take = |key: &str| {
        params
            .remove(key)
            .filter(|v| !v.is_empty())
            .ok_or_else(|| format!("{key} was not specified"))
    };
    Ok(Parsed {
        key_id: take("keyId")?,
        algorithm: take("algorithm")?,
        signature: take("signature")?,
        headers: signed,
        legacy: false,
    })
}

/// The legacy form CloudAPI still accepts when the modern parse fails:
/// `Signature keyId="..",algorithm="rsa-..."[,headers=".."] BASE64`, whose
/// signing string is the bare header values joined by `\n`.
fn parse_legacy(value: &str) -> Option<Parsed> {
    let rest = value.strip_prefix("Signature ")?;
    let (params, signature) = rest.rsplit_once(' ')?;
    if signature.is_empty() || params.contains(' ') {
        return None;
    }
    let mut map = BTreeMap::new();
    for pair in params.split(',') {
        let (name, quoted) = pair.split_once('=')?;
        let inner = quoted.strip_prefix('"')?.strip_suffix('"')?;
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphabetic()) || inner.contains('"')
        {
            return None;
        }
        map.insert(name.to_owned(), inner.to_owned());
    }
    if map.contains_key("signature") {
        return None;
    }
    Some(Parsed {
        key_id: map.remove("keyId")?,
        algorithm: map.remove("algorithm")?,
        headers: map.remove("headers").map_or_else(
            || vec!["date".to_owned()],
            |h| h.split(' ').map(str::to_ascii_lowercase).collect(),
        ),
        signature: signature.to_owned(),
        legacy: true,
    })
}

fn header_value(headers: &HeaderMap, name: &str) -> Option<String> {
    let values: Vec<&str> = headers
        .get_all(name)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    (!values.is_empty()).then(|| values.join(", "))
}

/// Lines joined by `\n`, no trailing newline: `(request-target): get /path?q`,
/// `name: value` per header (legacy: bare values).
pub(crate) fn signing_string(parsed: &Parsed, req: &Request<'_>) -> Result<String, ApiError> {
    let mut lines = Vec::with_capacity(parsed.headers.len());
    for h in &parsed.headers {
        let line = match h.as_str() {
            "(request-target)" => format!(
                "(request-target): {} {}",
                req.method.as_str().to_ascii_lowercase(),
                req.target
            ),
            "request-line" => format!("{} {} HTTP/1.1", req.method, req.target),
            "(keyid)" => format!("(keyid): {}", parsed.key_id),
            "(algorithm)" => format!("(algorithm): {}", parsed.algorithm),
            name => {
                let Some(value) = header_value(req.headers, name) else {
                    return Err(ApiError::invalid_header(format!(
                        "{name} was not in the request"
                    )));
                };
                if parsed.legacy {
                    value
                } else {
                    format!("{name}: {value}")
                }
            }
        };
        lines.push(line);
    }
    Ok(lines.join("\n"))
}

/// Clock skew against `Date` (or `X-Date`), then that header must be signed.
pub(crate) fn check_date(
    headers: &HeaderMap,
    signed: &[String],
    limit: Duration,
    now: SystemTime,
) -> Result<(), ApiError> {
    let date_header = if headers.contains_key("x-date") {
        "x-date"
    } else {
        "date"
    };
    if let Some(value) = header_value(headers, date_header) {
        // triton-go writes `UTC` where HTTP wants `GMT`; JS Date takes both.
        let Some(date) = super::time::parse_http_date(&value) else {
            return Err(ApiError::invalid_header(format!(
                "{date_header} header {value:?} is not a valid date"
            )));
        };
        let skew = match now.duration_since(date) {
            Ok(d) => d,
            Err(e) => e.duration(),
        };
        if skew > limit {
            return Err(ApiError::invalid_header(format!(
                "clock skew of {}s was greater than {}s",
                skew.as_secs_f64(),
                limit.as_secs_f64()
            )));
        }
    }
    if !signed.iter().any(|h| h == date_header) {
        return Err(ApiError::invalid_header(format!(
            "{date_header} was not a signed header"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().expect("header value"));
        }
        h
    }

    #[test]
    fn modern_header_parses_and_space_after_comma_does_not() {
        let h = HeaderMap::new();
        let p = parse_modern(
            r#"Signature keyId="/a/keys/k",algorithm="rsa-sha256",headers="(request-target) date",signature="c2ln""#,
            &h,
        )
        .expect("parses");
        assert_eq!(p.key_id, "/a/keys/k");
        assert_eq!(p.headers, ["(request-target)", "date"]);
        assert_eq!(p.signature, "c2ln");
        let err = parse_modern(
            r#"Signature keyId="/a/keys/k", algorithm="rsa-sha256",signature="c2ln""#,
            &h,
        )
        .unwrap_err();
        assert_eq!(err, "bad param format");
        assert_eq!(
            parse_modern(
                r#"Basic keyId="x",algorithm="rsa-sha256",signature="s""#,
                &h
            )
            .unwrap_err(),
            "scheme was not \"Signature\""
        );
        assert_eq!(
            parse_modern(r#"Signature keyId="x",algorithm="rsa-sha256""#, &h).unwrap_err(),
            "signature was not specified"
        );
        let numbers = parse_modern(
            r#"Signature keyId="x",created=12,algorithm="ed25519-sha512",signature="s""#,
            &h,
        )
        .expect("integers are bare");
        assert_eq!(numbers.headers, ["date"]);
    }

    #[test]
    fn legacy_header_parses_only_without_spaces_in_params() {
        let p = parse_legacy(r#"Signature keyId="/a/keys/k",algorithm="rsa-sha256" c2ln"#)
            .expect("legacy");
        assert!(p.legacy);
        assert_eq!(p.headers, ["date"]);
        assert_eq!(p.signature, "c2ln");
        assert!(
            parse_legacy(r#"Signature keyId="/a/keys/k", algorithm="rsa-sha256" c2ln"#).is_none()
        );
        assert!(
            parse_legacy(
                r#"Signature keyId="x",algorithm="rsa-sha256",headers="date",signature="s""#
            )
            .is_none()
        );
    }

    #[test]
    fn key_ids_follow_lib_auth_shapes() {
        assert_eq!(
            caller_of("/demo/keys/fp").expect("account"),
            Caller {
                login: "demo".into(),
                user: None,
                key_id: "/demo/keys/fp".into(),
            }
        );
        assert_eq!(
            caller_of("/demo/users/bob/keys/fp")
                .expect("user")
                .user
                .as_deref(),
            Some("bob")
        );
        assert!(caller_of("demo/keys/fp").is_err());
        assert!(caller_of("/demo/bob/keys/fp").is_err());
    }

    #[test]
    fn signing_string_matches_the_reference_shape() {
        let h = headers(&[("date", "Thu, 05 Jan 2014 21:31:40 GMT")]);
        let parsed = Parsed {
            key_id: "/demo/keys/x".into(),
            algorithm: "rsa-sha256".into(),
            headers: vec!["(request-target)".into(), "date".into()],
            signature: String::new(),
            legacy: false,
        };
        let req = Request {
            method: &Method::GET,
            target: "/demo/machines?name=foo%20bar&state=running",
            headers: &h,
        };
        assert_eq!(
            signing_string(&parsed, &req).expect("builds"),
            "(request-target): get /demo/machines?name=foo%20bar&state=running\ndate: Thu, 05 Jan 2014 21:31:40 GMT"
        );
    }

    #[test]
    fn date_checks_skew_then_signed() {
        let now =
            super::super::time::parse_http_date("Thu, 05 Jan 2014 21:31:40 GMT").expect("date");
        let limit = Duration::from_secs(300);
        let h = headers(&[("date", "Thu, 05 Jan 2014 21:41:40 GMT")]);
        let Err(ApiError::Error { message, .. }) = check_date(&h, &["date".into()], limit, now)
        else {
            panic!("skew accepted");
        };
        assert_eq!(
            message,
            "Authorization header invalid: clock skew of 600s was greater than 300s"
        );
        let h = headers(&[("date", "Thu, 05 Jan 2014 21:33:40 UTC")]);
        assert!(check_date(&h, &["date".into()], limit, now).is_ok());
        let Err(ApiError::Error { message, .. }) =
            check_date(&h, &["(request-target)".into()], limit, now)
        else {
            panic!("unsigned date accepted");
        };
        assert_eq!(
            message,
            "Authorization header invalid: date was not a signed header"
        );
    }
}

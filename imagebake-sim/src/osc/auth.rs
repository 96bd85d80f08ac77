//! Checking (and, for tests, making) OSC4-HMAC-SHA256 and AWS4-HMAC-SHA256
//! signatures, as the Outscale gateway does.
//!
//! The canonical request is rebuilt from the headers the request lists in
//! `SignedHeaders`, exactly as received (the `Host` header included, port and
//! all), the URI path and the SHA-256 of the body bytes.

use std::time::{SystemTime, UNIX_EPOCH};

use crate::clock::{civil_from_days, days_from_civil};
use axum::http::HeaderMap;
use ring::{digest, hmac};

/// Largest accepted distance between the request's timestamp and now.
pub const MAX_SKEW_SECS: i64 = 300;

/// The two schemes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    /// `OSC4-HMAC-SHA256`, service `api`, `X-Osc-Date`.
    Osc4,
    /// `AWS4-HMAC-SHA256`, service `oapi`, `X-Amz-Date`.
    Aws4,
}

impl Scheme {
    fn algorithm(self) -> &'static str {
        match self {
            Self::Osc4 => "OSC4-HMAC-SHA256",
            Self::Aws4 => "AWS4-HMAC-SHA256",
        }
    }
    fn service(self) -> &'static str {
        match self {
            Self::Osc4 => "api",
            Self::Aws4 => "oapi",
        }
    }
    fn terminator(self) -> &'static str {
        match self {
            Self::Osc4 => "osc4_request",
            Self::Aws4 => "aws4_request",
        }
    }
    fn prefix(self) -> &'static str {
        match self {
            Self::Osc4 => "OSC4",
            Self::Aws4 => "AWS4",
        }
    }
    /// The timestamp header (lowercase).
    pub fn date_header(self) -> &'static str {
        match self {
            Self::Osc4 => "x-osc-date",
            Self::Aws4 => "x-amz-date",
        }
    }
}

/// Signs a request the way the official SDKs do (OSC4 also signs the
/// `content-type`), for tests that talk to the simulator with raw HTTP.
/// Returns the `Authorization` value.
#[allow(clippy::too_many_arguments)]
pub fn sign(
    scheme: Scheme,
    access_key: &str,
    secret_key: &str,
    region: &str,
    host: &str,
    path: &str,
    body: &[u8],
    timestamp: &str,
    content_type: &str,
) -> String {
    let headers: Vec<(&str, &str)> = match scheme {
        Scheme::Osc4 => vec![
            ("content-type", content_type),
            ("host", host),
            ("x-osc-date", timestamp),
        ],
        Scheme::Aws4 => vec![("host", host), ("x-amz-date", timestamp)],
    };
    let date = timestamp.get(..8).unwrap_or(timestamp);
    let signature = signature(
        scheme, secret_key, region, date, timestamp, path, &headers, body,
    );
    let names: Vec<&str> = headers.iter().map(|(n, _)| *n).collect();
    format!(
        "{} Credential={access_key}/{date}/{region}/{}/{}, SignedHeaders={}, Signature={signature}",
        scheme.algorithm(),
        scheme.service(),
        scheme.terminator(),
        names.join(";")
    )
}

#[allow(clippy::too_many_arguments)]
fn signature(
    scheme: Scheme,
    secret_key: &str,
    region: &str,
    date: &str,
    timestamp: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> String {
    let mut canonical_headers = String::new();
    for (n, v) in headers {
        canonical_headers.push_str(&format!("{n}:{}\n", v.trim()));
    }
    let names: Vec<&str> = headers.iter().map(|(n, _)| *n).collect();
    let canonical_request = format!(
        "POST\n{path}\n\n{canonical_headers}\n{}\n{}",
        names.join(";"),
        hex(digest::digest(&digest::SHA256, body).as_ref())
    );
    let scope = format!(
        "{date}/{region}/{}/{}",
        scheme.service(),
        scheme.terminator()
    );
    let string_to_sign = format!(
        "{}\n{timestamp}\n{scope}\n{}",
        scheme.algorithm(),
        hex(digest::digest(&digest::SHA256, canonical_request.as_bytes()).as_ref())
    );
    let mut key = format!("{}{secret_key}", scheme.prefix()).into_bytes();
    for part in [date, region, scheme.service(), scheme.terminator()] {
        key = mac(&key, part.as_bytes());
    }
    hex(&mac(&key, string_to_sign.as_bytes()))
}

fn mac(key: &[u8], data: &[u8]) -> Vec<u8> {
    hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, key), data)
        .as_ref()
        .to_vec()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Why a request was refused (the `Details` of the 401).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal(pub String);

/// Checks a request's signature. `lookup` maps an access key to its secret key.
pub fn verify(
    headers: &HeaderMap,
    path: &str,
    body: &[u8],
    region: &str,
    lookup: impl Fn(&str) -> Option<String>,
    now: SystemTime,
) -> Result<(), Refusal> {
    let refuse = |s: &str| Err(Refusal(s.to_owned()));
    let Some(auth) = headers.get("authorization").and_then(|v| v.to_str().ok()) else {
        return refuse("missing Authorization header");
    };
    let (alg, rest) = auth.split_once(' ').unwrap_or((auth, ""));
    let scheme = match alg {
        "OSC4-HMAC-SHA256" => Scheme::Osc4,
        "AWS4-HMAC-SHA256" => Scheme::Aws4,
        _ => return refuse("unsupported authorization scheme"),
    };
    let mut credential = None;
    let mut signed = None;
    let mut given = None;
    for part in rest.split(',') {
        let part = part.trim();
        if let Some(v) = part.strip_prefix("Credential=") {
            credential = Some(v);
        } else if let Some(v) = part.strip_prefix("SignedHeaders=") {
            signed = Some(v);
        } else if let Some(v) = part.strip_prefix("Signature=") {
            given = Some(v);
        }
    }
    let (Some(credential), Some(signed), Some(given)) = (credential, signed, given) else {
        return refuse("malformed Authorization header");
    };
    let scope: Vec<&str> = credential.split('/').collect();
    let [ak, date, scope_region, service, terminator] = scope[..] else {
        return refuse("malformed credential scope");
    };
    if service != scheme.service() || terminator != scheme.terminator() {
        return refuse("credential scope does not match the signature scheme");
    }
    if scope_region != region {
        return refuse("credential scope names another region");
    }
    let Some(secret) = lookup(ak) else {
        return refuse("unknown access key");
    };
    let names: Vec<&str> = signed.split(';').collect();
    if !names.contains(&"host") || !names.contains(&scheme.date_header()) {
        return refuse("host and the date header must be signed");
    }
    let mut values = Vec::with_capacity(names.len());
    for n in &names {
        let Some(v) = headers.get(*n).and_then(|v| v.to_str().ok()) else {
            return refuse("a signed header is missing");
        };
        values.push((*n, v));
    }
    let Some(timestamp) = headers
        .get(scheme.date_header())
        .and_then(|v| v.to_str().ok())
    else {
        return refuse("missing date header");
    };
    let Some(at) = parse_timestamp(timestamp) else {
        return refuse("malformed date header");
    };
    if !timestamp.starts_with(date) {
        return refuse("credential date does not match the date header");
    }
    let now = now
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    if (now - at).abs() > MAX_SKEW_SECS {
        return refuse("request timestamp is more than 5 minutes away from the server time");
    }
    let want = signature(
        scheme, &secret, region, date, timestamp, path, &values, body,
    );
    if !constant_eq(want.as_bytes(), given.as_bytes()) {
        return refuse("signature mismatch");
    }
    Ok(())
}

fn constant_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// `YYYYMMDDTHHMMSSZ` to Unix seconds.
pub fn parse_timestamp(ts: &str) -> Option<i64> {
    let b = ts.as_bytes();
    if b.len() != 16 || b[8] != b'T' || b[15] != b'Z' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| ts.get(r)?.parse::<i64>().ok();
    let (y, m, d) = (num(0..4)?, num(4..6)?, num(6..8)?);
    let (hh, mm, ss) = (num(9..11)?, num(11..13)?, num(13..15)?);
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) || hh > 23 || mm > 59 || ss > 60 {
        return None;
    }
    Some(days_from_civil(y, m, d) * 86_400 + hh * 3600 + mm * 60 + ss)
}

/// Formats Unix seconds as `YYYYMMDDTHHMMSSZ`.
pub fn format_timestamp(secs: i64) -> String {
    let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
    let r = secs.rem_euclid(86_400);
    format!(
        "{y:04}{m:02}{d:02}T{:02}{:02}{:02}Z",
        r / 3600,
        (r % 3600) / 60,
        r % 60
    )
}

/// Formats Unix milliseconds as an OAPI date-time (`2026-01-02T03:04:05.678Z`).
pub fn iso_millis(millis: i64) -> String {
    let frac = u32::try_from(millis.rem_euclid(1000)).unwrap_or(0);
    crate::clock::format_utc(millis.div_euclid(1000), frac, 3)
}

#[cfg(test)]
mod tests {
    use super::*;

    const AK: &str = "11112211111110000000";
    const SK: &str = "0000001111112222223333334444445555555666";
    const CT: &str = "application/json; charset=utf-8";
    const HOST: &str = "api.eu-west-2.outscale.com";

    #[test]
    fn reproduces_the_notes_vectors() {
        let osc = sign(
            Scheme::Osc4,
            AK,
            SK,
            "eu-west-2",
            HOST,
            "/api/v1/ReadImages",
            br#"{"Filters": {"ImageIds": ["ami-12345678"]}}"#,
            "20240102T030405Z",
            CT,
        );
        assert!(osc.ends_with(
            "Signature=898f848b74ff4ea8feb0cd1e36023624baf406bcbc2a8ade0fd02ad7c94d8681"
        ));
        let aws = sign(
            Scheme::Aws4,
            AK,
            SK,
            "eu-west-2",
            HOST,
            "/api/v1/ReadImages",
            br#"{"Filters":{"ImageIds":["ami-12345678"]}}"#,
            "20240102T030405Z",
            CT,
        );
        assert_eq!(
            aws,
            "AWS4-HMAC-SHA256 Credential=11112211111110000000/20240102/eu-west-2/oapi/aws4_request, \
             SignedHeaders=host;x-amz-date, \
             Signature=9919e8ce08e4c58a2caa497781c2b8a959c37cce134b5b3cc95c8ed3546df3d1"
        );
    }

    #[test]
    fn verify_accepts_own_signature_and_rejects_tampering() {
        let ts = "20240102T030405Z";
        let now = UNIX_EPOCH + std::time::Duration::from_secs(parse_timestamp(ts).unwrap() as u64);
        let body = b"{}";
        let auth = sign(
            Scheme::Osc4,
            AK,
            SK,
            "eu-west-2",
            "127.0.0.1:9",
            "/api/v1/ReadVms",
            body,
            ts,
            CT,
        );
        let mut h = HeaderMap::new();
        h.insert("authorization", auth.parse().unwrap());
        h.insert("host", "127.0.0.1:9".parse().unwrap());
        h.insert("content-type", CT.parse().unwrap());
        h.insert("x-osc-date", ts.parse().unwrap());
        let lookup = |ak: &str| (ak == AK).then(|| SK.to_owned());
        assert_eq!(
            verify(&h, "/api/v1/ReadVms", body, "eu-west-2", lookup, now),
            Ok(())
        );
        assert!(verify(&h, "/api/v1/ReadVms", b"{ }", "eu-west-2", lookup, now).is_err());
        assert!(verify(&h, "/api/v1/ReadVm", body, "eu-west-2", lookup, now).is_err());
        let late = now + std::time::Duration::from_secs(301);
        assert!(verify(&h, "/api/v1/ReadVms", body, "eu-west-2", lookup, late).is_err());
        h.insert("host", "127.0.0.1".parse().unwrap());
        assert!(verify(&h, "/api/v1/ReadVms", body, "eu-west-2", lookup, now).is_err());
    }

    #[test]
    fn timestamps_round_trip() {
        let t = parse_timestamp("20240102T030405Z").unwrap();
        assert_eq!(t, 1_704_164_645);
        assert_eq!(format_timestamp(t), "20240102T030405Z");
        assert_eq!(iso_millis(1_704_164_645_123), "2024-01-02T03:04:05.123Z");
    }
}

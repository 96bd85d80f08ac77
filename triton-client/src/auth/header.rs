//! The signing string and the exact `Authorization` header CloudAPI parses.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use super::Algorithm;

/// The headers every request signs, in this order.
pub(crate) const SIGNED_HEADERS: &str = "(request-target) date";

/// The signing string for `(request-target) date`:
/// `(request-target): <lower-case method> <path?query>` and `date: <Date>`,
/// joined by `\n` with no trailing newline. `request_target` must be the
/// exact bytes sent on the wire (same percent-encoding).
pub fn signing_string(method: &str, request_target: &str, date: &str) -> String {
    signing_string_for(
        &["(request-target)", "date"],
        method,
        request_target,
        |name| (name == "date").then_some(date),
    )
}

/// The signing string for any list of signed headers (lower-case names);
/// `header` gives a header's value as sent.
pub(crate) fn signing_string_for<'a>(
    signed: &[&str],
    method: &str,
    request_target: &str,
    header: impl Fn(&str) -> Option<&'a str>,
) -> String {
    let lines: Vec<String> = signed
        .iter()
        .map(|name| {
            if *name == "(request-target)" {
                format!(
                    "(request-target): {} {request_target}",
                    method.to_ascii_lowercase()
                )
            } else {
                format!("{name}: {}", header(name).unwrap_or_default())
            }
        })
        .collect();
    lines.join("\n")
}

/// The header's `keyId`: `/LOGIN/keys/MD5`, or `/LOGIN/users/USER/keys/MD5`
/// for an RBAC sub-user.
pub fn key_id_path(account: &str, user: Option<&str>, md5_fingerprint: &str) -> String {
    match user {
        Some(user) => format!("/{account}/users/{user}/keys/{md5_fingerprint}"),
        None => format!("/{account}/keys/{md5_fingerprint}"),
    }
}

/// The `Authorization` value for a request signed over
/// `(request-target) date`: `Signature keyId="…",algorithm="…",headers="…",signature="…"`
/// (no spaces after the commas; CloudAPI's parser rejects them).
pub fn authorization_header(key_id: &str, algorithm: Algorithm, signature: &[u8]) -> String {
    authorization_for(key_id, algorithm.as_str(), Some(SIGNED_HEADERS), signature)
}

/// The `Authorization` value with any `headers` list, or none (then the
/// server assumes `date`).
pub(crate) fn authorization_for(
    key_id: &str,
    algorithm: &str,
    headers: Option<&str>,
    signature: &[u8],
) -> String {
    let mut out = format!("Signature keyId=\"{key_id}\",algorithm=\"{algorithm}\"");
    if let Some(h) = headers {
        out.push_str(&format!(",headers=\"{h}\""));
    }
    out.push_str(&format!(",signature=\"{}\"", STANDARD.encode(signature)));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_shape_is_exact() {
        let h = authorization_header("/demo/keys/aa", Algorithm::EcdsaSha256, b"\x01\x02");
        assert_eq!(
            h,
            "Signature keyId=\"/demo/keys/aa\",algorithm=\"ecdsa-sha256\",headers=\"(request-target) date\",signature=\"AQI=\""
        );
        assert!(!h.contains(", "));
        assert_eq!(
            key_id_path("demo", Some("bob"), "aa"),
            "/demo/users/bob/keys/aa"
        );
        assert_eq!(
            signing_string("GET", "/demo/machines?x=1", "D"),
            "(request-target): get /demo/machines?x=1\ndate: D"
        );
    }
}

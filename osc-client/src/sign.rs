//! Request signing: OSC4-HMAC-SHA256 (the default) and AWS4-HMAC-SHA256.
//!
//! Both are SigV4-shaped. OSC4 uses service `api`, the `X-Osc-Date` header and
//! signs `content-type;host;x-osc-date`; AWS4 uses service `oapi`, `X-Amz-Date`
//! and signs `host;x-amz-date`. The `host` signed must be exactly the `Host`
//! header sent, port included.

use std::time::{SystemTime, UNIX_EPOCH};

use ring::{digest, hmac};

/// The one content type the client sends (and OSC4 signs).
pub const CONTENT_TYPE: &str = "application/json; charset=utf-8";

/// Which signature scheme to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SignatureVersion {
    /// `OSC4-HMAC-SHA256`, service `api` (what osc-sdk-python sends).
    #[default]
    Osc4,
    /// `AWS4-HMAC-SHA256`, service `oapi` (what osc-sdk-rust and osc-sdk-go send).
    Aws4,
}

impl SignatureVersion {
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

    fn key_prefix(self) -> &'static str {
        match self {
            Self::Osc4 => "OSC4",
            Self::Aws4 => "AWS4",
        }
    }

    /// The name of the header carrying the timestamp (`X-Osc-Date` / `X-Amz-Date`).
    pub fn date_header(self) -> &'static str {
        match self {
            Self::Osc4 => "X-Osc-Date",
            Self::Aws4 => "X-Amz-Date",
        }
    }
}

/// What to sign.
#[derive(Debug, Clone, Copy)]
pub struct SigningInput<'a> {
    /// Access key.
    pub access_key: &'a str,
    /// Secret key (never logged).
    pub secret_key: &'a str,
    /// Region, e.g. `eu-west-2`.
    pub region: &'a str,
    /// The `Host` header exactly as sent (`127.0.0.1:3000`, `api.eu-west-2.outscale.com`).
    pub host: &'a str,
    /// URI path, e.g. `/api/v1/ReadImages`.
    pub path: &'a str,
    /// The exact body bytes sent.
    pub body: &'a [u8],
    /// Timestamp, `YYYYMMDDTHHMMSSZ`.
    pub timestamp: &'a str,
}

/// The headers a signature adds to a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedHeaders {
    /// Value of the `Authorization` header.
    pub authorization: String,
    /// Name of the timestamp header (`X-Osc-Date` or `X-Amz-Date`).
    pub date_header: &'static str,
    /// Value of the timestamp header.
    pub date: String,
}

/// Signs one request.
pub fn sign(version: SignatureVersion, input: &SigningInput<'_>) -> SignedHeaders {
    let ts = input.timestamp;
    let date = ts.get(..8).unwrap_or(ts);
    let (canonical_headers, signed_headers) = match version {
        SignatureVersion::Osc4 => (
            format!(
                "content-type:{CONTENT_TYPE}\nhost:{}\nx-osc-date:{ts}\n",
                input.host
            ),
            "content-type;host;x-osc-date",
        ),
        SignatureVersion::Aws4 => (
            format!("host:{}\nx-amz-date:{ts}\n", input.host),
            "host;x-amz-date",
        ),
    };
    let canonical_request = format!(
        "POST\n{}\n\n{canonical_headers}\n{signed_headers}\n{}",
        input.path,
        sha256_hex(input.body)
    );
    let scope = format!(
        "{date}/{}/{}/{}",
        input.region,
        version.service(),
        version.terminator()
    );
    let string_to_sign = format!(
        "{}\n{ts}\n{scope}\n{}",
        version.algorithm(),
        sha256_hex(canonical_request.as_bytes())
    );
    let mut key = format!("{}{}", version.key_prefix(), input.secret_key).into_bytes();
    for part in [date, input.region, version.service(), version.terminator()] {
        key = hmac_sha256(&key, part.as_bytes());
    }
    let signature = hex::encode(hmac_sha256(&key, string_to_sign.as_bytes()));
    SignedHeaders {
        authorization: format!(
            "{} Credential={}/{scope}, SignedHeaders={signed_headers}, Signature={signature}",
            version.algorithm(),
            input.access_key
        ),
        date_header: version.date_header(),
        date: ts.to_owned(),
    }
}

/// Lowercase hex SHA-256 of `data`.
pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(digest::digest(&digest::SHA256, data))
}

fn hmac_sha256(key: &[u8], data: &[u8]) -> Vec<u8> {
    let key = hmac::Key::new(hmac::HMAC_SHA256, key);
    hmac::sign(&key, data).as_ref().to_vec()
}

/// Formats a time as the `YYYYMMDDTHHMMSSZ` timestamp the signatures use (UTC).
pub fn timestamp(time: SystemTime) -> String {
    let secs = time
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}{m:02}{d:02}T{:02}{:02}{:02}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    const AK: &str = "11112211111110000000";
    const SK: &str = "0000001111112222223333334444445555555666";

    fn input<'a>(path: &'a str, body: &'a [u8]) -> SigningInput<'a> {
        SigningInput {
            access_key: AK,
            secret_key: SK,
            region: "eu-west-2",
            host: "api.eu-west-2.outscale.com",
            path,
            body,
            timestamp: "20240102T030405Z",
        }
    }

    #[test]
    fn osc4_vector_read_images() {
        let body = br#"{"Filters": {"ImageIds": ["ami-12345678"]}}"#;
        assert_eq!(
            sha256_hex(body),
            "926b77d74a599395d8bb9993066f5ad6bc9f4f5b88a7665d9dac6e29bd19a503"
        );
        let h = sign(SignatureVersion::Osc4, &input("/api/v1/ReadImages", body));
        assert_eq!(
            h.authorization,
            "OSC4-HMAC-SHA256 Credential=11112211111110000000/20240102/eu-west-2/api/osc4_request, \
             SignedHeaders=content-type;host;x-osc-date, \
             Signature=898f848b74ff4ea8feb0cd1e36023624baf406bcbc2a8ade0fd02ad7c94d8681"
        );
        assert_eq!(h.date_header, "X-Osc-Date");
        assert_eq!(h.date, "20240102T030405Z");
    }

    #[test]
    fn osc4_vector_read_accounts() {
        let h = sign(
            SignatureVersion::Osc4,
            &input("/api/v1/ReadAccounts", b"{}"),
        );
        assert!(
            h.authorization.ends_with(
                "Signature=73d7edf1943d4ee55a0ce06e5e444b8d9e0af0627b6154c54120bc57038609f5"
            ),
            "{}",
            h.authorization
        );
    }

    #[test]
    fn aws4_vector_read_images() {
        let body = br#"{"Filters":{"ImageIds":["ami-12345678"]}}"#;
        let h = sign(SignatureVersion::Aws4, &input("/api/v1/ReadImages", body));
        assert_eq!(
            h.authorization,
            "AWS4-HMAC-SHA256 Credential=11112211111110000000/20240102/eu-west-2/oapi/aws4_request, \
             SignedHeaders=host;x-amz-date, \
             Signature=9919e8ce08e4c58a2caa497781c2b8a959c37cce134b5b3cc95c8ed3546df3d1"
        );
        assert_eq!(h.date_header, "X-Amz-Date");
    }

    #[test]
    fn host_with_port_changes_the_signature() {
        let body = b"{}";
        let mut i = input("/api/v1/ReadAccounts", body);
        let plain = sign(SignatureVersion::Osc4, &i);
        i.host = "api.eu-west-2.outscale.com:8443";
        assert_ne!(plain, sign(SignatureVersion::Osc4, &i));
    }

    #[test]
    fn timestamps_are_utc_basic_format() {
        // 1704164645 is the AWS4 vector's time.
        let t = UNIX_EPOCH + Duration::from_secs(1_704_164_645);
        assert_eq!(timestamp(t), "20240102T030405Z");
        assert_eq!(timestamp(UNIX_EPOCH), "19700101T000000Z");
        let leap = UNIX_EPOCH + Duration::from_secs(951_782_400); // 2000-02-29
        assert_eq!(timestamp(leap), "20000229T000000Z");
    }
}

//! HTTP Signature authentication as muskie does it (`lib/auth.js`):
//! http-signature 1.x's parser, `date` signed, keyId `/LOGIN/keys/MD5` or
//! `/LOGIN/SUBUSER/keys/MD5`, and Manta's own error codes.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ssh_key::PublicKey;

use super::store::err;
use crate::triton::auth::{Request, check_date, parse_modern, signing_string};
use crate::triton::error::ApiError;
use crate::triton::verify::{self, Algorithm};

/// Who may sign for an account: `lookup(login, subuser)` gives the keys, or
/// the Manta error code for an unknown account (`AccountDoesNotExist`) or
/// sub-user (`UserDoesNotExist`). Each key comes with its MD5 fingerprint.
pub(crate) type KeyLookup =
    Arc<dyn Fn(&str, Option<&str>) -> Result<Vec<(String, PublicKey)>, &'static str> + Send + Sync>;

/// The signer of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Caller {
    pub login: String,
    pub subuser: Option<String>,
}

/// The message of a CloudAPI-shaped error from the shared parser.
fn message_of(e: ApiError) -> String {
    match e {
        ApiError::Error { message, .. } => message,
        ApiError::Raw { body, .. } => body.to_string(),
    }
}

/// Checks the request's signature; `Ok(None)` when it carries none.
pub(crate) fn authenticate(
    req: &Request<'_>,
    lookup: &KeyLookup,
    skew: Duration,
    now: SystemTime,
) -> Result<Option<Caller>, ApiError> {
    let Some(value) = req.headers.get(axum::http::header::AUTHORIZATION) else {
        return Ok(None);
    };
    let value = value
        .to_str()
        .map_err(|_| err(403, "InvalidSignature", "bad param format"))?;
    let parsed = parse_modern(value, req.headers).map_err(|m| {
        err(
            403,
            "InvalidSignature",
            format!("Authorization header invalid: {m}"),
        )
    })?;
    let algorithm =
        Algorithm::parse(&parsed.algorithm).map_err(|m| err(401, "InvalidAlgorithm", m))?;
    let signing =
        signing_string(&parsed, req).map_err(|e| err(403, "InvalidSignature", message_of(e)))?;
    check_date(req.headers, &parsed.headers, skew, now)
        .map_err(|e| err(403, "InvalidSignature", message_of(e)))?;
    let parts: Vec<&str> = parsed.key_id.split('/').collect();
    let (login, subuser, fp) = match parts.as_slice() {
        ["", login, "keys", fp] => (*login, None, *fp),
        ["", login, user, "keys", fp] => (*login, Some(*user), *fp),
        _ => {
            return Err(err(
                403,
                "InvalidKeyId",
                format!("{} is not a valid keyId", parsed.key_id),
            ));
        }
    };
    let md5_form = fp.split(':').count() == 16
        && fp
            .split(':')
            .all(|p| p.len() == 2 && p.chars().all(|c| c.is_ascii_hexdigit()));
    if !md5_form {
        return Err(err(
            403,
            "InvalidKeyId",
            format!(
                "{} is not a valid keyId (the key must be its MD5 fingerprint)",
                parsed.key_id
            ),
        ));
    }
    let keys = lookup(login, subuser).map_err(|code| {
        let who = subuser.map_or_else(|| login.to_owned(), |u| format!("{login}/{u}"));
        err(403, code, format!("{who} does not exist"))
    })?;
    let Some((_, key)) = keys.iter().find(|(f, _)| f.eq_ignore_ascii_case(fp)) else {
        return Err(err(
            403,
            "KeyDoesNotExist",
            format!("{} does not exist", parsed.key_id),
        ));
    };
    let signature = STANDARD.decode(parsed.signature.as_bytes()).map_err(|_| {
        err(
            403,
            "InvalidSignature",
            "The signature could not be decoded",
        )
    })?;
    if !verify::verify(key, algorithm, signing.as_bytes(), &signature) {
        return Err(err(
            403,
            "InvalidSignature",
            "The signature we calculated does not match the one you sent",
        ));
    }
    Ok(Some(Caller {
        login: login.to_owned(),
        subuser: subuser.map(str::to_owned),
    }))
}

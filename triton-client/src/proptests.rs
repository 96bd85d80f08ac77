//! Response decoding never panics: every typed decoder and the error-body
//! classifier, fed arbitrary bytes, any JSON, and objects with the right
//! keys and wrong values, answer a value or an error.

use std::collections::BTreeMap;
use std::fmt::Debug;

use imagebake_http::ErrorMeta;
use imagebake_testing::props::{any_json, body_of, config, header_value};
use proptest::prelude::*;
use reqwest::StatusCode;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::client::{Reply, api_error};
use crate::types::{Account, AuditEntry, ExportedImage, Image, Machine, Network, Package, SshKey};
use crate::{Error, Service, imgapi, manta};

fn reply(body: Vec<u8>) -> Reply {
    Reply {
        status: StatusCode::OK,
        headers: HeaderMap::new(),
        body,
    }
}

/// Decodes `body` as a `T` the way every operation does; an error must
/// print and answer its metadata.
fn decode<T: DeserializeOwned + Debug>(body: Vec<u8>) {
    match reply(body).json::<T>("Op") {
        Ok(v) => {
            let _ = format!("{v:?}");
        }
        Err(e) => exercise(&e),
    }
}

fn exercise(e: &Error) {
    let _ = (e.to_string(), format!("{e:?}"));
    let _ = (e.status(), e.code(), e.request_id(), e.is_not_found());
    let _ = (e.is_retryable(), ErrorMeta::message(e), e.failure());
}

/// A header value as a server could send it (visible ASCII, spaces, tabs,
/// obs-text bytes).
fn headers(pairs: &[(&'static str, Option<Vec<u8>>)]) -> HeaderMap {
    let mut h = HeaderMap::new();
    for (name, value) in pairs {
        if let Some(v) = value.as_ref().and_then(|v| HeaderValue::from_bytes(v).ok()) {
            h.insert(HeaderName::from_static(name), v);
        }
    }
    h
}

/// Decoders under test, by index (one strategy drives them all).
const DECODERS: &[fn(Vec<u8>)] = &[
    decode::<Machine>,
    decode::<Vec<Machine>>,
    decode::<Image>,
    decode::<Vec<Image>>,
    decode::<Option<Image>>,
    decode::<ExportedImage>,
    decode::<Package>,
    decode::<Vec<Package>>,
    decode::<Network>,
    decode::<Vec<Network>>,
    decode::<Account>,
    decode::<SshKey>,
    decode::<Vec<SshKey>>,
    decode::<Vec<AuditEntry>>,
    decode::<BTreeMap<String, String>>,
    decode::<BTreeMap<String, Value>>,
    decode::<imgapi::Image>,
    decode::<Vec<imgapi::Image>>,
    decode::<imgapi::Channel>,
    decode::<Vec<imgapi::Channel>>,
    decode::<manta::DirEntry>,
];

fn bodies() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        body_of::<Machine>(),
        body_of::<Image>(),
        body_of::<Package>(),
        body_of::<Network>(),
        body_of::<Account>(),
        body_of::<SshKey>(),
        body_of::<AuditEntry>(),
        body_of::<ExportedImage>(),
        body_of::<imgapi::Image>(),
        body_of::<imgapi::Channel>(),
        body_of::<manta::DirEntry>(),
    ]
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn typed_decoders_answer_a_value_or_an_error(body in bodies()) {
        for d in DECODERS {
            d(body.clone());
        }
    }

    #[test]
    fn error_bodies_are_classified_whatever_they_hold(
        status in 100u16..600,
        body in prop_oneof![
            any_json().prop_map(|v| v.to_string().into_bytes()),
            prop::collection::vec(any::<u8>(), 0..400),
            (any_json(), any_json()).prop_map(|(c, m)| {
                serde_json::json!({"code": c, "message": m}).to_string().into_bytes()
            }),
        ],
        retry_after in prop::option::of(header_value()),
        request_id in prop::option::of(header_value()),
        x_request_id in prop::option::of(header_value()),
        service in prop::sample::select(vec![Service::CloudApi, Service::Manta, Service::Imgapi]),
    ) {
        let Ok(status) = StatusCode::from_u16(status) else {
            return Ok(());
        };
        let h = headers(&[
            ("retry-after", retry_after),
            ("request-id", request_id),
            ("x-request-id", x_request_id),
        ]);
        let e = api_error(service, "Op", status, &h, &body);
        exercise(&e);
        prop_assert_eq!(e.status(), Some(status.as_u16()));
    }
}

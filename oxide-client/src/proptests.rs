//! Response decoding never panics: every typed decoder and the error-body
//! classifier, fed arbitrary bytes, any JSON, and objects with the right
//! keys and wrong values, answer a value or an error.

use std::fmt::Debug;

use imagebake_http::ErrorMeta;
use imagebake_testing::props::{any_json, body_of, config, header_value};
use proptest::prelude::*;
use serde::de::DeserializeOwned;

use crate::Error;
use crate::client::{UNSUPPORTED_VERSION, api_error, decode};
use crate::types::{
    Disk, ExternalIp, Image, Instance, InstanceSerialConsoleData, NameOrId, Project, ResultsPage,
    SiloIpPool, Snapshot, SshKey,
};

/// A response with `status`, `headers` and `body`, as reqwest hands it over.
fn response(status: u16, headers: &[(&str, Vec<u8>)], body: Vec<u8>) -> Option<reqwest::Response> {
    let mut b = http::Response::builder().status(status);
    for (name, value) in headers {
        let value = http::HeaderValue::from_bytes(value).ok()?;
        b = b.header(*name, value);
    }
    Some(reqwest::Response::from(b.body(body).ok()?))
}

/// Decodes `body` as a `T` the way every operation does; an error must
/// print and answer its metadata.
fn decode_as<T: DeserializeOwned + Debug>(body: Vec<u8>) {
    let resp = response(200, &[], body).expect("a plain 200");
    match futures::executor::block_on(decode::<T>("op", resp)) {
        Ok(v) => {
            let _ = format!("{v:?}");
        }
        Err(e) => exercise(&e),
    }
}

fn exercise(e: &Error) {
    let _ = (e.to_string(), format!("{e:?}"));
    let _ = (e.status(), e.error_code(), e.request_id(), e.is_not_found());
    let _ = (ErrorMeta::message(e), e.failure(), ErrorMeta::code(e));
}

/// Decoders under test (one strategy drives them all).
const DECODERS: &[fn(Vec<u8>)] = &[
    decode_as::<Instance>,
    decode_as::<ResultsPage<Instance>>,
    decode_as::<Disk>,
    decode_as::<ResultsPage<Disk>>,
    decode_as::<Image>,
    decode_as::<ResultsPage<Image>>,
    decode_as::<Snapshot>,
    decode_as::<ResultsPage<Snapshot>>,
    decode_as::<Project>,
    decode_as::<ResultsPage<Project>>,
    decode_as::<SshKey>,
    decode_as::<ResultsPage<SshKey>>,
    decode_as::<ExternalIp>,
    decode_as::<ResultsPage<ExternalIp>>,
    decode_as::<SiloIpPool>,
    decode_as::<ResultsPage<SiloIpPool>>,
    decode_as::<InstanceSerialConsoleData>,
    decode_as::<NameOrId>,
];

fn bodies() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        body_of::<Instance>(),
        body_of::<Disk>(),
        body_of::<Image>(),
        body_of::<Snapshot>(),
        body_of::<Project>(),
        body_of::<SshKey>(),
        body_of::<ExternalIp>(),
        body_of::<SiloIpPool>(),
        body_of::<InstanceSerialConsoleData>(),
        body_of::<ResultsPage<Instance>>(),
        body_of::<ResultsPage<Disk>>(),
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
            prop::collection::vec(any::<u8>(), 0..600),
            (any_json(), any_json(), any_json()).prop_map(|(c, m, r)| {
                serde_json::json!({"error_code": c, "message": m, "request_id": r})
                    .to_string()
                    .into_bytes()
            }),
            ".{0,40}".prop_map(|m| {
                serde_json::json!({"message": format!("{}{m}", UNSUPPORTED_VERSION)})
                    .to_string()
                    .into_bytes()
            }),
        ],
        retry_after in header_value(),
        request_id in header_value(),
    ) {
        let Some(resp) = response(
            status,
            &[("retry-after", retry_after), ("x-request-id", request_id)],
            body,
        ) else {
            return Ok(());
        };
        let e = futures::executor::block_on(api_error("op", resp));
        exercise(&e);
        prop_assert_eq!(e.status(), Some(status));
    }
}

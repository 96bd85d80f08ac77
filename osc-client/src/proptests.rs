//! Response decoding never panics: every typed decoder and the error-body
//! classifier, fed arbitrary bytes, any JSON, and objects with the right
//! keys and wrong values, answer a value or an error.

use std::fmt::Debug;

use imagebake_http::ErrorMeta;
use imagebake_testing::props::{any_json, body_of, config};
use proptest::prelude::*;
use serde::de::DeserializeOwned;

use crate::client::decode;
use crate::types::{
    Account, BlockDeviceMapping, Image, ImageState, LinkedVolume, Permissions, Snapshot,
    SnapshotState, Tag, Vm, Volume, VolumeState,
};
use crate::{ApiError, Error};

/// Decodes `body` as a `T` the way every action does; an error must print
/// and answer its metadata.
fn decode_as<T: DeserializeOwned + Debug>(body: Vec<u8>) {
    match decode::<T>("ReadThings", &body) {
        Ok(v) => {
            let _ = format!("{v:?}");
        }
        Err(e) => exercise(&e),
    }
}

fn exercise(e: &Error) {
    let _ = (e.to_string(), format!("{e:?}"));
    let _ = (e.status(), e.code(), e.request_id(), e.is_not_found());
    let _ = (ErrorMeta::message(e), e.failure());
}

/// Decoders under test (one strategy drives them all).
const DECODERS: &[fn(Vec<u8>)] = &[
    decode_as::<Vm>,
    decode_as::<Vec<Vm>>,
    decode_as::<Image>,
    decode_as::<Vec<Image>>,
    decode_as::<ImageState>,
    decode_as::<BlockDeviceMapping>,
    decode_as::<Snapshot>,
    decode_as::<Vec<Snapshot>>,
    decode_as::<SnapshotState>,
    decode_as::<Volume>,
    decode_as::<Vec<Volume>>,
    decode_as::<VolumeState>,
    decode_as::<LinkedVolume>,
    decode_as::<Account>,
    decode_as::<Tag>,
    decode_as::<Vec<Tag>>,
    decode_as::<Permissions>,
];

fn bodies() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        body_of::<Vm>(),
        body_of::<Image>(),
        body_of::<ImageState>(),
        body_of::<BlockDeviceMapping>(),
        body_of::<Snapshot>(),
        body_of::<Volume>(),
        body_of::<LinkedVolume>(),
        body_of::<Account>(),
        body_of::<Tag>(),
        body_of::<Permissions>(),
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
            (any_json(), any_json(), any_json()).prop_map(|(code, details, rid)| {
                serde_json::json!({
                    "Errors": [{"Code": code, "Details": details, "Type": "x"}],
                    "ResponseContext": {"RequestId": rid},
                })
                .to_string()
                .into_bytes()
            }),
        ],
    ) {
        let api = ApiError::from_body("ReadThings", status, &body);
        let _ = (api.code(), api.is_throttled(), api.to_string());
        let e = Error::Api(Box::new(api));
        exercise(&e);
        prop_assert_eq!(e.status(), Some(status));
    }
}

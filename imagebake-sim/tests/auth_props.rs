//! The simulators' authentication parsers never panic: arbitrary and
//! near-valid `Authorization` (and date) headers sent over real HTTP to the
//! Triton (CloudAPI, Manta, IMGAPI), Oxide and Outscale simulators are
//! always answered, with an error or a value, never with a dropped
//! connection (a panicking handler) or a 5xx.

#![cfg(all(feature = "triton", feature = "oxide", feature = "osc"))]

use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use imagebake_sim::osc::auth::{Scheme, format_timestamp, sign};
use imagebake_sim::osc::{OscSim, OscSimOptions};
use imagebake_sim::oxide::{OxideSim, OxideSimOptions};
use imagebake_sim::triton::{TritonSim, TritonSimOptions};
use imagebake_testing::props::{config, mutated_text};
use proptest::prelude::*;
use proptest::test_runner::TestRunner;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use ssh_key::PrivateKey;

/// One request: method, URL, headers (name, raw bytes; values a server
/// could never receive are left out) and body.
struct Probe {
    method: reqwest::Method,
    url: String,
    headers: Vec<(&'static str, String)>,
    body: &'static str,
}

/// Sends `probe` and checks it was answered with a status below 500.
fn answered(rt: &tokio::runtime::Runtime, probe: Probe) -> Result<(), TestCaseError> {
    let mut h = HeaderMap::new();
    for (name, value) in &probe.headers {
        if let Ok(v) = HeaderValue::from_bytes(value.as_bytes()) {
            h.insert(HeaderName::from_static(name), v);
        }
    }
    let shown = format!("{:?}", probe.headers);
    let status = rt.block_on(async {
        reqwest::Client::new()
            .request(probe.method, &probe.url)
            .headers(h)
            .body(probe.body)
            .send()
            .await
            .map(|r| r.status())
    });
    match status {
        Ok(s) => {
            prop_assert!(s.as_u16() < 500, "{} answered {s} to {shown}", probe.url);
            Ok(())
        }
        Err(e) => Err(TestCaseError::fail(format!(
            "{} dropped the request {shown}: {e}",
            probe.url
        ))),
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

fn http_date(t: SystemTime) -> String {
    httpdate::fmt_http_date(t)
}

/// Pieces of HTTP-signature headers, spliced into valid ones.
const SIGNATURE_PIECES: &[&str] = &[
    "Signature ",
    "keyId=\"",
    "algorithm=\"",
    "headers=\"",
    "signature=\"",
    "\"",
    ",",
    ", ",
    "=",
    " ",
    "/",
    "keys",
    "users",
    "rsa-sha256",
    "rsa-sha1",
    "dsa-sha1",
    "ecdsa-sha256",
    "ecdsa-sha384",
    "ecdsa-sha512",
    "ed25519-sha512",
    "hmac-sha256",
    "(request-target)",
    "request-line",
    "(keyid)",
    "(algorithm)",
    "date",
    "x-date",
    "host",
    "12",
    "AAAA",
    "====",
    "é",
];

/// A date header value: now, far away, or text.
fn date_value() -> impl Strategy<Value = Option<String>> {
    let now = SystemTime::now();
    prop_oneof![
        3 => Just(Some(http_date(now))),
        1 => Just(None),
        1 => Just(Some(http_date(UNIX_EPOCH))),
        1 => Just(Some("Thu, 05 Jan 2014 21:31:40 UTC".to_owned())),
        1 => ".{0,30}".prop_map(Some),
    ]
}

/// A valid HTTP signature of `date: DATE` by `key` for `key_id`.
fn signed_header(key: &PrivateKey, key_id: &str, date: &str) -> String {
    let seed = key.key_data().ed25519().expect("an ed25519 sim key");
    let pair = ring::signature::Ed25519KeyPair::from_seed_unchecked(&seed.private.to_bytes())
        .expect("seed");
    let sig = STANDARD.encode(pair.sign(format!("date: {date}").as_bytes()).as_ref());
    format!(
        "Signature keyId=\"{key_id}\",algorithm=\"ed25519-sha512\",headers=\"date\",signature=\"{sig}\""
    )
}

/// An `Authorization` value: arbitrary text, or the valid one mutated.
fn authorization(valid: String, pieces: &'static [&'static str]) -> BoxedStrategy<String> {
    prop_oneof![
        1 => ".{0,80}",
        1 => prop::collection::vec(prop::sample::select(pieces), 0..16)
            .prop_map(|p| p.concat()),
        4 => mutated_text(valid, pieces),
    ]
    .boxed()
}

/// Runs `cases` probes made by `strategy`, each one answered.
fn run<S: Strategy>(strategy: S, check: impl Fn(S::Value) -> Result<(), TestCaseError>) {
    let mut runner = TestRunner::new(config(256));
    if let Err(e) = runner.run(&strategy, check) {
        panic!("{e}");
    }
}

#[test]
fn triton_cloudapi_manta_and_imgapi_answer_any_signature_header() {
    let rt = runtime();
    let sim = rt
        .block_on(TritonSim::start(TritonSimOptions::default()))
        .expect("triton sim");
    let key = PrivateKey::read_openssh_file(sim.private_key_path()).expect("sim key");
    let key_id = format!("/{}/keys/{}", sim.account(), sim.key_id());
    let date = http_date(SystemTime::now());
    let valid = signed_header(&key, &key_id, &date);
    // The unmutated header is accepted: the mutations start from a request
    // that passes, so they reach every check of the parser.
    let ok = rt.block_on(async {
        reqwest::Client::new()
            .get(format!("{}/{}/machines", sim.url(), sim.account()))
            .header("date", &date)
            .header("authorization", &valid)
            .send()
            .await
            .expect("answered")
            .status()
    });
    assert_eq!(ok, 200, "the valid signature is accepted");
    let targets = [
        (
            reqwest::Method::GET,
            format!("{}/{}/machines", sim.url(), sim.account()),
        ),
        (
            reqwest::Method::GET,
            format!("{}/{}/stor", sim.manta().url(), sim.account()),
        ),
        (
            reqwest::Method::GET,
            format!("{}/images", sim.imgapi().url()),
        ),
    ];
    let strategy = (
        authorization(valid, SIGNATURE_PIECES),
        date_value(),
        prop::option::weighted(0.2, date_value()),
        0..targets.len(),
    );
    run(strategy, |(auth, date, x_date, target)| {
        let (method, url) = targets[target].clone();
        let mut headers = vec![("authorization", auth)];
        headers.extend(date.map(|d| ("date", d)));
        headers.extend(x_date.flatten().map(|d| ("x-date", d)));
        answered(
            &rt,
            Probe {
                method,
                url,
                headers,
                body: "",
            },
        )
    });
    rt.block_on(sim.shutdown());
}

#[test]
fn oxide_answers_any_bearer_header() {
    let rt = runtime();
    let sim = rt
        .block_on(OxideSim::start(OxideSimOptions::default()))
        .expect("oxide sim");
    let valid = format!("Bearer {}", sim.token());
    let url = format!("{}/v1/projects", sim.url());
    let strategy = authorization(
        valid,
        &["Bearer ", "Bearer", " ", "\t", "é", "=", "oxide-token-"],
    );
    run(strategy, |auth| {
        answered(
            &rt,
            Probe {
                method: reqwest::Method::GET,
                url: url.clone(),
                headers: vec![("authorization", auth)],
                body: "",
            },
        )
    });
    rt.block_on(sim.shutdown());
}

const OSC_PIECES: &[&str] = &[
    "OSC4-HMAC-SHA256 ",
    "AWS4-HMAC-SHA256 ",
    "Credential=",
    "SignedHeaders=",
    "Signature=",
    "/",
    ",",
    ", ",
    ";",
    "=",
    "host",
    "x-osc-date",
    "x-amz-date",
    "content-type",
    "oapi",
    "osc4_request",
    "aws4_request",
    "api",
    "20261206",
    "T",
    "Z",
    "é",
];

#[test]
fn outscale_answers_any_osc4_or_aws4_header() {
    let rt = runtime();
    let sim = rt
        .block_on(OscSim::start(OscSimOptions::default()))
        .expect("osc sim");
    let url = format!("{}/api/v1/ReadVolumes", sim.endpoint());
    let host = sim.endpoint().trim_start_matches("http://").to_owned();
    let now = format_timestamp(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .expect("clock")
            .as_secs() as i64,
    );
    let content_type = "application/json; charset=utf-8";
    let valid = |scheme| {
        sign(
            scheme,
            sim.access_key(),
            sim.secret_key(),
            sim.region(),
            &host,
            "/api/v1/ReadVolumes",
            b"{}",
            &now,
            content_type,
        )
    };
    let ok = rt.block_on(async {
        reqwest::Client::new()
            .post(&url)
            .header("authorization", valid(Scheme::Osc4))
            .header("x-osc-date", &now)
            .header("content-type", content_type)
            .body("{}")
            .send()
            .await
            .expect("answered")
            .status()
    });
    assert_eq!(ok, 200, "the valid signature is accepted");
    let timestamp = prop_oneof![
        3 => Just(now.clone()),
        1 => Just("19700101T000000Z".to_owned()),
        1 => Just("20261306T256099Z".to_owned()),
        1 => mutated_text(now.clone(), &["T", "Z", "9", "0", "-"]),
        1 => ".{0,20}",
    ];
    let strategy = (
        prop_oneof![
            authorization(valid(Scheme::Osc4), OSC_PIECES),
            authorization(valid(Scheme::Aws4), OSC_PIECES),
        ],
        timestamp,
        prop::sample::select(&["x-osc-date", "x-amz-date"][..]),
    );
    run(strategy, |(auth, ts, date_header)| {
        answered(
            &rt,
            Probe {
                method: reqwest::Method::POST,
                url: url.clone(),
                headers: vec![
                    ("authorization", auth),
                    (date_header, ts),
                    ("content-type", content_type.to_owned()),
                ],
                body: "{}",
            },
        )
    });
    rt.block_on(sim.shutdown());
}

//! Known-answer tests: every deterministic vector in
//! `shared/reference/triton-signature-vectors.json` reproduced byte for byte,
//! and the randomized ECDSA vector verified.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use imagebake_http::Secret;
use serde_json::Value;
use ssh_key::public::{EcdsaPublicKey, KeyData};

use super::header::{authorization_for, signing_string_for};
use super::{Algorithm, KeySigner, Signer, authorization_header, key_id_path, signing_string};

const VECTORS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../shared/reference/triton-signature-vectors.json"
);

fn vectors() -> Value {
    let text = std::fs::read_to_string(VECTORS).expect("read the signature vectors");
    serde_json::from_str(&text).expect("vectors are JSON")
}

fn signer(v: &Value, name: &str) -> KeySigner {
    let key = &v["keys"][name];
    let text = key["private_pem"]
        .as_str()
        .or_else(|| key["private_openssh"].as_str())
        .expect("a private key");
    KeySigner::from_text(&Secret::new(text), None).expect("vector key parses")
}

fn s<'a>(v: &'a Value, field: &str) -> &'a str {
    v[field]
        .as_str()
        .unwrap_or_else(|| panic!("field {field} in {v}"))
}

/// The vectors listed under `key`, which must not be empty.
fn cases<'a>(v: &'a Value, key: &str) -> &'a [Value] {
    let list = v[key]
        .as_array()
        .unwrap_or_else(|| panic!("no list {key} in the vectors"));
    assert!(!list.is_empty(), "no {key} vectors");
    list
}

/// A request vector's `signed_headers`.
fn signed_headers(r: &Value) -> Vec<&str> {
    r["signed_headers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h.as_str().unwrap())
        .collect()
}

fn param<'a>(authorization: &'a str, name: &str) -> &'a str {
    let start = authorization
        .find(&format!("{name}=\""))
        .unwrap_or_else(|| panic!("{name} in {authorization}"))
        + name.len()
        + 2;
    let len = authorization[start..].find('"').expect("closing quote");
    &authorization[start..start + len]
}

#[test]
fn key_fingerprints_match_the_vectors() {
    let v = vectors();
    let k = signer(&v, "smartdc-auth-rsa1024");
    let key = &v["keys"]["smartdc-auth-rsa1024"];
    assert_eq!(k.key_id(), s(key, "md5_fingerprint"));
    assert_eq!(
        k.public_key()
            .fingerprint(ssh_key::HashAlg::Sha256)
            .to_string(),
        s(key, "sha256_fingerprint")
    );
    let from_pub = ssh_key::PublicKey::from_openssh(s(key, "public_openssh")).unwrap();
    assert_eq!(k.public_key().key_data(), from_pub.key_data());
    for name in ["sigcheck-ed25519", "sigcheck-p256"] {
        let k = signer(&v, name);
        let from_pub =
            ssh_key::PublicKey::from_openssh(s(&v["keys"][name], "public_openssh")).unwrap();
        assert_eq!(k.public_key().key_data(), from_pub.key_data(), "{name}");
    }
}

#[test]
fn raw_signatures_are_reproduced() {
    let v = vectors();
    let raws = cases(&v, "raw_signatures");
    for raw in raws {
        let alg: Algorithm = s(raw, "algorithm").parse().unwrap();
        let k = signer(&v, s(raw, "key")).with_algorithm(alg).unwrap();
        let (used, sig) = k.sign_bytes(s(raw, "data").as_bytes()).unwrap();
        assert_eq!(used, alg);
        assert_eq!(
            STANDARD.encode(sig),
            s(raw, "signature"),
            "{}",
            s(raw, "name")
        );
    }
}

#[test]
fn cavage_requests_are_reproduced() {
    let v = vectors();
    let reqs = cases(&v, "requests");
    for r in reqs {
        let signed = signed_headers(r);
        let headers = &r["headers"];
        let ss = signing_string_for(&signed, s(r, "method"), s(r, "url"), |name| {
            headers[name].as_str()
        });
        assert_eq!(ss, s(r, "signing_string"), "{}", s(r, "name"));
        let alg: Algorithm = s(r, "algorithm").parse().unwrap();
        let k = signer(&v, s(r, "key")).with_algorithm(alg).unwrap();
        let (_, sig) = k.sign_bytes(ss.as_bytes()).unwrap();
        let joined = signed.join(" ");
        let emit = r["emit_headers_param"].as_bool().unwrap();
        let auth = authorization_for(s(r, "keyId"), alg.as_str(), emit.then_some(&*joined), &sig);
        assert_eq!(auth, s(r, "authorization"), "{}", s(r, "name"));
    }
}

#[tokio::test]
async fn triton_requests_are_reproduced_or_verified() {
    let v = vectors();
    let reqs = cases(&v, "triton_requests");
    let mut deterministic = 0;
    let mut verified = 0;
    for r in reqs {
        let name = s(r, "name");
        let expected = s(r, "authorization");
        let k = signer(&v, s(r, "key"));
        // keyId: /LOGIN[/users/USER]/keys/MD5 with the MD5 we compute.
        let key_id = param(expected, "keyId");
        let parts: Vec<&str> = key_id.split('/').collect();
        let user = (parts.len() == 6).then(|| parts[3]);
        assert_eq!(key_id, key_id_path(parts[1], user, k.key_id()), "{name}");

        let signed = signed_headers(r);
        let date = s(r, "date");
        let ss = if signed == ["(request-target)", "date"] {
            signing_string(s(r, "method"), s(r, "url"), date)
        } else {
            signing_string_for(&signed, s(r, "method"), s(r, "url"), |h| {
                (h == "date").then_some(date)
            })
        };
        assert_eq!(ss, s(r, "signing_string"), "{name}");

        let (alg, sig) = k.sign(ss.as_bytes()).await.unwrap();
        assert_eq!(alg.as_str(), param(expected, "algorithm"), "{name}");
        if r["deterministic"].as_bool().unwrap() {
            let auth = if signed == ["(request-target)", "date"] {
                authorization_header(key_id, alg, &sig)
            } else {
                authorization_for(key_id, alg.as_str(), Some(&signed.join(" ")), &sig)
            };
            assert_eq!(auth, expected, "{name}");
            deterministic += 1;
        } else {
            // Randomized ECDSA: the vector's signature and ours both verify.
            let KeyData::Ecdsa(EcdsaPublicKey::NistP256(point)) = k.public_key().key_data() else {
                panic!("{name}: expected a P-256 key");
            };
            let public = ring::signature::UnparsedPublicKey::new(
                &ring::signature::ECDSA_P256_SHA256_ASN1,
                point.as_bytes().to_vec(),
            );
            let theirs = STANDARD.decode(param(expected, "signature")).unwrap();
            public
                .verify(ss.as_bytes(), &theirs)
                .expect("vector signature verifies");
            public
                .verify(ss.as_bytes(), &sig)
                .expect("our DER signature verifies");
            verified += 1;
        }
    }
    assert_eq!((deterministic, verified), (4, 1));
}

//! Signature algorithms as CloudAPI's http-signature accepts them, and the
//! verification of one signature against a registered public key.
//!
//! `ring` verifies where it supports the combination (RSA PKCS#1 v1.5 with
//! SHA-1/256/512 for any modulus from 1024 bits, ECDSA P-256/SHA-256,
//! P-384/SHA-256, Ed25519); the RustCrypto curve crates verify the others
//! (P-256/SHA-512, P-384/SHA-512, P-521) on a ring-computed digest.

use ring::digest;
use ring::signature::{self as rs, UnparsedPublicKey, VerificationAlgorithm};
use ssh_key::PublicKey;
use ssh_key::public::{EcdsaPublicKey, KeyData};

/// Hash part of an algorithm name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Hash {
    Sha1,
    Sha256,
    Sha512,
}

/// Key part of an algorithm name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum KeyKind {
    Rsa,
    Dsa,
    Ecdsa,
    Ed25519,
}

/// A signature algorithm CloudAPI accepts, e.g. `rsa-sha256`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Algorithm {
    pub kind: KeyKind,
    pub hash: Hash,
}

/// The list CloudAPI passes to http-signature (lib/authorization.js), minus
/// the `*-sha384` entries the library itself rejects.
const ACCEPTED: &[&str] = &[
    "rsa-sha1",
    "rsa-sha256",
    "rsa-sha512",
    "dsa-sha1",
    "dsa-sha256",
    "ecdsa-sha256",
    "ecdsa-sha512",
    "ed25519-sha512",
];

impl Algorithm {
    /// Parses `name` the way http-signature does; the error is the message
    /// that follows "Authorization header invalid: ".
    pub fn parse(name: &str) -> Result<Self, String> {
        let lower = name.to_ascii_lowercase();
        let mut parts = lower.split('-');
        let (Some(kind), Some(hash), None) = (parts.next(), parts.next(), parts.next()) else {
            return Err(format!("{name} is not supported"));
        };
        let kind = match kind {
            "rsa" => Some(KeyKind::Rsa),
            "dsa" => Some(KeyKind::Dsa),
            "ecdsa" => Some(KeyKind::Ecdsa),
            "ed25519" => Some(KeyKind::Ed25519),
            "hmac" => None,
            _ => return Err(format!("{name} is not supported")),
        };
        let hash = match hash {
            "sha1" => Hash::Sha1,
            "sha256" => Hash::Sha256,
            "sha512" => Hash::Sha512,
            _ => return Err(format!("{name} is not supported")),
        };
        match kind {
            Some(kind) if ACCEPTED.contains(&lower.as_str()) => Ok(Self { kind, hash }),
            _ => Err(format!("{name} is not a supported algorithm")),
        }
    }
}

/// True when `signature` is `key`'s signature of `message` under `alg`.
/// A key of another type than the algorithm names never verifies.
pub(crate) fn verify(key: &PublicKey, alg: Algorithm, message: &[u8], signature: &[u8]) -> bool {
    match (key.key_data(), alg.kind) {
        (KeyData::Rsa(rsa), KeyKind::Rsa) => {
            let (Some(n), Some(e)) = (rsa.n().as_positive_bytes(), rsa.e().as_positive_bytes())
            else {
                return false;
            };
            let params = match alg.hash {
                Hash::Sha1 => &rs::RSA_PKCS1_1024_8192_SHA1_FOR_LEGACY_USE_ONLY,
                Hash::Sha256 => &rs::RSA_PKCS1_1024_8192_SHA256_FOR_LEGACY_USE_ONLY,
                Hash::Sha512 => &rs::RSA_PKCS1_1024_8192_SHA512_FOR_LEGACY_USE_ONLY,
            };
            rs::RsaPublicKeyComponents { n, e }
                .verify(params, message, signature)
                .is_ok()
        }
        (KeyData::Ecdsa(ec), KeyKind::Ecdsa) => verify_ecdsa(ec, alg.hash, message, signature),
        (KeyData::Ed25519(ed), KeyKind::Ed25519) if alg.hash == Hash::Sha512 => {
            ring_verify(&rs::ED25519, &ed.0, message, signature)
        }
        _ => false,
    }
}

fn ring_verify(
    alg: &'static dyn VerificationAlgorithm,
    public: &[u8],
    message: &[u8],
    signature: &[u8],
) -> bool {
    UnparsedPublicKey::new(alg, public)
        .verify(message, signature)
        .is_ok()
}

fn verify_ecdsa(key: &EcdsaPublicKey, hash: Hash, message: &[u8], der: &[u8]) -> bool {
    use p256::ecdsa::signature::hazmat::PrehashVerifier as _;
    let point = key.as_sec1_bytes();
    let sha512 = || digest::digest(&digest::SHA512, message);
    match (key, hash) {
        (EcdsaPublicKey::NistP256(_), Hash::Sha256) => {
            ring_verify(&rs::ECDSA_P256_SHA256_ASN1, point, message, der)
        }
        (EcdsaPublicKey::NistP384(_), Hash::Sha256) => {
            ring_verify(&rs::ECDSA_P384_SHA256_ASN1, point, message, der)
        }
        (EcdsaPublicKey::NistP256(_), Hash::Sha512) => {
            let (Ok(vk), Ok(sig)) = (
                p256::ecdsa::VerifyingKey::from_sec1_bytes(point),
                p256::ecdsa::Signature::from_der(der),
            ) else {
                return false;
            };
            vk.verify_prehash(sha512().as_ref(), &sig).is_ok()
        }
        (EcdsaPublicKey::NistP384(_), Hash::Sha512) => {
            let (Ok(vk), Ok(sig)) = (
                p384::ecdsa::VerifyingKey::from_sec1_bytes(point),
                p384::ecdsa::Signature::from_der(der),
            ) else {
                return false;
            };
            vk.verify_prehash(sha512().as_ref(), &sig).is_ok()
        }
        (EcdsaPublicKey::NistP521(_), Hash::Sha256 | Hash::Sha512) => {
            let prehash = match hash {
                Hash::Sha256 => digest::digest(&digest::SHA256, message),
                _ => sha512(),
            };
            let (Ok(vk), Ok(sig)) = (
                p521::ecdsa::VerifyingKey::from_sec1_bytes(point),
                p521::ecdsa::Signature::from_der(der),
            ) else {
                return false;
            };
            vk.verify_prehash(prehash.as_ref(), &sig).is_ok()
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD;
    use p256::ecdsa::signature::hazmat::PrehashSigner as _;
    use ssh_key::public::EcdsaPublicKey;

    fn vectors() -> serde_json::Value {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../shared/reference/triton-signature-vectors.json"
        );
        let text = std::fs::read_to_string(path).expect("reference vectors");
        serde_json::from_str(&text).expect("vectors json")
    }

    #[test]
    fn algorithm_names_follow_http_signature() {
        let ok = Algorithm::parse("RSA-SHA256").expect("case-insensitive");
        assert_eq!((ok.kind, ok.hash), (KeyKind::Rsa, Hash::Sha256));
        assert_eq!(
            Algorithm::parse("rsa-sha384").unwrap_err(),
            "rsa-sha384 is not supported"
        );
        assert_eq!(
            Algorithm::parse("ecdsa-sha384").unwrap_err(),
            "ecdsa-sha384 is not supported"
        );
        assert_eq!(
            Algorithm::parse("hmac-sha256").unwrap_err(),
            "hmac-sha256 is not a supported algorithm"
        );
        assert!(Algorithm::parse("ed25519-sha256").is_err());
        assert!(Algorithm::parse("rsa").is_err());
    }

    /// Every reference request whose key has an OpenSSH public line verifies,
    /// and a one-byte change to its signing string does not.
    #[test]
    fn reference_triton_requests_verify() {
        let v = vectors();
        let mut checked = 0;
        for req in v["triton_requests"].as_array().expect("requests") {
            let key_name = req["key"].as_str().expect("key");
            let line = v["keys"][key_name]["public_openssh"]
                .as_str()
                .expect("public key line");
            let key = PublicKey::from_openssh(line).expect("key parses");
            let auth = req["authorization"].as_str().expect("authz");
            let alg = auth
                .split("algorithm=\"")
                .nth(1)
                .expect("alg")
                .split('"')
                .next();
            let sig = auth
                .split("signature=\"")
                .nth(1)
                .expect("sig")
                .split('"')
                .next();
            let alg = Algorithm::parse(alg.expect("alg")).expect("accepted");
            let sig = STANDARD.decode(sig.expect("sig")).expect("base64");
            let signing = req["signing_string"].as_str().expect("signing string");
            assert!(
                verify(&key, alg, signing.as_bytes(), &sig),
                "{}",
                req["name"]
            );
            let tampered = format!("{signing} ");
            assert!(
                !verify(&key, alg, tampered.as_bytes(), &sig),
                "{}",
                req["name"]
            );
            checked += 1;
        }
        assert!(checked >= 4);
    }

    #[test]
    fn reference_raw_rsa_sha1_and_sha256_signatures_verify() {
        let v = vectors();
        for raw in v["raw_signatures"].as_array().expect("raw") {
            let line = v["keys"][raw["key"].as_str().expect("key")]["public_openssh"]
                .as_str()
                .expect("line");
            let key = PublicKey::from_openssh(line).expect("key");
            let alg = Algorithm::parse(raw["algorithm"].as_str().expect("alg")).expect("alg");
            let sig = STANDARD
                .decode(raw["signature"].as_str().expect("sig"))
                .expect("b64");
            let data = raw["data"].as_str().expect("data").as_bytes();
            assert!(verify(&key, alg, data, &sig), "{}", raw["name"]);
            let other = Algorithm {
                hash: Hash::Sha512,
                ..alg
            };
            assert!(!verify(&key, other, data, &sig));
        }
    }

    fn ecdsa_key(sec1: &[u8]) -> PublicKey {
        let ec = EcdsaPublicKey::from_sec1_bytes(sec1).expect("point");
        PublicKey::new(KeyData::Ecdsa(ec), "test")
    }

    #[test]
    fn p256_with_sha512_and_p521_verify_der_signatures() {
        let msg = b"(request-target): get /demo/machines\ndate: x";
        let h512 = digest::digest(&digest::SHA512, msg);

        let sk = p256::ecdsa::SigningKey::from_slice(&[7u8; 32]).expect("p256 key");
        let sig: p256::ecdsa::Signature = sk.sign_prehash(h512.as_ref()).expect("sign");
        let key = ecdsa_key(sk.verifying_key().to_sec1_point(false).as_bytes());
        let alg = Algorithm::parse("ecdsa-sha512").expect("alg");
        assert!(verify(&key, alg, msg, sig.to_der().as_bytes()));
        assert!(
            !verify(&key, alg, msg, &sig.to_bytes()),
            "raw r||s is refused"
        );
        let sha256 = Algorithm::parse("ecdsa-sha256").expect("alg");
        assert!(!verify(&key, sha256, msg, sig.to_der().as_bytes()));

        let mut scalar = [9u8; 66];
        scalar[0] = 0;
        let sk = p521::ecdsa::SigningKey::from_slice(&scalar).expect("p521 key");
        let sig: p521::ecdsa::Signature = sk.sign_prehash(h512.as_ref()).expect("sign");
        let key = ecdsa_key(sk.verifying_key().to_sec1_point(false).as_bytes());
        assert!(verify(&key, alg, msg, sig.to_der().as_bytes()));
        assert!(!verify(&key, alg, b"other", sig.to_der().as_bytes()));

        let sk = p384::ecdsa::SigningKey::from_slice(&[5u8; 48]).expect("p384 key");
        let sig: p384::ecdsa::Signature = sk.sign_prehash(h512.as_ref()).expect("sign");
        let key = ecdsa_key(sk.verifying_key().to_sec1_point(false).as_bytes());
        assert!(verify(&key, alg, msg, sig.to_der().as_bytes()));
    }
}

//! Every algorithm and key format through the simulator, and auth failures.

use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use imagebake_http::Secret;
use triton_client::auth::{Algorithm, KeySigner, Signer};
use triton_client::{Client, Error};

use crate::common::{Recording, base, client, keygen, recording_client, register, sim};

/// Signs GetAccount with `path`'s key (asking for `alg`, if given) and
/// checks the simulator accepts it and the algorithm used.
async fn accepted(
    sim: &imagebake_sim::triton::TritonSim,
    path: &Path,
    alg: Option<Algorithm>,
    expected: Algorithm,
) {
    let mut signer = KeySigner::from_file(path, None).unwrap();
    if let Some(a) = alg {
        signer = signer.with_algorithm(a).unwrap();
    }
    let rec = Recording::new(Arc::new(signer));
    let account = recording_client(sim, &rec)
        .get_account()
        .await
        .unwrap_or_else(|e| panic!("{} {alg:?}: {e}", path.display()));
    assert_eq!(account.login, sim.account());
    assert_eq!(rec.used(), vec![expected], "{}", path.display());
}

#[tokio::test]
async fn every_algorithm_and_key_format_is_accepted() {
    let sim = sim().await;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();

    // The simulator's own key: Ed25519, OpenSSH.
    accepted(&sim, sim.private_key_path(), None, Algorithm::Ed25519Sha512).await;

    let rsa = keygen(d, "rsa", "", &["-t", "rsa", "-b", "2048"]);
    register(&sim, &rsa);
    accepted(&sim, &rsa, None, Algorithm::RsaSha256).await;
    accepted(&sim, &rsa, Some(Algorithm::RsaSha512), Algorithm::RsaSha512).await;
    accepted(&sim, &rsa, Some(Algorithm::RsaSha1), Algorithm::RsaSha1).await;

    let rsa_pem = keygen(d, "rsa_pem", "", &["-t", "rsa", "-b", "2048", "-m", "PEM"]);
    assert!(
        std::fs::read_to_string(&rsa_pem)
            .unwrap()
            .starts_with("-----BEGIN RSA PRIVATE KEY")
    );
    register(&sim, &rsa_pem);
    accepted(&sim, &rsa_pem, None, Algorithm::RsaSha256).await;

    let rsa_p8 = keygen(d, "rsa_p8", "", &["-t", "rsa", "-b", "2048", "-m", "PKCS8"]);
    assert!(
        std::fs::read_to_string(&rsa_p8)
            .unwrap()
            .starts_with("-----BEGIN PRIVATE KEY")
    );
    register(&sim, &rsa_p8);
    accepted(
        &sim,
        &rsa_p8,
        Some(Algorithm::RsaSha512),
        Algorithm::RsaSha512,
    )
    .await;

    let p256 = keygen(d, "p256", "", &["-t", "ecdsa", "-b", "256"]);
    register(&sim, &p256);
    accepted(&sim, &p256, None, Algorithm::EcdsaSha256).await;
    accepted(
        &sim,
        &p256,
        Some(Algorithm::EcdsaSha512),
        Algorithm::EcdsaSha512,
    )
    .await;

    let p256_sec1 = keygen(
        d,
        "p256_sec1",
        "",
        &["-t", "ecdsa", "-b", "256", "-m", "PEM"],
    );
    assert!(
        std::fs::read_to_string(&p256_sec1)
            .unwrap()
            .starts_with("-----BEGIN EC PRIVATE KEY")
    );
    register(&sim, &p256_sec1);
    accepted(&sim, &p256_sec1, None, Algorithm::EcdsaSha256).await;

    let p256_p8 = keygen(
        d,
        "p256_p8",
        "",
        &["-t", "ecdsa", "-b", "256", "-m", "PKCS8"],
    );
    register(&sim, &p256_p8);
    accepted(&sim, &p256_p8, None, Algorithm::EcdsaSha256).await;

    // P-384 is refused at load, in every format, with a clear message.
    for (name, args) in [
        ("p384", &["-t", "ecdsa", "-b", "384"][..]),
        ("p384_p8", &["-t", "ecdsa", "-b", "384", "-m", "PKCS8"][..]),
        ("p384_pem", &["-t", "ecdsa", "-b", "384", "-m", "PEM"][..]),
    ] {
        let p384 = keygen(d, name, "", args);
        let e = KeySigner::from_file(&p384, None).unwrap_err();
        assert!(e.to_string().contains("P-384"), "{e}");
    }

    let p521 = keygen(d, "p521", "", &["-t", "ecdsa", "-b", "521"]);
    register(&sim, &p521);
    accepted(&sim, &p521, None, Algorithm::EcdsaSha512).await;

    let ed = keygen(d, "ed", "", &["-t", "ed25519"]);
    register(&sim, &ed);
    accepted(&sim, &ed, None, Algorithm::Ed25519Sha512).await;
}

#[tokio::test]
async fn ed25519_pkcs8_from_openssl() {
    assert!(
        Command::new("openssl").arg("version").output().is_ok(),
        "this test needs openssl (scripts/test-deps.sh installs it)"
    );
    let sim = sim().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ed_p8");
    let out = Command::new("openssl")
        .args(["genpkey", "-algorithm", "ed25519", "-out"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(out.status.success());
    let signer = KeySigner::from_file(&path, None).unwrap();
    let public = signer.public_key().to_openssh().unwrap();
    assert_eq!(sim.add_key("ed_p8", &public), signer.key_id());
    accepted(&sim, &path, None, Algorithm::Ed25519Sha512).await;
}

#[tokio::test]
async fn unusable_algorithms_are_refused_clearly() {
    let sim = sim().await;
    let e = Client::new(
        base(&sim)
            .key_file(sim.private_key_path())
            .algorithm(Algorithm::RsaSha256)
            .build()
            .unwrap(),
    )
    .unwrap_err();
    assert!(matches!(e, Error::UnsupportedAlgorithm { .. }), "{e}");
    assert!(e.to_string().contains("Ed25519"), "{e}");
    for bad in ["ecdsa-sha384", "rsa-sha384"] {
        let e = bad.parse::<Algorithm>().unwrap_err();
        assert!(e.to_string().contains("sha384"), "{e}");
    }
}

#[tokio::test]
async fn encrypted_key_needs_its_passphrase() {
    let sim = sim().await;
    let dir = tempfile::tempdir().unwrap();
    let enc = keygen(dir.path(), "enc", "correct horse", &["-t", "ed25519"]);
    register(&sim, &enc);

    let e = Client::new(base(&sim).key_file(&enc).build().unwrap()).unwrap_err();
    assert!(matches!(e, Error::PassphraseRequired { .. }), "{e}");
    assert!(e.to_string().contains("passphrase"), "{e}");

    let wrong = base(&sim).key_file_with_passphrase(&enc, Secret::new("wrong"));
    let e = Client::new(wrong.build().unwrap()).unwrap_err();
    assert!(matches!(e, Error::Key { .. }), "{e}");
    assert!(!e.to_string().contains("wrong\""), "{e}");

    let right = base(&sim).key_file_with_passphrase(&enc, Secret::new("correct horse"));
    let c = Client::new(right.build().unwrap()).unwrap();
    assert_eq!(c.get_account().await.unwrap().login, sim.account());
    let debug = format!("{c:?}");
    assert!(!debug.contains("correct horse"), "{debug}");
}

#[tokio::test]
async fn sub_user_keys_sign_as_users() {
    let sim = sim().await;
    let dir = tempfile::tempdir().unwrap();
    let key = keygen(dir.path(), "bob", "", &["-t", "ed25519"]);
    let public = std::fs::read_to_string(key.with_extension("pub")).unwrap();
    let fp = sim.add_user_key("bob", "bob-key", public.trim());

    let c = Client::new(base(&sim).user("bob").key_file(&key).build().unwrap()).unwrap();
    assert_eq!(c.key_id().await.unwrap(), fp);
    assert!(!c.list_images(&Default::default()).await.unwrap().is_empty());

    // The same key as an account key is unknown: 401.
    let c = Client::new(base(&sim).key_file(&key).build().unwrap()).unwrap();
    let e = c.get_account().await.unwrap_err();
    assert_eq!(e.status(), Some(401), "{e}");
}

#[tokio::test]
async fn unknown_key_is_401_invalid_credentials() {
    let sim = sim().await;
    let dir = tempfile::tempdir().unwrap();
    let stranger = keygen(dir.path(), "stranger", "", &["-t", "ed25519"]);
    let c = Client::new(base(&sim).key_file(&stranger).build().unwrap()).unwrap();
    let e = c.get_account().await.unwrap_err();
    match &e {
        Error::Api {
            operation,
            status,
            code,
            message,
            request_id,
            ..
        } => {
            assert_eq!(
                (*operation, *status, code.as_str()),
                ("GetAccount", 401, "InvalidCredentials")
            );
            assert!(!message.is_empty());
            assert!(request_id.is_some(), "{e}");
        }
        other => panic!("{other}"),
    }
    assert!(!e.is_retryable());
}

#[tokio::test]
async fn skewed_clock_is_400_invalid_header() {
    let sim = sim().await;
    for offset in [-3600, 3600] {
        let cfg = base(&sim)
            .key_file(sim.private_key_path())
            .clock_offset_secs(offset)
            .build()
            .unwrap();
        let e = Client::new(cfg).unwrap().get_account().await.unwrap_err();
        assert_eq!(
            (e.status(), e.code()),
            (Some(400), Some("InvalidHeader")),
            "{e}"
        );
    }
    // A small skew is within the limit.
    let cfg = base(&sim)
        .key_file(sim.private_key_path())
        .clock_offset_secs(-30)
        .build()
        .unwrap();
    Client::new(cfg).unwrap().get_account().await.unwrap();
    // And the default client is fine.
    client(&sim).get_account().await.unwrap();
}

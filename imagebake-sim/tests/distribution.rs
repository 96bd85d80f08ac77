//! The Manta and IMGAPI simulators served beside the Triton simulator,
//! driven by hand-made requests: signatures made by openssl the way
//! updates-imgadm makes them, and muskie's keyId rules.

#![cfg(feature = "triton")]

use std::path::Path;
use std::process::Command;
use std::time::SystemTime;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use imagebake_sim::triton::{TritonSim, TritonSimOptions};
use reqwest::StatusCode;
use serde_json::{Value, json};
use ssh_key::PrivateKey;

async fn sim() -> TritonSim {
    TritonSim::start(TritonSimOptions::default())
        .await
        .expect("sim starts")
}

/// The simulator's IMGAPI key as a PKCS#1 PEM file openssl reads.
fn pem_copy(sim: &TritonSim, dir: &Path) -> std::path::PathBuf {
    let copy = dir.join("id_rsa");
    std::fs::copy(sim.imgapi().key_path().expect("key"), &copy).expect("copy");
    let out = Command::new("ssh-keygen")
        .args(["-q", "-p", "-N", "", "-m", "PEM", "-f"])
        .arg(&copy)
        .output()
        .expect("ssh-keygen runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    copy
}

/// `openssl dgst -sha256 -sign KEY` over `data`, base64.
fn openssl_sign(key: &Path, data: &str) -> String {
    use std::io::Write as _;
    let mut child = Command::new("openssl")
        .args(["dgst", "-sha256", "-sign"])
        .arg(key)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("openssl runs (scripts/test-deps.sh installs it)");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(data.as_bytes())
        .expect("write");
    let out = child.wait_with_output().expect("openssl");
    assert!(out.status.success());
    STANDARD.encode(out.stdout)
}

#[tokio::test]
async fn imgapi_accepts_a_request_signed_as_updates_imgadm_signs_and_refuses_request_target() {
    let sim = sim().await;
    let dir = tempfile::tempdir().expect("tmp");
    let pem = pem_copy(&sim, dir.path());
    let http = reqwest::Client::new();
    let uuid = uuid::Uuid::new_v4();
    let manifest = json!({
        "v": 2, "uuid": uuid, "name": "by-hand", "version": "1.0.0",
        "type": "zone-dataset", "os": "smartos", "public": false,
    });
    let url = format!(
        "{}/images/{uuid}?channel=experimental&action=import",
        sim.imgapi().url()
    );
    let send = |auth: String, date: String| {
        http.post(&url)
            .header("date", date)
            .header("authorization", auth)
            .header("accept-version", "*")
            .json(&manifest)
            .send()
    };

    // `(request-target)` is looked up as a header by http-signature 0.10.0.
    let date = httpdate::fmt_http_date(SystemTime::now());
    let target = format!("/images/{uuid}?channel=experimental&action=import");
    let signed = format!("(request-target): post {target}\ndate: {date}");
    let auth = format!(
        "Signature keyId=\"{}\",algorithm=\"rsa-sha256\",headers=\"(request-target) date\",signature=\"{}\"",
        sim.imgapi().user(),
        openssl_sign(&pem, &signed)
    );
    let resp = send(auth, date).await.expect("sent");
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    let body: Value = resp.json().await.expect("json");
    assert_eq!(body["code"], "Unauthorized");
    assert!(sim.imgapi().images().is_empty());

    // sdc-clients' `_getAuthHeaders`: `date` only, no `headers=`.
    let date = httpdate::fmt_http_date(SystemTime::now());
    let auth = format!(
        "Signature keyId=\"{}\",algorithm=\"rsa-sha256\",signature=\"{}\"",
        sim.imgapi().user(),
        openssl_sign(&pem, &format!("date: {date}"))
    );
    let resp = send(auth, date).await.expect("sent");
    assert_eq!(resp.status(), StatusCode::OK);
    let body: Value = resp.json().await.expect("json");
    assert_eq!(body["state"], "unactivated");
    assert_eq!(body["channels"], json!(["experimental"]));
    let images = sim.imgapi().images_in("experimental");
    assert_eq!(images.len(), 1);
    assert_eq!(images[0].uuid, uuid);

    // Without Accept-Version the request is served as ~1: no channels.
    let plain: Value = http
        .get(format!("{}/images/{uuid}?channel=*", sim.imgapi().url()))
        .send()
        .await
        .expect("sent")
        .json()
        .await
        .expect("json");
    assert_eq!(plain["uuid"], uuid.to_string().as_str());
    assert!(plain.get("channels").is_none());
    // An unknown channel is 422 ValidationFailed with `errors`.
    let resp = http
        .get(format!("{}/images?channel=nope", sim.imgapi().url()))
        .send()
        .await
        .expect("sent");
    assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body: Value = resp.json().await.expect("json");
    assert_eq!(body["code"], "ValidationFailed");
    assert_eq!(body["errors"][0]["field"], "channel");
}

#[tokio::test]
async fn manta_checks_key_ids_as_muskie_does() {
    let sim = sim().await;
    let http = reqwest::Client::new();
    let login = sim.account();
    let private = PrivateKey::read_openssh_file(sim.private_key_path()).expect("key");
    let seed = private
        .key_data()
        .ed25519()
        .expect("ed25519")
        .private
        .to_bytes();
    let key = ring::signature::Ed25519KeyPair::from_seed_unchecked(&seed).expect("seed");
    let put = |key_id: String| {
        let date = httpdate::fmt_http_date(SystemTime::now());
        let sig = STANDARD.encode(key.sign(format!("date: {date}").as_bytes()).as_ref());
        http.put(format!("{}/{login}/stor/d", sim.manta().url()))
            .header("date", date)
            .header("content-type", "application/json; type=directory")
            .header(
                "authorization",
                format!(
                    "Signature keyId=\"{key_id}\",algorithm=\"ed25519-sha512\",headers=\"date\",signature=\"{sig}\""
                ),
            )
            .send()
    };
    let code = |resp: reqwest::Response| async move {
        let status = resp.status();
        let body: Value = resp.json().await.unwrap_or(Value::Null);
        (status, body["code"].as_str().unwrap_or_default().to_owned())
    };
    // CloudAPI's sub-user form has a `users` segment Manta does not take.
    let (status, c) = code(
        put(format!("/{login}/users/bob/keys/{}", sim.key_id()))
            .await
            .expect("sent"),
    )
    .await;
    assert_eq!(
        (status, c.as_str()),
        (StatusCode::FORBIDDEN, "InvalidKeyId")
    );
    let sha256 = private
        .public_key()
        .fingerprint(ssh_key::HashAlg::Sha256)
        .to_string();
    let (status, c) = code(put(format!("/{login}/keys/{sha256}")).await.expect("sent")).await;
    assert_eq!(
        (status, c.as_str()),
        (StatusCode::FORBIDDEN, "InvalidKeyId")
    );
    let (status, c) = code(
        put(format!("/other/keys/{}", sim.key_id()))
            .await
            .expect("sent"),
    )
    .await;
    assert_eq!(
        (status, c.as_str()),
        (StatusCode::FORBIDDEN, "AccountDoesNotExist")
    );
    let resp = put(format!("/{login}/keys/{}", sim.key_id()))
        .await
        .expect("sent");
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    assert!(resp.headers().contains_key("x-request-id"));
    let inventory = sim.manta().inventory();
    assert_eq!(inventory.len(), 1);
    assert!(inventory[0].directory && inventory[0].path == format!("/{login}/stor/d"));
    // Snaplinks are gone on mantav2.
    let resp = http
        .put(format!("{}/{login}/stor/link", sim.manta().url()))
        .header("content-type", "application/json; type=link")
        .send()
        .await
        .expect("sent");
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED, "unsigned first");
}

//! Configuration from the environment and profiles, against the simulator,
//! and secrets kept out of Debug.

use imagebake_http::Secret;
use triton_client::{Client, Config, Error};

use crate::common::{base, sim};

fn sha256_of_sim_key(sim: &imagebake_sim::triton::TritonSim) -> String {
    let public = ssh_key::PublicKey::read_openssh_file(sim.public_key_path()).unwrap();
    public.fingerprint(ssh_key::HashAlg::Sha256).to_string()
}

#[tokio::test]
async fn env_with_key_material_and_sha256_key_id() {
    let sim = sim().await;
    let home = tempfile::tempdir().unwrap();
    let url = sim.url();
    let key = sim.private_key_path().to_str().unwrap().to_owned();
    let sha = sha256_of_sim_key(&sim);
    let env = |k: &str| match k {
        "SDC_URL" => Some(url.clone()),
        "TRITON_ACCOUNT" => Some(sim.account().to_owned()),
        "TRITON_KEY_ID" => Some(sha.clone()),
        "TRITON_KEY_MATERIAL" => Some(key.clone()),
        _ => None,
    };
    let c = Client::new(Config::from_env_with(&env, home.path()).unwrap()).unwrap();
    // keyId carries the MD5 form although SHA256 was configured.
    assert_eq!(c.key_id().await.unwrap(), sim.key_id());
    assert_eq!(c.get_account().await.unwrap().login, sim.account());
}

#[tokio::test]
async fn profile_and_ssh_dir_lookup() {
    let sim = sim().await;
    let home = tempfile::tempdir().unwrap();
    let ssh = home.path().join(".ssh");
    std::fs::create_dir_all(&ssh).unwrap();
    std::fs::copy(sim.private_key_path(), ssh.join("id_ed25519")).unwrap();
    std::fs::copy(sim.public_key_path(), ssh.join("id_ed25519.pub")).unwrap();
    let profiles = home.path().join(".triton/profiles.d");
    std::fs::create_dir_all(&profiles).unwrap();
    let profile = serde_json::json!({
        "url": sim.url(), "account": sim.account(), "keyId": format!("MD5:{}", sim.key_id()),
    });
    std::fs::write(profiles.join("sim.json"), profile.to_string()).unwrap();
    std::fs::write(
        home.path().join(".triton/config.json"),
        r#"{"profile":"sim"}"#,
    )
    .unwrap();

    // No key material, no agent: the key is found in ~/.ssh by its .pub.
    let c = Client::new(Config::from_env_with(&|_| None, home.path()).unwrap()).unwrap();
    assert_eq!(c.get_account().await.unwrap().login, sim.account());

    // A key id nobody has: a clear error naming where the client looked.
    let other = serde_json::json!({
        "url": sim.url(), "account": sim.account(),
        "keyId": "00:11:22:33:44:55:66:77:88:99:aa:bb:cc:dd:ee:ff",
    });
    std::fs::write(profiles.join("other.json"), other.to_string()).unwrap();
    let env = |k: &str| (k == "TRITON_PROFILE").then(|| "other".to_owned());
    let c = Client::new(Config::from_env_with(&env, home.path()).unwrap()).unwrap();
    let e = c.get_account().await.unwrap_err();
    assert!(matches!(e, Error::KeyNotFound { .. }), "{e}");
    assert!(e.to_string().contains(".ssh"), "{e}");

    // Key material that does not match the key id is refused up front.
    let key = sim.private_key_path().to_str().unwrap().to_owned();
    let env = |k: &str| match k {
        "TRITON_PROFILE" => Some("other".to_owned()),
        "TRITON_KEY_MATERIAL" => Some(key.clone()),
        _ => None,
    };
    let e = Client::new(Config::from_env_with(&env, home.path()).unwrap()).unwrap_err();
    assert!(e.to_string().contains("not the configured key id"), "{e}");
}

#[tokio::test]
async fn debug_never_shows_key_material() {
    let sim = sim().await;
    let text = std::fs::read_to_string(sim.private_key_path()).unwrap();
    let body_line = text.lines().nth(1).unwrap().to_owned();
    let cfg = base(&sim)
        .key_text(Secret::new(text), Some(Secret::new("s3cret-pass")))
        .build()
        .unwrap();
    let c = Client::new(cfg.clone()).unwrap();
    c.get_account().await.unwrap();
    for shown in [format!("{cfg:?}"), format!("{c:?}"), format!("{:#?}", c)] {
        assert!(!shown.contains(&body_line), "{shown}");
        assert!(!shown.contains("s3cret-pass"), "{shown}");
        assert!(!shown.contains("PRIVATE KEY"), "{shown}");
    }
    assert!(
        format!("{c:?}").contains(sim.key_id()),
        "Debug shows the fingerprint"
    );
}

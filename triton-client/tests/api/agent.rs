//! Signing through a real `ssh-agent` process.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use triton_client::auth::{AgentSigner, Algorithm, KeyFingerprint, Signer};
use triton_client::{Client, Config, Error};

use crate::common::{Recording, base, keygen, recording_client, register, sim};

/// A running `ssh-agent -D -a SOCK`, killed on drop.
struct Agent {
    child: Child,
    socket: PathBuf,
    _dir: tempfile::TempDir,
}

impl Agent {
    fn start() -> Agent {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("agent.sock");
        let child = Command::new("ssh-agent")
            .arg("-D")
            .arg("-a")
            .arg(&socket)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("ssh-agent starts");
        let agent = Agent {
            child,
            socket,
            _dir: dir,
        };
        for _ in 0..500 {
            if agent.socket.exists() {
                return agent;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        panic!("ssh-agent did not create its socket");
    }

    fn add(&self, key: &Path) {
        let out = Command::new("ssh-add")
            .arg(key)
            .env("SSH_AUTH_SOCK", &self.socket)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "ssh-add: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn sha256_of(pub_path: &Path) -> String {
    let key = ssh_key::PublicKey::read_openssh_file(pub_path).unwrap();
    key.fingerprint(ssh_key::HashAlg::Sha256).to_string()
}

#[tokio::test]
async fn agent_keys_sign_with_the_right_algorithms() {
    let sim = sim().await;
    let agent = Agent::start();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let cases = [
        ("rsa", "-t rsa -b 2048", None, Algorithm::RsaSha256),
        (
            "rsa512",
            "-t rsa -b 2048",
            Some(Algorithm::RsaSha512),
            Algorithm::RsaSha512,
        ),
        ("p256", "-t ecdsa -b 256", None, Algorithm::EcdsaSha256),
        ("p521", "-t ecdsa -b 521", None, Algorithm::EcdsaSha512),
        ("ed", "-t ed25519", None, Algorithm::Ed25519Sha512),
    ];
    for (name, args, alg, expected) in cases {
        let path = keygen(d, name, "", &args.split(' ').collect::<Vec<_>>());
        let md5 = register(&sim, &path);
        agent.add(&path);
        // Found by its SHA256 fingerprint; keyId still carries the MD5.
        let fp = KeyFingerprint::parse(&sha256_of(&path.with_extension("pub"))).unwrap();
        let mut signer = AgentSigner::connect(&agent.socket, &fp).await.unwrap();
        if let Some(a) = alg {
            signer = signer.with_algorithm(a).unwrap();
        }
        assert_eq!(signer.key_id(), md5);
        let rec = Recording::new(Arc::new(signer));
        let c = recording_client(&sim, &rec);
        let account = c
            .get_account()
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(account.login, sim.account());
        c.list_networks().await.unwrap();
        assert_eq!(rec.used(), vec![expected, expected], "{name}");
    }
}

#[tokio::test]
async fn config_finds_the_key_in_the_agent() {
    let sim = sim().await;
    let agent = Agent::start();
    let dir = tempfile::tempdir().unwrap();
    let path = keygen(dir.path(), "p256", "", &["-t", "ecdsa", "-b", "256"]);
    let md5 = register(&sim, &path);
    agent.add(&path);

    // Explicit agent source with an MD5: form.
    let cfg = base(&sim)
        .agent(&agent.socket, &format!("MD5:{md5}"))
        .unwrap();
    let c = Client::new(cfg.build().unwrap()).unwrap();
    assert_eq!(c.key_id().await.unwrap(), md5);
    c.get_account().await.unwrap();

    // The environment: no key material, SSH_AUTH_SOCK set, empty ~/.ssh.
    let home = tempfile::tempdir().unwrap();
    let url = sim.url();
    let socket = agent.socket.to_str().unwrap().to_owned();
    let sha = sha256_of(&path.with_extension("pub"));
    let env = |k: &str| match k {
        "TRITON_URL" => Some(url.clone()),
        "SDC_ACCOUNT" => Some(sim.account().to_owned()),
        "TRITON_KEY_ID" => Some(sha.clone()),
        "SSH_AUTH_SOCK" => Some(socket.clone()),
        _ => None,
    };
    let c = Client::new(Config::from_env_with(&env, home.path()).unwrap()).unwrap();
    c.get_account().await.unwrap();
    assert_eq!(c.key_id().await.unwrap(), md5);
}

#[tokio::test]
async fn agent_refuses_p384_and_unknown_keys() {
    let agent = Agent::start();
    let dir = tempfile::tempdir().unwrap();
    let p384 = keygen(dir.path(), "p384", "", &["-t", "ecdsa", "-b", "384"]);
    agent.add(&p384);
    let fp = KeyFingerprint::parse(&sha256_of(&p384.with_extension("pub"))).unwrap();
    let e = AgentSigner::connect(&agent.socket, &fp).await.unwrap_err();
    assert!(matches!(e, Error::UnsupportedAlgorithm { .. }), "{e}");
    assert!(e.to_string().contains("P-384"), "{e}");

    let other = KeyFingerprint::parse("00:11:22:33:44:55:66:77:88:99:aa:bb:cc:dd:ee:ff").unwrap();
    let e = AgentSigner::connect(&agent.socket, &other)
        .await
        .unwrap_err();
    assert!(matches!(e, Error::KeyNotFound { .. }), "{e}");
}

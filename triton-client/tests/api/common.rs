//! Shared test helpers: a fast simulator, clients, keys, a recording signer.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use imagebake_http::Backoff;
use imagebake_sim::triton::{TritonDelays, TritonSim, TritonSimOptions};
use triton_client::auth::{Algorithm, Signer};
use triton_client::types::{ImageId, ListImages};
use triton_client::{Client, Config, ConfigBuilder, KeySource, RetryPolicy, WaitOptions};

pub fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// A simulator whose transitions take 5 ms.
pub async fn sim() -> TritonSim {
    TritonSim::start(TritonSimOptions {
        delays: TritonDelays::all(ms(5)),
        ..TritonSimOptions::default()
    })
    .await
    .expect("simulator starts")
}

/// Retries with millisecond backoff.
pub fn fast_retry(max_attempts: u32) -> RetryPolicy {
    RetryPolicy {
        max_attempts,
        backoff: Backoff::new(ms(1), ms(5)),
    }
}

/// Waits up to 20 s, polling every few milliseconds.
pub fn wait() -> WaitOptions {
    WaitOptions::new(Duration::from_secs(20), ms(10))
}

/// Waits with `imagebake_http::wait_for` (the caller's wait: the client only
/// says what a state means) until `look` says done.
pub async fn wait_until<T, F, Fut>(
    opts: &WaitOptions,
    look: F,
) -> Result<T, imagebake_http::WaitError<triton_client::Error>>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = triton_client::Result<triton_client::Poll<T>>>,
{
    imagebake_http::wait_for("resource", opts, |_, _| {}, look).await
}

/// A config builder for `sim` with fast retries (no key yet).
pub fn base(sim: &TritonSim) -> ConfigBuilder {
    Config::builder()
        .url(sim.url())
        .account(sim.account())
        .retry(fast_retry(4))
}

/// A client signing with the simulator's own account key.
pub fn client(sim: &TritonSim) -> Client {
    Client::new(base(sim).key_file(sim.private_key_path()).build().unwrap()).unwrap()
}

/// Runs `ssh-keygen -q -N PASS -C NAME -f DIR/NAME ARGS..` and returns the
/// private key path.
pub fn keygen(dir: &Path, name: &str, passphrase: &str, args: &[&str]) -> PathBuf {
    let path = dir.join(name);
    let out = Command::new("ssh-keygen")
        .args(["-q", "-N", passphrase, "-C", name, "-f"])
        .arg(&path)
        .args(args)
        .output()
        .expect("ssh-keygen runs");
    assert!(
        out.status.success(),
        "ssh-keygen {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    path
}

/// Registers `path.pub` as an account key; returns its MD5 fingerprint.
pub fn register(sim: &TritonSim, path: &Path) -> String {
    let public = std::fs::read_to_string(path.with_extension("pub")).unwrap();
    let name = path.file_name().unwrap().to_str().unwrap();
    sim.add_key(name, public.trim())
}

/// Wraps a signer and records every algorithm it signed with.
#[derive(Debug)]
pub struct Recording {
    pub inner: Arc<dyn Signer>,
    pub used: Mutex<Vec<Algorithm>>,
}

impl Recording {
    pub fn new(inner: Arc<dyn Signer>) -> Arc<Self> {
        Arc::new(Self {
            inner,
            used: Mutex::new(Vec::new()),
        })
    }

    pub fn used(&self) -> Vec<Algorithm> {
        self.used.lock().unwrap().clone()
    }
}

#[async_trait::async_trait]
impl Signer for Recording {
    fn key_id(&self) -> &str {
        self.inner.key_id()
    }

    async fn sign(&self, data: &[u8]) -> triton_client::Result<(Algorithm, Vec<u8>)> {
        let r = self.inner.sign(data).await?;
        self.used.lock().unwrap().push(r.0);
        Ok(r)
    }
}

/// A client signing through `recording`.
pub fn recording_client(sim: &TritonSim, recording: &Arc<Recording>) -> Client {
    let signer: Arc<dyn Signer> = recording.clone();
    Client::new(
        base(sim)
            .key_source(KeySource::Signer(signer))
            .build()
            .unwrap(),
    )
    .unwrap()
}

/// The id of the simulator's Linux image.
pub async fn an_image(c: &Client) -> ImageId {
    c.list_images(&ListImages::new().os("linux"))
        .await
        .unwrap()
        .remove(0)
        .id
}

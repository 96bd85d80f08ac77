//! Opening an authenticated session: one attempt (TCP, or a `direct-tcpip`
//! channel through a bastion; key exchange; host key check; login), and the
//! loop that repeats attempts until the machine answers or the deadline
//! passes.

use std::borrow::Cow;
use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use imagebake_http::{Backoff, Poll, Secret, WaitError, WaitOptions, wait_for};
use russh::client::{self, AuthResult, Handle};
use russh::keys::agent::AgentIdentity;
use russh::keys::agent::client::AgentClient;
use russh::keys::{HashAlg, PrivateKey, PrivateKeyWithHashAlg, PublicKey, PublicKeyOrCertificate};
use russh::{MethodKind, MethodSet};
use tokio_util::sync::CancellationToken;

use super::config::{SshAuth, SshConfig, SshTimeouts};
use super::host_key::{HostKeyCheck, HostKeyRecord};
use crate::Error;

/// AES-GCM first (ring's, with the CPU's AES instructions: the fastest
/// here), then russh's other defaults.
const CIPHERS: &[russh::cipher::Name] = &[
    russh::cipher::AES_256_GCM,
    russh::cipher::AES_128_GCM,
    russh::cipher::CHACHA20_POLY1305,
    russh::cipher::AES_256_CTR,
    russh::cipher::AES_192_CTR,
    russh::cipher::AES_128_CTR,
];

/// A configuration made ready to connect: key files read, agent socket
/// found, host key policy bound to its host.
#[derive(Debug)]
pub(crate) struct Endpoint {
    host: String,
    port: u16,
    user: String,
    auth: LoadedAuth,
    check: Arc<HostKeyCheck>,
    bastion: Option<Box<Endpoint>>,
    timeouts: SshTimeouts,
    russh: Arc<client::Config>,
    /// `user@host:port via …`.
    pub(crate) target: String,
}

enum LoadedAuth {
    Key(Arc<PrivateKey>),
    Agent(PathBuf),
    Password(Secret),
}

impl std::fmt::Debug for LoadedAuth {
    /// The key's fingerprint, never the key; the password redacted.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Key(k) => write!(f, "Key({})", k.fingerprint(HashAlg::Sha256)),
            Self::Agent(socket) => write!(f, "Agent({})", socket.display()),
            Self::Password(p) => write!(f, "Password({p:?})"),
        }
    }
}

impl Endpoint {
    /// Reads key files (off the async threads: decrypting one is slow) and
    /// finds the agent.
    pub(crate) async fn resolve(config: &SshConfig) -> Result<Self, Error> {
        let config = config.clone();
        tokio::task::spawn_blocking(move || Self::resolve_blocking(&config))
            .await
            .map_err(|e| Error::Other(Box::new(e)))?
    }

    fn resolve_blocking(c: &SshConfig) -> Result<Self, Error> {
        let auth = match &c.auth {
            SshAuth::Key(key) => LoadedAuth::Key(key.clone()),
            SshAuth::KeyFile { path, passphrase } => {
                let key =
                    russh::keys::load_secret_key(path, passphrase.as_ref().map(Secret::expose))
                        .map_err(|e| {
                            Error::communicator(format!("loading SSH key {}", path.display()), e)
                        })?;
                LoadedAuth::Key(Arc::new(key))
            }
            SshAuth::Agent { socket } => LoadedAuth::Agent(match socket {
                Some(p) => p.clone(),
                None => std::env::var_os("SSH_AUTH_SOCK")
                    .map(PathBuf::from)
                    .ok_or_else(|| {
                        Error::Config("ssh-agent login asked, but SSH_AUTH_SOCK is not set".into())
                    })?,
            }),
            SshAuth::Password(p) => LoadedAuth::Password(p.clone()),
        };
        let bastion = match &c.bastion {
            Some(b) => Some(Box::new(Self::resolve_blocking(b)?)),
            None => None,
        };
        let russh = client::Config {
            keepalive_interval: c.timeouts.keepalive,
            keepalive_max: 3,
            nodelay: true,
            preferred: russh::Preferred {
                cipher: Cow::Borrowed(CIPHERS),
                ..russh::Preferred::default()
            },
            ..client::Config::default()
        };
        Ok(Self {
            host: c.host.clone(),
            port: c.port,
            user: c.user.clone(),
            auth,
            check: Arc::new(HostKeyCheck::new(c.host_key.clone(), &c.host, c.port)),
            bastion,
            timeouts: c.timeouts.clone(),
            russh: Arc::new(russh),
            target: c.target(),
        })
    }

    /// The time limits.
    pub(crate) fn timeouts(&self) -> &SshTimeouts {
        &self.timeouts
    }
}

/// An authenticated connection (and the bastion's, which carries it).
pub(crate) struct Session {
    pub(crate) handle: Handle<Client>,
    pub(crate) host_key: HostKeyRecord,
    _bastion: Option<Arc<Session>>,
}

/// Our russh handler: checks the server's key against the policy and keeps
/// the verdict for the connect code to report.
pub(crate) struct Client {
    check: Arc<HostKeyCheck>,
    verdict: Arc<Mutex<Option<Result<HostKeyRecord, Error>>>>,
}

impl client::Handler for Client {
    type Error = russh::Error;

    async fn check_server_key(
        &mut self,
        server_key: &PublicKeyOrCertificate,
    ) -> Result<bool, Self::Error> {
        let key = match server_key {
            PublicKeyOrCertificate::PublicKey { key, .. } => key.clone(),
            PublicKeyOrCertificate::Certificate(cert) => {
                PublicKey::new(cert.public_key().clone(), "")
            }
        };
        let verdict = self.check.check(&key);
        let accepted = verdict.is_ok();
        *self.verdict.lock().unwrap_or_else(PoisonError::into_inner) = Some(verdict);
        Ok(accepted)
    }
}

/// Why one attempt failed.
enum Failed {
    /// Worth another attempt (port closed, sshd not ready, key not yet
    /// installed); the text becomes the wait's last state.
    Retry(String),
    /// Not (host key mismatch, unreadable key, no agent).
    Fatal(Error),
}

/// Connects, retrying until the connect deadline, with a backoff capped at
/// the configured `retry_cap`; each attempt is bounded by `attempt`.
pub(crate) async fn connect(ep: &Endpoint, cancel: &CancellationToken) -> Result<Session, Error> {
    let t = &ep.timeouts;
    let opts = WaitOptions {
        backoff: Backoff::new(Duration::from_millis(100).min(t.retry_cap), t.retry_cap),
        ..WaitOptions::new(t.connect, t.retry_cap).cancel_on(cancel.clone())
    };
    let what = format!("ssh {}", ep.target);
    let on_retry = |state: &str, n: u32| tracing::debug!(target = %ep.target, attempt = n, state, "ssh not ready");
    let found = wait_for(what, &opts, on_retry, || async move {
        match tokio::time::timeout(t.attempt, attempt(ep)).await {
            Ok(Ok(session)) => Ok(Poll::Done(session)),
            Ok(Err(Failed::Retry(why))) => Ok(Poll::Pending(why)),
            Ok(Err(Failed::Fatal(e))) => Err(e),
            Err(_) => Ok(Poll::Pending(format!(
                "attempt timed out after {:?}",
                t.attempt
            ))),
        }
    })
    .await;
    found.map_err(|e| match e {
        WaitError::Poll { source, .. } => source,
        other => Error::from(other),
    })
}

type Attempt<'a> = Pin<Box<dyn Future<Output = Result<Session, Failed>> + Send + 'a>>;

/// One attempt: through the bastion (itself one attempt) when there is one.
fn attempt(ep: &Endpoint) -> Attempt<'_> {
    Box::pin(async move {
        let bastion = match &ep.bastion {
            Some(b) => Some(Arc::new(attempt(b).await.map_err(|f| match f {
                Failed::Retry(why) => Failed::Retry(format!("bastion {}: {why}", b.target)),
                fatal @ Failed::Fatal(_) => fatal,
            })?)),
            None => None,
        };
        let verdict = Arc::new(Mutex::new(None));
        let handler = Client {
            check: ep.check.clone(),
            verdict: verdict.clone(),
        };
        let config = ep.russh.clone();
        let connected = match &bastion {
            None => client::connect(config, (ep.host.as_str(), ep.port), handler).await,
            Some(b) => {
                let channel = b
                    .handle
                    .channel_open_direct_tcpip(ep.host.as_str(), u32::from(ep.port), "127.0.0.1", 0)
                    .await
                    .map_err(|e| {
                        Failed::Retry(format!(
                            "the bastion cannot reach {}:{}: {e}",
                            ep.host, ep.port
                        ))
                    })?;
                client::connect_stream(config, channel.into_stream(), handler).await
            }
        };
        let verdict = verdict
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        let (mut handle, host_key) = match (connected, verdict) {
            (_, Some(Err(rejected))) => return Err(Failed::Fatal(rejected)),
            (Ok(handle), Some(Ok(record))) => (handle, record),
            (Ok(_), None) => {
                return Err(Failed::Retry(
                    "the server's host key was not checked".into(),
                ));
            }
            (Err(e), _) => return Err(Failed::Retry(format!("connecting: {e}"))),
        };
        authenticate(&mut handle, ep).await?;
        Ok(Session {
            handle,
            host_key,
            _bastion: bastion,
        })
    })
}

async fn authenticate(handle: &mut Handle<Client>, ep: &Endpoint) -> Result<(), Failed> {
    let user = ep.user.as_str();
    let lost = |e: russh::Error| Failed::Retry(format!("logging in as {user}: {e}"));
    let result = match &ep.auth {
        LoadedAuth::Key(key) => {
            let hash = rsa_hash(handle, key.algorithm().is_rsa()).await;
            let key = PrivateKeyWithHashAlg::new(key.clone(), hash);
            handle
                .authenticate_publickey(user, key)
                .await
                .map_err(lost)?
        }
        LoadedAuth::Password(p) => handle
            .authenticate_password(user, p.expose())
            .await
            .map_err(lost)?,
        LoadedAuth::Agent(socket) => agent_login(handle, user, socket).await?,
    };
    match result {
        AuthResult::Success => Ok(()),
        AuthResult::Failure {
            remaining_methods, ..
        } => Err(Failed::Retry(format!(
            "login as {user} rejected (the server accepts: {})",
            method_names(&remaining_methods)
        ))),
    }
}

/// Tries each key of the agent in turn.
async fn agent_login(
    handle: &mut Handle<Client>,
    user: &str,
    socket: &PathBuf,
) -> Result<AuthResult, Failed> {
    let agent_err = |e: russh::keys::Error| {
        Failed::Fatal(Error::communicator(
            format!("using the ssh-agent at {}", socket.display()),
            e,
        ))
    };
    let mut agent = AgentClient::connect_uds(socket).await.map_err(agent_err)?;
    let keys: Vec<PublicKey> = agent
        .request_identities()
        .await
        .map_err(agent_err)?
        .into_iter()
        .filter_map(|id| match id {
            AgentIdentity::PublicKey { key, .. } => Some(key),
            _ => None,
        })
        .collect();
    if keys.is_empty() {
        return Err(Failed::Fatal(Error::Config(format!(
            "the ssh-agent at {} holds no keys",
            socket.display()
        ))));
    }
    let mut last = AuthResult::Failure {
        remaining_methods: MethodSet::empty(),
        partial_success: false,
    };
    for key in keys {
        let hash = rsa_hash(handle, key.algorithm().is_rsa()).await;
        match handle
            .authenticate_publickey_with(user, key, hash, &mut agent)
            .await
        {
            Ok(AuthResult::Success) => return Ok(AuthResult::Success),
            Ok(failure) => last = failure,
            Err(e) => return Err(Failed::Retry(format!("the ssh-agent could not sign: {e}"))),
        }
    }
    Ok(last)
}

/// For RSA keys, the SHA-2 signature the server prefers; never SHA-1, so
/// SHA-512 when the server does not say.
async fn rsa_hash(handle: &Handle<Client>, is_rsa: bool) -> Option<HashAlg> {
    if !is_rsa {
        return None;
    }
    match handle.best_supported_rsa_hash().await {
        Ok(Some(Some(alg))) => Some(alg),
        _ => Some(HashAlg::Sha512),
    }
}

fn method_names(methods: &MethodSet) -> String {
    if methods.is_empty() {
        return "nothing more".to_owned();
    }
    methods
        .iter()
        .map(|m: &MethodKind| <&str>::from(m))
        .collect::<Vec<_>>()
        .join(", ")
}

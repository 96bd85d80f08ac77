//! What to connect to and how: [`SshConfig`], [`SshAuth`], [`SshTimeouts`].

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use imagebake_http::Secret;
use russh::keys::PrivateKey;

use super::HostKeyPolicy;
use crate::Error;

/// How to log in.
#[derive(Clone)]
#[non_exhaustive]
pub enum SshAuth {
    /// A decrypted private key held in memory (a [`TemporaryKey`](super::TemporaryKey),
    /// or one parsed with [`SshAuth::key_openssh`]).
    Key(Arc<PrivateKey>),
    /// A private key file (OpenSSH, PKCS#8 or PEM), decrypted with the
    /// passphrase when it has one. Read once when connecting.
    KeyFile {
        /// The file.
        path: PathBuf,
        /// Its passphrase.
        passphrase: Option<Secret>,
    },
    /// The keys of an ssh-agent.
    Agent {
        /// The agent's socket; `None` reads `SSH_AUTH_SOCK` when connecting.
        socket: Option<PathBuf>,
    },
    /// A password.
    Password(Secret),
}

impl SshAuth {
    /// A private key file without a passphrase.
    pub fn key_file(path: impl Into<PathBuf>) -> Self {
        Self::KeyFile {
            path: path.into(),
            passphrase: None,
        }
    }

    /// A passphrase-protected private key file.
    pub fn key_file_with_passphrase(path: impl Into<PathBuf>, passphrase: Secret) -> Self {
        Self::KeyFile {
            path: path.into(),
            passphrase: Some(passphrase),
        }
    }

    /// A private key given as text (OpenSSH, PKCS#8 or PEM), decrypted now
    /// with `passphrase` when it is encrypted.
    pub fn key_openssh(text: &str, passphrase: Option<&Secret>) -> Result<Self, Error> {
        let key = russh::keys::decode_secret_key(text, passphrase.map(Secret::expose))
            .map_err(|e| Error::communicator("decoding the SSH private key", e))?;
        Ok(Self::Key(Arc::new(key)))
    }

    /// The agent at `SSH_AUTH_SOCK`.
    pub fn agent() -> Self {
        Self::Agent { socket: None }
    }

    /// The agent listening on `socket`.
    pub fn agent_at(socket: impl Into<PathBuf>) -> Self {
        Self::Agent {
            socket: Some(socket.into()),
        }
    }

    /// A password.
    pub fn password(password: impl Into<Secret>) -> Self {
        Self::Password(password.into())
    }
}

impl fmt::Debug for SshAuth {
    /// Names the method and the public side only: never a key, passphrase or password.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Key(key) => f
                .debug_tuple("Key")
                .field(&key.fingerprint(russh::keys::HashAlg::Sha256).to_string())
                .finish(),
            Self::KeyFile { path, passphrase } => f
                .debug_struct("KeyFile")
                .field("path", path)
                .field("passphrase", passphrase)
                .finish(),
            Self::Agent { socket } => f.debug_struct("Agent").field("socket", socket).finish(),
            Self::Password(p) => f.debug_tuple("Password").field(p).finish(),
        }
    }
}

/// Time limits of a connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SshTimeouts {
    /// How long to keep trying to connect and log in (the machine is
    /// booting). Default 5 minutes.
    pub connect: Duration,
    /// The longest one attempt (TCP, key exchange, login) may take.
    /// Default 30 seconds.
    pub attempt: Duration,
    /// The longest pause between two attempts. Default 2 seconds.
    pub retry_cap: Duration,
    /// Sends a keepalive after this much silence from the server; three
    /// unanswered ones mean the connection is lost. Default 10 seconds.
    pub keepalive: Option<Duration>,
    /// How long to keep reading output after a command reported its exit
    /// status (a background process it started may hold the channel open).
    /// Default 2 seconds.
    pub drain_after_exit: Duration,
}

impl Default for SshTimeouts {
    fn default() -> Self {
        Self {
            connect: Duration::from_secs(300),
            attempt: Duration::from_secs(30),
            retry_cap: Duration::from_secs(2),
            keepalive: Some(Duration::from_secs(10)),
            drain_after_exit: Duration::from_secs(2),
        }
    }
}

/// Where and how to connect: host, port, user, login method, host key
/// policy, time limits and an optional bastion (jump host).
///
/// ```
/// use imagebake_core::comm::ssh::{HostKeyPolicy, SshAuth, SshConfig};
///
/// let bastion = SshConfig::new("bastion.example", "jump", SshAuth::agent(),
///     HostKeyPolicy::known_hosts("/root/.ssh/known_hosts"));
/// let config = SshConfig::new("10.0.0.5", "root", SshAuth::key_file("/root/.ssh/id_ed25519"),
///     HostKeyPolicy::TrustFirstUse)
///     .port(22)
///     .bastion(bastion);
/// assert_eq!(config.target(), "root@10.0.0.5:22 via jump@bastion.example:22");
/// ```
#[derive(Debug, Clone)]
pub struct SshConfig {
    pub(crate) host: String,
    pub(crate) port: u16,
    pub(crate) user: String,
    pub(crate) auth: SshAuth,
    pub(crate) host_key: HostKeyPolicy,
    pub(crate) bastion: Option<Box<SshConfig>>,
    pub(crate) timeouts: SshTimeouts,
}

impl SshConfig {
    /// Connects to `host` port 22 as `user`.
    pub fn new(
        host: impl Into<String>,
        user: impl Into<String>,
        auth: SshAuth,
        host_key: HostKeyPolicy,
    ) -> Self {
        Self {
            host: host.into(),
            port: 22,
            user: user.into(),
            auth,
            host_key,
            bastion: None,
            timeouts: SshTimeouts::default(),
        }
    }

    /// Uses this port.
    pub fn port(mut self, port: u16) -> Self {
        self.port = port;
        self
    }

    /// Reaches the host through a bastion: connects to the bastion, opens a
    /// `direct-tcpip` channel from it to this host, and runs this session
    /// over that channel. The bastion's own time limits apply to each of
    /// its connections; its connect deadline is this config's.
    pub fn bastion(mut self, bastion: SshConfig) -> Self {
        self.bastion = Some(Box::new(bastion));
        self
    }

    /// Uses these time limits.
    pub fn timeouts(mut self, timeouts: SshTimeouts) -> Self {
        self.timeouts = timeouts;
        self
    }

    /// `user@host:port`, followed by ` via …` for each bastion.
    pub fn target(&self) -> String {
        let me = format!("{}@{}:{}", self.user, self.host, self.port);
        match &self.bastion {
            Some(b) => format!("{me} via {}", b.target()),
            None => me,
        }
    }
}

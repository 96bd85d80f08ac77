//! What the Manta and IMGAPI clients share with each other: the HTTP client
//! with its TLS and timeout settings, the signer resolved once from a
//! [`KeySource`], a freshly dated `Date`, and reading an answer into a
//! [`Reply`] or the service's error.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::Stream;
use reqwest::Response;
use tokio::sync::OnceCell;

use crate::auth::{Algorithm, Signer};
use crate::client::{Reply, api_error};
use crate::error::{Error, Result, Service};
use crate::key_source::KeySource;

/// Bytes read from a local file at a time.
const CHUNK: usize = 64 * 1024;

/// An HTTP client and the signer of one service's requests.
pub(crate) struct Signed {
    pub(crate) http: reqwest::Client,
    key: Option<KeySource>,
    algorithm: Option<Algorithm>,
    signer: OnceCell<Arc<dyn Signer>>,
}

impl Signed {
    /// `key` is `None` for unsigned requests. A key file is read now.
    pub(crate) fn new(
        service: &str,
        url: &url::Url,
        insecure: bool,
        timeout: Duration,
        key: Option<KeySource>,
        algorithm: Option<Algorithm>,
    ) -> Result<Self> {
        imagebake_http::warn_if_tls_unverified(insecure, service, url.as_str());
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(imagebake_http::connect_timeout(timeout))
            .user_agent(concat!(
                "imagebake-triton-client/",
                env!("CARGO_PKG_VERSION")
            ))
            .danger_accept_invalid_certs(insecure)
            .build()
            .map_err(|source| Error::HttpClient { source })?;
        let signer = OnceCell::new();
        if let Some(now) = key.as_ref().and_then(|k| k.resolve_now(algorithm)) {
            // Cannot fail: the cell is new.
            let _ = signer.set(now?);
        }
        Ok(Self {
            http,
            key,
            algorithm,
            signer,
        })
    }

    /// The signer, resolving an agent or `~/.ssh` key on first use; `None`
    /// when requests go unsigned.
    pub(crate) async fn signer(&self) -> Result<Option<Arc<dyn Signer>>> {
        let Some(key) = &self.key else {
            return Ok(None);
        };
        self.signer
            .get_or_try_init(|| key.resolve(self.algorithm))
            .await
            .map(|s| Some(Arc::clone(s)))
    }

    /// Signs `date: <date>` (the only header Manta and IMGAPI clients
    /// sign): the key's MD5 fingerprint, the algorithm used and the
    /// signature; `None` when requests go unsigned.
    pub(crate) async fn sign_date(
        &self,
        date: &str,
    ) -> Result<Option<(String, Algorithm, Vec<u8>)>> {
        let Some(signer) = self.signer().await? else {
            return Ok(None);
        };
        let to_sign = crate::auth::signing_string_for(&["date"], "", "", |_| Some(date));
        let (algorithm, signature) = signer.sign(to_sign.as_bytes()).await?;
        Ok(Some((signer.key_id().to_owned(), algorithm, signature)))
    }

    /// Where the key comes from (for `Debug`; never key material).
    pub(crate) fn key(&self) -> Option<&KeySource> {
        self.key.as_ref()
    }
}

/// A fresh IMF-fixdate `Date` value.
pub(crate) fn date_now() -> String {
    httpdate::fmt_http_date(std::time::SystemTime::now())
}

/// The transport error for `operation`.
pub(crate) fn transport(operation: &'static str) -> impl Fn(reqwest::Error) -> Error {
    move |source| Error::Transport {
        operation,
        connect: source.is_connect(),
        source,
    }
}

/// `resp` itself when it is a success, else the service's error (its body
/// read).
pub(crate) async fn success(
    service: Service,
    operation: &'static str,
    resp: Response,
) -> Result<Response> {
    let status = resp.status();
    if status.is_success() {
        return Ok(resp);
    }
    let headers = resp.headers().clone();
    let body = resp.bytes().await.map_err(transport(operation))?;
    Err(api_error(service, operation, status, &headers, &body))
}

/// Reads a success's whole body.
pub(crate) async fn reply(operation: &'static str, resp: Response) -> Result<Reply> {
    let status = resp.status();
    let headers = resp.headers().clone();
    let body = resp.bytes().await.map_err(transport(operation))?.to_vec();
    Ok(Reply {
        status,
        headers,
        body,
    })
}

/// Size and digest of a local file, read in chunks (what an upload
/// announces before streaming it).
pub(crate) async fn hash_file<D: md5::Digest>(
    operation: &'static str,
    path: &std::path::Path,
) -> Result<(u64, Vec<u8>)> {
    use tokio::io::AsyncReadExt as _;
    let io = |source| Error::LocalFile {
        operation,
        path: path.to_owned(),
        source,
    };
    let mut file = tokio::fs::File::open(path).await.map_err(io)?;
    let mut hasher = D::new();
    let mut buf = vec![0u8; CHUNK];
    let mut size = 0u64;
    loop {
        let n = file.read(&mut buf).await.map_err(io)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        size += n as u64;
    }
    Ok((size, hasher.finalize().to_vec()))
}

/// A local file as a streamed request body, opened afresh (each attempt
/// sends it from the start).
pub(crate) async fn file_body(
    operation: &'static str,
    path: &std::path::Path,
) -> Result<reqwest::Body> {
    let file = tokio::fs::File::open(path)
        .await
        .map_err(|source| Error::LocalFile {
            operation,
            path: path.to_owned(),
            source,
        })?;
    Ok(reqwest::Body::wrap_stream(file_stream(file)))
}

/// A file as a stream of chunks (an upload body).
fn file_stream(
    file: tokio::fs::File,
) -> impl Stream<Item = std::io::Result<Bytes>> + Send + 'static {
    futures::stream::try_unfold(file, |mut file| async move {
        let mut buf = vec![0u8; CHUNK];
        let n = tokio::io::AsyncReadExt::read(&mut file, &mut buf).await?;
        if n == 0 {
            return Ok(None);
        }
        buf.truncate(n);
        Ok(Some((Bytes::from(buf), file)))
    })
}

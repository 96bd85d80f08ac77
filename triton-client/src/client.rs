//! The client and its one request path: build the URL, date and sign each
//! attempt afresh, send, decode errors, retry what is safe to retry.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use imagebake_http::{Idempotency, RetryPolicy, parse_retry_after, retry_request};
use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, DATE, HeaderMap};
use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;
use serde_json::Value;
use tokio::sync::OnceCell;
use url::Url;

use crate::auth::{Algorithm, Signer, authorization_header, key_id_path, signing_string};
use crate::config::Config;
use crate::error::{Error, Result, Service};
use crate::key_source::KeySource;

/// The `Accept-Version` node-triton sends.
pub(crate) const ACCEPT_VERSION: &str = "~9||~8";

/// CloudAPI's body parser limit (`maxBodySize`); this bounds `user-script`.
const MAX_BODY: usize = 100_000;

/// A CloudAPI client. Cheap to clone (shared state behind an `Arc`).
///
/// `Debug` shows the URL, account, user and key fingerprint, never key
/// material.
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

struct Inner {
    http: reqwest::Client,
    base: Url,
    account: String,
    path_account: String,
    user: Option<String>,
    roles: Vec<String>,
    key: KeySource,
    algorithm: Option<Algorithm>,
    signer: OnceCell<Arc<dyn Signer>>,
    retry: RetryPolicy,
    clock_offset_secs: i64,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let i = &self.inner;
        f.debug_struct("Client")
            .field("url", &i.base.as_str())
            .field("account", &i.account)
            .field("user", &i.user)
            .field("key", &i.key)
            .field("signer", &i.signer.get())
            .finish_non_exhaustive()
    }
}

/// One request to CloudAPI, below `/:login/`.
#[derive(Debug, Clone)]
pub(crate) struct Req {
    pub(crate) op: &'static str,
    method: Method,
    segments: Vec<String>,
    query: Vec<(String, String)>,
    body: Option<Value>,
    idempotency: Idempotency,
    gone_ok: bool,
}

impl Req {
    fn new(op: &'static str, method: Method, segments: &[&str]) -> Self {
        let idempotency = match method {
            Method::POST => Idempotency::Action,
            _ => Idempotency::Idempotent,
        };
        Self {
            op,
            method,
            segments: segments.iter().map(|s| (*s).to_owned()).collect(),
            query: Vec::new(),
            body: None,
            idempotency,
            gone_ok: false,
        }
    }
    pub(crate) fn get(op: &'static str, segments: &[&str]) -> Self {
        Self::new(op, Method::GET, segments)
    }
    pub(crate) fn post(op: &'static str, segments: &[&str]) -> Self {
        Self::new(op, Method::POST, segments)
    }
    pub(crate) fn put(op: &'static str, segments: &[&str]) -> Self {
        Self::new(op, Method::PUT, segments)
    }
    pub(crate) fn delete(op: &'static str, segments: &[&str]) -> Self {
        Self::new(op, Method::DELETE, segments)
    }
    pub(crate) fn query(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.query.push((key.into(), value.into()));
        self
    }
    pub(crate) fn queries<K: Into<String>>(
        mut self,
        q: impl IntoIterator<Item = (K, String)>,
    ) -> Self {
        self.query.extend(q.into_iter().map(|(k, v)| (k.into(), v)));
        self
    }
    pub(crate) fn json(mut self, body: Value) -> Self {
        self.body = Some(body);
        self
    }
    /// Marks a POST whose effect is the same however often it is sent:
    /// retried after a 5xx or a lost answer too.
    pub(crate) fn idempotent(mut self) -> Self {
        self.idempotency = Idempotency::Idempotent;
        self
    }
    /// Marks the request as a create: never re-sent after an unknown outcome.
    pub(crate) fn create(mut self) -> Self {
        self.idempotency = Idempotency::Create;
        self
    }
    /// A 410 Gone answer is a result (its body is the deleted resource).
    pub(crate) fn gone_ok(mut self) -> Self {
        self.gone_ok = true;
        self
    }
}

/// A successful (or accepted 410) answer.
#[derive(Debug)]
pub(crate) struct Reply {
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Vec<u8>,
}

impl Reply {
    pub(crate) fn json<T: DeserializeOwned>(&self, operation: &'static str) -> Result<T> {
        let de = &mut serde_json::Deserializer::from_slice(&self.body);
        serde_path_to_error::deserialize(de).map_err(|source| Error::Decode { operation, source })
    }

    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

impl Client {
    /// A client for `config`. A key file is read (and decrypted) now, so a
    /// missing passphrase or a wrong file fails here; an ssh-agent is asked
    /// on the first request.
    pub fn new(config: Config) -> Result<Self> {
        imagebake_http::warn_if_tls_unverified(config.insecure, "triton", config.url.as_str());
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(imagebake_http::connect_timeout(config.timeout))
            .user_agent(concat!(
                "imagebake-triton-client/",
                env!("CARGO_PKG_VERSION")
            ))
            .danger_accept_invalid_certs(config.insecure)
            .build()
            .map_err(|source| Error::HttpClient { source })?;
        let signer = OnceCell::new();
        if let Some(now) = config.key.resolve_now(config.algorithm) {
            // Cannot fail: the cell is new.
            let _ = signer.set(now?);
        }
        let path_account = config
            .act_as
            .clone()
            .unwrap_or_else(|| config.account.clone());
        Ok(Self {
            inner: Arc::new(Inner {
                http,
                base: config.url,
                account: config.account,
                path_account,
                user: config.user,
                roles: config.roles,
                key: config.key,
                algorithm: config.algorithm,
                signer,
                retry: config.retry,
                clock_offset_secs: config.clock_offset_secs,
            }),
        })
    }

    /// The CloudAPI base URL.
    pub fn url(&self) -> &Url {
        &self.inner.base
    }

    /// The account login whose resources the client works on (the
    /// act-as account, if one is configured).
    pub fn resource_account(&self) -> &str {
        &self.inner.path_account
    }

    /// The login that signs requests (the `keyId` account).
    pub fn account(&self) -> &str {
        &self.inner.account
    }

    /// The MD5 fingerprint of the signing key (resolving an agent key first).
    pub async fn key_id(&self) -> Result<String> {
        Ok(self.signer().await?.key_id().to_owned())
    }

    pub(crate) fn retry_policy(&self) -> &RetryPolicy {
        &self.inner.retry
    }

    async fn signer(&self) -> Result<Arc<dyn Signer>> {
        let i = &self.inner;
        i.signer
            .get_or_try_init(|| i.key.resolve(i.algorithm))
            .await
            .map(Arc::clone)
    }

    fn now(&self) -> SystemTime {
        let off = self.inner.clock_offset_secs;
        let delta = Duration::from_secs(off.unsigned_abs());
        if off >= 0 {
            SystemTime::now() + delta
        } else {
            SystemTime::now() - delta
        }
    }

    fn url_for(&self, req: &Req) -> Result<Url> {
        let mut url = self.inner.base.clone();
        {
            let mut segs = url.path_segments_mut().map_err(|()| Error::Config {
                reason: format!("{} cannot be a base URL", self.inner.base),
            })?;
            segs.pop_if_empty();
            segs.push(&self.inner.path_account);
            for s in &req.segments {
                segs.push(s);
            }
        }
        let roles = &self.inner.roles;
        if req.query.is_empty() && roles.is_empty() {
            url.set_query(None);
        } else {
            let mut q = url.query_pairs_mut();
            q.clear();
            for (k, v) in &req.query {
                q.append_pair(k, v);
            }
            if !roles.is_empty() {
                q.append_pair("as-role", &roles.join(","));
            }
        }
        Ok(url)
    }

    /// Sends `req`, repeating it (freshly dated and signed) after the
    /// failures [`imagebake_http::classify`] allows for its idempotency.
    pub(crate) async fn send(&self, req: &Req) -> Result<Reply> {
        retry_request(&self.inner.retry, req.idempotency, |_attempt| {
            self.send_once(req)
        })
        .await
    }

    /// Sends `req` once: a fresh `Date`, signature and connection attempt.
    pub(crate) async fn send_once(&self, req: &Req) -> Result<Reply> {
        let url = self.url_for(req)?;
        let target = match url.query() {
            Some(q) => format!("{}?{q}", url.path()),
            None => url.path().to_owned(),
        };
        let date = httpdate::fmt_http_date(self.now());
        let signer = self.signer().await?;
        let to_sign = signing_string(req.method.as_str(), &target, &date);
        let (algorithm, signature) = signer.sign(to_sign.as_bytes()).await?;
        let key_id = key_id_path(
            &self.inner.account,
            self.inner.user.as_deref(),
            signer.key_id(),
        );
        let auth = authorization_header(&key_id, algorithm, &signature);

        let mut rb = self
            .inner
            .http
            .request(req.method.clone(), url)
            .header(DATE, &date)
            .header(AUTHORIZATION, auth)
            .header("accept-version", ACCEPT_VERSION)
            .header(ACCEPT, "application/json");
        if let Some(body) = &req.body {
            let bytes = serde_json::to_vec(body).map_err(|e| Error::InvalidRequest {
                reason: format!("{}: cannot encode the body: {e}", req.op),
            })?;
            if bytes.len() > MAX_BODY {
                return Err(Error::InvalidRequest {
                    reason: format!(
                        "{}: the body is {} bytes; CloudAPI accepts at most {MAX_BODY}",
                        req.op,
                        bytes.len()
                    ),
                });
            }
            rb = rb.header(CONTENT_TYPE, "application/json").body(bytes);
        }
        tracing::debug!(operation = req.op, method = %req.method, target = %target, "triton request");
        let op = req.op;
        let transport = |source: reqwest::Error| Error::Transport {
            operation: op,
            connect: source.is_connect(),
            source,
        };
        let resp = rb.send().await.map_err(transport)?;
        let status = resp.status();
        let headers = resp.headers().clone();
        let body = resp.bytes().await.map_err(transport)?.to_vec();
        if status.is_success() || (status == StatusCode::GONE && req.gone_ok) {
            return Ok(Reply {
                status,
                headers,
                body,
            });
        }
        Err(api_error(Service::CloudApi, op, status, &headers, &body))
    }
}

/// The error for a failed answer: the service's `{"code","message"}` body
/// (the reason phrase when there is none), `Request-Id` and `Retry-After`.
pub(crate) fn api_error(
    service: Service,
    operation: &'static str,
    status: StatusCode,
    headers: &HeaderMap,
    body: &[u8],
) -> Error {
    let parsed: Option<Value> = serde_json::from_slice(body).ok();
    let field = |name: &str| {
        parsed
            .as_ref()
            .and_then(|v| v.get(name))
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    let reason = status.canonical_reason().unwrap_or("error").to_owned();
    let code = field("code").unwrap_or_else(|| reason.replace(' ', ""));
    let message = field("message").unwrap_or_else(|| {
        let text = String::from_utf8_lossy(body);
        let text = text.trim();
        if text.is_empty() || parsed.is_some() {
            reason
        } else {
            text.chars().take(300).collect()
        }
    });
    let retry_after = headers
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| parse_retry_after(v, SystemTime::now()));
    let request_id = headers
        .get("request-id")
        .or_else(|| headers.get("x-request-id"))
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    Error::Api {
        service,
        operation,
        status: status.as_u16(),
        code,
        message,
        request_id,
        retry_after,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use imagebake_http::ErrorMeta;

    #[derive(Debug)]
    struct NoSigner;

    #[async_trait::async_trait]
    impl Signer for NoSigner {
        fn key_id(&self) -> &str {
            "00"
        }
        async fn sign(&self, _: &[u8]) -> Result<(Algorithm, Vec<u8>)> {
            Ok((Algorithm::Ed25519Sha512, vec![0; 64]))
        }
    }

    fn client(f: impl FnOnce(crate::ConfigBuilder) -> crate::ConfigBuilder) -> Client {
        let b = Config::builder()
            .url("https://cloudapi.example/prefix/")
            .account("alice")
            .signer(Arc::new(NoSigner));
        Client::new(f(b).build().unwrap()).unwrap()
    }

    #[test]
    fn urls_encode_segments_and_queries_and_roles() {
        let c = client(|b| b);
        let req = Req::get("GetMachineTag", &["machines", "m1", "tags", "a b/c"]);
        let url = c.url_for(&req).unwrap();
        assert_eq!(
            url.as_str(),
            "https://cloudapi.example/prefix/alice/machines/m1/tags/a%20b%2Fc"
        );
        let req = Req::get("ListMachines", &["machines"]).query("tag.k", "a b&c");
        let url = c.url_for(&req).unwrap();
        assert_eq!(url.path(), "/prefix/alice/machines");
        assert_eq!(url.query(), Some("tag.k=a+b%26c"));

        let c = client(|b| b.act_as("bob").roles(["ops", "dev"]));
        let url = c.url_for(&Req::get("GetAccount", &[])).unwrap();
        assert_eq!(
            url.as_str(),
            "https://cloudapi.example/prefix/bob?as-role=ops%2Cdev"
        );
        assert_eq!((c.account(), c.resource_account()), ("alice", "bob"));
    }

    #[tokio::test]
    async fn oversized_bodies_are_refused_before_sending() {
        let c = client(|b| b);
        let big = Value::String("x".repeat(MAX_BODY));
        let e = c
            .send_once(&Req::post("CreateMachine", &["machines"]).json(big))
            .await
            .unwrap_err();
        assert!(matches!(e, Error::InvalidRequest { .. }), "{e}");
    }

    #[test]
    fn error_body_is_decoded_with_request_id() {
        let mut h = HeaderMap::new();
        h.insert("request-id", "r-1".parse().unwrap());
        let e = api_error(
            Service::CloudApi,
            "GetMachine",
            StatusCode::NOT_FOUND,
            &h,
            br#"{"code":"ResourceNotFound","message":"no such machine"}"#,
        );
        assert!(e.is_not_found());
        assert_eq!(
            (e.status(), e.code(), e.request_id()),
            (Some(404), Some("ResourceNotFound"), Some("r-1"))
        );
        let e = api_error(
            Service::CloudApi,
            "X",
            StatusCode::SERVICE_UNAVAILABLE,
            &HeaderMap::new(),
            b"",
        );
        assert_eq!(e.code(), Some("ServiceUnavailable"));
        assert!(e.is_retryable());
        let f = e.failure().unwrap();
        assert!(f.verdict(Idempotency::Idempotent).is_retry());
        assert!(f.verdict(Idempotency::Action).is_retry());
        assert!(!f.verdict(Idempotency::Create).is_retry());
        let e = api_error(
            Service::CloudApi,
            "X",
            StatusCode::INTERNAL_SERVER_ERROR,
            &HeaderMap::new(),
            b"oops",
        );
        assert_eq!(
            e.to_string(),
            "X: CloudAPI answered 500 InternalServerError: oops"
        );
        let f = e.failure().unwrap();
        assert!(f.verdict(Idempotency::Idempotent).is_retry());
        assert!(!f.verdict(Idempotency::Action).is_retry());
        let mut h = HeaderMap::new();
        h.insert("retry-after", "2".parse().unwrap());
        let e = api_error(
            Service::CloudApi,
            "X",
            StatusCode::TOO_MANY_REQUESTS,
            &h,
            b"{}",
        );
        assert_eq!(
            e.failure().unwrap().verdict(Idempotency::Create),
            imagebake_http::Verdict::Retry(Some(Duration::from_secs(2)))
        );
    }
}

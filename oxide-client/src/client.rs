//! The client and its one private send path.

use std::sync::Arc;

use futures::Stream;
use futures::future::Either;
use imagebake_http::{Idempotency, Page, RetryPolicy, paginate, parse_retry_after, retry_request};
use reqwest::header::{AUTHORIZATION, HeaderValue, RETRY_AFTER};
use reqwest::{Method, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::API_VERSION;
use crate::config::Config;
use crate::error::{Error, Result};
use crate::types::{ListOptions, ResultsPage};

/// Message prefix of dropshot's answer to an `api-version` newer than the
/// rack's (`400 "server does not support this API version: X"`).
pub(crate) const UNSUPPORTED_VERSION: &str = "server does not support this API version";

/// An async client for one Oxide rack. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    http: reqwest::Client,
    host: String,
    /// `Bearer <token>`, marked sensitive; reqwest's `Debug` hides it.
    auth: HeaderValue,
    retry: RetryPolicy,
}

/// A request about to be sent: everything but the attempt.
pub(crate) struct Request {
    pub(crate) operation: &'static str,
    pub(crate) method: Method,
    pub(crate) path: String,
    pub(crate) query: Vec<(&'static str, String)>,
    pub(crate) body: Option<Vec<u8>>,
    /// How safe the request is to send again (from the method; creates are
    /// marked with [`Request::create`]).
    pub(crate) idempotency: Idempotency,
}

impl Request {
    pub(crate) fn new(operation: &'static str, method: Method, path: impl Into<String>) -> Self {
        let idempotency = match method {
            Method::POST | Method::PATCH => Idempotency::Action,
            _ => Idempotency::Idempotent,
        };
        Self {
            operation,
            method,
            path: path.into(),
            query: Vec::new(),
            body: None,
            idempotency,
        }
    }

    /// Marks a POST as safe to repeat (its effect is the same however often
    /// it is sent): retried after a 5xx or a lost answer too.
    pub(crate) fn idempotent(mut self) -> Self {
        self.idempotency = Idempotency::Idempotent;
        self
    }

    /// Marks the request as a create: not re-sent after an unknown outcome
    /// (the caller looks for what it made first, [`imagebake_http::create_or_adopt`]).
    pub(crate) fn create(mut self) -> Self {
        self.idempotency = Idempotency::Create;
        self
    }

    pub(crate) fn query(mut self, key: &'static str, value: impl ToString) -> Self {
        self.query.push((key, value.to_string()));
        self
    }

    pub(crate) fn query_opt(self, key: &'static str, value: Option<impl ToString>) -> Self {
        match value {
            Some(v) => self.query(key, v),
            None => self,
        }
    }

    pub(crate) fn json(mut self, body: &impl Serialize) -> Result<Self> {
        let bytes = serde_json::to_vec(body).map_err(|source| Error::Encode {
            operation: self.operation,
            source,
        })?;
        self.body = Some(bytes);
        Ok(self)
    }
}

impl Client {
    /// A client for the rack `config` describes.
    pub fn new(config: Config) -> Result<Self> {
        if !(config.host.starts_with("http://") || config.host.starts_with("https://")) {
            return Err(Error::InvalidHost { host: config.host });
        }
        let mut auth = HeaderValue::from_str(&format!("Bearer {}", config.token.expose()))
            .map_err(|_| Error::InvalidRequest {
                operation: "client_new",
                reason: "the token is not a valid header value".into(),
            })?;
        auth.set_sensitive(true);
        imagebake_http::warn_if_tls_unverified(config.insecure, "oxide", &config.host);
        let http = reqwest::Client::builder()
            .user_agent(concat!(
                "imagebake-oxide-client/",
                env!("CARGO_PKG_VERSION")
            ))
            .timeout(config.timeout)
            .connect_timeout(imagebake_http::connect_timeout(config.timeout))
            .danger_accept_invalid_certs(config.insecure)
            .build()
            .map_err(Error::Build)?;
        Ok(Self {
            inner: Arc::new(Inner {
                http,
                host: config.host,
                auth,
                retry: config.retry,
            }),
        })
    }

    /// A client configured from the environment and `~/.config/oxide`
    /// ([`Config::from_env`]).
    pub fn from_env() -> Result<Self> {
        Self::new(Config::from_env()?)
    }

    /// The rack's base URL.
    pub fn host(&self) -> &str {
        &self.inner.host
    }

    /// Sends `req`, retrying what [`imagebake_http::classify`] allows for its
    /// idempotency under the retry policy, and returns the successful response.
    async fn send(&self, req: &Request) -> Result<reqwest::Response> {
        retry_request(&self.inner.retry, req.idempotency, |attempt| {
            self.attempt(req, attempt)
        })
        .await
    }

    /// The same client with another retry policy (an undo may retry longer
    /// than a build step).
    pub fn with_retry(&self, retry: RetryPolicy) -> Self {
        Self {
            inner: Arc::new(Inner {
                http: self.inner.http.clone(),
                host: self.inner.host.clone(),
                auth: self.inner.auth.clone(),
                retry,
            }),
        }
    }

    /// The retry policy of every request.
    pub fn retry_policy(&self) -> &RetryPolicy {
        &self.inner.retry
    }

    async fn attempt(&self, req: &Request, attempt: u32) -> Result<reqwest::Response> {
        let url = format!("{}{}", self.inner.host, req.path);
        tracing::debug!(operation = req.operation, method = %req.method, path = %req.path, attempt, "oxide request");
        let mut builder = self
            .inner
            .http
            .request(req.method.clone(), url)
            .header(AUTHORIZATION, self.inner.auth.clone())
            .header("api-version", API_VERSION)
            .query(&req.query);
        if let Some(body) = &req.body {
            builder = builder
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body.clone());
        }
        let resp = builder.send().await.map_err(|source| Error::Transport {
            operation: req.operation,
            connect: source.is_connect(),
            source,
        })?;
        if resp.status().is_success() {
            return Ok(resp);
        }
        Err(api_error(req.operation, resp).await)
    }

    /// Sends `req` and decodes its JSON answer.
    pub(crate) async fn json<T: DeserializeOwned>(&self, req: &Request) -> Result<T> {
        let resp = self.send(req).await?;
        decode(req.operation, resp).await
    }

    /// Sends `req` and ignores its (empty) answer.
    pub(crate) async fn empty(&self, req: &Request) -> Result<()> {
        self.send(req).await.map(drop)
    }

    /// Like [`Client::list`], but a request that failed its checks becomes a
    /// stream of that one error (as does a zero `limit`).
    pub(crate) fn list_checked<T>(
        &self,
        first: Result<Request>,
        opts: ListOptions,
    ) -> impl Stream<Item = Result<T>> + Send + 'static
    where
        T: DeserializeOwned + Send + 'static,
    {
        let first = first.and_then(|r| {
            if opts.limit == Some(0) {
                Err(Error::InvalidRequest {
                    operation: r.operation,
                    reason: "limit must be at least 1".into(),
                })
            } else {
                Ok(r)
            }
        });
        match first {
            Ok(req) => Either::Left(self.list(req, opts)),
            Err(e) => Either::Right(futures::stream::iter([Err(e)])),
        }
    }

    /// Streams every item of a paginated list: the first request carries
    /// `first`'s query, later ones only `page_token` and `limit`.
    fn list<T>(
        &self,
        first: Request,
        opts: ListOptions,
    ) -> impl Stream<Item = Result<T>> + Send + 'static
    where
        T: DeserializeOwned + Send + 'static,
    {
        let client = self.clone();
        let first = Arc::new(first);
        paginate(move |token: Option<String>| {
            let client = client.clone();
            let first = Arc::clone(&first);
            async move {
                let req = match token {
                    None => Request {
                        operation: first.operation,
                        method: first.method.clone(),
                        path: first.path.clone(),
                        query: first.query.clone(),
                        body: None,
                        idempotency: first.idempotency,
                    }
                    .query_opt("limit", opts.limit)
                    .query_opt("sort_by", opts.sort_by.map(|s| s.as_str())),
                    Some(token) => {
                        Request::new(first.operation, first.method.clone(), first.path.clone())
                            .query_opt("limit", opts.limit)
                            .query("page_token", token)
                    }
                };
                let page: ResultsPage<T> = client.json(&req).await?;
                Ok::<_, Error>(Page {
                    items: page.items,
                    next: page.next_page,
                })
            }
        })
    }
}

pub(crate) async fn decode<T: DeserializeOwned>(
    operation: &'static str,
    resp: reqwest::Response,
) -> Result<T> {
    let bytes = resp.bytes().await.map_err(|source| Error::Transport {
        operation,
        connect: false,
        source,
    })?;
    let de = &mut serde_json::Deserializer::from_slice(&bytes);
    serde_path_to_error::deserialize(de).map_err(|e| Error::Decode {
        operation,
        path: e.path().to_string(),
        source: e.into_inner(),
    })
}

#[derive(serde::Deserialize)]
struct ErrorBody {
    #[serde(default)]
    error_code: Option<String>,
    #[serde(default)]
    message: String,
    #[serde(default)]
    request_id: Option<String>,
}

pub(crate) async fn api_error(operation: &'static str, resp: reqwest::Response) -> Error {
    let status = resp.status();
    let retry_after = resp
        .headers()
        .get(RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| parse_retry_after(v, std::time::SystemTime::now()));
    let header_request_id = resp
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let text = resp.text().await.unwrap_or_default();
    let body = serde_json::from_str::<ErrorBody>(&text).unwrap_or_else(|_| ErrorBody {
        error_code: None,
        message: text.chars().take(500).collect(),
        request_id: None,
    });
    let request_id = body.request_id.or(header_request_id);
    if status == StatusCode::BAD_REQUEST && body.message.starts_with(UNSUPPORTED_VERSION) {
        return Error::UnsupportedApiVersion {
            operation,
            client_version: API_VERSION,
            message: body.message,
            request_id,
        };
    }
    Error::Api {
        operation,
        status: status.as_u16(),
        error_code: body.error_code,
        message: body.message,
        request_id,
        retry_after,
    }
}

//! The Triton simulator over real HTTP on 127.0.0.1, signed by a tiny
//! test-only HTTP Signature signer (not triton-client, which depends on us).

#![cfg(feature = "triton")]

use std::time::{Duration, Instant, SystemTime};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use imagebake_sim::Fault;
use imagebake_sim::triton::{TritonDelays, TritonSim, TritonSimOptions};
use p256::ecdsa::signature::hazmat::PrehashSigner as _;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use ssh_key::public::{EcdsaPublicKey, KeyData};
use ssh_key::{PrivateKey, PublicKey};

// ---------------------------------------------------------------- helpers

/// A key the test signs with.
enum Key {
    Ed25519(ring::signature::Ed25519KeyPair),
    P256(p256::ecdsa::SigningKey),
    P521(p521::ecdsa::SigningKey),
}

impl Key {
    fn from_openssh_file(path: &std::path::Path) -> Key {
        let private = PrivateKey::read_openssh_file(path).expect("sim key file");
        let kp = private.key_data().ed25519().expect("ed25519");
        Key::Ed25519(
            ring::signature::Ed25519KeyPair::from_seed_unchecked(&kp.private.to_bytes())
                .expect("seed"),
        )
    }

    fn ed25519(seed: u8) -> (Key, String) {
        let kp = ssh_key::private::Ed25519Keypair::from_seed(&[seed; 32]);
        let public = PublicKey::new(KeyData::Ed25519(kp.public), "test-ed25519")
            .to_openssh()
            .expect("openssh");
        let key = ring::signature::Ed25519KeyPair::from_seed_unchecked(&[seed; 32]).expect("seed");
        (Key::Ed25519(key), public)
    }

    fn p256() -> (Key, String) {
        let sk = p256::ecdsa::SigningKey::from_slice(&[3u8; 32]).expect("p256");
        let point = sk.verifying_key().to_sec1_point(false);
        (Key::P256(sk), ecdsa_line(point.as_bytes()))
    }

    fn p521() -> (Key, String) {
        let mut scalar = [4u8; 66];
        scalar[0] = 0;
        let sk = p521::ecdsa::SigningKey::from_slice(&scalar).expect("p521");
        let point = sk.verifying_key().to_sec1_point(false);
        (Key::P521(sk), ecdsa_line(point.as_bytes()))
    }

    fn sign(&self, hash: &str, data: &[u8]) -> Vec<u8> {
        let digest = |h: &str| match h {
            "sha512" => ring::digest::digest(&ring::digest::SHA512, data),
            _ => ring::digest::digest(&ring::digest::SHA256, data),
        };
        match self {
            Key::Ed25519(k) => k.sign(data).as_ref().to_vec(),
            Key::P256(k) => {
                let sig: p256::ecdsa::Signature =
                    k.sign_prehash(digest(hash).as_ref()).expect("sign");
                sig.to_der().as_bytes().to_vec()
            }
            Key::P521(k) => {
                let sig: p521::ecdsa::Signature =
                    k.sign_prehash(digest(hash).as_ref()).expect("sign");
                sig.to_der().as_bytes().to_vec()
            }
        }
    }
}

fn ecdsa_line(sec1: &[u8]) -> String {
    let ec = EcdsaPublicKey::from_sec1_bytes(sec1).expect("point");
    PublicKey::new(KeyData::Ecdsa(ec), "test-ecdsa")
        .to_openssh()
        .expect("openssh")
}

/// Signs and sends requests like a CloudAPI client.
struct Client {
    http: reqwest::Client,
    base: String,
    key_id: String,
    algorithm: String,
    key: Key,
}

/// Knobs for one request.
#[derive(Default)]
struct Opts {
    date: Option<String>,
    /// Replace the whole Authorization header.
    authorization: Option<String>,
    /// Signed headers (default `(request-target) date`).
    signed: Option<&'static str>,
    no_auth: bool,
    accept: Option<&'static str>,
    accept_version: Option<&'static str>,
    body: Option<Value>,
    /// Sign these bytes instead of the real signing string.
    tamper: bool,
}

fn http_date(t: SystemTime) -> String {
    httpdate::fmt_http_date(t)
}

impl Client {
    fn new(sim: &TritonSim) -> Client {
        Client {
            http: reqwest::Client::new(),
            base: sim.url(),
            key_id: format!("/{}/keys/{}", sim.account(), sim.key_id()),
            algorithm: "ed25519-sha512".to_owned(),
            key: Key::from_openssh_file(sim.private_key_path()),
        }
    }

    fn with_key(sim: &TritonSim, key_id: String, algorithm: &str, key: Key) -> Client {
        Client {
            http: reqwest::Client::new(),
            base: sim.url(),
            key_id,
            algorithm: algorithm.to_owned(),
            key,
        }
    }

    fn authorization(
        &self,
        method: &Method,
        target: &str,
        date: &str,
        signed: &str,
        tamper: bool,
    ) -> String {
        let lines: Vec<String> = signed
            .split(' ')
            .map(|h| match h {
                "(request-target)" => format!(
                    "(request-target): {} {target}",
                    method.as_str().to_ascii_lowercase()
                ),
                "date" => format!("date: {date}"),
                other => panic!("test signer does not sign {other}"),
            })
            .collect();
        let mut signing = lines.join("\n");
        if tamper {
            signing.push('x');
        }
        let hash = self.algorithm.rsplit('-').next().unwrap_or("sha256");
        let sig = STANDARD.encode(self.key.sign(hash, signing.as_bytes()));
        format!(
            "Signature keyId=\"{}\",algorithm=\"{}\",headers=\"{signed}\",signature=\"{sig}\"",
            self.key_id, self.algorithm
        )
    }

    async fn try_send(
        &self,
        method: Method,
        target: &str,
        o: Opts,
    ) -> reqwest::Result<reqwest::Response> {
        let date = o.date.unwrap_or_else(|| http_date(SystemTime::now()));
        let mut req = self
            .http
            .request(method.clone(), format!("{}{target}", self.base))
            .header("date", &date)
            .header("accept", o.accept.unwrap_or("application/json"))
            .header("accept-version", o.accept_version.unwrap_or("~9||~8"));
        if !o.no_auth {
            let auth = o.authorization.unwrap_or_else(|| {
                self.authorization(
                    &method,
                    target,
                    &date,
                    o.signed.unwrap_or("(request-target) date"),
                    o.tamper,
                )
            });
            req = req.header("authorization", auth);
        }
        if let Some(body) = o.body {
            req = req.json(&body);
        }
        req.send().await
    }

    async fn send(
        &self,
        method: Method,
        target: &str,
        o: Opts,
    ) -> (StatusCode, reqwest::header::HeaderMap, Value) {
        let resp = self.try_send(method, target, o).await.expect("response");
        let status = resp.status();
        let headers = resp.headers().clone();
        let text = resp.text().await.expect("body");
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        (status, headers, body)
    }

    async fn get(&self, target: &str) -> (StatusCode, Value) {
        let (s, _, b) = self.send(Method::GET, target, Opts::default()).await;
        (s, b)
    }

    async fn post(&self, target: &str, body: Value) -> (StatusCode, Value) {
        let (s, _, b) = self
            .send(
                Method::POST,
                target,
                Opts {
                    body: Some(body),
                    ..Opts::default()
                },
            )
            .await;
        (s, b)
    }

    async fn delete(&self, target: &str) -> (StatusCode, Value) {
        let (s, _, b) = self.send(Method::DELETE, target, Opts::default()).await;
        (s, b)
    }

    /// Polls GetMachine until its state is `want` (or 410 for `deleted`).
    async fn wait_machine(&self, id: &str, want: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let (status, body) = self.get(&format!("/my/machines/{id}")).await;
            if body["state"] == want {
                return body;
            }
            assert!(
                status == StatusCode::OK,
                "GetMachine {id}: {status} {body} while waiting for {want}"
            );
            assert!(
                Instant::now() < deadline,
                "machine {id} never reached {want}: {body}"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// Polls GetImage until its state is `want`.
    async fn wait_image(&self, id: &str, want: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let (status, body) = self.get(&format!("/my/images/{id}")).await;
            assert_eq!(status, StatusCode::OK, "{body}");
            if body["state"] == want {
                return body;
            }
            assert!(
                Instant::now() < deadline,
                "image {id} never reached {want}: {body}"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}

async fn sim() -> TritonSim {
    TritonSim::start(TritonSimOptions {
        delays: TritonDelays::all(Duration::from_millis(5)),
        ..TritonSimOptions::default()
    })
    .await
    .expect("sim starts")
}

fn error_of(body: &Value) -> (&str, &str) {
    (
        body["code"].as_str().unwrap_or("<no code>"),
        body["message"].as_str().unwrap_or("<no message>"),
    )
}

async fn create_machine(c: &Client, name: &str, extra: Value) -> Value {
    let mut body = json!({
        "name": name,
        "package": "g1.small",
        "image": "e44ed3e0-910b-11ee-b2d6-0b4f7a3c2301",
    });
    if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
        b.extend(e.clone());
    }
    let (status, machine) = c.post("/my/machines", body).await;
    assert_eq!(status, StatusCode::CREATED, "{machine}");
    machine
}

// ---------------------------------------------------------------- auth

#[tokio::test]
async fn signed_requests_are_served_with_cloudapi_headers() {
    let sim = sim().await;
    let c = Client::new(&sim);
    for path in [format!("/{}", sim.account()), "/my".to_owned()] {
        let (status, headers, body) = c.send(Method::GET, &path, Opts::default()).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["login"], sim.account());
        assert_eq!(headers["api-version"], "9.0.0");
        assert!(
            headers["server"]
                .to_str()
                .expect("server")
                .starts_with("cloudapi/9.")
        );
        assert!(headers.contains_key("request-id"));
    }
    let (status, headers, _) = c
        .send(
            Method::GET,
            "/my",
            Opts {
                accept_version: Some("~7"),
                ..Opts::default()
            },
        )
        .await;
    assert_eq!(
        (status, &headers["api-version"]),
        (StatusCode::OK, &"7.3.0".parse().expect("hv"))
    );
    let (status, _, body) = c
        .send(
            Method::GET,
            "/my",
            Opts {
                accept_version: Some("~10"),
                ..Opts::default()
            },
        )
        .await;
    assert_eq!(
        (status, error_of(&body).0),
        (StatusCode::BAD_REQUEST, "InvalidVersion")
    );

    let (status, _, body) = c
        .send(
            Method::GET,
            "/--ping",
            Opts {
                no_auth: true,
                ..Opts::default()
            },
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["ping"], "pong");
    // keys listed with MD5 fingerprints
    let (status, keys) = c.get("/my/keys").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(keys[0]["name"], "imagebake-sim");
    assert_eq!(keys[0]["fingerprint"], sim.key_id());
    let (status, key) = c.get("/my/keys/imagebake-sim").await;
    assert_eq!(
        (status, &key["fingerprint"]),
        (StatusCode::OK, &json!(sim.key_id()))
    );
}

#[tokio::test]
async fn authentication_failures_match_cloudapi() {
    let sim = sim().await;
    let c = Client::new(&sim);
    let target = "/my/machines";
    let now = http_date(SystemTime::now());
    let get = |o: Opts| c.send(Method::GET, target, o);

    let (s, _, b) = get(Opts {
        no_auth: true,
        ..Opts::default()
    })
    .await;
    assert_eq!(
        (s, error_of(&b)),
        (
            StatusCode::UNAUTHORIZED,
            (
                "InvalidCredentials",
                "You must make authenticated requests to use CloudAPI"
            )
        )
    );

    let (s, _, b) = get(Opts {
        tamper: true,
        ..Opts::default()
    })
    .await;
    assert_eq!(
        (s, error_of(&b)),
        (
            StatusCode::UNAUTHORIZED,
            (
                "InvalidCredentials",
                "Invalid authorization credentials supplied"
            )
        )
    );

    let stale = http_date(SystemTime::now() - Duration::from_secs(400));
    let (s, _, b) = get(Opts {
        date: Some(stale),
        ..Opts::default()
    })
    .await;
    assert_eq!(
        (s, error_of(&b).0),
        (StatusCode::BAD_REQUEST, "InvalidHeader")
    );
    assert!(
        error_of(&b)
            .1
            .starts_with("Authorization header invalid: clock skew of 4"),
        "{b}"
    );
    assert!(error_of(&b).1.ends_with("s was greater than 300s"), "{b}");

    let good = c.authorization(&Method::GET, target, &now, "(request-target) date", false);
    let sha384 = good.replace("ed25519-sha512", "rsa-sha384");
    let (s, _, b) = get(Opts {
        date: Some(now.clone()),
        authorization: Some(sha384),
        ..Opts::default()
    })
    .await;
    assert_eq!(
        (s, error_of(&b)),
        (
            StatusCode::BAD_REQUEST,
            (
                "InvalidHeader",
                "Authorization header invalid: rsa-sha384 is not supported"
            )
        )
    );
    let ecdsa384 = good.replace("ed25519-sha512", "ecdsa-sha384");
    let (s, _, b) = get(Opts {
        date: Some(now.clone()),
        authorization: Some(ecdsa384),
        ..Opts::default()
    })
    .await;
    assert_eq!(
        (s, error_of(&b).0),
        (StatusCode::BAD_REQUEST, "InvalidHeader")
    );

    let spaced = good.replace("\",", "\", ");
    let (s, _, b) = get(Opts {
        date: Some(now.clone()),
        authorization: Some(spaced),
        ..Opts::default()
    })
    .await;
    assert_eq!(
        (s, error_of(&b)),
        (
            StatusCode::BAD_REQUEST,
            (
                "InvalidHeader",
                "Authorization header invalid: bad param format"
            )
        )
    );

    let (s, _, b) = get(Opts {
        signed: Some("(request-target)"),
        ..Opts::default()
    })
    .await;
    assert_eq!(
        (s, error_of(&b)),
        (
            StatusCode::BAD_REQUEST,
            (
                "InvalidHeader",
                "Authorization header invalid: date was not a signed header"
            )
        )
    );

    let (other, _) = Key::ed25519(42);
    let unknown = Client::with_key(
        &sim,
        format!("/{}/keys/aa:bb", sim.account()),
        "ed25519-sha512",
        other,
    );
    let (s, _, b) = unknown.send(Method::GET, target, Opts::default()).await;
    assert_eq!(
        (s, error_of(&b).1),
        (
            StatusCode::UNAUTHORIZED,
            "Invalid authorization credentials supplied"
        )
    );

    // `my` works in paths but not in keyId; a malformed keyId is 401 too.
    let my_key = Client::with_key(
        &sim,
        format!("/my/keys/{}", sim.key_id()),
        "ed25519-sha512",
        Key::from_openssh_file(sim.private_key_path()),
    );
    assert_eq!(my_key.get(target).await.0, StatusCode::UNAUTHORIZED);
    let bad_shape = Client::with_key(
        &sim,
        sim.key_id().to_owned(),
        "ed25519-sha512",
        Key::from_openssh_file(sim.private_key_path()),
    );
    let (s, b) = bad_shape.get(target).await;
    assert_eq!(
        (s, error_of(&b).0),
        (StatusCode::UNAUTHORIZED, "InvalidCredentials")
    );

    // A signature by the right key under the wrong algorithm does not verify.
    let wrong_alg = Client::with_key(
        &sim,
        c.key_id.clone(),
        "rsa-sha256",
        Key::from_openssh_file(sim.private_key_path()),
    );
    assert_eq!(wrong_alg.get(target).await.0, StatusCode::UNAUTHORIZED);

    // Another account's path.
    let (s, b) = c.get("/someone-else/machines").await;
    assert_eq!(
        (s, error_of(&b).0),
        (StatusCode::FORBIDDEN, "NotAuthorized")
    );

    // triton-go style: only `date` signed, `UTC` suffix.
    let utc = now.replace("GMT", "UTC");
    let (s, _, b) = get(Opts {
        date: Some(utc),
        signed: Some("date"),
        ..Opts::default()
    })
    .await;
    assert_eq!(s, StatusCode::OK, "{b}");
}

/// The reference requests (signed by smartdc-auth, the library node-triton
/// uses: RSA account and sub-user, Ed25519, ECDSA P-256, date-only) are
/// accepted byte for byte by a simulator whose account is `demo` and whose
/// clock-skew limit covers their 2014 date; a changed Date is refused.
#[tokio::test]
async fn reference_signed_requests_are_accepted() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../shared/reference/triton-signature-vectors.json"
    );
    let vectors: Value =
        serde_json::from_str(&std::fs::read_to_string(path).expect("vectors")).expect("json");
    let sim = TritonSim::start(TritonSimOptions {
        account: "demo".to_owned(),
        clock_skew_limit: Duration::from_secs(40 * 365 * 86_400),
        ..TritonSimOptions::default()
    })
    .await
    .expect("sim");
    let keys = &vectors["keys"];
    for name in ["smartdc-auth-rsa1024", "sigcheck-ed25519", "sigcheck-p256"] {
        let line = keys[name]["public_openssh"].as_str().expect("line");
        sim.add_key(name, line);
    }
    let rsa = keys["smartdc-auth-rsa1024"]["public_openssh"]
        .as_str()
        .expect("line");
    assert_eq!(
        sim.add_user_key("bob", "bob-rsa", rsa),
        "fa:56:a1:6b:cc:04:97:fe:e2:98:54:c4:2e:0d:26:c6"
    );
    let http = reqwest::Client::new();
    let mut checked = 0;
    for req in vectors["triton_requests"].as_array().expect("requests") {
        let method =
            Method::from_bytes(req["method"].as_str().expect("method").as_bytes()).expect("method");
        let url = format!("{}{}", sim.url(), req["url"].as_str().expect("url"));
        let send = |date: &str| {
            http.request(method.clone(), &url)
                .header("date", date)
                .header(
                    "authorization",
                    req["authorization"].as_str().expect("authz"),
                )
                .send()
        };
        let date = req["date"].as_str().expect("date");
        let status = send(date).await.expect("response").status();
        assert!(
            status != StatusCode::UNAUTHORIZED && status != StatusCode::BAD_REQUEST,
            "{}: {status}",
            req["name"]
        );
        let other_date = date.replace("21:31:40", "21:31:41");
        let status = send(&other_date).await.expect("response").status();
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{}", req["name"]);
        checked += 1;
    }
    assert_eq!(checked, 5);
}

#[tokio::test]
async fn ecdsa_keys_sub_users_and_key_names_authenticate() {
    let sim = sim().await;
    let login = sim.account().to_owned();

    let (p256, line) = Key::p256();
    let fp = sim.add_key("p256", &line);
    let c = Client::with_key(&sim, format!("/{login}/keys/{fp}"), "ecdsa-sha256", p256);
    assert_eq!(c.get("/my").await.0, StatusCode::OK);
    let (p256, _) = Key::p256();
    let c = Client::with_key(&sim, format!("/{login}/keys/p256"), "ecdsa-sha512", p256);
    assert_eq!(c.get("/my").await.0, StatusCode::OK, "by name, sha512");

    let (p521, line) = Key::p521();
    let fp = sim.add_key("p521", &line);
    let c = Client::with_key(&sim, format!("/{login}/keys/{fp}"), "ecdsa-sha512", p521);
    assert_eq!(c.get("/my/packages").await.0, StatusCode::OK);

    let (bob_key, line) = Key::ed25519(7);
    let fp = sim.add_user_key("bob", "bob-key", &line);
    let bob = Client::with_key(
        &sim,
        format!("/{login}/users/bob/keys/{fp}"),
        "ed25519-sha512",
        bob_key,
    );
    assert_eq!(bob.get("/my/machines").await.0, StatusCode::OK);
    // A sub-user key is not an account key.
    let (bob_key, _) = Key::ed25519(7);
    let as_account = Client::with_key(
        &sim,
        format!("/{login}/keys/{fp}"),
        "ed25519-sha512",
        bob_key,
    );
    assert_eq!(as_account.get("/my").await.0, StatusCode::UNAUTHORIZED);
    assert!(
        sim.try_add_key("broken", "ssh-ed25519 not-base64!")
            .is_err()
    );
}

// ---------------------------------------------------------------- machines and images

#[tokio::test]
async fn bake_cycle_moves_through_states_and_leaves_nothing() {
    let sim = sim().await;
    let c = Client::new(&sim);
    let m = create_machine(
        &c,
        "bake-1",
        json!({
            "networks": [{"ipv4_uuid": "9ec60129-9034-47b4-b111-3026f9b1a10f"}],
            "metadata.user-script": "#!/bin/sh\ntrue",
            "metadata.root_authorized_keys": "ignored",
            "tag.build": "b1",
            "firewall_enabled": true,
            "locality": {"strict": false},
        }),
    )
    .await;
    assert_eq!(m["state"], "provisioning");
    assert_eq!(m["ips"], json!([]));
    let (_, located) = c
        .get(&format!(
            "/{}/machines/{}",
            sim.account(),
            m["id"].as_str().expect("id")
        ))
        .await;
    assert_eq!(located["name"], "bake-1");
    assert!(m.get("primaryIp").is_none());
    assert_eq!(m["tags"]["build"], "b1");
    assert_eq!(m["firewall_enabled"], true);
    assert_eq!(m["brand"], "joyent");
    let public_line = std::fs::read_to_string(sim.public_key_path()).expect("pub");
    assert_eq!(m["metadata"]["root_authorized_keys"], public_line.trim());
    let id = m["id"].as_str().expect("id").to_owned();

    // image from a machine that is not stopped: refused
    let image_req =
        json!({"machine": id, "name": "my-image", "version": "1.0.0", "tags": {"role": "web"}});
    let (status, body) = c.post("/my/images", image_req.clone()).await;
    assert_eq!(
        (status, error_of(&body).0),
        (StatusCode::CONFLICT, "InvalidState")
    );

    let running = c.wait_machine(&id, "running").await;
    assert_eq!(running["primaryIp"], "127.0.0.1");
    assert_eq!(running["ips"], json!(["127.0.0.1"]));

    let (status, _, body) = c
        .send(
            Method::POST,
            &format!("/my/machines/{id}?action=stop"),
            Opts::default(),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    c.wait_machine(&id, "stopped").await;
    let (status, body) = c
        .post(&format!("/my/machines/{id}?action=stop"), json!({}))
        .await;
    assert_eq!(
        (status, error_of(&body).0),
        (StatusCode::CONFLICT, "InvalidState")
    );

    let (status, headers, image) = c
        .send(
            Method::POST,
            "/my/images",
            Opts {
                body: Some(image_req),
                ..Opts::default()
            },
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{image}");
    let image_id = image["id"].as_str().expect("image id").to_owned();
    assert_eq!(
        headers["location"],
        format!("/{}/images/{image_id}", sim.account()).as_str()
    );
    assert_eq!(image["state"], "creating");
    assert_eq!(image["origin"], "e44ed3e0-910b-11ee-b2d6-0b4f7a3c2301");
    let (_, listed) = c.get("/my/images?name=my-image").await;
    assert_eq!(listed, json!([]), "creating images are hidden by default");
    let active = c.wait_image(&image_id, "active").await;
    assert_eq!(active["tags"]["role"], "web");
    assert!(active["published_at"].is_string());
    let (_, listed) = c.get("/my/images?name=my-image").await;
    assert_eq!(listed[0]["id"], image_id.as_str());

    // start again (action in the JSON body), then delete
    let (status, _) = c
        .post(&format!("/my/machines/{id}"), json!({"action": "start"}))
        .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    c.wait_machine(&id, "running").await;
    let (status, _) = c.delete(&format!("/my/machines/{id}")).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let gone = c.wait_machine(&id, "deleted").await;
    assert_eq!(gone["id"], id.as_str());
    let (status, body) = c.get(&format!("/my/machines/{id}")).await;
    assert_eq!(
        (status, &body["state"]),
        (StatusCode::GONE, &json!("deleted"))
    );
    let (status, body) = c.delete(&format!("/my/machines/{id}")).await;
    assert_eq!((status, &body["id"]), (StatusCode::GONE, &json!(id)));
    let (status, _) = c
        .post(&format!("/my/machines/{id}?action=start"), json!({}))
        .await;
    assert_eq!(status, StatusCode::GONE);

    let inv = sim.inventory();
    assert!(inv.machines.is_empty(), "{inv:?}");
    assert_eq!(inv.custom_images().len(), 1);
    let (status, _) = c.delete(&format!("/my/images/{image_id}")).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(
        c.get(&format!("/my/images/{image_id}")).await.0,
        StatusCode::NOT_FOUND
    );
    assert!(sim.inventory().custom_images().is_empty());
    assert_eq!(sim.inventory().images.len(), 4, "seed images stay");
}

#[tokio::test]
async fn transitions_wait_for_their_delays() {
    let sim = TritonSim::start(TritonSimOptions {
        delays: TritonDelays::all(Duration::from_secs(3600)),
        ..TritonSimOptions::default()
    })
    .await
    .expect("sim");
    let c = Client::new(&sim);
    let m = create_machine(&c, "slow", json!({})).await;
    let id = m["id"].as_str().expect("id");
    let (_, again) = c.get(&format!("/my/machines/{id}")).await;
    assert_eq!(again["state"], "provisioning");
    assert_eq!(sim.inventory().machines[0].state, "provisioning");
    // A shorter delay applies to transitions started afterwards.
    sim.set_delays(TritonDelays::all(Duration::from_millis(1)));
    let m2 = create_machine(&c, "fast", json!({})).await;
    c.wait_machine(m2["id"].as_str().expect("id"), "running")
        .await;
    let (_, still) = c.get(&format!("/my/machines/{id}")).await;
    assert_eq!(still["state"], "provisioning");
}

#[tokio::test]
async fn create_machine_validates_like_cloudapi() {
    let sim = sim().await;
    let c = Client::new(&sim);
    let (status, body) = c.post("/my/machines", json!({"package": "g1.small"})).await;
    assert_eq!(
        (status, error_of(&body).0),
        (StatusCode::CONFLICT, "MissingParameter")
    );
    let (status, _) = c
        .post(
            "/my/machines",
            json!({"image": "1d05e788-5409-11ec-9b3f-5b8d8c2a2104"}),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "disabled image");
    let (status, _) = c
        .post(
            "/my/machines",
            json!({"image": "e44ed3e0-910b-11ee-b2d6-0b4f7a3c2301", "package": "nope"}),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = c.post("/my/machines", json!({"image": "e44ed3e0-910b-11ee-b2d6-0b4f7a3c2301", "networks": ["00000000-0000-0000-0000-000000000000"]})).await;
    assert_eq!(status, StatusCode::CONFLICT);

    let m = create_machine(
        &c,
        "web-{{shortId}}",
        json!({"package": "4667d1b8-5b61-4d7c-9a43-7f1e3c3b2a11"}),
    )
    .await;
    let short = &m["id"].as_str().expect("id")[..8];
    assert_eq!(m["name"], format!("web-{short}").as_str());
    assert_eq!(m["package"], "g1.small");
    let (status, body) = c
        .post(
            "/my/machines",
            json!({"name": m["name"], "image": "e44ed3e0-910b-11ee-b2d6-0b4f7a3c2301"}),
        )
        .await;
    assert_eq!(
        (status, error_of(&body).0),
        (StatusCode::CONFLICT, "ValidationFailed"),
        "names are unique"
    );
    let unnamed = create_machine(
        &c,
        "",
        json!({"image": "2f1dc2e8-a8f0-4c46-9d2c-6c1e0b0f2204"}),
    )
    .await;
    assert_eq!(unnamed["name"], &unnamed["id"].as_str().expect("id")[..8]);
    assert_eq!(unnamed["brand"], "bhyve");

    // No account key: 409 KeyRequired (a sub-user deletes the account's keys).
    let (bob_key, line) = Key::ed25519(9);
    let fp = sim.add_user_key("bob", "bob", &line);
    let bob = Client::with_key(
        &sim,
        format!("/{}/users/bob/keys/{fp}", sim.account()),
        "ed25519-sha512",
        bob_key,
    );
    assert_eq!(
        bob.delete("/my/keys/imagebake-sim").await.0,
        StatusCode::NO_CONTENT
    );
    let (status, body) = bob
        .post(
            "/my/machines",
            json!({"image": "e44ed3e0-910b-11ee-b2d6-0b4f7a3c2301"}),
        )
        .await;
    assert_eq!(
        (status, error_of(&body)),
        (
            StatusCode::CONFLICT,
            (
                "KeyRequired",
                "At least one SSH key is required to provision"
            )
        )
    );
    assert_eq!(
        c.get("/my").await.0,
        StatusCode::UNAUTHORIZED,
        "the deleted key no longer signs"
    );
}

#[tokio::test]
async fn list_machines_filters_and_pages() {
    let sim = sim().await;
    let c = Client::new(&sim);
    for i in 0..5 {
        let role = if i % 2 == 0 { "web" } else { "db" };
        create_machine(&c, &format!("m{i}"), json!({"tag.role": role})).await;
    }
    let mut seen = Vec::new();
    for offset in [0, 2, 4] {
        let (status, headers, page) = c
            .send(
                Method::GET,
                &format!("/my/machines?limit=2&offset={offset}"),
                Opts::default(),
            )
            .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(headers["x-resource-count"], "5");
        assert_eq!(headers["x-query-limit"], "2");
        seen.extend(
            page.as_array()
                .expect("array")
                .iter()
                .map(|m| m["name"].clone()),
        );
    }
    assert_eq!(seen, ["m0", "m1", "m2", "m3", "m4"]);
    let (_, headers, web) = c
        .send(Method::GET, "/my/machines?tag.role=web", Opts::default())
        .await;
    assert_eq!(web.as_array().expect("array").len(), 3);
    assert_eq!(headers["x-resource-count"], "3");
    let (_, named) = c.get("/my/machines?name=m3").await;
    assert_eq!(named[0]["name"], "m3");
    assert_eq!(named.as_array().expect("array").len(), 1);
    c.wait_machine(named[0]["id"].as_str().expect("id"), "running")
        .await;
    let (_, running) = c.get("/my/machines?state=running&name=m3").await;
    assert_eq!(running.as_array().expect("array").len(), 1);
    let (_, none) = c.get("/my/machines?state=stopped").await;
    assert_eq!(none, json!([]));
}

#[tokio::test]
async fn list_images_filters_like_cloudapi() {
    let sim = sim().await;
    let c = Client::new(&sim);
    let names = |v: &Value| -> Vec<String> {
        v.as_array()
            .expect("array")
            .iter()
            .map(|i| {
                format!(
                    "{}@{}",
                    i["name"].as_str().unwrap_or(""),
                    i["version"].as_str().unwrap_or("")
                )
            })
            .collect()
    };
    let (_, all_active) = c.get("/my/images").await;
    assert_eq!(
        names(&all_active),
        [
            "base-64-lts@22.4.0",
            "ubuntu-22.04@20240101",
            "base-64-lts@23.4.0"
        ]
    );
    let (_, lts) = c.get("/my/images?name=base-64-lts").await;
    assert_eq!(names(&lts), ["base-64-lts@22.4.0", "base-64-lts@23.4.0"]);
    assert_eq!(lts[1]["published_at"], "2024-01-15T00:00:00Z");
    assert_eq!(lts[0]["type"], "zone-dataset");
    let (_, every) = c.get("/my/images?state=all&name=base-64").await;
    assert_eq!(names(&every), ["base-64@21.4.0"]);
    let (_, disabled) = c.get("/my/images?state=disabled").await;
    assert_eq!(disabled[0]["state"], "disabled");
    let (_, linux) = c.get("/my/images?os=linux&type=zvol&public=true").await;
    assert_eq!(names(&linux), ["ubuntu-22.04@20240101"]);
    let (_, sub) = c.get("/my/images?name=~64&version=~23").await;
    assert_eq!(names(&sub), ["base-64-lts@23.4.0"]);
    let (_, private) = c.get("/my/images?public=false").await;
    assert_eq!(private, json!([]));
    let (status, one) = c
        .get("/my/images/1d05e788-5409-11ec-9b3f-5b8d8c2a2104")
        .await;
    assert_eq!(
        (status, &one["state"]),
        (StatusCode::OK, &json!("disabled"))
    );
    let (status, body) = c
        .get("/my/images/00000000-0000-0000-0000-000000000000")
        .await;
    assert_eq!(
        (status, error_of(&body).0),
        (StatusCode::NOT_FOUND, "ResourceNotFound")
    );
    // public seed images cannot be deleted by the account
    assert_eq!(
        c.delete("/my/images/e44ed3e0-910b-11ee-b2d6-0b4f7a3c2301")
            .await
            .0,
        StatusCode::FORBIDDEN
    );
}

#[tokio::test]
async fn update_and_export_image() {
    let sim = sim().await;
    let c = Client::new(&sim);
    let m = create_machine(&c, "src", json!({})).await;
    let id = m["id"].as_str().expect("id").to_owned();
    c.wait_machine(&id, "running").await;
    c.post(&format!("/my/machines/{id}?action=stop"), json!({}))
        .await;
    c.wait_machine(&id, "stopped").await;
    let (_, image) = c
        .post(
            "/my/images",
            json!({"machine": id, "name": "img", "version": "1", "description": "d", "acl": ["x"]}),
        )
        .await;
    let image_id = image["id"].as_str().expect("id").to_owned();
    assert_eq!(
        (&image["description"], &image["acl"]),
        (&json!("d"), &json!(["x"]))
    );
    c.wait_image(&image_id, "active").await;
    let (status, updated) = c
        .post(
            &format!("/my/images/{image_id}?action=update"),
            json!({"version": "2", "homepage": "https://h"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{updated}");
    assert_eq!(
        (&updated["version"], &updated["homepage"], &updated["name"]),
        (&json!("2"), &json!("https://h"), &json!("img"))
    );
    // `~~` is expanded by nobody: the path's owner is "~~".
    let (status, body) = c
        .post(
            &format!("/my/images/{image_id}"),
            json!({"action": "export", "manta_path": "~~/stor/out/"}),
        )
        .await;
    assert_eq!(
        (status, error_of(&body).0),
        (StatusCode::UNPROCESSABLE_ENTITY, "NotMantaPathOwner")
    );
    let login = sim.account();
    // A path that does not exist is a prefix, even with a trailing `/`: its
    // parent does not exist either.
    let (status, body) = c
        .post(
            &format!("/my/images/{image_id}"),
            json!({"action": "export", "manta_path": format!("/{login}/stor/out/")}),
        )
        .await;
    assert_eq!(
        (status, error_of(&body).0),
        (StatusCode::NOT_FOUND, "DirectoryDoesNotExist")
    );
    // An existing directory gets NAME-VERSION files.
    let (status, export) = c
        .post(
            &format!("/my/images/{image_id}"),
            json!({"action": "export", "manta_path": format!("/{login}/stor")}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{export}");
    assert_eq!(
        export["manifest_path"],
        format!("/{login}/stor/img-2.imgmanifest").as_str()
    );
    assert_eq!(
        export["image_path"],
        format!("/{login}/stor/img-2.zfs.gz").as_str()
    );
    assert_eq!(export["manta_url"], sim.manta().url().as_str());
    let manifest: Value = serde_json::from_slice(
        &sim.manta()
            .read(&format!("/{login}/stor/img-2.imgmanifest"))
            .expect("manifest written"),
    )
    .expect("manifest is JSON");
    let file = sim
        .manta()
        .read(&format!("/{login}/stor/img-2.zfs.gz"))
        .expect("file written");
    assert_eq!(manifest["uuid"], image_id.as_str());
    assert_eq!(manifest["files"][0]["size"], file.len());
    assert_eq!(&file[..2], &[0x1f, 0x8b], "a gzip file");
    // Anything else is a prefix.
    let (status, export) = c
        .post(
            &format!("/my/images/{image_id}?action=export"),
            json!({"manta_path": format!("/{login}/stor/file")}),
        )
        .await;
    assert_eq!(
        (status, &export["manifest_path"]),
        (
            StatusCode::OK,
            &json!(format!("/{login}/stor/file.imgmanifest"))
        )
    );
    // Another account's path is refused.
    let (status, body) = c
        .post(
            &format!("/my/images/{image_id}?action=export"),
            json!({"manta_path": "/x/stor/file"}),
        )
        .await;
    assert_eq!(
        (status, error_of(&body).0),
        (StatusCode::UNPROCESSABLE_ENTITY, "NotMantaPathOwner")
    );
    let (status, body) = c
        .post(&format!("/my/images/{image_id}?action=export"), json!({}))
        .await;
    assert_eq!(
        (status, error_of(&body).0),
        (StatusCode::CONFLICT, "MissingParameter")
    );
}

#[tokio::test]
async fn machine_tags_and_metadata_endpoints() {
    let sim = sim().await;
    let c = Client::new(&sim);
    let m = create_machine(&c, "tagged", json!({"tag.a": "1", "metadata.k": "v"})).await;
    let base = format!("/my/machines/{}", m["id"].as_str().expect("id"));

    let (status, tags) = c
        .post(&format!("{base}/tags"), json!({"b": "2", "flag": true}))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(tags, json!({"a": "1", "b": "2", "flag": true}));
    let (_, tags) = c.get(&format!("{base}/tags")).await;
    assert_eq!(tags["b"], "2");
    let (status, value) = c.get(&format!("{base}/tags/b")).await;
    assert_eq!((status, value), (StatusCode::OK, json!("2")));
    let (_, _, text) = c
        .send(
            Method::GET,
            &format!("{base}/tags/b"),
            Opts {
                accept: Some("text/plain"),
                ..Opts::default()
            },
        )
        .await;
    assert_eq!(text, json!(2), "text/plain answers the bare value");
    let (status, _, tags) = c
        .send(
            Method::PUT,
            &format!("{base}/tags"),
            Opts {
                body: Some(json!({"only": "x"})),
                ..Opts::default()
            },
        )
        .await;
    assert_eq!((status, tags), (StatusCode::OK, json!({"only": "x"})));
    assert_eq!(c.get(&format!("{base}/tags")).await.1, json!({"only": "x"}));
    assert_eq!(
        c.delete(&format!("{base}/tags/only")).await.0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        c.delete(&format!("{base}/tags/only")).await.0,
        StatusCode::NOT_FOUND
    );
    c.post(&format!("{base}/tags"), json!({"z": "1"})).await;
    assert_eq!(
        c.delete(&format!("{base}/tags")).await.0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(c.get(&format!("{base}/tags")).await.1, json!({}));

    let (status, md) = c
        .post(
            &format!("{base}/metadata"),
            json!({"user-script": "echo hi", "root_authorized_keys": "evil"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        (&md["k"], &md["user-script"]),
        (&json!("v"), &json!("echo hi"))
    );
    assert_ne!(md["root_authorized_keys"], "evil");
    assert_eq!(
        c.get(&format!("{base}/metadata/user-script")).await.1,
        json!("echo hi")
    );
    assert_eq!(
        c.delete(&format!("{base}/metadata/k")).await.0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        c.get(&format!("{base}/metadata/k")).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        c.delete(&format!("{base}/metadata")).await.0,
        StatusCode::NO_CONTENT
    );
    let (_, md) = c.get(&format!("{base}/metadata")).await;
    assert_eq!(
        md.as_object().expect("object").keys().collect::<Vec<_>>(),
        ["root_authorized_keys"]
    );
    let inv = sim.inventory();
    assert!(
        inv.machines[0]
            .metadata
            .contains_key("root_authorized_keys")
    );
}

#[tokio::test]
async fn packages_and_networks() {
    let sim = sim().await;
    let c = Client::new(&sim);
    let (_, packages) = c.get("/my/packages").await;
    let names: Vec<&str> = packages
        .as_array()
        .expect("array")
        .iter()
        .filter_map(|p| p["name"].as_str())
        .collect();
    assert_eq!(names, ["g1.nano", "g1.small", "g1.medium"]);
    assert_eq!(packages[0]["memory"], 512);
    let (status, by_name) = c.get("/my/packages/g1.medium").await;
    assert_eq!((status, &by_name["memory"]), (StatusCode::OK, &json!(4096)));
    let (_, by_id) = c
        .get(&format!(
            "/my/packages/{}",
            by_name["id"].as_str().expect("id")
        ))
        .await;
    assert_eq!(by_id["name"], "g1.medium");
    let (_, filtered) = c.get("/my/packages?memory=1024").await;
    assert_eq!(filtered[0]["name"], "g1.small");
    let (_, nets) = c.get("/my/networks").await;
    assert_eq!(nets[0]["name"], "sdc_nat");
    assert_eq!(
        (&nets[1]["public"], &nets[1]["fabric"]),
        (&json!(false), &json!(true))
    );
    let (status, body) = c.get("/my/nothing").await;
    assert_eq!(
        (status, error_of(&body).0),
        (StatusCode::NOT_FOUND, "ResourceNotFound")
    );
}

// ---------------------------------------------------------------- faults, counters, CLI

#[tokio::test]
async fn injected_faults_apply_per_operation() {
    let sim = sim().await;
    let c = Client::new(&sim);
    sim.faults().inject("GetAccount", Fault::Status(503), 1);
    let (status, body) = c.get("/my").await;
    assert_eq!(
        (status, error_of(&body).0),
        (StatusCode::SERVICE_UNAVAILABLE, "ServiceUnavailable")
    );
    assert_eq!(
        c.get("/my").await.0,
        StatusCode::OK,
        "one fault, one request"
    );

    sim.faults().inject("ListImages", Fault::Throttle, 1);
    let (status, body) = c.get("/my/images").await;
    assert_eq!(
        (status, error_of(&body).0),
        (StatusCode::TOO_MANY_REQUESTS, "RequestThrottled")
    );

    sim.faults().inject("ListPackages", Fault::DropBefore, 1);
    let err = c
        .try_send(Method::GET, "/my/packages", Opts::default())
        .await;
    assert!(
        err.as_ref()
            .is_err_and(|e| e.is_request() && e.status().is_none()),
        "connection dropped without an answer: {err:?}"
    );

    sim.faults().inject("CreateMachine", Fault::DropAfter, 1);
    let body = json!({"name": "dropped", "image": "e44ed3e0-910b-11ee-b2d6-0b4f7a3c2301"});
    let sent = c
        .try_send(
            Method::POST,
            "/my/machines",
            Opts {
                body: Some(body),
                ..Opts::default()
            },
        )
        .await;
    assert!(sent.is_err(), "no answer: {sent:?}");
    let (_, found) = c.get("/my/machines?name=dropped").await;
    assert_eq!(
        found[0]["name"], "dropped",
        "the machine exists although the answer was lost"
    );

    // A late answer: the machine is made (and listed) at once, the answer
    // held (here for an hour: it never comes while the test looks).
    sim.faults().inject(
        "CreateMachine",
        Fault::LateAnswer(Duration::from_secs(3600)),
        1,
    );
    let body = json!({"name": "late", "package": "g1.small",
                      "image": "e44ed3e0-910b-11ee-b2d6-0b4f7a3c2301"});
    let create = c.post("/my/machines", body);
    tokio::pin!(create);
    let listed = loop {
        tokio::select! {
            answer = &mut create => panic!("answered despite the hold: {answer:?}"),
            (_, found) = c.get("/my/machines?name=late") => {
                if found.as_array().is_some_and(|a| !a.is_empty()) {
                    break found;
                }
            }
        }
    };
    assert_eq!(listed[0]["name"], "late", "made before its answer");

    sim.faults().inject("CreateMachine", Fault::FailResource, 1);
    let failing = create_machine(&c, "doomed", json!({})).await;
    c.wait_machine(failing["id"].as_str().expect("id"), "failed")
        .await;

    sim.faults()
        .inject("GetNetwork", Fault::Slow(Duration::from_millis(20)), 1);
    assert_eq!(
        c.get("/my/networks/9ec60129-9034-47b4-b111-3026f9b1a10f")
            .await
            .0,
        StatusCode::OK
    );

    // FailResource on CreateImageFromMachine
    let m = create_machine(&c, "src", json!({})).await;
    let id = m["id"].as_str().expect("id").to_owned();
    c.wait_machine(&id, "running").await;
    c.post(&format!("/my/machines/{id}?action=stop"), json!({}))
        .await;
    c.wait_machine(&id, "stopped").await;
    sim.faults()
        .inject("CreateImageFromMachine", Fault::FailResource, 1);
    let (_, image) = c
        .post(
            "/my/images",
            json!({"machine": id, "name": "bad", "version": "1"}),
        )
        .await;
    let failed = c
        .wait_image(image["id"].as_str().expect("id"), "failed")
        .await;
    assert_eq!(failed["error"]["code"], "PrepareImageDidNotRun");
    assert!(failed["error"]["message"].is_string());
    assert_eq!(sim.inventory().custom_images()[0].state, "failed");
    assert_eq!(sim.faults().pending("CreateImageFromMachine"), 0);
}

#[tokio::test]
async fn request_count_counts_every_request() {
    let sim = sim().await;
    let c = Client::new(&sim);
    assert_eq!(sim.request_count(), 0);
    c.get("/my").await;
    c.send(
        Method::GET,
        "/my",
        Opts {
            no_auth: true,
            ..Opts::default()
        },
    )
    .await;
    c.send(
        Method::GET,
        "/--ping",
        Opts {
            no_auth: true,
            ..Opts::default()
        },
    )
    .await;
    assert_eq!(sim.request_count(), 3);
}

#[tokio::test]
async fn cli_line_describes_a_usable_simulator_and_files_go_on_shutdown() {
    let sim = sim().await;
    let line: Value = serde_json::from_str(&sim.cli_line()).expect("one JSON line");
    assert!(!sim.cli_line().contains('\n'));
    assert!(
        sim.cli_line()
            .starts_with(r#"{"cloud":"triton","url":"http://127.0.0.1:"#),
        "{}",
        sim.cli_line()
    );
    assert_eq!(line["cloud"], "triton");
    assert_eq!(line["url"], sim.url().as_str());
    assert_eq!(line["account"], "imagebake");
    assert_eq!(line["key_id"], sim.key_id());
    let private = std::path::PathBuf::from(line["private_key_path"].as_str().expect("path"));
    let public = std::path::PathBuf::from(line["public_key_path"].as_str().expect("path"));
    assert_eq!(public, private.with_extension("pub"));
    let key = PrivateKey::read_openssh_file(&private).expect("unencrypted OpenSSH key");
    assert!(!key.is_encrypted());
    assert_eq!(c_fingerprint(&public), sim.key_id());
    assert_eq!(Client::new(&sim).get("/my").await.0, StatusCode::OK);
    assert_eq!(line["manta_url"], sim.manta().url().as_str());
    assert_eq!(line["imgapi_url"], sim.imgapi().url().as_str());
    assert_eq!(line["imgapi_user"], "imagebake-publisher");
    let imgapi_key = std::path::PathBuf::from(line["imgapi_key_path"].as_str().expect("path"));
    let key = PrivateKey::read_openssh_file(&imgapi_key).expect("IMGAPI key");
    assert_eq!(key.algorithm(), ssh_key::Algorithm::Rsa { hash: None });
    let ping: Value = reqwest::get(format!("{}/ping", sim.imgapi().url()))
        .await
        .expect("ping")
        .json()
        .await
        .expect("json");
    assert_eq!(ping["ping"], "pong");
    sim.shutdown().await;
    assert!(!private.exists() && !public.exists(), "key files removed");
    assert!(!imgapi_key.exists(), "IMGAPI key removed");
}

fn c_fingerprint(public: &std::path::Path) -> String {
    use md5::Digest as _;
    let key = PublicKey::read_openssh_file(public).expect("pub key");
    let digest = md5::Md5::digest(key.to_bytes().expect("blob"));
    digest
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// The binary prints the same line (only built when all simulators are).
#[tokio::test]
#[cfg_attr(
    not(all(feature = "oxide", feature = "osc")),
    ignore = "the imagebake-sim binary is built only with every simulator feature"
)]
async fn binary_prints_one_json_line() {
    // cargo builds the binary for this test only when all its required
    // features are on.
    let all_features = cfg!(all(feature = "oxide", feature = "osc"));
    assert!(all_features, "ignored without every simulator feature");
    let Some(bin) = option_env!("CARGO_BIN_EXE_imagebake-sim") else {
        panic!("cargo builds the binary for this test with every simulator feature");
    };
    use tokio::io::AsyncBufReadExt as _;
    let mut child = tokio::process::Command::new(bin)
        .args(["--cloud", "triton", "--port", "0"])
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn imagebake-sim");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = tokio::io::BufReader::new(stdout).lines();
    let line = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
        .await
        .expect("a line in time")
        .expect("read")
        .expect("one line");
    let v: Value = serde_json::from_str(&line).expect("JSON");
    assert_eq!(v["cloud"], "triton");
    let url = v["url"].as_str().expect("url");
    let ping: Value = reqwest::get(format!("{url}/--ping"))
        .await
        .expect("ping")
        .json()
        .await
        .expect("json");
    assert_eq!(ping["ping"], "pong");
    let key_path = std::path::PathBuf::from(v["private_key_path"].as_str().expect("path"));
    assert!(key_path.exists());
    // Ctrl-C: the simulator stops and removes its key files.
    let pid = child.id().expect("pid").to_string();
    let status = std::process::Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .expect("kill");
    assert!(status.success());
    let exit = tokio::time::timeout(Duration::from_secs(30), child.wait())
        .await
        .expect("exits in time")
        .expect("wait");
    assert!(exit.success(), "{exit:?}");
    assert!(!key_path.exists(), "key files removed on exit");
}

// ---------------------------------------------------------------- audit, rename, datacenters, routes

/// MachineAudit's entries, newest first, as `(action, success)`.
async fn audit(c: &Client, id: &str) -> (Vec<(String, String)>, Value) {
    let (status, body) = c.get(&format!("/my/machines/{id}/audit")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let entries = body
        .as_array()
        .expect("an array")
        .iter()
        .map(|e| {
            (
                e["action"].as_str().unwrap_or_default().to_owned(),
                e["success"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    (entries, body)
}

fn entries(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(a, s)| ((*a).to_owned(), (*s).to_owned()))
        .collect()
}

#[tokio::test]
async fn machine_audit_lists_the_finished_actions_newest_first() {
    let sim = sim().await;
    let c = Client::new(&sim);
    let m = create_machine(&c, "audited", json!({})).await;
    let id = m["id"].as_str().expect("id");
    c.wait_machine(id, "running").await;
    let (list, body) = audit(&c, id).await;
    assert_eq!(list, entries(&[("provision", "yes")]));
    let first = &body[0];
    assert_eq!(
        first["caller"],
        json!({ "type": "signature", "ip": "127.0.0.1",
                "keyId": format!("/{}/keys/{}", sim.account(), sim.key_id()) })
    );
    assert_eq!(first["parameters"]["name"], "audited");
    assert!(first["time"].as_str().is_some_and(|t| t.ends_with('Z')));

    let (s, _) = c
        .post(&format!("/my/machines/{id}?action=reboot"), json!({}))
        .await;
    assert_eq!(s, StatusCode::ACCEPTED);
    let (s, _) = c
        .post(
            &format!("/my/machines/{id}?action=rename&name=audited-2"),
            json!({}),
        )
        .await;
    assert_eq!(s, StatusCode::ACCEPTED);
    let (s, _) = c
        .post(&format!("/my/machines/{id}?action=stop"), json!({}))
        .await;
    assert_eq!(s, StatusCode::ACCEPTED);
    c.wait_machine(id, "stopped").await;
    let (list, body) = audit(&c, id).await;
    assert_eq!(
        list,
        entries(&[
            ("stop", "yes"),
            ("rename", "yes"),
            ("reboot", "yes"),
            ("provision", "yes")
        ])
    );
    assert_eq!(body[1]["parameters"]["name"], "audited-2");

    // A job still running is not listed (CloudAPI skips unfinished jobs).
    sim.set_delays(TritonDelays::all(Duration::from_secs(3600)));
    let (s, _) = c
        .post(&format!("/my/machines/{id}?action=start"), json!({}))
        .await;
    assert_eq!(s, StatusCode::ACCEPTED);
    assert_eq!(audit(&c, id).await.0[0].0, "stop");
    sim.set_delays(TritonDelays::all(Duration::from_millis(5)));

    // The audit of a deleted machine is still there, destroy first.
    let doomed = create_machine(&c, "doomed", json!({})).await;
    let doomed = doomed["id"].as_str().expect("id");
    c.wait_machine(doomed, "running").await;
    let (s, _) = c.delete(&format!("/my/machines/{doomed}")).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let deadline = Instant::now() + Duration::from_secs(10);
    while c.get(&format!("/my/machines/{doomed}")).await.0 != StatusCode::GONE {
        assert!(Instant::now() < deadline, "never deleted");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let (list, _) = audit(&c, doomed).await;
    assert_eq!(list, entries(&[("destroy", "yes"), ("provision", "yes")]));

    // A failed provision is a "no".
    sim.faults().inject("CreateMachine", Fault::FailResource, 1);
    let bad = create_machine(&c, "bad", json!({})).await;
    let bad = bad["id"].as_str().expect("id");
    c.wait_machine(bad, "failed").await;
    assert_eq!(audit(&c, bad).await.0, entries(&[("provision", "no")]));

    let (s, body) = c
        .get("/my/machines/00000000-0000-0000-0000-000000000000/audit")
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_eq!(error_of(&body).0, "ResourceNotFound");
}

#[tokio::test]
async fn rename_machine_checks_the_name_and_conflicts() {
    let sim = sim().await;
    let c = Client::new(&sim);
    let a = create_machine(&c, "first", json!({})).await;
    let a = a["id"].as_str().expect("id");
    create_machine(&c, "second", json!({})).await;
    let rename = |name: &str| format!("/my/machines/{a}?action=rename&name={name}");

    let (s, body) = c
        .post(&format!("/my/machines/{a}?action=rename"), json!({}))
        .await;
    assert_eq!(
        (s, error_of(&body).0),
        (StatusCode::CONFLICT, "MissingParameter")
    );
    for bad in ["-leading-dash", "has%20space", "slash%2Fin"] {
        let (s, body) = c.post(&rename(bad), json!({})).await;
        assert_eq!(s, StatusCode::CONFLICT, "{bad}: {body}");
        assert_eq!(body["code"], "ValidationFailed", "{bad}");
        assert_eq!(body["errors"][0]["code"], "Invalid", "{bad}");
    }
    let (s, _) = c.post(&rename(&"x".repeat(190)), json!({})).await;
    assert_eq!(s, StatusCode::CONFLICT);
    let (s, body) = c.post(&rename("second"), json!({})).await;
    assert_eq!(s, StatusCode::CONFLICT);
    assert_eq!(body["errors"][0]["code"], "Duplicate", "{body}");
    // Its own name is no conflict; the name may also come in the body.
    let (s, _) = c.post(&rename("first"), json!({})).await;
    assert_eq!(s, StatusCode::ACCEPTED);
    let (s, _) = c
        .post(
            &format!("/my/machines/{a}"),
            json!({ "action": "rename", "name": "renamed.v2" }),
        )
        .await;
    assert_eq!(s, StatusCode::ACCEPTED);
    let (_, m) = c.get(&format!("/my/machines/{a}")).await;
    assert_eq!(m["name"], "renamed.v2");
    let (_, found) = c.get("/my/machines?name=renamed.v2").await;
    assert_eq!(found.as_array().map(Vec::len), Some(1));
    let (s, body) = c
        .post(
            "/my/machines/00000000-0000-0000-0000-000000000000?action=rename&name=x",
            json!({}),
        )
        .await;
    assert_eq!(
        (s, error_of(&body).0),
        (StatusCode::NOT_FOUND, "ResourceNotFound")
    );
}

#[tokio::test]
async fn list_datacenters_names_this_one() {
    let sim = sim().await;
    let c = Client::new(&sim);
    let (s, body) = c.get("/my/datacenters").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(body, json!({ "imagebake-sim-1": sim.url() }));
}

#[tokio::test]
async fn unknown_routes_answer_cloudapi_error_bodies_before_auth() {
    let sim = sim().await;
    let c = Client::new(&sim);
    for no_auth in [false, true] {
        let o = || Opts {
            no_auth,
            ..Opts::default()
        };
        let (s, _, body) = c.send(Method::GET, "/my/no-such-thing", o()).await;
        assert_eq!(s, StatusCode::NOT_FOUND, "{body}");
        assert_eq!(
            error_of(&body),
            ("ResourceNotFound", "/my/no-such-thing does not exist")
        );
        let (s, _, body) = c.send(Method::GET, "/", o()).await;
        assert_eq!(
            (s, error_of(&body).0),
            (StatusCode::NOT_FOUND, "ResourceNotFound")
        );
        let (s, _, body) = c.send(Method::PUT, "/my/machines", o()).await;
        assert_eq!(
            (s, error_of(&body)),
            (
                StatusCode::METHOD_NOT_ALLOWED,
                ("BadMethod", "PUT is not allowed")
            )
        );
    }
    // A known path still needs a signature.
    let (s, _, _) = c
        .send(
            Method::GET,
            "/my/machines",
            Opts {
                no_auth: true,
                ..Opts::default()
            },
        )
        .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_fault_for_an_unknown_operation_name_is_refused() {
    let sim = sim().await;
    let e = sim
        .faults()
        .try_inject("CreateMachines", Fault::Throttle, 1)
        .unwrap_err();
    assert_eq!(e.close, ["CreateMachine"]);
    assert!(e.to_string().contains("close names: CreateMachine"), "{e}");
    let e = sim
        .faults()
        .try_inject("instance_create", Fault::Throttle, 1)
        .unwrap_err();
    assert!(e.to_string().contains("its operations: GetAccount"), "{e}");
    for op in ["MachineAudit", "RenameMachine", "ListDatacenters"] {
        sim.faults().inject(op, Fault::Status(503), 1);
    }
    let c = Client::new(&sim);
    let (s, _) = c.get("/my/datacenters").await;
    assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(sim.faults().pending("ListDatacenters"), 0);
}

/// `--chaos` is checked before anything is served: a bad spec exits with an
/// error naming it.
#[tokio::test]
#[cfg_attr(
    not(all(feature = "oxide", feature = "osc")),
    ignore = "the imagebake-sim binary is built only with every simulator feature"
)]
async fn binary_refuses_a_bad_chaos_spec() {
    let Some(bin) = option_env!("CARGO_BIN_EXE_imagebake-sim") else {
        panic!("cargo builds the binary for this test with every simulator feature");
    };
    let out = tokio::process::Command::new(bin)
        .args(["--cloud", "triton", "--chaos", "429:0.1,404:0.2"])
        .output()
        .await
        .expect("run imagebake-sim");
    assert!(!out.status.success());
    assert!(out.stdout.is_empty(), "nothing served");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("\"404:0.2\"") && err.contains("5xx status"),
        "{err}"
    );
}

//! The Oxide simulator's own rules, checked with raw HTTP.
#![cfg(feature = "oxide")]

#[path = "support/raw_http.rs"]
mod raw_http;

use std::time::Duration;

use imagebake_sim::Fault;
use imagebake_sim::oxide::{API_VERSION, OxideDelays, OxideSim, OxideSimOptions};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

struct Raw {
    sim: OxideSim,
    http: reqwest::Client,
}

impl Raw {
    async fn new() -> Self {
        let sim = OxideSim::start(OxideSimOptions {
            delays: OxideDelays {
                instance_start: Duration::from_millis(5),
                instance_stop: Duration::from_millis(5),
            },
            ..OxideSimOptions::default()
        })
        .await
        .unwrap();
        Self {
            sim,
            http: reqwest::Client::new(),
        }
    }

    async fn call(&self, method: Method, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        raw_http::oxide_call(&self.http, &self.sim, method, path, body).await
    }

    async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.call(Method::GET, path, None).await
    }

    async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.call(Method::POST, path, Some(body)).await
    }

    async fn image_id(&self, name: &str) -> String {
        let (_, img) = self.get(&format!("/v1/images/{name}")).await;
        img["id"].as_str().unwrap().to_owned()
    }

    async fn create_instance(&self, name: &str) -> (StatusCode, Value) {
        let image = self.image_id("debian-12").await;
        self.post(
            "/v1/instances?project=imagebake",
            json!({
                "name": name, "description": "", "hostname": name, "ncpus": 1, "memory": 1u64 << 30,
                "boot_disk": { "type": "create", "name": name, "description": "", "size": 2u64 << 30,
                    "disk_backend": { "type": "distributed",
                        "disk_source": { "type": "image", "image_id": image } } },
                "external_ips": [{ "type": "ephemeral", "pool_selector": { "type": "auto", "ip_version": "v4" } }],
                "network_interfaces": { "type": "create", "params": [{ "name": name, "description": "",
                    "vpc_name": "default", "subnet_name": "default",
                    "ip_config": { "type": "v4", "value": { "ip": { "type": "auto" } } } }] },
                "ssh_public_keys": [],
            }),
        )
        .await
    }

    async fn wait_state(&self, id: &str, want: &str) {
        for _ in 0..200 {
            let (_, i) = self.get(&format!("/v1/instances/{id}")).await;
            if i["run_state"] == want {
                return;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        panic!("instance {id} never reached {want}");
    }
}

fn assert_error(body: &Value, code: &str, message: &str) {
    assert_eq!(body["error_code"], code, "{body}");
    assert_eq!(body["message"], message, "{body}");
    assert!(
        body["request_id"].as_str().is_some_and(|r| !r.is_empty()),
        "{body}"
    );
}

#[tokio::test]
async fn auth_and_version_gate() {
    let r = Raw::new().await;
    let resp = r
        .http
        .get(format!("{}/v1/projects/imagebake", r.sim.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    let body: Value = resp.json().await.unwrap();
    assert_error(&body, "Unauthorized", "credentials missing or invalid");

    let resp = r
        .http
        .get(format!("{}/v1/projects/imagebake", r.sim.url()))
        .bearer_auth(r.sim.token())
        .header("api-version", "2099010100.0.0")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(
        body["message"],
        "server does not support this API version: 2099010100.0.0"
    );

    // No header: the newest version.
    let resp = r
        .http
        .get(format!("{}/v1/projects/imagebake", r.sim.url()))
        .bearer_auth(r.sim.token())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(r.sim.request_count(), 3);
    assert!(!r.sim.requests()[0].authorized);
}

#[tokio::test]
async fn create_starts_inside_the_request_and_a_start_fault_leaves_it_stopped() {
    let r = Raw::new().await;
    let (s, i) = r.create_instance("ok").await;
    assert_eq!(s, StatusCode::CREATED);
    assert_eq!(i["run_state"], "starting");
    r.wait_state(i["id"].as_str().unwrap(), "running").await;

    r.sim
        .faults()
        .inject("instance_create", Fault::FailResource, 1);
    let (s, i) = r.create_instance("nostart").await;
    assert_eq!(s, StatusCode::CREATED);
    assert_eq!(i["run_state"], "stopped");

    let (s, e) = r.create_instance("ok").await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_error(&e, "ObjectAlreadyExists", "already exists: instance \"ok\"");
    assert_eq!(r.sim.inventory().instances.len(), 2);
}

#[tokio::test]
async fn stop_delete_and_disk_rules() {
    let r = Raw::new().await;
    let (_, i) = r.create_instance("vm").await;
    let id = i["id"].as_str().unwrap().to_owned();
    let disk = i["boot_disk_id"].as_str().unwrap().to_owned();
    r.wait_state(&id, "running").await;

    // SNAT plus the ephemeral 127.0.0.1 while running.
    let (_, ips) = r.get(&format!("/v1/instances/{id}/external-ips")).await;
    let kinds: Vec<&str> = ips["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["snat", "ephemeral"]);
    assert_eq!(ips["items"][1]["ip"], "127.0.0.1");

    let (s, e) = r
        .call(Method::DELETE, &format!("/v1/instances/{id}"), None)
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_error(
        &e,
        "InvalidRequest",
        "cannot delete instance: instance is running or has not yet fully stopped",
    );
    let (s, e) = r
        .call(Method::DELETE, &format!("/v1/disks/{disk}"), None)
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_error(
        &e,
        "InvalidRequest",
        "disk cannot be deleted in state \"attached\"",
    );

    let (s, i) = r
        .post(&format!("/v1/instances/{id}/stop"), json!(null))
        .await;
    assert_eq!(s, StatusCode::ACCEPTED);
    assert_eq!(i["run_state"], "stopping");
    r.wait_state(&id, "stopped").await;
    let (s, i) = r
        .post(&format!("/v1/instances/{id}/stop"), json!(null))
        .await;
    assert_eq!(
        (s, i["run_state"].as_str()),
        (StatusCode::ACCEPTED, Some("stopped"))
    );

    let (s, _) = r
        .call(Method::DELETE, &format!("/v1/instances/{id}"), None)
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, e) = r
        .call(Method::DELETE, &format!("/v1/instances/{id}"), None)
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_eq!(e["error_code"], "ObjectNotFound");
    let (_, d) = r.get(&format!("/v1/disks/{disk}")).await;
    assert_eq!(d["state"], json!({ "state": "detached" }));
    let (s, _) = r
        .call(Method::DELETE, &format!("/v1/disks/{disk}"), None)
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    assert!(r.sim.inventory().disks.is_empty());
}

#[tokio::test]
async fn snapshot_is_ready_and_the_image_survives_its_deletion() {
    let r = Raw::new().await;
    let (_, i) = r.create_instance("src").await;
    let disk = i["boot_disk_id"].as_str().unwrap().to_owned();
    let (s, snap) = r
        .post(
            "/v1/snapshots?project=imagebake",
            json!({ "name": "s", "description": "", "disk": "src" }),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    assert_eq!(snap["state"], "ready");
    assert_eq!(snap["disk_id"], disk);
    let (s, img) = r
        .post(
            "/v1/images?project=imagebake",
            json!({ "name": "out", "description": "", "os": "debian", "version": "12",
                    "source": { "type": "snapshot", "id": snap["id"] } }),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    assert!(img.get("state").is_none(), "images have no state");
    let (s, _) = r
        .call(
            Method::DELETE,
            &format!("/v1/snapshots/{}", snap["id"].as_str().unwrap()),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, still) = r
        .get(&format!("/v1/images/{}", img["id"].as_str().unwrap()))
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(still["size"], snap["size"]);
}

#[tokio::test]
async fn the_lookup_rule_is_enforced() {
    let r = Raw::new().await;
    let (_, i) = r.create_instance("vm").await;
    let id = i["id"].as_str().unwrap();
    let (s, e) = r
        .get(&format!("/v1/instances/{id}?project=imagebake"))
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(
        e["message"],
        "when providing instance as an ID, project should not be specified"
    );
    let (s, _) = r.get("/v1/instances/vm").await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let (s, _) = r.get("/v1/instances/vm?project=imagebake").await;
    assert_eq!(s, StatusCode::OK);
    let (s, e) = r.get("/v1/instances/ghost?project=imagebake").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_eq!(e["message"], "not found: instance with name \"ghost\"");
}

#[tokio::test]
async fn pages_use_opaque_tokens_that_carry_the_scan() {
    let r = Raw::new().await;
    for n in 0..3 {
        let key =
            "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHb0mK2ZqG8v3R9s6yV8c2xJ2tJgkQ3p1w4q7aZ0bC1d";
        let (s, _) = r
            .post(
                "/v1/me/ssh-keys",
                json!({ "name": format!("k{n}"), "description": "", "public_key": key }),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED);
    }
    let (_, p1) = r
        .get("/v1/me/ssh-keys?limit=2&sort_by=name_descending")
        .await;
    let names = |p: &Value| -> Vec<String> {
        p["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["name"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(names(&p1), ["k2", "k1"]);
    let token = p1["next_page"].as_str().unwrap();
    // Opaque: not the JSON scan state in clear (a substring check for a name
    // would fail by chance on random base64).
    assert!(
        !token.contains('{') && !token.contains('"') && !token.is_empty(),
        "opaque token: {token}"
    );
    let (_, p2) = r
        .get(&format!("/v1/me/ssh-keys?limit=2&page_token={token}"))
        .await;
    assert_eq!(names(&p2), ["k0"]);
    let (_, p3) = r
        .get(&format!(
            "/v1/me/ssh-keys?limit=2&page_token={}",
            p2["next_page"].as_str().unwrap()
        ))
        .await;
    assert_eq!(names(&p3), Vec::<String>::new());
    assert_eq!(p3["next_page"], Value::Null);
    let (s, _) = r.get("/v1/me/ssh-keys?page_token=garbage").await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let (s, _) = r.get("/v1/me/ssh-keys?limit=0").await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn faults_answer_with_oxide_errors_or_drop_the_connection() {
    let r = Raw::new().await;
    r.sim.faults().inject("project_view", Fault::Status(503), 1);
    let (s, e) = r.get("/v1/projects/imagebake").await;
    assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(e["error_code"], "ServiceNotAvailable");
    r.sim.faults().inject("project_view", Fault::Throttle, 1);
    let (s, _) = r.get("/v1/projects/imagebake").await;
    assert_eq!(s, StatusCode::TOO_MANY_REQUESTS);
    r.sim.faults().inject("project_view", Fault::DropBefore, 1);
    let dropped = r
        .http
        .get(format!("{}/v1/projects/imagebake", r.sim.url()))
        .bearer_auth(r.sim.token())
        .send()
        .await;
    assert!(dropped.is_err(), "{dropped:?}");
    let (s, _) = r.get("/v1/projects/imagebake").await;
    assert_eq!(s, StatusCode::OK);
}

#[tokio::test]
async fn a_fault_for_an_unknown_operation_id_is_refused() {
    let r = Raw::new().await;
    let e = r
        .sim
        .faults()
        .try_inject("instance_creat", Fault::Throttle, 1)
        .unwrap_err();
    assert_eq!(e.close, ["instance_create"]);
    // CloudAPI's name is not an Oxide operation id.
    let e = r
        .sim
        .faults()
        .try_inject("CreateMachine", Fault::Throttle, 1)
        .unwrap_err();
    assert!(e.to_string().contains("oxide simulator"), "{e}");
    assert!(r.sim.faults().operations().contains(&"project_list"));
}

#[tokio::test]
async fn unknown_paths_and_methods_get_dropshot_error_bodies_before_auth() {
    let r = Raw::new().await;
    for auth in [true, false] {
        let mut req = r.http.get(format!("{}/v1/no-such-thing", r.sim.url()));
        if auth {
            req = req.bearer_auth(r.sim.token());
        }
        let resp = req.send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::NOT_FOUND);
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["message"], "Not Found", "{body}");
        assert!(body.get("error_code").is_none(), "{body}");
        assert!(body["request_id"].as_str().is_some_and(|r| !r.is_empty()));
    }
    let (s, body) = r.call(Method::DELETE, "/v1/projects", None).await;
    assert_eq!(s, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(body["message"], "Method Not Allowed", "{body}");
    assert!(body["request_id"].as_str().is_some());
}

#[tokio::test]
async fn projects_and_the_current_user_need_auth_and_page() {
    let r = Raw::new().await;
    for path in ["/v1/projects", "/v1/me"] {
        let resp = r
            .http
            .get(format!("{}{path}", r.sim.url()))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED, "{path}");
    }
    let (s, page) = r.get("/v1/projects?limit=1").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(page["items"][0]["name"], "imagebake", "{page}");
    assert_eq!(page["items"][0]["id"], r.sim.project_id().to_string());
    let token = page["next_page"].as_str().unwrap();
    let (_, next) = r
        .get(&format!("/v1/projects?limit=1&page_token={token}"))
        .await;
    assert_eq!(next["items"], json!([]), "one project only");
    assert_eq!(next["next_page"], Value::Null);

    let (s, me) = r.get("/v1/me").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(me["display_name"], "imagebake-sim");
    assert_eq!(me["silo_name"], "imagebake-silo");
    assert!(uuid_like(&me["id"]) && uuid_like(&me["silo_id"]), "{me}");
    // The user's SSH keys name the same user.
    let key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHb0mK2ZqG8v3R9s6yV8c2xJ2tJgkQ3p1w4q7aZ0bC1d";
    let (_, k) = r
        .post(
            "/v1/me/ssh-keys",
            json!({ "name": "mine", "description": "", "public_key": key }),
        )
        .await;
    assert_eq!(k["silo_user_id"], me["id"]);
}

fn uuid_like(v: &Value) -> bool {
    v.as_str().is_some_and(|s| uuid::Uuid::try_parse(s).is_ok())
}

#[tokio::test]
async fn the_newest_api_version_is_what_current_sdks_send_and_is_settable() {
    let r = Raw::new().await;
    assert_eq!(API_VERSION, "2026091500.0.0");
    assert_eq!(r.sim.api_version(), API_VERSION);
    let status = |sim: &OxideSim, version: &'static str| {
        let req = r
            .http
            .get(format!("{}/v1/me", sim.url()))
            .bearer_auth(sim.token())
            .header("api-version", version);
        async move { req.send().await.unwrap().status() }
    };
    assert_eq!(status(&r.sim, "2026091500.0.0").await, StatusCode::OK);
    assert_eq!(status(&r.sim, "2026072800.0.0").await, StatusCode::OK);
    assert_eq!(
        status(&r.sim, "2026091500.0.1").await,
        StatusCode::BAD_REQUEST
    );
    let old = OxideSim::start(OxideSimOptions {
        api_version: "2026010300.0.0".into(),
        ..OxideSimOptions::default()
    })
    .await
    .unwrap();
    assert_eq!(old.api_version(), "2026010300.0.0");
    assert_eq!(
        status(&old, "2026091500.0.0").await,
        StatusCode::BAD_REQUEST
    );
    let bad = OxideSim::start(OxideSimOptions {
        api_version: "latest".into(),
        ..OxideSimOptions::default()
    })
    .await
    .unwrap_err();
    assert!(bad.to_string().contains("\"latest\""), "{bad}");
}

#[test]
fn every_operation_name_is_an_operation_id_of_the_stored_spec() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../shared/reference/oxide-openapi.json"
    );
    let spec = std::fs::read_to_string(path).expect("the stored OpenAPI document");
    for op in imagebake_sim::oxide::OPERATIONS {
        assert!(
            spec.contains(&format!("\"operationId\": \"{op}\"")),
            "{op} is not an operationId"
        );
    }
}

#[tokio::test]
#[cfg_attr(
    not(all(feature = "triton", feature = "osc")),
    ignore = "the imagebake-sim binary is built only with every simulator feature"
)]
async fn the_binary_takes_the_oxide_api_version() {
    // cargo builds the binary for tests only when all its features are on.
    let all_features = cfg!(all(feature = "triton", feature = "osc"));
    assert!(all_features, "ignored without every simulator feature");
    let Some(bin) = option_env!("CARGO_BIN_EXE_imagebake-sim") else {
        panic!("cargo builds the binary for this test with every simulator feature");
    };
    let refused = tokio::process::Command::new(bin)
        .args(["--cloud", "triton", "--oxide-api-version", "2026010300.0.0"])
        .output()
        .await
        .unwrap();
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("--cloud oxide only"));

    use tokio::io::AsyncBufReadExt as _;
    let mut child = tokio::process::Command::new(bin)
        .args(["--cloud", "oxide", "--oxide-api-version", "2026010300.0.0"])
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let line = tokio::time::timeout(
        Duration::from_secs(30),
        tokio::io::BufReader::new(stdout).lines().next_line(),
    )
    .await
    .expect("a line in time")
    .unwrap()
    .expect("one line");
    let v: Value = serde_json::from_str(&line).unwrap();
    assert_eq!(v["api_version"], "2026010300.0.0");
    let status = |version: &'static str| {
        let req = reqwest::Client::new()
            .get(format!("{}/v1/me", v["host"].as_str().unwrap()))
            .bearer_auth(v["token"].as_str().unwrap())
            .header("api-version", version);
        async move { req.send().await.unwrap().status() }
    };
    assert_eq!(status("2026010300.0.0").await, StatusCode::OK);
    assert_eq!(status(API_VERSION).await, StatusCode::BAD_REQUEST);
    // Stopped as a user stops it (Ctrl-C), so it removes its machines'
    // data directory (a SIGKILL would leave it in the temporary directory).
    let pid = child.id().expect("still running").to_string();
    let sent = std::process::Command::new("kill")
        .args(["-INT", &pid])
        .status();
    assert!(sent.unwrap().success());
    let ended = tokio::time::timeout(Duration::from_secs(30), child.wait())
        .await
        .expect("the simulator stops on Ctrl-C")
        .unwrap();
    assert!(ended.success(), "the simulator ended with {ended}");
}

fn b64(data: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(data)
}

fn import_disk_body(name: &str, size: u64, block_size: u32) -> Value {
    json!({
        "name": name, "description": "import", "size": size,
        "disk_backend": { "type": "distributed",
            "disk_source": { "type": "importing_blocks", "block_size": block_size } },
    })
}

impl Raw {
    async fn disk_state(&self, name: &str) -> Value {
        let (_, d) = self
            .get(&format!("/v1/disks/{name}?project=imagebake"))
            .await;
        d["state"]["state"].clone()
    }

    async fn disk_op(&self, name: &str, op: &str, body: Value) -> (StatusCode, Value) {
        self.post(&format!("/v1/disks/{name}/{op}?project=imagebake"), body)
            .await
    }
}

#[tokio::test]
async fn bulk_import_follows_the_disk_state_machine_and_keeps_the_bytes() {
    let r = Raw::new().await;
    let (s, d) = r
        .post(
            "/v1/disks?project=imagebake",
            import_disk_body("imp", 1 << 30, 512),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{d}");
    // The answer is the record as first inserted; the saga made it import_ready.
    assert_eq!(d["state"]["state"], "creating");
    assert_eq!(r.disk_state("imp").await, "import_ready");
    // The name is taken now.
    let (s, e) = r
        .post(
            "/v1/disks?project=imagebake",
            import_disk_body("imp", 1 << 30, 512),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_error(&e, "ObjectAlreadyExists", "already exists: disk \"imp\"");

    // Writes before start, and finalize while importing, are refused.
    let chunk = vec![0xabu8; 4096];
    let write =
        |offset: u64, data: &[u8]| json!({ "offset": offset, "base64_encoded_data": b64(data) });
    let (s, e) = r.disk_op("imp", "bulk-write", write(0, &chunk)).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_error(
        &e,
        "InvalidRequest",
        "cannot import blocks with a bulk write for disk in state import_ready",
    );
    let (s, e) = r.disk_op("imp", "bulk-write-stop", json!(null)).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_error(
        &e,
        "InvalidRequest",
        "cannot set disk in state import_ready to import_ready",
    );
    let (s, _) = r.disk_op("imp", "bulk-write-start", json!(null)).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    assert_eq!(r.disk_state("imp").await, "importing_from_bulk_writes");
    let (s, e) = r
        .disk_op("imp", "finalize", json!({ "snapshot_name": "imp-snap" }))
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_error(
        &e,
        "InvalidRequest",
        "cannot finalize disk in state importing_from_bulk_writes",
    );
    // A disk being imported cannot be deleted.
    let (s, _) = r
        .call(Method::DELETE, "/v1/disks/imp?project=imagebake", None)
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);

    // The write rules: aligned offset and length, inside the disk, at most
    // the pantry's chunk size, valid base64.
    for (body, why) in [
        (
            write(100, &chunk),
            "offset 100 is not a multiple of the block size 512",
        ),
        (
            write(0, &chunk[..100]),
            "data length 100 is not a multiple of the block size 512",
        ),
        (
            write((1 << 30) - 512, &chunk),
            "write of 4096 bytes at offset 1073741312 is past the end of the disk (1073741824 bytes)",
        ),
        (
            write(0, &vec![1u8; 1 << 20]),
            "data len 1048576 over max chunk size 524288!",
        ),
    ] {
        let (s, e) = r.disk_op("imp", "bulk-write", body).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{why}");
        assert_error(&e, "InvalidRequest", why);
    }
    let (s, e) = r
        .disk_op(
            "imp",
            "bulk-write",
            json!({ "offset": 0, "base64_encoded_data": "!!" }),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(
        e["message"]
            .as_str()
            .unwrap()
            .starts_with("error base64 decoding data"),
        "{e}"
    );
    // A body over the endpoint's limit is refused before anything else.
    let huge = "A".repeat(imagebake_sim::oxide::BULK_WRITE_MAX_BODY + 16);
    let (s, e) = r
        .disk_op(
            "imp",
            "bulk-write",
            json!({ "offset": 0, "base64_encoded_data": huge }),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(
        e["message"],
        "request body exceeded maximum size of 8388608 bytes"
    );

    // Two good writes; a 5xx fault writes nothing.
    let (s, _) = r.disk_op("imp", "bulk-write", write(4096, &chunk)).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    r.sim
        .faults()
        .inject("disk_bulk_write_import", Fault::Status(500), 1);
    let (s, _) = r
        .disk_op("imp", "bulk-write", write(1 << 20, &[9u8; 512]))
        .await;
    assert_eq!(s, StatusCode::INTERNAL_SERVER_ERROR);
    let (s, _) = r
        .disk_op("imp", "bulk-write", write(65536, &[7u8; 512]))
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, _) = r.disk_op("imp", "bulk-write-stop", json!(null)).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, _) = r.disk_op("imp", "bulk-write", write(0, &chunk)).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "a write after stop");

    // A failed finalize saga unwinds to import_ready; then it succeeds.
    r.sim
        .faults()
        .inject("disk_finalize_import", Fault::FailResource, 1);
    let (s, _) = r
        .disk_op("imp", "finalize", json!({ "snapshot_name": "imp-snap" }))
        .await;
    assert_eq!(s, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(r.disk_state("imp").await, "import_ready");
    assert!(r.sim.inventory().snapshots.is_empty());
    let (s, _) = r
        .disk_op("imp", "finalize", json!({ "snapshot_name": "imp-snap" }))
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    assert_eq!(r.disk_state("imp").await, "detached");
    let (_, snap) = r.get("/v1/snapshots/imp-snap?project=imagebake").await;
    assert_eq!(snap["state"], "ready");
    let (s, img) = r
        .post(
            "/v1/images?project=imagebake",
            json!({ "name": "imp-image", "description": "", "os": "linux", "version": "1",
                "source": { "type": "snapshot", "id": snap["id"] } }),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{img}");
    // The image keeps the bytes after the disk and the snapshot are gone.
    for path in [
        "/v1/disks/imp?project=imagebake",
        "/v1/snapshots/imp-snap?project=imagebake",
    ] {
        let (s, _) = r.call(Method::DELETE, path, None).await;
        assert_eq!(s, StatusCode::NO_CONTENT, "{path}");
    }
    let id: uuid::Uuid = img["id"].as_str().unwrap().parse().unwrap();
    let bytes = r.sim.image_bytes(id, 0, 70_000).unwrap().unwrap();
    assert!(bytes[..4096].iter().all(|b| *b == 0));
    assert_eq!(&bytes[4096..8192], &chunk[..]);
    assert!(bytes[8192..65536].iter().all(|b| *b == 0));
    assert!(bytes[65536..66048].iter().all(|b| *b == 7));
    assert_eq!(r.sim.image_data_end(id), Some(66048));
    let debian = r.image_id("debian-12").await.parse().unwrap();
    assert_eq!(r.sim.image_bytes(debian, 0, 1).unwrap(), None);
}

#[tokio::test]
async fn disk_create_checks_sizes_as_nexus_does() {
    let r = Raw::new().await;
    for (size, block, why) in [
        (1u64 << 29, 512, "total size must be at least 1073741824"),
        (
            (1 << 30) + 4096,
            4096,
            "total size must be a multiple of 1073741824",
        ),
    ] {
        let (s, e) = r
            .post(
                "/v1/disks?project=imagebake",
                import_disk_body("sz", size, block),
            )
            .await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{why}");
        assert_error(
            &e,
            "InvalidValue",
            &format!("unsupported value for \"size\": {why}"),
        );
    }
    let (s, _) = r
        .post(
            "/v1/disks?project=imagebake",
            import_disk_body("sz", 1 << 30, 1000),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(r.sim.inventory().disks.is_empty());
}

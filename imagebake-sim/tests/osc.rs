//! The Outscale simulator's rules, with raw HTTP (reqwest) and the
//! simulator's own signing helper.

#![cfg(feature = "osc")]

use std::os::unix::fs::OpenOptionsExt as _;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use imagebake_sim::Fault;
use imagebake_sim::osc::auth::{Scheme, format_timestamp, sign};
use imagebake_sim::osc::{OscDelays, OscSim, OscSimOptions};
use serde_json::{Value, json};

const CT: &str = "application/json; charset=utf-8";

/// `O_NONBLOCK` on Linux.
const O_NONBLOCK: i32 = 0o4000;

async fn start() -> OscSim {
    OscSim::start(OscSimOptions {
        delays: OscDelays::uniform(Duration::from_millis(10)),
        ..OscSimOptions::default()
    })
    .await
    .expect("start")
}

fn now() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs() as i64;
    format_timestamp(secs)
}

struct Call<'a> {
    sim: &'a OscSim,
    scheme: Scheme,
    /// The path signed.
    path: String,
    /// The path sent, when not `path`.
    sent_path: Option<String>,
    signed_host: Option<String>,
    timestamp: String,
    sign: bool,
}

impl<'a> Call<'a> {
    fn new(sim: &'a OscSim, action: &str) -> Self {
        Self {
            sim,
            scheme: Scheme::Osc4,
            path: format!("/api/v1/{action}"),
            sent_path: None,
            signed_host: None,
            timestamp: now(),
            sign: true,
        }
    }

    async fn send(&self, body: &str) -> (u16, Value) {
        let sent = self.sent_path.as_deref().unwrap_or(&self.path);
        let url = format!("{}{sent}", self.sim.endpoint());
        let host = self.sim.endpoint().trim_start_matches("http://").to_owned();
        let signed_host = self.signed_host.clone().unwrap_or(host);
        let mut req = reqwest::Client::new()
            .post(url)
            .header("content-type", CT)
            .header(self.scheme.date_header(), &self.timestamp)
            .body(body.to_owned());
        if self.sign {
            let auth = sign(
                self.scheme,
                self.sim.access_key(),
                self.sim.secret_key(),
                self.sim.region(),
                &signed_host,
                &self.path,
                body.as_bytes(),
                &self.timestamp,
                CT,
            );
            req = req.header("authorization", auth);
        }
        let resp = req.send().await.expect("send");
        let status = resp.status().as_u16();
        let text = resp.text().await.expect("body");
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }
}

async fn call(sim: &OscSim, action: &str, body: Value) -> (u16, Value) {
    Call::new(sim, action).send(&body.to_string()).await
}

fn code(v: &Value) -> &str {
    v["Errors"][0]["Code"].as_str().unwrap_or("")
}

/// A 1 GiB volume in the simulator's subregion; its description.
async fn create_volume(sim: &OscSim) -> Value {
    let (s, v) = call(
        sim,
        "CreateVolume",
        json!({"SubregionName": sim.subregion(), "Size": 1}),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    v["Volume"].clone()
}

#[tokio::test]
async fn signatures_are_checked_like_the_gateway() {
    let sim = start().await;
    let (s, v) = call(&sim, "ReadAccounts", json!({})).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["Accounts"][0]["AccountId"], sim.account_id());
    assert!(v["ResponseContext"]["RequestId"].is_string());

    let mut aws = Call::new(&sim, "ReadAccounts");
    aws.scheme = Scheme::Aws4;
    assert_eq!(aws.send("{}").await.0, 200);

    let mut unsigned = Call::new(&sim, "ReadAccounts");
    unsigned.sign = false;
    let (s, v) = unsigned.send("{}").await;
    assert_eq!((s, code(&v)), (401, "1"));
    assert_eq!(v["Errors"][0]["Type"], "AccessDenied");
    assert!(v["ResponseContext"]["RequestId"].is_string());

    // The Python SDK's mistake: signing the host without its port.
    let mut portless = Call::new(&sim, "ReadAccounts");
    portless.signed_host = Some("127.0.0.1".into());
    assert_eq!(portless.send("{}").await.0, 401);

    let mut stale = Call::new(&sim, "ReadAccounts");
    stale.timestamp = "20240102T030405Z".into();
    let (s, v) = stale.send("{}").await;
    assert_eq!(s, 401);
    assert!(
        v["Errors"][0]["Details"]
            .as_str()
            .unwrap_or("")
            .contains("5 minutes")
    );

    for path in ["/ReadAccounts", "/api/latest/ReadAccounts"] {
        let mut c = Call::new(&sim, "ReadAccounts");
        c.path = path.into();
        assert_eq!(c.send("{}").await.0, 200, "{path}");
    }
    sim.shutdown().await;
}

#[tokio::test]
async fn doubled_slashes_are_collapsed_and_signed_collapsed_as_the_gateway_does() {
    let sim = start().await;
    // What Outscale's CLI sends: `//api/latest/X`, signed over `/api/latest/X`.
    for (sent, signed) in [
        ("//api/latest/ReadVolumes", "/api/latest/ReadVolumes"),
        ("/api//v1///ReadVolumes", "/api/v1/ReadVolumes"),
    ] {
        let mut c = Call::new(&sim, "ReadVolumes");
        c.path = signed.into();
        c.sent_path = Some(sent.into());
        let (s, v) = c.send("{}").await;
        assert_eq!(s, 200, "{sent}: {v}");
        assert!(v["Volumes"].is_array(), "{v}");
    }
    // Signed over the uncollapsed path: not what the gateway checks.
    let mut c = Call::new(&sim, "ReadVolumes");
    c.path = "//api/latest/ReadVolumes".into();
    let (s, v) = c.send("{}").await;
    assert_eq!((s, code(&v)), (401, "1"), "{v}");
    sim.shutdown().await;
}

#[tokio::test]
async fn unknown_paths_and_methods_answer_errors_bodies() {
    let sim = start().await;
    for signed in [true, false] {
        let mut c = Call::new(&sim, "ReadVolumes");
        c.path = "/api/v2/ReadVolumes".into();
        c.sign = signed;
        let (s, v) = c.send("{}").await;
        assert_eq!((s, code(&v)), (404, "5011"), "{v}");
        assert_eq!(v["Errors"][0]["Type"], "InvalidResource");
        assert!(v["ResponseContext"]["RequestId"].is_string(), "{v}");
    }
    let (s, v) = call(&sim, "ReadNothing", json!({})).await;
    assert_eq!((s, code(&v)), (404, "5011"), "{v}");
    let resp = reqwest::get(format!("{}/api/v1/ReadVolumes", sim.endpoint()))
        .await
        .expect("GET");
    assert_eq!(resp.status().as_u16(), 405);
    let v: Value = resp.json().await.expect("an Errors body");
    assert_eq!(code(&v), "5011", "{v}");
    assert!(v["ResponseContext"]["RequestId"].is_string(), "{v}");
    sim.shutdown().await;
}

#[tokio::test]
async fn a_fault_for_an_unknown_action_is_refused() {
    let sim = start().await;
    let e = sim
        .faults()
        .try_inject("ReadVolume", Fault::Throttle, 1)
        .unwrap_err();
    assert_eq!(e.close, ["ReadVolumes"]);
    assert!(e.to_string().contains("osc simulator"), "{e}");
    sim.shutdown().await;
}

#[tokio::test]
async fn bodies_are_validated_strictly() {
    let sim = start().await;
    let (s, v) = call(&sim, "ReadVolumes", json!({"Filter": {}})).await;
    assert_eq!((s, code(&v)), (400, "4095"));
    let (s, v) = call(
        &sim,
        "ReadVolumes",
        json!({"Filters": {"VolumeColours": ["red"]}}),
    )
    .await;
    assert_eq!((s, code(&v)), (400, "4023"));
    let (s, v) = call(&sim, "ReadVolumes", json!({"ResultsPerPage": 0})).await;
    assert_eq!((s, code(&v)), (400, "4047"));
    let (s, v) = call(&sim, "ReadVolumes", json!({"NextPageToken": "nope"})).await;
    assert_eq!((s, code(&v)), (400, "4047"));
    let (s, v) = call(&sim, "LinkVolume", json!({"VolumeId": "vol-1"})).await;
    assert_eq!((s, code(&v)), (400, "7000"));
    let (s, _) = call(&sim, "CreateVms", json!({})).await;
    assert_eq!(s, 404);
    let (s, v) = Call::new(&sim, "ReadVolumes").send("{not json").await;
    assert_eq!((s, code(&v)), (400, "4095"));
    let (s, v) = call(&sim, "ReadVms", json!({"DryRun": true})).await;
    assert_eq!(s, 200);
    assert!(v.get("Vms").is_none());
    sim.shutdown().await;
}

#[tokio::test]
async fn states_move_after_their_delays_and_pages_are_cut() {
    let sim = start().await;
    sim.set_delays(OscDelays::uniform(Duration::from_millis(40)))
        .await;
    let v = create_volume(&sim).await;
    assert_eq!(v["State"], "creating");
    let id = v["VolumeId"].as_str().expect("id").to_owned();
    let mut seen = Vec::new();
    for _ in 0..200 {
        let (_, r) = call(&sim, "ReadVolumes", json!({"Filters": {"VolumeIds": [id]}})).await;
        let state = r["Volumes"][0]["State"].as_str().unwrap_or("").to_owned();
        if seen.last() != Some(&state) {
            seen.push(state.clone());
        }
        if state == "available" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(
        seen.last().map(String::as_str),
        Some("available"),
        "{seen:?}"
    );

    let (_, p1) = call(&sim, "ReadImages", json!({"ResultsPerPage": 1})).await;
    assert_eq!(p1["Images"].as_array().map(Vec::len), Some(1));
    let token = p1["NextPageToken"]
        .as_str()
        .expect("a next page")
        .to_owned();
    let (_, p2) = call(
        &sim,
        "ReadImages",
        json!({"ResultsPerPage": 1, "NextPageToken": token}),
    )
    .await;
    assert_eq!(p2["Images"].as_array().map(Vec::len), Some(1));
    assert_ne!(p1["Images"][0]["ImageId"], p2["Images"][0]["ImageId"]);
    assert!(
        p2.get("NextPageToken").is_none(),
        "two public images: the end"
    );

    let (s, _) = call(&sim, "DeleteVolume", json!({"VolumeId": id})).await;
    assert_eq!(s, 200);
    assert!(sim.inventory().await.is_empty());
    sim.shutdown().await;
}

#[tokio::test]
async fn faults_answer_with_the_gateway_throttling_codes() {
    let sim = start().await;
    sim.faults().inject("ReadVolumes", Fault::Throttle, 1);
    sim.faults().inject("ReadVolumes", Fault::Status(503), 1);
    sim.faults().inject("ReadVolumes", Fault::DropBefore, 1);
    let (s, v) = call(&sim, "ReadVolumes", json!({})).await;
    assert_eq!((s, code(&v)), (429, "25"));
    let (s, v) = call(&sim, "ReadVolumes", json!({})).await;
    assert_eq!((s, code(&v)), (503, "6"));
    assert_eq!(
        v["Errors"][0]["Type"],
        "ErrorOperationThrottledWholePlatform"
    );
    let url = format!("{}/api/v1/ReadVolumes", sim.endpoint());
    let host = sim.endpoint().trim_start_matches("http://").to_owned();
    let ts = now();
    let auth = sign(
        Scheme::Osc4,
        sim.access_key(),
        sim.secret_key(),
        sim.region(),
        &host,
        "/api/v1/ReadVolumes",
        b"{}",
        &ts,
        CT,
    );
    let dropped = async {
        reqwest::Client::new()
            .post(url)
            .header("content-type", CT)
            .header("x-osc-date", ts)
            .header("authorization", auth)
            .body("{}")
            .send()
            .await?
            .bytes()
            .await
    }
    .await;
    assert!(dropped.is_err(), "the connection is dropped");
    let (s, _) = call(&sim, "ReadVolumes", json!({})).await;
    assert_eq!(s, 200);
    assert_eq!(sim.request_count(), 4);
    sim.shutdown().await;
}

#[tokio::test]
async fn metadata_and_seed_describe_the_host() {
    let sim = start().await;
    let md = |key: &str| format!("{}/latest/meta-data/{key}", sim.metadata_url());
    let id = reqwest::get(md("instance-id"))
        .await
        .expect("get")
        .text()
        .await
        .expect("text");
    assert_eq!(id, sim.vm_id());
    let az = reqwest::get(md("placement/availability-zone"))
        .await
        .expect("get")
        .text()
        .await
        .expect("text");
    assert_eq!(az, sim.subregion());
    assert_eq!(reqwest::get(md("nope")).await.expect("get").status(), 404);

    let (_, v) = call(
        &sim,
        "ReadVms",
        json!({"Filters": {"VmIds": [sim.vm_id()]}}),
    )
    .await;
    assert_eq!(v["Vms"][0]["Placement"]["SubregionName"], sim.subregion());
    let (_, v) = call(
        &sim,
        "ReadImages",
        json!({"Filters": {"ImageNames": ["Debian-12-*"], "AccountAliases": ["Outscale"]}}),
    )
    .await;
    assert_eq!(v["Images"].as_array().map(Vec::len), Some(2));
    // The seed disk is a real ext4 filesystem.
    let snaps = std::fs::read_dir(sim.data_dir().join("snapshots")).expect("dir");
    let seed = snaps.flatten().next().expect("seed disk").path();
    let magic = {
        use std::io::{Read, Seek, SeekFrom};
        let mut f = std::fs::File::open(&seed).expect("open");
        f.seek(SeekFrom::Start(1024 + 0x38)).expect("seek");
        let mut b = [0u8; 2];
        f.read_exact(&mut b).expect("read");
        u16::from_le_bytes(b)
    };
    assert_eq!(magic, 0xEF53, "ext superblock magic");
    let data = sim.data_dir().to_path_buf();
    sim.shutdown().await;
    assert!(!data.exists(), "the temporary data dir is removed");
}

/// A copy that takes its time holds up no other request: while CreateSnapshot
/// copies a volume file (here a FIFO, so the copy waits for the test to
/// write), reads are answered; once the data arrives, the snapshot exists.
/// (Before, the copy ran under the state lock and the read waited for it.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_copy_does_not_hold_up_other_requests() {
    let sim = start().await;
    let volume = create_volume(&sim).await["VolumeId"]
        .as_str()
        .expect("id")
        .to_owned();
    let file = sim.data_dir().join("volumes").join(format!("{volume}.img"));
    std::fs::remove_file(&file).expect("the volume's file");
    let made = std::process::Command::new("mkfifo")
        .arg(&file)
        .status()
        .expect("mkfifo runs");
    assert!(made.success());

    let done = std::sync::atomic::AtomicBool::new(false);
    let create = async {
        let answer = call(&sim, "CreateSnapshot", json!({"VolumeId": volume})).await;
        done.store(true, std::sync::atomic::Ordering::SeqCst);
        answer
    };
    let meanwhile = async {
        // Opening the FIFO for writing succeeds once the copy opened it to
        // read (without a reader, a non-blocking open fails with ENXIO).
        let mut writer = None;
        for _ in 0..2000 {
            match std::fs::OpenOptions::new()
                .write(true)
                .custom_flags(O_NONBLOCK)
                .open(&file)
            {
                Ok(w) => {
                    writer = Some(w);
                    break;
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
            }
        }
        let mut writer = writer.expect("the copy opened the volume's file");
        let (s, r) = tokio::time::timeout(
            Duration::from_secs(20),
            call(
                &sim,
                "ReadVolumes",
                json!({"Filters": {"VolumeIds": [volume]}}),
            ),
        )
        .await
        .expect("a read is answered while the copy waits");
        assert_eq!(s, 200, "{r}");
        assert!(
            !done.load(std::sync::atomic::Ordering::SeqCst),
            "the copy still waits for data"
        );
        std::io::Write::write_all(&mut writer, b"disk contents").expect("write");
    };
    let ((s, snap), ()) = tokio::join!(create, meanwhile);
    assert_eq!(s, 200, "{snap}");
    let id = snap["Snapshot"]["SnapshotId"].as_str().expect("id");
    let (_, r) = call(
        &sim,
        "ReadSnapshots",
        json!({"Filters": {"SnapshotIds": [id]}}),
    )
    .await;
    assert_eq!(r["Snapshots"][0]["SnapshotId"], id);
    sim.shutdown().await;
}

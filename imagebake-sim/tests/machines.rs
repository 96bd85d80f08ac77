//! Simulated machines reachable over real SSH (Triton machines and Oxide
//! instances): boot through the API, SSH in with the keys the cloud injects,
//! isolation from the host, guest and API power-off, images that capture
//! what the guest wrote, machines booted from those images, and nothing left
//! behind. Needs root (overlay mounts, chroot): reported as ignored otherwise.
#![cfg(all(feature = "triton", feature = "oxide"))]

#[path = "support/raw_http.rs"]
mod raw_http;

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::{Duration, Instant, SystemTime};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use imagebake_sim::machine::{SshInfo, SshMode};
use imagebake_sim::oxide::{OxideDelays, OxideSim, OxideSimOptions};
use imagebake_sim::triton::{TritonDelays, TritonSim, TritonSimOptions};
use imagebake_testing::needs_root;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use ssh_key::private::{Ed25519Keypair, KeypairData};
use ssh_key::{LineEnding, PrivateKey};

/// `base-64-lts@23.4.0`, a public seed image of the Triton simulator.
const TRITON_IMAGE: &str = "e44ed3e0-910b-11ee-b2d6-0b4f7a3c2301";
const WAIT: Duration = Duration::from_secs(20);

// ---------------------------------------------------------------- SSH client

/// The real OpenSSH client, trusting only the host key the simulator shows.
struct Ssh {
    key: PathBuf,
    info: SshInfo,
    known_hosts: tempfile::NamedTempFile,
}

impl Ssh {
    fn new(key: &Path, info: &SshInfo) -> Ssh {
        let known_hosts = tempfile::NamedTempFile::new().expect("known_hosts");
        std::fs::write(
            known_hosts.path(),
            format!("[{}]:{} {}\n", info.ip, info.port, info.host_key),
        )
        .expect("write known_hosts");
        Ssh {
            key: key.to_path_buf(),
            info: info.clone(),
            known_hosts,
        }
    }

    async fn run(&self, command: &str) -> Output {
        tokio::process::Command::new("ssh")
            .arg("-i")
            .arg(&self.key)
            .arg("-p")
            .arg(self.info.port.to_string())
            .args(["-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes"])
            .args(["-o", "StrictHostKeyChecking=yes", "-o", "LogLevel=ERROR"])
            .args(["-o", "ConnectTimeout=5"])
            .arg("-o")
            .arg(format!(
                "UserKnownHostsFile={}",
                self.known_hosts.path().display()
            ))
            .arg(format!("root@{}", self.info.ip))
            .arg(command)
            .stdin(std::process::Stdio::null())
            .output()
            .await
            .expect("ssh runs")
    }

    /// Runs `command`, which must succeed; returns its stdout.
    async fn ok(&self, command: &str) -> String {
        let out = self.run(command).await;
        assert!(
            out.status.success(),
            "`{command}` on {}: {:?}\nstdout: {}\nstderr: {}",
            self.info.ip,
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

/// A fresh Ed25519 key written as an OpenSSH file (mode 0600); its public line.
fn client_key(dir: &Path, name: &str) -> (PathBuf, String) {
    let kp = Ed25519Keypair::from_seed(&rand::random::<[u8; 32]>());
    let private = PrivateKey::new(KeypairData::Ed25519(kp), name).expect("key");
    let path = dir.join(name);
    private
        .write_openssh_file(&path, LineEnding::LF)
        .expect("write key");
    let public = private.public_key().to_openssh().expect("public line");
    (path, public)
}

// ---------------------------------------------------------- leak detection

/// Mount points and processes whose path mentions machine `id`.
fn traces_of(id: &str) -> (Vec<String>, Vec<String>) {
    let mounts = std::fs::read_to_string("/proc/self/mounts")
        .unwrap_or_default()
        .lines()
        .filter(|l| l.contains(id))
        .map(str::to_owned)
        .collect();
    let procs = std::fs::read_dir("/proc")
        .expect("/proc")
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().parse::<u32>().is_ok())
        .filter_map(|e| {
            let root = std::fs::read_link(e.path().join("root")).ok()?;
            root.to_string_lossy().contains(id).then(|| {
                format!(
                    "pid {} in {}",
                    e.file_name().to_string_lossy(),
                    root.display()
                )
            })
        })
        .collect();
    (mounts, procs)
}

fn assert_no_traces(id: &str) {
    let (mounts, procs) = traces_of(id);
    assert!(mounts.is_empty(), "mounts left for {id}: {mounts:?}");
    assert!(procs.is_empty(), "processes left for {id}: {procs:?}");
}

// ------------------------------------------------------------ Triton client

struct Triton {
    sim: TritonSim,
    http: reqwest::Client,
    key: ring::signature::Ed25519KeyPair,
}

impl Triton {
    async fn start() -> Triton {
        let sim = TritonSim::start(TritonSimOptions {
            delays: TritonDelays::all(Duration::from_millis(5)),
            ssh: SshMode::On,
            ..TritonSimOptions::default()
        })
        .await
        .expect("triton sim with ssh starts");
        let private = PrivateKey::read_openssh_file(sim.private_key_path()).expect("sim key");
        let seed = private
            .key_data()
            .ed25519()
            .expect("ed25519")
            .private
            .to_bytes();
        let key = ring::signature::Ed25519KeyPair::from_seed_unchecked(&seed).expect("seed");
        Triton {
            sim,
            http: reqwest::Client::new(),
            key,
        }
    }

    async fn call(&self, method: Method, target: &str, body: Option<Value>) -> (StatusCode, Value) {
        let date = httpdate::fmt_http_date(SystemTime::now());
        let signing = format!(
            "(request-target): {} {target}\ndate: {date}",
            method.as_str().to_ascii_lowercase()
        );
        let sig = STANDARD.encode(self.key.sign(signing.as_bytes()).as_ref());
        let auth = format!(
            "Signature keyId=\"/{}/keys/{}\",algorithm=\"ed25519-sha512\",headers=\"(request-target) date\",signature=\"{sig}\"",
            self.sim.account(),
            self.sim.key_id()
        );
        let req = self
            .http
            .request(method, format!("{}{target}", self.sim.url()))
            .header("date", date)
            .header("accept-version", "~9")
            .header("authorization", auth);
        raw_http::send_json(req, body).await
    }

    async fn create_machine(&self, name: &str, image: &str) -> String {
        let (s, m) = self
            .call(
                Method::POST,
                "/my/machines",
                Some(json!({ "name": name, "image": image })),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{m}");
        m["id"].as_str().expect("id").to_owned()
    }

    async fn action(&self, id: &str, action: &str) {
        let (s, b) = self
            .call(
                Method::POST,
                &format!("/my/machines/{id}?action={action}"),
                None,
            )
            .await;
        assert_eq!(s, StatusCode::ACCEPTED, "{action}: {b}");
    }

    async fn wait_machine(&self, id: &str, want: &str) -> Value {
        let path = format!("/my/machines/{id}");
        let (_, m) = poll(
            &format!("machine never {want}"),
            20,
            || self.call(Method::GET, &path, None),
            |(_, m)| m["state"] == want,
        )
        .await;
        m
    }

    async fn create_image(&self, machine: &str, name: &str) -> String {
        let (s, i) = self
            .call(
                Method::POST,
                "/my/images",
                Some(json!({ "machine": machine, "name": name, "version": "1.0.0" })),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{i}");
        let id = i["id"].as_str().expect("id").to_owned();
        let path = format!("/my/images/{id}");
        poll(
            "image never active",
            10,
            || self.call(Method::GET, &path, None),
            |(_, i)| i["state"] == "active",
        )
        .await;
        id
    }

    fn ssh_info(&self, id: &str) -> SshInfo {
        self.sim
            .inventory()
            .machines
            .into_iter()
            .find(|m| m.id == id)
            .and_then(|m| m.ssh)
            .expect("machine has ssh info")
    }

    fn ssh(&self, id: &str) -> Ssh {
        Ssh::new(self.sim.private_key_path(), &self.ssh_info(id))
    }
}

/// A guest slow to boot holds up neither the API nor the simulator: while
/// its boot waits, requests are answered and the machine stays
/// `provisioning`; once the boot goes on, the machine turns `running` with
/// its sshd answering. (Before, the request that started a boot held the
/// store's lock on an async worker until sshd answered. Two workers, so
/// that a handler blocking one cannot stop this test's own timeout.)
#[needs_root("overlay mounts, chroot, sshd")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_guest_boot_does_not_hold_up_the_api() {
    let t = Triton::start().await;
    let hold = t.sim.hold_machine_boots().expect("machines have SSH");
    let m1 = t.create_machine("slow", TRITON_IMAGE).await;
    let path = format!("/my/machines/{m1}");
    // Requests are answered until the boot is under way (and waiting).
    tokio::time::timeout(WAIT, async {
        while hold.boots_waiting() == 0 {
            let (s, m) = t.call(Method::GET, &path, None).await;
            assert_eq!(s, StatusCode::OK, "{m}");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("the boot started while requests were answered");
    // And while it waits.
    let (s, m) = t.call(Method::GET, &path, None).await;
    assert_eq!((s, &m["state"]), (StatusCode::OK, &json!("provisioning")));
    let (s, list) = t.call(Method::GET, "/my/machines", None).await;
    assert_eq!(s, StatusCode::OK, "{list}");
    assert_eq!(list[0]["id"], m1.as_str());
    let (s, images) = t.call(Method::GET, "/my/images", None).await;
    assert_eq!(s, StatusCode::OK, "{images}");
    assert!(t.sim.inventory().machines.iter().any(|m| m.id == m1));
    assert_eq!(hold.boots_waiting(), 1, "the boot is still pending");
    drop(hold);
    t.wait_machine(&m1, "running").await;
    assert!(t.ssh_info(&m1).sshd_running);
    assert_eq!(t.ssh(&m1).ok("echo up").await, "up\n");
    t.sim.shutdown().await;
    assert_no_traces(&m1);
}

#[needs_root("overlay mounts, chroot, sshd")]
#[tokio::test]
async fn triton_machine_runs_commands_isolated_and_its_image_keeps_the_files() {
    let t = Triton::start().await;
    let port = t.sim.ssh_port().expect("ssh port");
    let line: Value = serde_json::from_str(&t.sim.cli_line()).expect("json");
    assert_eq!(line["ssh_port"], port);

    let m1 = t.create_machine("baker", TRITON_IMAGE).await;
    let running = t.wait_machine(&m1, "running").await;
    let info = t.ssh_info(&m1);
    assert!(info.sshd_running);
    assert_eq!(info.port, port);
    assert_ne!(info.ip.octets()[3], 1, "own address, not 127.0.0.1");
    assert_eq!(running["primaryIp"], info.ip.to_string());
    assert_eq!(running["ips"], json!([info.ip.to_string()]));
    assert!(info.host_key_fingerprint.starts_with("SHA256:"));

    // The account key gets in as root, and commands run in the machine.
    let ssh = t.ssh(&m1);
    assert_eq!(ssh.ok("echo hello; id -u").await, "hello\n0\n");

    // Isolation: the guest's writes are not on the host, the host's files are
    // not in the guest, and there is no /proc.
    let marker = format!("imagebake-machines-{}", uuid::Uuid::new_v4().simple());
    let host_file = std::env::temp_dir().join(&marker);
    std::fs::write(&host_file, "host only").expect("host file");
    let guest_file = format!("/root/{marker}");
    ssh.ok(&format!(
        "echo baked by the guest > {guest_file}; rm /etc/hosts"
    ))
    .await;
    assert!(
        !Path::new(&guest_file).exists(),
        "guest write reached the host"
    );
    assert!(
        Path::new("/etc/hosts").exists(),
        "guest rm reached the host"
    );
    let probe = ssh.run(&format!("test -e {}", host_file.display())).await;
    assert!(!probe.status.success(), "host file visible in the guest");
    assert_eq!(ssh.ok("ls /proc | wc -l").await.trim(), "0");
    assert_eq!(ssh.ok("cat /etc/hostname").await, "imagebake-sim\n");
    std::fs::remove_file(&host_file).expect("cleanup host file");

    // A key the account does not have is refused.
    let keys = tempfile::tempdir().expect("tempdir");
    let (stranger, _) = client_key(keys.path(), "stranger");
    let refused = Ssh::new(&stranger, &info).run("true").await;
    assert_eq!(refused.status.code(), Some(255), "unknown key refused");

    // sshd is PID 1 of the machine's own PID namespace: the guest cannot see
    // or signal host processes.
    assert_eq!(ssh.ok("cat /run/sshd.pid").await.trim(), "1");
    // A guest reboot restarts sshd (which rewrites its pid file); the machine
    // stays running.
    let before = ssh.ok("stat -c %y /run/sshd.pid").await;
    ssh.ok("reboot").await;
    let deadline = Instant::now() + WAIT;
    loop {
        t.wait_machine(&m1, "running").await;
        let out = ssh.run("stat -c %y /run/sshd.pid").await;
        if out.status.success() && String::from_utf8_lossy(&out.stdout) != before {
            break;
        }
        assert!(Instant::now() < deadline, "sshd never restarted");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        ssh.ok(&format!("cat {guest_file}")).await,
        "baked by the guest\n"
    );

    // A guest poweroff stops the machine.
    assert!(ssh.ok("poweroff").await.contains("goes down"));
    t.wait_machine(&m1, "stopped").await;
    assert!(!t.ssh_info(&m1).sshd_running);
    assert_eq!(ssh.run("true").await.status.code(), Some(255));
    let (mounts, procs) = traces_of(&m1);
    assert!(
        mounts.is_empty() && procs.is_empty(),
        "{mounts:?} {procs:?}"
    );

    // The image holds what the guest wrote, and its deletion.
    let image = t.create_image(&m1, "baked").await;
    assert_eq!(
        t.sim.image_file(&image, &guest_file).as_deref(),
        Some(&b"baked by the guest\n"[..])
    );
    assert_eq!(t.sim.image_file(&image, "/etc/hosts"), None);
    assert!(t.sim.image_file(&image, "/etc/passwd").is_some());
    assert_eq!(t.sim.image_file(TRITON_IMAGE, &guest_file), None);
    assert!(t.sim.image_file(TRITON_IMAGE, "/etc/hosts").is_some());

    // API start and stop: the disk persists.
    t.action(&m1, "start").await;
    t.wait_machine(&m1, "running").await;
    assert_eq!(
        ssh.ok(&format!("cat {guest_file}")).await,
        "baked by the guest\n"
    );
    t.action(&m1, "stop").await;
    t.wait_machine(&m1, "stopped").await;
    assert!(!t.ssh_info(&m1).sshd_running);

    // A machine from the image sees the files, with its own host key.
    let m2 = t.create_machine("from-image", &image).await;
    t.wait_machine(&m2, "running").await;
    let info2 = t.ssh_info(&m2);
    assert_ne!(info2.ip, info.ip);
    assert_ne!(info2.host_key_fingerprint, info.host_key_fingerprint);
    let ssh2 = t.ssh(&m2);
    assert_eq!(
        ssh2.ok(&format!("cat {guest_file}")).await,
        "baked by the guest\n"
    );
    assert!(!ssh2.run("test -e /etc/hosts").await.status.success());

    // Deleting a machine stops it; shutting down removes everything.
    let (s, _) = t
        .call(Method::DELETE, &format!("/my/machines/{m2}"), None)
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    t.wait_machine_gone(&m2).await;
    assert_no_traces(&m2);
    t.action(&m1, "start").await;
    t.wait_machine(&m1, "running").await;
    assert!(!traces_of(&m1).0.is_empty(), "m1 mounted again");
    t.sim.shutdown().await;
    assert_no_traces(&m1);
}

impl Triton {
    async fn wait_machine_gone(&self, id: &str) {
        let path = format!("/my/machines/{id}");
        poll(
            &format!("machine {id} never gone"),
            10,
            || self.call(Method::GET, &path, None),
            |(s, _)| *s == StatusCode::GONE,
        )
        .await;
    }
}

#[needs_root("overlay mounts, chroot, sshd")]
#[tokio::test]
async fn a_shell_provisioner_over_ssh_lands_in_the_captured_image() {
    use imagebake_core::comm::ssh::{HostKeyPolicy, SshAuth, SshCommunicator, SshConfig};
    use imagebake_core::provision::{Comm, Shell};
    use imagebake_core::{CancellationToken, Runner};

    let t = Triton::start().await;
    let id = t.create_machine("provisioned", TRITON_IMAGE).await;
    t.wait_machine(&id, "running").await;
    let info = t.ssh_info(&id);
    let config = SshConfig::new(
        info.ip.to_string(),
        "root",
        SshAuth::key_file(t.sim.private_key_path()),
        HostKeyPolicy::pinned(&info.host_key_fingerprint).expect("fingerprint"),
    )
    .port(info.port);
    let comm = SshCommunicator::connect(config, &CancellationToken::new())
        .await
        .expect("ssh connects with the pinned host key");
    let shell = Shell::inline([
        "mkdir -p /opt/app",
        "echo \"$GREETING from $(cat /etc/hostname)\" > /opt/app/provisioned",
    ])
    .env("GREETING", "hello");
    Runner::new()
        .run("provision", CancellationToken::new(), |cx| async move {
            cx.step(&shell, Comm::new(comm)).await
        })
        .await
        .expect("the shell provisioner succeeds");
    t.action(&id, "stop").await;
    t.wait_machine(&id, "stopped").await;
    let image = t.create_image(&id, "provisioned").await;
    assert_eq!(
        t.sim.image_file(&image, "/opt/app/provisioned").as_deref(),
        Some(&b"hello from imagebake-sim\n"[..])
    );
    t.sim.shutdown().await;
    assert_no_traces(&id);
}

#[needs_root("overlay mounts, chroot, sshd")]
#[tokio::test]
async fn a_panicking_test_leaves_no_mount_and_no_sshd() {
    let (tx, rx) = tokio::sync::oneshot::channel::<String>();
    let task = tokio::spawn(async move {
        let t = Triton::start().await;
        let id = t.create_machine("doomed", TRITON_IMAGE).await;
        t.wait_machine(&id, "running").await;
        assert!(t.ssh_info(&id).sshd_running);
        assert!(!traces_of(&id).1.is_empty(), "sshd runs in the machine");
        tx.send(id).expect("send id");
        panic!("on purpose, with a running machine");
    });
    let joined = task.await;
    assert!(joined.is_err_and(|e| e.is_panic()));
    let id = rx.await.expect("the machine was running");
    assert_no_traces(&id);
}

/// Calls `get` every `every_ms` milliseconds until `done` accepts its answer,
/// which it returns; fails with `what` and the last answer after [`WAIT`].
async fn poll<F, Fut>(
    what: &str,
    every_ms: u64,
    mut get: F,
    done: impl Fn(&(StatusCode, Value)) -> bool,
) -> (StatusCode, Value)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = (StatusCode, Value)>,
{
    let deadline = Instant::now() + WAIT;
    loop {
        let answer = get().await;
        if done(&answer) {
            return answer;
        }
        assert!(Instant::now() < deadline, "{what}: {}", answer.1);
        tokio::time::sleep(Duration::from_millis(every_ms)).await;
    }
}

// ------------------------------------------------------------- Oxide client

struct Oxide {
    sim: OxideSim,
    http: reqwest::Client,
}

impl Oxide {
    async fn call(&self, method: Method, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        raw_http::oxide_call(&self.http, &self.sim, method, path, body).await
    }

    async fn create_instance(&self, name: &str, source: Value, keys: Value) -> Value {
        let (s, i) = self
            .call(
                Method::POST,
                "/v1/instances?project=imagebake",
                Some(json!({
                    "name": name, "description": "", "hostname": name, "ncpus": 1,
                    "memory": 1u64 << 30,
                    "boot_disk": { "type": "create", "name": name, "description": "",
                        "size": 2u64 << 30,
                        "disk_backend": { "type": "distributed", "disk_source": source } },
                    "external_ips": [{ "type": "ephemeral" }],
                    "ssh_public_keys": keys,
                })),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{i}");
        i
    }

    async fn wait_state(&self, id: &str, want: &str) {
        let path = format!("/v1/instances/{id}");
        poll(
            &format!("instance never {want}"),
            20,
            || self.call(Method::GET, &path, None),
            |(_, i)| i["run_state"] == want,
        )
        .await;
    }

    fn ssh_info(&self, id: &str) -> SshInfo {
        self.sim
            .inventory()
            .instances
            .into_iter()
            .find(|i| i.id.to_string() == id)
            .and_then(|i| i.ssh)
            .expect("instance has ssh info")
    }
}

#[needs_root("overlay mounts, chroot, sshd")]
#[tokio::test]
async fn oxide_instance_gets_its_keys_and_a_snapshot_image_keeps_the_files() {
    let o = Oxide {
        sim: OxideSim::start(OxideSimOptions {
            delays: OxideDelays {
                instance_start: Duration::from_millis(5),
                instance_stop: Duration::from_millis(5),
            },
            ssh: SshMode::On,
            ..OxideSimOptions::default()
        })
        .await
        .expect("oxide sim with ssh starts"),
        http: reqwest::Client::new(),
    };
    let keys = tempfile::tempdir().expect("tempdir");
    let (injected, injected_pub) = client_key(keys.path(), "injected");
    let (other, other_pub) = client_key(keys.path(), "other");
    for (name, public) in [("injected", &injected_pub), ("other", &other_pub)] {
        let (s, b) = o
            .call(
                Method::POST,
                "/v1/me/ssh-keys",
                Some(json!({ "name": name, "description": "", "public_key": public })),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{b}");
    }
    let (_, debian) = o.call(Method::GET, "/v1/images/debian-12", None).await;
    let source = json!({ "type": "image", "image_id": debian["id"] });
    let inst = o
        .create_instance("builder", source, json!(["injected"]))
        .await;
    let id = inst["id"].as_str().expect("id").to_owned();
    o.wait_state(&id, "running").await;
    let info = o.ssh_info(&id);
    let (_, ips) = o
        .call(
            Method::GET,
            &format!("/v1/instances/{id}/external-ips"),
            None,
        )
        .await;
    let ephemeral = ips["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|i| i["kind"] == "ephemeral")
        .expect("ephemeral ip")
        .clone();
    assert_eq!(ephemeral["ip"], info.ip.to_string());
    assert_eq!(Some(info.port), o.sim.ssh_port());

    // Only the instance's ssh_public_keys are authorized.
    let ssh = Ssh::new(&injected, &info);
    ssh.ok("mkdir -p /srv && echo from oxide > /srv/built; rm /etc/hostname")
        .await;
    assert_eq!(
        Ssh::new(&other, &info).run("true").await.status.code(),
        Some(255)
    );

    // Guest poweroff → stopped; then snapshot → image.
    ssh.ok("poweroff").await;
    o.wait_state(&id, "stopped").await;
    assert!(!o.ssh_info(&id).sshd_running);
    let disk = inst["boot_disk_id"].as_str().expect("boot disk").to_owned();
    let (s, snap) = o
        .call(
            Method::POST,
            "/v1/snapshots?project=imagebake",
            Some(json!({ "name": "built", "description": "", "disk": disk })),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{snap}");
    let (s, image) = o
        .call(
            Method::POST,
            "/v1/images?project=imagebake",
            Some(
                json!({ "name": "built", "description": "", "os": "debian", "version": "12",
                "source": { "type": "snapshot", "id": snap["id"] } }),
            ),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{image}");
    let image_id: uuid::Uuid = image["id"].as_str().expect("id").parse().expect("uuid");
    assert_eq!(
        o.sim.image_file(image_id, "/srv/built").as_deref(),
        Some(&b"from oxide\n"[..])
    );
    assert_eq!(o.sim.image_file(image_id, "/etc/hostname"), None);

    // An instance from the image, with the other key, sees the files.
    let source = json!({ "type": "image", "image_id": image_id });
    let second = o.create_instance("second", source, json!(["other"])).await;
    let id2 = second["id"].as_str().expect("id").to_owned();
    o.wait_state(&id2, "running").await;
    let ssh2 = Ssh::new(&other, &o.ssh_info(&id2));
    assert_eq!(ssh2.ok("cat /srv/built").await, "from oxide\n");

    // API stop is a power-off; shutdown leaves nothing.
    let (s, _) = o
        .call(Method::POST, &format!("/v1/instances/{id2}/stop"), None)
        .await;
    assert_eq!(s, StatusCode::ACCEPTED);
    o.wait_state(&id2, "stopped").await;
    assert!(!o.ssh_info(&id2).sshd_running);
    assert_no_traces(&id2);
    let (s, _) = o
        .call(Method::POST, &format!("/v1/instances/{id2}/start"), None)
        .await;
    assert_eq!(s, StatusCode::ACCEPTED);
    o.wait_state(&id2, "running").await;
    assert!(!traces_of(&id2).1.is_empty(), "sshd runs again");
    o.sim.shutdown().await;
    assert_no_traces(&id);
    assert_no_traces(&id2);
}

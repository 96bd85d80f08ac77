//! The bake runner (`imagebake_core::bake`, what `imagebake build`, the
//! `bake` example and the Python package run) end to end against the
//! in-process simulators: the shipped templates of `examples/templates/`
//! baked in parallel on Triton and Oxide, build selection
//! (`-only`/`-except`), a failing build next to a good one, template errors
//! that start nothing, and a cancellation (Ctrl-C) that cleans up every
//! build. Each case checks the simulators' inventories.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use imagebake_core::CancellationToken;
use imagebake_core::bake::{self, BakeError, BakeOptions};
use imagebake_sim::Fault;
use imagebake_sim::oxide::{OxideDelays, OxideSim, OxideSimOptions};
use imagebake_sim::triton::{TritonDelays, TritonSim, TritonSimOptions};
use serde_json::{Value, json};

mod support;

const TEMPLATES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/templates");
const SEED_OXIDE_IMAGES: [&str; 3] = ["debian-12", "ubuntu-24-04", "alpine-3-20"];

async fn triton_sim() -> TritonSim {
    TritonSim::start(TritonSimOptions {
        delays: TritonDelays::all(Duration::from_millis(5)),
        ..TritonSimOptions::default()
    })
    .await
    .expect("triton simulator starts")
}

async fn oxide_sim() -> OxideSim {
    OxideSim::start(OxideSimOptions {
        delays: OxideDelays {
            instance_start: Duration::from_millis(5),
            instance_stop: Duration::from_millis(5),
        },
        ..OxideSimOptions::default()
    })
    .await
    .expect("oxide simulator starts")
}

/// The variables the shipped templates read, for these simulators (an
/// address nothing answers on for a missing Oxide simulator).
fn env(triton: &TritonSim, oxide: Option<&OxideSim>) -> BTreeMap<String, String> {
    let mut e = BTreeMap::new();
    e.insert("TRITON_URL".into(), triton.url());
    e.insert("TRITON_ACCOUNT".into(), triton.account().to_owned());
    e.insert("TRITON_KEY_ID".into(), triton.key_id().to_owned());
    e.insert(
        "TRITON_KEY_MATERIAL".into(),
        triton.private_key_path().to_string_lossy().into_owned(),
    );
    e.insert(
        "OXIDE_HOST".into(),
        oxide.map_or_else(|| "http://127.0.0.1:1".to_owned(), OxideSim::url),
    );
    e.insert(
        "OXIDE_TOKEN".into(),
        oxide.map_or_else(|| "unused".to_owned(), |o| o.token().to_owned()),
    );
    e
}

/// Options whose progress lines are collected in the result.
fn options() -> (BakeOptions, Arc<Mutex<Vec<String>>>) {
    let lines: Arc<Mutex<Vec<String>>> = Arc::default();
    let l = lines.clone();
    let o = BakeOptions {
        progress: Arc::new(move |line: &str| l.lock().unwrap().push(line.to_owned())),
        ..BakeOptions::default()
    };
    (o, lines)
}

/// A Triton builder block for `sim`, fast polls, plus `extra`.
fn triton_block(sim: &TritonSim, name: &str, extra: Value) -> Value {
    let mut v = json!({
        "type": "triton",
        "name": name,
        "triton_url": sim.url(),
        "triton_account": sim.account(),
        "triton_key_id": sim.key_id(),
        "triton_key_material": sim.private_key_path().to_string_lossy(),
        "source_machine_package": "g1.small",
        "source_machine_image_filter": {"name": "base-64-lts", "most_recent": true},
        "image_name": format!("img-{name}"),
        "image_version": "1.0.0",
        "communicator": "none",
        "poll_cap": "10ms",
    });
    for (k, x) in extra.as_object().expect("object") {
        v[k] = x.clone();
    }
    v
}

/// Triton: no machine left, and the custom images are exactly `ids`.
fn assert_triton_holds(sim: &TritonSim, ids: &[String], case: &str) {
    let inv = sim.inventory();
    assert!(
        inv.machines.is_empty(),
        "{case}: machines left: {:?}",
        inv.machines
    );
    let mut got: Vec<String> = inv.custom_images().iter().map(|i| i.id.clone()).collect();
    got.sort();
    let mut want: Vec<String> = ids.to_vec();
    want.sort();
    assert_eq!(got, want, "{case}: images {:?}", inv.custom_images());
}

fn lines_of(lines: &Mutex<Vec<String>>, build: &str) -> Vec<String> {
    lines
        .lock()
        .unwrap()
        .iter()
        .filter(|l| l.contains(&format!(" {build}: ")) || l.contains(&format!("'{build}'")))
        .cloned()
        .collect()
}

#[tokio::test]
async fn the_shipped_templates_bake_on_both_simulators_in_parallel() {
    let (triton, oxide) = (triton_sim().await, oxide_sim().await);
    let (opts, lines) = options();
    let path = Path::new(TEMPLATES).join("parallel.pkr.hcl");
    let plan = support::plan_file(&path, env(&triton, Some(&oxide)))
        .await
        .expect("parallel.pkr.hcl evaluates");
    let artifacts = bake::run(&plan, &opts, CancellationToken::new())
        .await
        .expect("every build succeeds");

    let kinds: Vec<&str> = artifacts.iter().map(|a| a.builder_type()).collect();
    assert_eq!(kinds, ["triton", "triton", "oxide-instance"]);
    let triton_ids: Vec<String> = artifacts[..2]
        .iter()
        .map(|a| a.id().expect("image id"))
        .collect::<Vec<_>>();
    assert!(artifacts[0].name() == "bake-parallel-a" && artifacts[1].name() == "bake-parallel-b");
    assert_triton_holds(&triton, &triton_ids, "parallel");

    let inv = oxide.inventory();
    assert!(
        inv.instances.is_empty() && inv.disks.is_empty() && inv.snapshots.is_empty(),
        "oxide leftovers: {inv:?}"
    );
    let made: Vec<String> = inv
        .images
        .iter()
        .filter(|i| !SEED_OXIDE_IMAGES.contains(&i.name.as_str()))
        .map(|i| i.id.to_string())
        .collect();
    assert_eq!(made, [artifacts[2].id().expect("oxide image id")]);

    // Packer's lines: `==> NAME: step...` per step of each build, its end,
    // then the artifacts.
    let all = lines.lock().unwrap().clone();
    for (i, build) in ["triton.a", "triton.b", "oxide-instance.parallel"]
        .iter()
        .enumerate()
    {
        let mine = lines_of(&lines, build);
        assert!(
            mine.iter()
                .any(|l| l == &format!("==> {build}: source image...")),
            "{mine:#?}"
        );
        assert!(
            mine.iter()
                .any(|l| l.starts_with(&format!("Build '{build}' finished after "))),
            "{mine:#?}"
        );
        let artifact = format!("--> {build}: {}", artifacts[i]);
        assert!(all.contains(&artifact), "{artifact:?} in {all:#?}");
    }
    let finished = all
        .iter()
        .position(|l| l == "==> Builds finished. The artifacts of successful builds are:")
        .expect("the closing line");
    assert!(
        all[finished + 1..].iter().all(|l| l.starts_with("--> ")),
        "{all:#?}"
    );
    assert!(
        lines_of(&lines, "triton.a")
            .iter()
            .any(|l| l == "==> triton.a: delete machine..."),
        "{all:#?}"
    );
    // The Oxide token is a sensitive variable: never shown.
    assert!(!all.iter().any(|l| l.contains(oxide.token())), "{all:#?}");
    triton.shutdown().await;
    oxide.shutdown().await;
}

#[tokio::test]
async fn only_and_except_pick_the_builds() {
    let triton = triton_sim().await;
    let path = Path::new(TEMPLATES).join("parallel.pkr.hcl");
    let plan = support::plan_file(&path, env(&triton, None))
        .await
        .expect("evaluates");
    let names = |only: &[&str], except: &[&str]| {
        let mut p = plan.clone();
        let list = |l: &[&str]| l.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        p.select(&list(only), &list(except))
            .map(|()| p.builds.iter().map(|b| b.name.clone()).collect::<Vec<_>>())
            .map_err(|e| e.to_string())
    };

    let (opts, _) = options();
    let mut only_b = plan.clone();
    only_b.select(&["*.b".into()], &[]).unwrap();
    let a = bake::run(&only_b, &opts, CancellationToken::new())
        .await
        .expect("triton-b succeeds");
    assert_eq!(a.len(), 1);
    assert_eq!(
        (a[0].builder_type(), a[0].name()),
        ("triton", "bake-parallel-b")
    );
    assert_triton_holds(&triton, &[a[0].id().unwrap()], "only");

    assert_eq!(
        names(&[], &["oxide-instance.*", "triton.b"]).unwrap(),
        ["triton.a"]
    );
    let e = names(&[], &["triton.*", "oxide-instance.parallel"]).unwrap_err();
    assert!(e.contains("No builds to run"), "{e}");

    // triton.json is ready to run too.
    let p = support::plan_file(
        &Path::new(TEMPLATES).join("triton.json"),
        env(&triton, None),
    )
    .await
    .expect("evaluates");
    let a = bake::run(&p, &opts, CancellationToken::new())
        .await
        .expect("triton.json bakes");
    assert_eq!(a[0].name(), "bake-example");
    triton.shutdown().await;
}

#[tokio::test]
async fn a_failing_build_is_an_error_and_the_other_still_finishes() {
    let triton = triton_sim().await;
    // The first image created fails (whichever build gets there first).
    triton
        .faults()
        .inject("CreateImageFromMachine", Fault::FailResource, 1);
    let (opts, lines) = options();
    let template = json!({"builders": [
        triton_block(&triton, "one", json!({})),
        triton_block(&triton, "two", json!({})),
    ]});
    let plan = support::plan_json(&template, BTreeMap::new())
        .await
        .expect("evaluates");
    let e = bake::run(&plan, &opts, CancellationToken::new())
        .await
        .expect_err("one build fails");
    assert!(!e.is_cancelled());
    let BakeError::Builds {
        artifacts, failed, ..
    } = &e
    else {
        panic!("{e}")
    };
    assert_eq!((artifacts.len(), failed.len()), (1, 1), "{e}");
    let f = &failed[0];
    let be = f.error.build_error().expect("the build failed");
    assert_eq!(be.step.as_deref(), Some("wait image"), "{be}");
    assert!(be.cleanup.is_clean(), "{}", be.cleanup);
    assert!(e.to_string().starts_with("1 of 2 builds failed: "), "{e}");
    let all = lines.lock().unwrap().clone();
    assert!(
        all.iter()
            .any(|l| l.starts_with(&format!("Build '{}' errored after ", f.name))),
        "{all:#?}"
    );
    assert!(
        all.contains(&"==> Some builds didn't complete successfully and had errors:".to_owned())
            && all
                .iter()
                .any(|l| l.starts_with(&format!("--> {}: build ", f.name))),
        "{all:#?}"
    );
    assert_triton_holds(&triton, &[artifacts[0].id().unwrap()], "one failed");
    triton.shutdown().await;
}

#[tokio::test]
async fn template_errors_start_nothing() {
    let triton = triton_sim().await;
    let (opts, _) = options();
    let good = triton_block(&triton, "a", json!({}));
    let cases = [
        (
            json!({"builders": [triton_block(&triton, "a", json!({"ssh_pty": true}))]}),
            "builder triton: unknown key `ssh_pty`",
        ),
        (
            json!({"builders": [good, {"type": "oxide-instance", "project": "p"}]}),
            "builder oxide-instance",
        ),
        (
            json!({"builders": [good], "provisioners": [{"type": "shell"}]}),
            "provisioner shell: missing required key `inline`",
        ),
        (
            json!({"builders": [good], "post-processors": [{"type": "no-such-pp"}]}),
            "no-such-pp",
        ),
    ];
    for (template, want) in cases {
        // The template engine refuses it, or the runner before any build.
        let e = match support::plan_json(&template, BTreeMap::new()).await {
            Err(e) => e.to_string(),
            Ok(plan) => {
                let e = bake::run(&plan, &opts, CancellationToken::new())
                    .await
                    .expect_err(want);
                assert!(matches!(e, BakeError::Template(_)), "{e:?}");
                e.to_string()
            }
        };
        assert!(e.contains(want), "want {want:?} in: {e}");
    }
    assert_eq!(triton.request_count(), 0, "no build started");
    triton.shutdown().await;
}

#[tokio::test]
async fn cancelling_cleans_up_every_build() {
    let triton = triton_sim().await;
    let cancel = CancellationToken::new();
    let (mut opts, lines) = options();
    // Ctrl-C as soon as a build is waiting for its image.
    let (c, l) = (cancel.clone(), lines.clone());
    opts.progress = Arc::new(move |line: &str| {
        l.lock().unwrap().push(line.to_owned());
        if line.ends_with(": wait image...") {
            c.cancel();
        }
    });
    let template = json!({"builders": [
        triton_block(&triton, "one", json!({})),
        triton_block(&triton, "two", json!({})),
    ]});
    let plan = support::plan_json(&template, BTreeMap::new())
        .await
        .expect("evaluates");
    let e = bake::run(&plan, &opts, cancel)
        .await
        .expect_err("cancelled");
    assert!(e.is_cancelled(), "{e}");
    let BakeError::Builds {
        artifacts, failed, ..
    } = &e
    else {
        panic!("{e}")
    };
    assert!(artifacts.is_empty() && failed.len() == 2, "{e}");
    for f in failed {
        let be = f.error.build_error().expect("a build error");
        assert!(be.cleanup.is_clean(), "{}", be.cleanup);
    }
    let all = lines.lock().unwrap().clone();
    assert!(
        all.iter().any(|l| l.contains(": Removed machine ")),
        "{all:#?}"
    );
    assert_triton_holds(&triton, &[], "cancelled");
    triton.shutdown().await;
}

/// While a create is in flight (done, its answer held past the abort
/// grace), the bake knows what each build may leave and the command that
/// removes it (what a second Ctrl-C prints): `imagebake cleanup` of the
/// build, whose journal knows it; once the cleanup has removed it, nothing.
#[tokio::test]
async fn what_a_build_may_leave_is_known_while_a_create_is_in_flight() {
    let triton = Arc::new(triton_sim().await);
    triton.faults().inject(
        "CreateMachine",
        Fault::LateAnswer(Duration::from_secs(3)),
        1,
    );
    let cancel = CancellationToken::new();
    let (mut opts, _) = options();
    let state = tempfile::tempdir().unwrap();
    opts.journal = Some(imagebake_core::journal::Journaling::in_dir(state.path()));
    let seen: Arc<Mutex<Vec<String>>> = Arc::default();
    let (c, s, t, left) = (
        cancel.clone(),
        seen.clone(),
        triton.clone(),
        opts.leftovers.clone(),
    );
    opts.progress = Arc::new(move |line: &str| {
        if !line.ends_with(": create machine...") {
            return;
        }
        let (s, t, left) = (s.clone(), t.clone(), left.clone());
        // Ctrl-C once the machine exists, noting what may be left then.
        support::cancel_when(c.clone(), move || {
            let made = !t.inventory().machines.is_empty();
            if made {
                *s.lock().unwrap() = left.lines();
            }
            async move { made }
        });
    });
    let template = json!({"builders": [triton_block(&triton, "one", json!({}))]});
    let plan = support::plan_json(&template, BTreeMap::new())
        .await
        .expect("evaluates");
    let e = bake::run(&plan, &opts, cancel)
        .await
        .expect_err("cancelled");
    assert!(e.is_cancelled(), "{e}");
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 1, "{seen:?}");
    for want in [
        "one (build ib-",
        "may leave: machine <create in flight, id unknown>",
        "; remove them with: imagebake cleanup ib-",
    ] {
        assert!(seen[0].contains(want), "want {want:?} in {seen:?}");
    }
    // The command names this build, whose journal is there.
    let id = seen[0].rsplit(' ').next().unwrap_or_default();
    assert!(
        state.path().join(format!("{id}.jsonl")).exists(),
        "{seen:?}"
    );
    assert_eq!(opts.leftovers.lines(), Vec::<String>::new());
    assert_triton_holds(&triton, &[], "late create");
}

//! The on-disk build journal: the records a build writes (in order, each
//! on disk before the build goes on), what stays pending, how a cut-short
//! or broken file reads, and the retention.

use std::time::Duration;

use imagebake_core::journal::{self, BuildState, Journal, Journaling, Record, Scope, UndoResult};
use imagebake_core::{CancellationToken, Create, Error, Resource, Runner, UndoWhen, from_fn};

fn only_journal(dir: &std::path::Path) -> Journal {
    let mut all = journal::read_dir(dir);
    assert_eq!(all.len(), 1);
    all.remove(0).expect("journal reads")
}

/// The records' tags, in order.
fn tags(j: &Journal) -> Vec<String> {
    j.records()
        .iter()
        .map(|r| {
            serde_json::to_value(r).unwrap()["t"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect()
}

#[tokio::test]
async fn a_build_writes_start_scope_intent_made_dismissed_outcomes_and_end_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let runner = Runner::new().journal(Journaling::in_dir(dir.path()).template("/t/x.pkr.hcl"));
    let seen_on_disk = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let (d, seen) = (dir.path().to_owned(), seen_on_disk.clone());
    let built = runner
        .run("demo", CancellationToken::new(), move |cx| async move {
            cx.scope(
                Scope::new("triton", "triton")
                    .endpoint("https://api.example")
                    .account("alice"),
            );
            let find = || async { Ok::<_, Error>(Vec::<String>::new()) };
            let undo = |id: &String| {
                imagebake_core::Cleanup::always(Resource::new("machine", id.clone()), |_| async {
                    Ok(())
                })
            };
            let made = cx
                .create(
                    Create::new("machine", Some("ib-x-web".into()), find, undo),
                    async { Ok("m-1".to_owned()) },
                )
                .await?;
            // Each registration is on disk before the call returns.
            seen.lock().unwrap().push(tags(&only_journal(&d)));
            cx.on_failure(Resource::new("image", "i-1"), |_| async { Ok(()) });
            let key = cx.defer(Resource::new("ssh key", "k-1"), |_| async { Ok(()) });
            cx.dismiss(key);
            cx.defer(Resource::new("mount", "/mnt/x"), |_| async { Ok(()) });
            let step = from_fn("noop", |_, ()| async { Ok(()) });
            cx.step(&step, ()).await?;
            Ok(made.value)
        })
        .await
        .expect("build");
    assert_eq!(built.value, "m-1");
    assert_eq!(
        seen_on_disk.lock().unwrap()[0],
        ["start", "scope", "intent", "made"]
    );
    let j = only_journal(dir.path());
    assert_eq!(
        tags(&j),
        [
            "start",
            "scope",
            "intent",
            "made",
            "made",
            "made",
            "dismissed",
            "made",
            "cleanup",
            "undone",
            "undone",
            "end"
        ]
    );
    let r = j.records();
    assert!(
        matches!(&r[0], Record::Start { build, name, template: Some(t), .. }
        if build == built.build_id.as_str() && name == "demo" && t.to_str() == Some("/t/x.pkr.hcl"))
    );
    assert!(
        matches!(&r[2], Record::Intent { n: 0, cloud, kind, name: Some(n) }
        if cloud == "triton" && kind == "machine" && n == "ib-x-web")
    );
    assert!(
        matches!(&r[3], Record::Made { n: 1, replaces: Some(0), id, when: UndoWhen::Always, .. }
        if id == "m-1")
    );
    // A mount is the host's, whatever the builder's cloud.
    assert!(
        matches!(&r[7], Record::Made { cloud, kind, .. } if cloud == "local" && kind == "mount")
    );
    assert!(matches!(&r[8], Record::Cleanup { success: true }));
    // Newest first: the mount, then the machine; the image is the result.
    assert!(matches!(
        &r[9],
        Record::Undone {
            n: 4,
            result: UndoResult::Removed,
            ..
        }
    ));
    assert!(matches!(
        &r[10],
        Record::Undone {
            n: 1,
            result: UndoResult::Removed,
            ..
        }
    ));
    assert!(matches!(&r[11], Record::End { outcome } if outcome == "ok"));
    assert!(j.pending().is_empty(), "{:?}", j.pending());
    assert_eq!(j.state(), BuildState::Finished);
    assert_eq!(j.builders(), ["triton"]);
}

#[tokio::test]
async fn a_failed_undo_and_kept_resources_stay_pending() {
    let dir = tempfile::tempdir().unwrap();
    let runner = Runner::new()
        .journal(Journaling::in_dir(dir.path()))
        .on_error(imagebake_core::OnError::Keep);
    let e = runner
        .run("kept", CancellationToken::new(), |cx| async move {
            cx.on_failure(Resource::new("image", "i-1"), |_| async { Ok(()) });
            Err::<(), _>(Error::Config("boom".into()))
        })
        .await
        .unwrap_err();
    assert_eq!(e.cleanup.left().count(), 1);
    let j = only_journal(dir.path());
    assert_eq!(j.state(), BuildState::Finished);
    let p = j.pending();
    assert_eq!(p.len(), 1);
    assert_eq!(
        (p[0].kind.as_str(), p[0].id.as_deref()),
        ("image", Some("i-1"))
    );

    let dir = tempfile::tempdir().unwrap();
    let runner = Runner::new().journal(Journaling::in_dir(dir.path()));
    runner
        .run("failing undo", CancellationToken::new(), |cx| async move {
            cx.defer(Resource::new("machine", "m-9"), |_| async {
                Err(Error::Config("delete refused".into()))
            });
            Ok(())
        })
        .await
        .expect("the build itself succeeds");
    let j = only_journal(dir.path());
    assert!(j.records().iter().any(|r| matches!(r,
        Record::Undone { n: 0, result: UndoResult::Failed, error: Some(e) } if e.contains("delete refused"))));
    assert_eq!(j.pending().len(), 1);
}

#[tokio::test]
async fn a_run_with_the_same_build_id_gets_a_journal_of_its_own() {
    let dir = tempfile::tempdir().unwrap();
    let id: imagebake_core::BuildId = "ib-abcde12345".parse().unwrap();
    let runner = Runner::new()
        .build_id(id)
        .journal(Journaling::in_dir(dir.path()));
    for _ in 0..2 {
        runner
            .run("again", CancellationToken::new(), |_| async { Ok(()) })
            .await
            .unwrap();
    }
    let mut names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["ib-abcde12345.2.jsonl", "ib-abcde12345.jsonl"]);
}

#[test]
fn a_cut_short_last_line_is_left_out_and_a_bad_line_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("ib-x.jsonl");
    let start =
        r#"{"t":"start","build":"ib-x","name":"n","pid":1,"pid_start":1,"boot":"b","started":5}"#;
    let made = r#"{"t":"made","n":0,"cloud":"oxide","kind":"disk","id":"d-1","name":null,"when":"always"}"#;
    std::fs::write(
        &p,
        format!("{start}\n{made}\n{{\"t\":\"undone\",\"n\":0,\"res"),
    )
    .unwrap();
    let j = Journal::open(&p).expect("a torn last line is a crash, not an error");
    assert_eq!(j.records().len(), 2);
    assert_eq!(j.pending().len(), 1);
    assert_eq!(
        j.state(),
        BuildState::Crashed,
        "pid 1 started at tick 1 under boot b is gone"
    );

    std::fs::write(&p, format!("{start}\n{{\"t\":\"what\"}}\n{made}\n")).unwrap();
    let e = Journal::open(&p).unwrap_err().to_string();
    assert!(e.contains("ib-x.jsonl:2"), "{e}");
    std::fs::write(&p, format!("{made}\n")).unwrap();
    let e = Journal::open(&p).unwrap_err().to_string();
    assert!(
        e.contains(":1: a build journal starts with a `start` record"),
        "{e}"
    );
}

#[test]
fn prune_removes_only_old_journals_of_builds_that_left_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, started: u64, tail: &str| {
        let start = format!(
            r#"{{"t":"start","build":"{name}","name":"n","pid":1,"pid_start":1,"boot":"b","started":{started}}}"#
        );
        std::fs::write(
            dir.path().join(format!("{name}.jsonl")),
            format!("{start}\n{tail}"),
        )
        .unwrap();
    };
    let made = r#"{"t":"made","n":0,"cloud":"triton","kind":"machine","id":"m","name":null,"when":"always"}"#;
    write("ib-old-done", 10, "{\"t\":\"end\",\"outcome\":\"ok\"}\n");
    write(
        "ib-new-done",
        u64::MAX / 2,
        "{\"t\":\"end\",\"outcome\":\"ok\"}\n",
    );
    write("ib-old-crashed", 10, &format!("{made}\n"));
    write(
        "ib-old-kept",
        10,
        &format!("{made}\n{{\"t\":\"end\",\"outcome\":\"failed\"}}\n"),
    );
    let removed = journal::prune(dir.path(), Duration::from_secs(3600)).unwrap();
    assert_eq!(removed, [dir.path().join("ib-old-done.jsonl")]);
    let states: Vec<(String, BuildState, usize)> = journal::list_builds(dir.path())
        .into_iter()
        .map(|b| (b.build_id, b.state, b.pending))
        .collect();
    assert_eq!(
        states,
        [
            ("ib-old-crashed".to_owned(), BuildState::Crashed, 1),
            ("ib-old-kept".to_owned(), BuildState::Finished, 1),
            ("ib-new-done".to_owned(), BuildState::Finished, 0),
        ]
    );
}

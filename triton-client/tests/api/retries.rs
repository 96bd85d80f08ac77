//! Retries with fresh signatures, and the no-duplicate CreateMachine rule.

use std::sync::Arc;

use imagebake_sim::Fault;
use imagebake_sim::triton::TritonSim;
use triton_client::auth::{Algorithm, KeySigner};
use triton_client::types::{CreateMachine, ListImages, ListMachines, MachineState};
use triton_client::{Client, Error};

use crate::common::{Recording, an_image, base, client, recording_client, sim, wait, wait_until};

fn recording(sim: &TritonSim) -> Arc<Recording> {
    Recording::new(Arc::new(
        KeySigner::from_file(sim.private_key_path(), None).unwrap(),
    ))
}

#[tokio::test]
async fn throttling_and_503_are_retried_with_fresh_signatures() {
    let sim = sim().await;
    let rec = recording(&sim);
    let c = recording_client(&sim, &rec);

    sim.faults().inject("ListImages", Fault::Throttle, 2);
    let before = sim.request_count();
    assert_eq!(c.list_images(&ListImages::new()).await.unwrap().len(), 3);
    assert_eq!(sim.request_count() - before, 3);
    assert_eq!(
        rec.used(),
        vec![Algorithm::Ed25519Sha512; 3],
        "one signature per attempt"
    );

    sim.faults().inject("GetAccount", Fault::Status(503), 2);
    c.get_account().await.unwrap();
    assert_eq!(sim.faults().pending("GetAccount"), 0);

    // A GET is also retried after other 5xx and a dropped connection.
    sim.faults().inject("ListNetworks", Fault::Status(500), 1);
    sim.faults().inject("ListNetworks", Fault::DropBefore, 1);
    assert!(!c.list_networks().await.unwrap().is_empty());
    assert_eq!(sim.faults().pending("ListNetworks"), 0);
}

#[tokio::test]
async fn retries_stop_when_attempts_run_out_or_the_error_is_final() {
    let sim = sim().await;
    let c = client(&sim); // 4 attempts
    sim.faults().inject("GetAccount", Fault::Throttle, 10);
    let e = c.get_account().await.unwrap_err();
    assert_eq!(e.status(), Some(429), "{e}");
    assert!(e.is_retryable());
    assert_eq!(sim.faults().pending("GetAccount"), 6);
    sim.faults().clear();

    // A POST action is not repeated after a 500.
    let image = an_image(&c).await;
    let m = c
        .create_machine(&CreateMachine::new(image, "g1.nano").name("p"))
        .await
        .unwrap();
    wait_until(&wait(), || c.look_machine(&m.id, MachineState::Running))
        .await
        .unwrap();
    sim.faults().inject("StopMachine", Fault::Status(500), 2);
    let e = c.stop_machine(&m.id).await.unwrap_err();
    assert_eq!(e.status(), Some(500), "{e}");
    assert_eq!(sim.faults().pending("StopMachine"), 1);
    // ...but is after a 503.
    sim.faults().clear();
    sim.faults().inject("StopMachine", Fault::Status(503), 1);
    c.stop_machine(&m.id).await.unwrap();
    wait_until(&wait(), || c.look_machine(&m.id, MachineState::Stopped))
        .await
        .unwrap();

    // With retries off, one attempt only.
    let once = Client::new(
        base(&sim)
            .key_file(sim.private_key_path())
            .retry(triton_client::RetryPolicy::never())
            .build()
            .unwrap(),
    )
    .unwrap();
    sim.faults().inject("GetAccount", Fault::Status(503), 1);
    assert_eq!(once.get_account().await.unwrap_err().status(), Some(503));
}

#[tokio::test]
async fn create_machine_dropped_after_success_is_not_duplicated() {
    let sim = sim().await;
    let c = client(&sim);
    let image = an_image(&c).await;
    sim.faults().inject("CreateMachine", Fault::DropAfter, 1);
    let m = c
        .create_machine(
            &CreateMachine::new(image, "g1.nano")
                .name("once")
                .tag("build", "d1"),
        )
        .await
        .unwrap();
    assert_eq!(m.name, "once");
    let inv = sim.inventory();
    assert_eq!(inv.machines.len(), 1, "{:?}", inv.machines);
    assert_eq!(inv.machines[0].id, m.id.to_string());

    // Identified by a tag only: names do not collide, so only the lookup
    // keeps a second machine from being made.
    sim.faults().inject("CreateMachine", Fault::DropAfter, 1);
    let m = c
        .create_machine(&CreateMachine::new(image, "g1.nano").tag("build", "d2"))
        .await
        .unwrap();
    let tagged: Vec<_> = sim
        .inventory()
        .machines
        .into_iter()
        .filter(|s| s.tags.get("build") == Some(&serde_json::json!("d2")))
        .collect();
    assert_eq!(tagged.len(), 1, "{tagged:?}");
    assert_eq!(tagged[0].id, m.id.to_string());
    assert_eq!(sim.inventory().machines.len(), 2);
}

#[tokio::test]
async fn create_machine_after_503_makes_exactly_one() {
    let sim = sim().await;
    let c = client(&sim);
    let image = an_image(&c).await;

    // Identified by name.
    sim.faults().inject("CreateMachine", Fault::Status(503), 2);
    c.create_machine(&CreateMachine::new(image, "g1.nano").name("n1"))
        .await
        .unwrap();
    assert_eq!(sim.inventory().machines.len(), 1);

    // Identified by a tag only.
    sim.faults().inject("CreateMachine", Fault::Status(503), 1);
    let m = c
        .create_machine(&CreateMachine::new(image, "g1.nano").tag("build", "t2"))
        .await
        .unwrap();
    assert_eq!(sim.inventory().machines.len(), 2);
    let by_tag = c
        .list_machines(&ListMachines::new().tag("build", "t2"))
        .await
        .unwrap();
    assert_eq!(by_tag.iter().map(|m| m.id).collect::<Vec<_>>(), [m.id]);

    // Throttling is retried too (the create was certainly not processed).
    sim.faults().inject("CreateMachine", Fault::Throttle, 1);
    c.create_machine(&CreateMachine::new(image, "g1.nano").name("n3"))
        .await
        .unwrap();
    assert_eq!(sim.inventory().machines.len(), 3);
}

#[tokio::test]
async fn create_machine_that_cannot_be_looked_up_is_not_resent() {
    let sim = sim().await;
    let c = client(&sim);
    let image = an_image(&c).await;
    sim.faults().inject("CreateMachine", Fault::Status(503), 1);
    let before = sim.request_count();
    let e = c
        .create_machine(&CreateMachine::new(image, "g1.nano"))
        .await
        .unwrap_err();
    assert_eq!(e.status(), Some(503), "{e}");
    assert_eq!(sim.request_count() - before, 1);
    assert!(sim.inventory().machines.is_empty());

    sim.faults().inject("CreateMachine", Fault::DropAfter, 1);
    let e = c
        .create_machine(&CreateMachine::new(image, "g1.nano"))
        .await
        .unwrap_err();
    assert!(matches!(e, Error::Transport { connect: false, .. }), "{e}");
    // The one attempt made one machine; the client did not make another.
    assert_eq!(sim.inventory().machines.len(), 1);
}

//! ListMachines paging with limit/offset as a stream.

use std::collections::BTreeSet;

use futures::TryStreamExt;
use triton_client::types::{CreateMachine, ListImages, ListMachines};

use crate::common::{client, sim};

#[tokio::test]
async fn list_machines_stream_walks_every_page() {
    let sim = sim().await;
    let c = client(&sim);
    let image = c
        .list_images(&ListImages::new())
        .await
        .unwrap()
        .remove(0)
        .id;
    for i in 0..5 {
        c.create_machine(
            &CreateMachine::new(image, "g1.nano")
                .name(format!("pg-{i}"))
                .tag("batch", "p"),
        )
        .await
        .unwrap();
    }
    c.create_machine(&CreateMachine::new(image, "g1.nano").name("other"))
        .await
        .unwrap();

    let filter = ListMachines::new().tag("batch", "p");
    let before = sim.request_count();
    let all: Vec<_> = c
        .list_machines_stream(&filter, 2)
        .try_collect()
        .await
        .unwrap();
    let pages = sim.request_count() - before;
    let names: BTreeSet<String> = all.iter().map(|m| m.name.clone()).collect();
    assert_eq!(all.len(), 5);
    assert_eq!(names, (0..5).map(|i| format!("pg-{i}")).collect());
    assert_eq!(pages, 3, "pages of 2, 2, 1");

    let everything: Vec<_> = c
        .list_machines_stream(&ListMachines::new(), 4)
        .try_collect()
        .await
        .unwrap();
    assert_eq!(everything.len(), 6);

    let last = c
        .list_machines(&filter.clone().limit(2).offset(4))
        .await
        .unwrap();
    assert_eq!(last.len(), 1);
    let from_offset: Vec<_> = c
        .list_machines_stream(&filter.offset(3), 1)
        .try_collect()
        .await
        .unwrap();
    assert_eq!(from_offset.len(), 2);
}

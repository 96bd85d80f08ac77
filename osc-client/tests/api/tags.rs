use crate::common::{blank_volume, delete_volume};
use osc_client::api::FiltersVolume;
use osc_client::types::Tag;

use crate::common::setup;

#[tokio::test]
async fn create_filter_and_delete_tags() {
    let (sim, client) = setup().await;
    let v = blank_volume(&sim, &client).await;
    client
        .tags()
        .create(
            [&v.volume_id],
            vec![Tag::new("build", "b-1"), Tag::new("role", "root")],
        )
        .await
        .expect("CreateTags");
    let tagged = |tags: &[&str]| FiltersVolume {
        tags: tags.iter().map(|t| (*t).to_owned()).collect(),
        ..FiltersVolume::default()
    };
    let found = client
        .volumes()
        .read(tagged(&["build=b-1"]))
        .await
        .expect("ReadVolumes");
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].tags.len(), 2);
    let keys = FiltersVolume {
        tag_keys: vec!["rol*".into()],
        ..FiltersVolume::default()
    };
    assert_eq!(
        client
            .volumes()
            .read(keys)
            .await
            .expect("ReadVolumes")
            .len(),
        1
    );

    client
        .tags()
        .delete([&v.volume_id], vec![Tag::new("build", "")])
        .await
        .expect("DeleteTags");
    assert!(
        client
            .volumes()
            .read(tagged(&["build=*"]))
            .await
            .expect("read")
            .is_empty()
    );

    let e = client
        .tags()
        .create(["vol-00000bad"], vec![Tag::new("k", "v")])
        .await
        .expect_err("missing resource");
    assert_eq!(e.code(), Some("5064"));
    let e = client
        .tags()
        .create([&v.volume_id], vec![Tag::new("", "v")])
        .await
        .expect_err("empty key");
    assert_eq!(e.code(), Some("4069"));

    delete_volume(&client, &v.volume_id).await;
    sim.shutdown().await;
}

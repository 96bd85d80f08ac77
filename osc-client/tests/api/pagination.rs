use crate::common::{blank_volume, delete_volume};
use futures::TryStreamExt;
use osc_client::api::FiltersVolume;
use osc_client::{Client, Config, SignatureVersion};

use crate::common::{config_for, sim};

#[tokio::test]
async fn listings_stream_every_page() {
    let sim = sim().await;
    let base = config_for(&sim, SignatureVersion::Osc4);
    let config = Config::builder()
        .access_key(base.access_key.clone())
        .secret_key(base.secret_key.clone())
        .region(base.region.clone())
        .endpoint(base.endpoint.to_string())
        .page_size(3)
        .build_with(|_| None, None)
        .expect("config");
    let client = Client::new(config).expect("client");
    let mut made = Vec::new();
    for _ in 0..7 {
        let v = blank_volume(&sim, &client).await;
        made.push(v.volume_id);
    }
    let all: Vec<_> = client
        .volumes()
        .list(FiltersVolume::default())
        .try_collect()
        .await
        .expect("ReadVolumes pages");
    // 7 made + the host VM's root volume.
    assert_eq!(all.len(), 8);
    let mut ids: Vec<_> = all.iter().map(|v| v.volume_id.clone()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 8, "no duplicates across pages");
    assert!(made.iter().all(|m| ids.contains(m)));

    let reads: Vec<_> = sim
        .request_log()
        .into_iter()
        .filter(|(a, _)| a == "ReadVolumes")
        .map(|(_, b)| b)
        .collect();
    assert_eq!(reads.len(), 3, "3 + 3 + 2");
    assert!(reads.iter().all(|b| b["ResultsPerPage"] == 3));
    assert!(reads[0].get("NextPageToken").is_none());
    assert!(reads[1]["NextPageToken"].is_string());

    for id in made {
        delete_volume(&client, &id).await;
    }
    sim.shutdown().await;
}

use std::time::Duration;

use imagebake_http::{Backoff, RetryPolicy, WaitOptions};
use imagebake_sim::osc::{OscDelays, OscSim, OscSimOptions};
use osc_client::api::{CreateImageRequest, CreateVolumeRequest};
use osc_client::types::{Image, Volume};
use osc_client::{Client, Config, SignatureVersion};

/// Retries quickly (a few milliseconds apart).
pub fn fast_retry(attempts: u32) -> RetryPolicy {
    RetryPolicy {
        max_attempts: attempts,
        backoff: Backoff::new(Duration::from_millis(2), Duration::from_millis(10)),
    }
}

pub fn waits() -> WaitOptions {
    WaitOptions::new(Duration::from_secs(20), Duration::from_millis(20))
}

pub async fn sim() -> OscSim {
    OscSim::start(OscSimOptions {
        delays: OscDelays::uniform(Duration::from_millis(15)),
        ..OscSimOptions::default()
    })
    .await
    .expect("start the osc simulator")
}

pub fn config_for(sim: &OscSim, sig: SignatureVersion) -> Config {
    Config::builder()
        .access_key(sim.access_key())
        .secret_key(sim.secret_key())
        .region(sim.region())
        .endpoint(sim.endpoint())
        .signature(sig)
        .retry(fast_retry(4))
        .build_with(|_| None, None)
        .expect("config")
}

pub fn client_for(sim: &OscSim) -> Client {
    Client::new(config_for(sim, SignatureVersion::Osc4)).expect("client")
}

pub async fn setup() -> (OscSim, Client) {
    let sim = sim().await;
    let client = client_for(&sim);
    (sim, client)
}

/// A blank 1 GiB volume in the simulator's subregion, available.
pub async fn blank_volume(sim: &OscSim, client: &Client) -> Volume {
    available_volume(client, &CreateVolumeRequest::blank(sim.subregion(), 1)).await
}

/// The volume `req` creates, once available.
pub async fn available_volume(client: &Client, req: &CreateVolumeRequest) -> Volume {
    let v = client.volumes().create(req).await.expect("CreateVolume");
    client
        .volumes()
        .wait_available(&v.volume_id, &waits())
        .await
        .expect("volume available")
}

/// A copy named `name` of the simulator's public source image, available
/// (as the chroot builder starts).
pub async fn source_copy(sim: &OscSim, client: &Client, name: &str) -> Image {
    let copy = client
        .images()
        .create(&CreateImageRequest::copy(
            name,
            sim.source_image_id(),
            sim.region(),
        ))
        .await
        .expect("CreateImage copy");
    client
        .images()
        .wait_available(&copy.image_id, &waits())
        .await
        .expect("image available")
}

use std::time::Duration;

use imagebake_http::{Backoff, Poll, RetryPolicy, WaitError, WaitOptions};
use imagebake_sim::osc::{OscDelays, OscSim, OscSimOptions};
use osc_client::api::{CreateImageRequest, CreateVolumeRequest, Images, Snapshots, Volumes};
use osc_client::types::{Image, Snapshot, Volume};
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

/// Creates a blank 1 GiB volume in the simulator's subregion (not yet waited for).
pub async fn blank_volume(sim: &OscSim, client: &Client) -> Volume {
    client
        .volumes()
        .create(&CreateVolumeRequest::blank(sim.subregion(), 1))
        .await
        .expect("CreateVolume")
}

/// Creates a blank 1 GiB volume and waits until it is available.
pub async fn available_blank_volume(sim: &OscSim, client: &Client) -> Volume {
    let v = blank_volume(sim, client).await;
    client
        .volumes()
        .wait_available(&v.volume_id, &waits())
        .await
        .expect("available")
}

/// Starts a copy of the simulator's public source image named `name` (not yet waited for).
pub async fn copy_source_image(sim: &OscSim, client: &Client, name: &str) -> Image {
    client
        .images()
        .create(&CreateImageRequest::copy(
            name,
            sim.source_image_id(),
            sim.region(),
        ))
        .await
        .expect("CreateImage copy")
}

/// Copies the public source image and waits until the copy is available.
pub async fn available_source_copy(sim: &OscSim, client: &Client, name: &str) -> Image {
    let copy = copy_source_image(sim, client, name).await;
    client
        .images()
        .wait_available(&copy.image_id, &waits())
        .await
        .expect("available")
}

/// Deletes a volume, which must succeed.
pub async fn delete_volume(client: &Client, id: &str) {
    client.volumes().delete(id).await.expect("DeleteVolume");
}

/// Deletes a snapshot, which must succeed.
pub async fn delete_snapshot(client: &Client, id: &str) {
    client.snapshots().delete(id).await.expect("DeleteSnapshot");
}

/// Deletes an image, which must succeed.
pub async fn delete_image(client: &Client, id: &str) {
    client.images().delete(id).await.expect("DeleteImage");
}

/// What a wait gives.
pub type Waited<T> = Result<T, WaitError<osc_client::Error>>;

async fn wait_until<T, Fut>(opts: &WaitOptions, look: impl FnMut() -> Fut) -> Waited<T>
where
    Fut: std::future::Future<Output = osc_client::Result<Poll<T>>>,
{
    imagebake_http::wait_for("resource", opts, |_, _| {}, look).await
}

/// Volume waits.
pub trait VolumeWaits {
    /// Until available with no link left.
    async fn wait_available(&self, id: &str, opts: &WaitOptions) -> Waited<Volume>;
    /// Until linked.
    async fn wait_linked(&self, id: &str, opts: &WaitOptions) -> Waited<Volume>;
}

impl VolumeWaits for Volumes {
    async fn wait_available(&self, id: &str, opts: &WaitOptions) -> Waited<Volume> {
        wait_until(opts, || async {
            Ok(Poll::found(self.find(id).await?, Volume::toward_available))
        })
        .await
    }

    async fn wait_linked(&self, id: &str, opts: &WaitOptions) -> Waited<Volume> {
        wait_until(opts, || async {
            Ok(Poll::found(self.find(id).await?, Volume::toward_linked))
        })
        .await
    }
}

/// Snapshot waits.
pub trait SnapshotWaits {
    /// Until completed.
    async fn wait_completed(&self, id: &str, opts: &WaitOptions) -> Waited<Snapshot>;
}

impl SnapshotWaits for Snapshots {
    async fn wait_completed(&self, id: &str, opts: &WaitOptions) -> Waited<Snapshot> {
        wait_until(opts, || async {
            Ok(Poll::found(
                self.find(id).await?,
                Snapshot::toward_completed,
            ))
        })
        .await
    }
}

/// Image waits.
pub trait ImageWaits {
    /// Until available.
    async fn wait_available(&self, id: &str, opts: &WaitOptions) -> Waited<Image>;
}

impl ImageWaits for Images {
    async fn wait_available(&self, id: &str, opts: &WaitOptions) -> Waited<Image> {
        wait_until(opts, || async {
            Ok(Poll::found(self.find(id).await?, Image::toward_available))
        })
        .await
    }
}

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

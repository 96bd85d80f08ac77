use std::time::Duration;

use imagebake_sim::oxide::{OxideDelays, OxideSim, OxideSimOptions, RecordedRequest};
use oxide_client::{
    Backoff, Client, Config, Disk, Instance, InstanceState, NameOrId, RetryPolicy, WaitError,
    WaitOptions,
};

pub const PUBLIC_KEY: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHb0mK2ZqG8v3R9s6yV8c2xJ2tJgkQ3p1w4q7aZ0bC1d test@imagebake";

/// A simulator with tiny delays.
pub async fn sim() -> OxideSim {
    OxideSim::start(OxideSimOptions {
        delays: OxideDelays {
            instance_start: Duration::from_millis(20),
            instance_stop: Duration::from_millis(20),
        },
        ..OxideSimOptions::default()
    })
    .await
    .expect("start simulator")
}

/// Fast retries so retry tests stay quick.
pub fn fast_retry() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 4,
        backoff: Backoff::new(Duration::from_millis(1), Duration::from_millis(5)),
    }
}

pub fn client(sim: &OxideSim) -> Client {
    Client::new(Config::new(sim.url(), sim.token()).retry_policy(fast_retry())).expect("client")
}

pub fn project() -> NameOrId {
    NameOrId::from("imagebake")
}

pub fn wait() -> WaitOptions {
    WaitOptions::new(Duration::from_secs(10), Duration::from_millis(10))
}

/// Requests the simulator got since `from` (an index into its log).
pub fn since(sim: &OxideSim, from: usize) -> Vec<RecordedRequest> {
    sim.requests().into_iter().skip(from).collect()
}

/// Waits (the caller's wait: the client only says what a state means)
/// until the instance reaches `want`.
pub async fn wait_instance(
    c: &Client,
    instance: impl Into<NameOrId>,
    project: Option<&NameOrId>,
    want: InstanceState,
) -> Result<Instance, WaitError<oxide_client::Error>> {
    let instance = instance.into();
    imagebake_http::wait_for(
        "instance",
        &wait(),
        |_, _| {},
        || async {
            Ok(c.instance_view(instance.clone(), project)
                .await?
                .toward(want))
        },
    )
    .await
}

/// Waits until the disk is detached.
pub async fn wait_detached(
    c: &Client,
    disk: impl Into<NameOrId>,
) -> Result<Disk, WaitError<oxide_client::Error>> {
    let disk = disk.into();
    imagebake_http::wait_for(
        "disk",
        &wait(),
        |_, _| {},
        || async { Ok(c.disk_view(disk.clone(), None).await?.toward_detached()) },
    )
    .await
}

//! Finds and removes what crashed `osc-chroot` builds left behind.

use std::collections::BTreeSet;
use std::time::Duration;

use async_trait::async_trait;
use osc_client::Client;
use osc_client::api::{FiltersImage, FiltersSnapshot, FiltersVolume};
use osc_client::types::Tag;
use tokio_util::sync::CancellationToken;

use crate::steps::common::sweep_one;
use crate::steps::osc::{
    BUILD_TAG, CREATED_TAG, api, find_own_image, remove_image_and_snapshots, remove_snapshot,
    remove_snapshot_now, remove_volume, remove_volume_now, unlink_and_wait, unlink_volume_now,
};
use crate::{Error, Resource, SweepFilter, SweepReport, Sweeper, WaitOptions, unknown_kind};

/// Removes what crashed `osc-chroot` builds left: working volumes (unlinked
/// first), source copies (images and their snapshots) and unregistered
/// snapshots whose `imagebake-build` tag starts with the filter's prefix,
/// created longer ago than the filter's age (by their `imagebake-created`
/// tag; one without it is only taken when the age is zero). A finished OMI
/// and its snapshot carry `imagebake-built-by` instead and are never swept,
/// nor is a snapshot any of our OMIs uses.
#[derive(Debug, Clone)]
pub struct OscSweeper {
    client: Client,
    unlink_timeout: Duration,
    poll_cap: Duration,
}

impl OscSweeper {
    /// A sweeper using `client`, giving each unlink 10 minutes.
    pub fn new(client: Client) -> Self {
        Self {
            client,
            unlink_timeout: Duration::from_secs(600),
            poll_cap: Duration::from_secs(2),
        }
    }

    /// Sets how long each unlink may take and the longest pause between polls.
    pub fn waits(mut self, unlink_timeout: Duration, poll_cap: Duration) -> Self {
        self.unlink_timeout = unlink_timeout;
        self.poll_cap = poll_cap;
        self
    }
}

fn tag<'a>(tags: &'a [Tag], key: &str) -> Option<&'a str> {
    tags.iter().find(|t| t.key == key).map(|t| t.value.as_str())
}

/// Whether a resource with these tags is a leftover the filter takes.
fn matches(filter: &SweepFilter, tags: &[Tag], now: u64) -> bool {
    if !tag(tags, BUILD_TAG).is_some_and(|b| !b.is_empty() && b.starts_with(&filter.prefix)) {
        return false;
    }
    if filter.older_than.is_zero() {
        return true;
    }
    tag(tags, CREATED_TAG)
        .and_then(|c| c.parse::<u64>().ok())
        .is_some_and(|created| now.saturating_sub(created) >= filter.older_than.as_secs())
}

#[async_trait]
impl Sweeper for OscSweeper {
    async fn sweep(&self, filter: &SweepFilter, cancel: &CancellationToken) -> SweepReport {
        let mut report = SweepReport::default();
        let now = crate::steps::osc::now_secs();
        let c = &self.client;
        let opts = WaitOptions::new(self.unlink_timeout, self.poll_cap).cancel_on(cancel.clone());

        let images = match c.images().read(FiltersImage::default()).await {
            Ok(v) => v,
            Err(e) => {
                report
                    .list_errors
                    .push(Error::provider("ReadImages (sweep)", e));
                Vec::new()
            }
        };
        let mut in_use: BTreeSet<String> = BTreeSet::new();
        for i in &images {
            if cancel.is_cancelled() {
                return report;
            }
            if matches(filter, &i.tags, now) {
                let r = remove_image_and_snapshots(c.clone(), i.image_id.clone());
                let res = Resource::new("image", i.image_id.clone()).named(i.image_name.clone());
                report.cleanup.entries.push(sweep_one(filter, res, r).await);
            } else {
                in_use.extend(i.snapshot_ids().into_iter().map(str::to_owned));
            }
        }

        match c.volumes().read(FiltersVolume::default()).await {
            Ok(volumes) => {
                for v in volumes.iter().filter(|v| matches(filter, &v.tags, now)) {
                    if cancel.is_cancelled() {
                        return report;
                    }
                    let id = v.volume_id.clone();
                    let r = async {
                        if !v.linked_volumes.is_empty() {
                            unlink_volume_now(c.clone(), id.clone(), opts.clone()).await?;
                        }
                        remove_volume_now(c.clone(), id.clone()).await
                    };
                    let res = Resource::new("volume", v.volume_id.clone());
                    report.cleanup.entries.push(sweep_one(filter, res, r).await);
                }
            }
            Err(e) => report
                .list_errors
                .push(Error::provider("ReadVolumes (sweep)", e)),
        }

        match c.snapshots().read(FiltersSnapshot::default()).await {
            Ok(snaps) => {
                for s in snaps
                    .iter()
                    .filter(|s| matches(filter, &s.tags, now) && !in_use.contains(&s.snapshot_id))
                {
                    if cancel.is_cancelled() {
                        return report;
                    }
                    let r = remove_snapshot_now(c.clone(), s.snapshot_id.clone());
                    let res = Resource::new("snapshot", s.snapshot_id.clone());
                    report.cleanup.entries.push(sweep_one(filter, res, r).await);
                }
            }
            Err(e) => report
                .list_errors
                .push(Error::provider("ReadSnapshots (sweep)", e)),
        }
        report
    }

    /// `image` (deregistered with its snapshots), `volume link`
    /// (unlinked), `volume`, `snapshot`.
    async fn remove(&self, resource: &Resource, cancel: &CancellationToken) -> Result<(), Error> {
        let (c, id) = (self.client.clone(), resource.id.clone());
        match resource.kind.as_str() {
            "image" => remove_image_and_snapshots(c, id).await,
            "volume link" => {
                let opts =
                    WaitOptions::new(self.unlink_timeout, self.poll_cap).cancel_on(cancel.clone());
                unlink_and_wait(c, id, opts).await
            }
            "volume" => remove_volume(c, id).await,
            "snapshot" => remove_snapshot(c, id).await,
            _ => Err(unknown_kind(resource)),
        }
    }

    /// What a create whose answer never came made: OAPI's `CreateVolume`
    /// and `CreateSnapshot` take no tags, so their journal name is the
    /// create's `ClientToken` (the `volume` or `snapshot` that carries it);
    /// an `image` is our account's image of that name created since `since`.
    async fn find_named(&self, kind: &str, name: &str, since: u64) -> Result<Vec<Resource>, Error> {
        let c = &self.client;
        let token = vec![name.to_owned()];
        match kind {
            "volume" => {
                let filters = FiltersVolume {
                    client_tokens: token,
                    ..FiltersVolume::default()
                };
                let found = c.volumes().read(filters).await;
                let found = found.map_err(|e| api("ReadVolumes (by ClientToken)", e))?;
                Ok(found
                    .into_iter()
                    .map(|v| Resource::new("volume", v.volume_id))
                    .collect())
            }
            "snapshot" => {
                let filters = FiltersSnapshot {
                    client_tokens: token,
                    ..FiltersSnapshot::default()
                };
                let found = c.snapshots().read(filters).await;
                let found = found.map_err(|e| api("ReadSnapshots (by ClientToken)", e))?;
                Ok(found
                    .into_iter()
                    .map(|s| Resource::new("snapshot", s.snapshot_id))
                    .collect())
            }
            "image" => {
                let found = find_own_image(c, name)
                    .await
                    .map_err(|e| api(format!("looking up image {name}"), e))?;
                let since = i64::try_from(since).unwrap_or(i64::MAX);
                Ok(found
                    .filter(|i| {
                        chrono::DateTime::parse_from_rfc3339(&i.creation_date)
                            .is_ok_and(|t| t.timestamp() >= since)
                    })
                    .map(|i| Resource::new("image", i.image_id).named(i.image_name))
                    .into_iter()
                    .collect())
            }
            _ => Ok(Vec::new()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_by_prefix_and_age() {
        let f = SweepFilter {
            prefix: "ib-".into(),
            older_than: Duration::from_secs(60),
            dry_run: false,
        };
        let tags = |b: &str, c: &str| vec![Tag::new(BUILD_TAG, b), Tag::new(CREATED_TAG, c)];
        assert!(matches(&f, &tags("ib-abc", "100"), 200));
        assert!(!matches(&f, &tags("ib-abc", "180"), 200));
        assert!(!matches(&f, &tags("xx-abc", "100"), 200));
        assert!(!matches(&f, &[Tag::new(BUILD_TAG, "ib-abc")], 200));
        let all = SweepFilter {
            prefix: "ib-".into(),
            older_than: Duration::ZERO,
            dry_run: false,
        };
        assert!(matches(&all, &[Tag::new(BUILD_TAG, "ib-abc")], 200));
    }
}

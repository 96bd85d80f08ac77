use std::time::Duration;

use async_trait::async_trait;
use futures::{Stream, TryFutureExt, TryStreamExt};
use oxide_client::{Client, ListOptions, NameOrId};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::steps::common::{now_secs, sweep_one};
use crate::steps::oxide::{
    OxideApi, Waits, build_of, found, remove_by_delete, remove_disk, remove_instance,
};
use crate::{Error, Removal, Resource, SweepFilter, SweepReport, Sweeper};

/// Removes what crashed `oxide-instance` builds left in one project:
/// instances (stopped first), disks, snapshots and images, and the current
/// user's SSH keys, whose name starts with the filter's prefix or whose
/// description carries a matching build id (`imagebake-build=ib-…`),
/// created longer ago than the filter's age.
///
/// The builder's images carry the user's description and a name that does
/// not start with the build id, so a finished image is never swept.
#[derive(Debug, Clone)]
pub struct OxideSweeper {
    api: OxideApi,
    delete_timeout: Duration,
}

impl OxideSweeper {
    /// A sweeper of `project`, giving each instance and disk 10 minutes to go.
    pub fn new(client: Client, project: impl Into<NameOrId>) -> Self {
        Self {
            api: OxideApi::new(client, project.into()),
            delete_timeout: Duration::from_secs(600),
        }
    }

    /// Sets how long each instance or disk may take to go, and the longest
    /// pause between polls.
    pub fn waits(mut self, delete_timeout: Duration, poll_cap: Duration) -> Self {
        self.delete_timeout = delete_timeout;
        self.api.waits = Waits {
            state_timeout: delete_timeout,
            poll_cap,
            ..Waits::default()
        };
        self
    }
}

/// Unix seconds of an RFC 3339 time (`2026-11-22T03:26:53.123456Z`,
/// offsets allowed).
pub(crate) fn unix_secs(text: &str) -> Option<u64> {
    let b = text.as_bytes();
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let s = text.get(r)?;
        s.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| s.parse().ok())?
    };
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, s) = (num(11..13)?, num(14..16)?, num(17..19)?);
    let mut rest = &text[19..];
    if let Some(frac) = rest.strip_prefix('.') {
        let n = frac.bytes().take_while(u8::is_ascii_digit).count();
        rest = &frac[n..];
    }
    let offset = match rest {
        "Z" | "z" => 0,
        _ => {
            let sign = match rest.as_bytes().first()? {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            let oh: i64 = rest.get(1..3)?.parse().ok()?;
            let om: i64 = rest.get(4..6)?.parse().ok()?;
            sign * (oh * 3600 + om * 60)
        }
    };
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || s > 60 {
        return None;
    }
    // Days from the civil date (Howard Hinnant's algorithm).
    let yy = if mo <= 2 { y - 1 } else { y };
    let era = yy.div_euclid(400);
    let yoe = yy - era * 400;
    let mp = (mo + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    u64::try_from(days * 86_400 + h * 3600 + mi * 60 + s - offset).ok()
}

/// Whether a resource is a leftover `filter` asks for.
pub(crate) fn matches(
    filter: &SweepFilter,
    name: &str,
    description: &str,
    time_created: &str,
    now: u64,
) -> bool {
    let by_name = name.starts_with(&filter.prefix);
    let by_description = build_of(description).is_some_and(|b| b.starts_with(&filter.prefix));
    if !(by_name || by_description) {
        return false;
    }
    if filter.older_than.is_zero() {
        return true;
    }
    unix_secs(time_created).is_some_and(|c| now.saturating_sub(c) >= filter.older_than.as_secs())
}

/// The whole listing, or the error recorded in `report`.
async fn listed<T>(
    report: &mut SweepReport,
    what: &str,
    stream: impl Stream<Item = Result<T, oxide_client::Error>>,
) -> Vec<T> {
    match stream.try_collect().await {
        Ok(v) => v,
        Err(e) => {
            report
                .list_errors
                .push(Error::provider(format!("listing {what} to sweep"), e));
            Vec::new()
        }
    }
}

fn api_err(what: String) -> impl FnOnce(oxide_client::Error) -> Error {
    move |e| Error::provider(what, e)
}

impl OxideSweeper {
    /// Removes the `kind` resource `id` (instances stopped first, disks
    /// once detached), within the sweeper's delete timeout; says whether it
    /// was there.
    async fn remove_id(
        &self,
        kind: &str,
        id: Uuid,
        cancel: &CancellationToken,
    ) -> Result<Removal, Error> {
        let a = &self.api;
        let limit = self.delete_timeout;
        let what = format!("{kind} {id}");
        match kind {
            "instance" => remove_instance(a, id, limit, cancel).await,
            "disk" => remove_disk(a, id, limit, cancel).await,
            "snapshot" => {
                remove_by_delete(a, &what, limit, cancel, move |c: Client| async move {
                    c.snapshot_delete(id, None).await
                })
                .await
            }
            "image" => {
                remove_by_delete(a, &what, limit, cancel, move |c: Client| async move {
                    c.image_delete(id, None).await
                })
                .await
            }
            "ssh key" => {
                remove_by_delete(a, &what, limit, cancel, move |c: Client| async move {
                    c.current_user_ssh_key_delete(id).await
                })
                .await
            }
            _ => Err(Error::Config(format!(
                "the oxide cleanup does not know how to remove a {kind} ({id})"
            ))),
        }
    }
}

#[async_trait]
impl Sweeper for OxideSweeper {
    /// Lists with `instance_list`, `snapshot_list`, `image_list`,
    /// `disk_list` (all in the project) and `current_user_ssh_key_list`,
    /// then removes each match: instances (stop, wait stopped, delete),
    /// snapshots, images, disks once detached, keys.
    async fn sweep(&self, filter: &SweepFilter, cancel: &CancellationToken) -> SweepReport {
        let mut report = SweepReport::default();
        let now = now_secs();
        let a = &self.api;
        let c = &a.client;
        let p = &a.project;
        let o = ListOptions::default();

        let instances = listed(&mut report, "instances", c.instance_list(p, o)).await;
        for i in instances
            .into_iter()
            .filter(|i| matches(filter, &i.name, &i.description, &i.time_created, now))
        {
            if cancel.is_cancelled() {
                return report;
            }
            let r = self.remove_id("instance", i.id, cancel).map_ok(drop);
            let res = Resource::new("instance", i.id.to_string()).named(i.name);
            report.cleanup.entries.push(sweep_one(filter, res, r).await);
        }
        let snapshots = listed(&mut report, "snapshots", c.snapshot_list(p, o)).await;
        for s in snapshots
            .into_iter()
            .filter(|s| matches(filter, &s.name, &s.description, &s.time_created, now))
        {
            if cancel.is_cancelled() {
                return report;
            }
            let id = s.id;
            let r = self.remove_id("snapshot", id, cancel).map_ok(drop);
            let res = Resource::new("snapshot", id.to_string()).named(s.name);
            report.cleanup.entries.push(sweep_one(filter, res, r).await);
        }
        let images = listed(&mut report, "images", c.image_list(Some(p), o)).await;
        for i in images
            .into_iter()
            .filter(|i| build_of(&i.description).is_some_and(|b| b.starts_with(&filter.prefix)))
            .filter(|i| matches(filter, &i.name, &i.description, &i.time_created, now))
        {
            if cancel.is_cancelled() {
                return report;
            }
            let id = i.id;
            let r = self.remove_id("image", id, cancel).map_ok(drop);
            let res = Resource::new("image", id.to_string()).named(i.name);
            report.cleanup.entries.push(sweep_one(filter, res, r).await);
        }
        let disks = listed(&mut report, "disks", c.disk_list(p, o)).await;
        for d in disks
            .into_iter()
            .filter(|d| matches(filter, &d.name, &d.description, &d.time_created, now))
        {
            if cancel.is_cancelled() {
                return report;
            }
            let r = self.remove_id("disk", d.id, cancel).map_ok(drop);
            let res = Resource::new("disk", d.id.to_string()).named(d.name);
            report.cleanup.entries.push(sweep_one(filter, res, r).await);
        }
        let keys = listed(&mut report, "SSH keys", c.current_user_ssh_key_list(o)).await;
        for k in keys
            .into_iter()
            .filter(|k| matches(filter, &k.name, &k.description, &k.time_created, now))
        {
            if cancel.is_cancelled() {
                return report;
            }
            let id: Uuid = k.id;
            let r = self.remove_id("ssh key", id, cancel).map_ok(drop);
            let res = Resource::new("ssh key", id.to_string()).named(k.name);
            report.cleanup.entries.push(sweep_one(filter, res, r).await);
        }
        report
    }

    /// `instance` (stopped first), `disk` (once detached), `snapshot`,
    /// `image`, `ssh key`.
    async fn remove(&self, resource: &Resource, cancel: &CancellationToken) -> Result<(), Error> {
        self.remove_found(resource, cancel).await.map(drop)
    }

    /// As [`Sweeper::remove`], saying whether it was there.
    async fn remove_found(
        &self,
        resource: &Resource,
        cancel: &CancellationToken,
    ) -> Result<Removal, Error> {
        let id: Uuid = resource
            .id
            .parse()
            .map_err(|e| Error::Config(format!("{resource}: not an Oxide id: {e}")))?;
        self.remove_id(&resource.kind, id, cancel).await
    }

    /// An `image` of that name in the project created since `since`
    /// (`image_view`): the builder's images carry the user's name and
    /// description, not the build id.
    async fn find_named(&self, kind: &str, name: &str, since: u64) -> Result<Vec<Resource>, Error> {
        if kind != "image" {
            return Ok(Vec::new());
        }
        let a = &self.api;
        let image = found(
            a.client
                .image_view(NameOrId::Name(name.to_owned()), Some(&a.project))
                .await,
        )
        .map_err(api_err(format!("looking up image {name}")))?;
        Ok(image
            .filter(|i| unix_secs(&i.time_created).is_some_and(|t| t >= since))
            .map(|i| Resource::new("image", i.id.to_string()).named(i.name))
            .into_iter()
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_times() {
        assert_eq!(unix_secs("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(
            unix_secs("2026-11-22T03:26:53.123456Z"),
            Some(1_795_318_013)
        );
        assert_eq!(unix_secs("2000-03-01T01:00:00+01:00"), Some(951_868_800));
        assert_eq!(unix_secs("2024-02-29T12:00:00Z"), Some(1_709_208_000));
        for bad in [
            "",
            "2026-11-22",
            "2026-13-01T00:00:00Z",
            "2026-11-22T03:26:53",
        ] {
            assert_eq!(unix_secs(bad), None, "{bad}");
        }
    }

    #[test]
    fn matches_by_name_or_description_and_age() {
        let all = SweepFilter::all_builds(Duration::from_secs(3600));
        let old = "1970-01-01T00:00:00Z";
        let now = 10_000;
        assert!(matches(&all, "ib-abcdefghij", "", old, now));
        assert!(matches(
            &all,
            "builder",
            "Created by imagebake (imagebake-build=ib-abcdefghij).",
            old,
            now
        ));
        assert!(!matches(&all, "builder", "debian 12", old, now));
        assert!(!matches(
            &all,
            "ib-abcdefghij",
            "",
            "1970-01-01T02:30:00Z",
            now
        ));
        assert!(!matches(&all, "ib-abcdefghij", "", "yesterday", now));
        let zero = SweepFilter::all_builds(Duration::ZERO);
        assert!(matches(&zero, "ib-abcdefghij", "", "yesterday", now));
    }
}

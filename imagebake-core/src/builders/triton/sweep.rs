use std::time::Duration;

use async_trait::async_trait;
use futures::TryStreamExt;
use serde_json::Value;
use tokio_util::sync::CancellationToken;
use triton_client::Client;
use triton_client::types::{Image, ListImages, ListMachines, Machine};

use crate::steps::common::sweep_one;
use crate::steps::triton::{BUILD_TAG, CREATED_TAG, now_secs, remove_image, remove_machine};
use crate::{Error, Resource, SweepFilter, SweepReport, Sweeper, unknown_kind};

/// Removes what crashed `triton` builds left: machines whose
/// `imagebake-build` tag (or name) starts with the filter's prefix, and
/// unfinished images whose `imagebake-build` tag does, created longer ago
/// than the filter's age (by their `imagebake-created` tag; a resource
/// without one is only taken when the age is zero). Finished images carry
/// `imagebake-built-by` instead and are never swept; nor are public images.
#[derive(Debug, Clone)]
pub struct TritonSweeper {
    client: Client,
    delete_timeout: Duration,
    poll_cap: Duration,
}

impl TritonSweeper {
    /// A sweeper using `client`, giving each machine 10 minutes to go.
    pub fn new(client: Client) -> Self {
        Self {
            client,
            delete_timeout: Duration::from_secs(600),
            poll_cap: Duration::from_secs(1),
        }
    }

    /// Sets how long each machine may take to be deleted, and the longest
    /// pause between polls.
    pub fn waits(mut self, delete_timeout: Duration, poll_cap: Duration) -> Self {
        self.delete_timeout = delete_timeout;
        self.poll_cap = poll_cap;
        self
    }
}

fn tag_str<'a>(tags: &'a std::collections::BTreeMap<String, Value>, key: &str) -> Option<&'a str> {
    tags.get(key).and_then(Value::as_str)
}

/// Whether a resource with these tags (and name) is old enough and matches.
fn matches(
    filter: &SweepFilter,
    tags: &std::collections::BTreeMap<String, Value>,
    name: Option<&str>,
    now: u64,
) -> bool {
    let by_tag = tag_str(tags, BUILD_TAG).is_some_and(|b| b.starts_with(&filter.prefix));
    let by_name = name.is_some_and(|n| n.starts_with(&filter.prefix));
    if !(by_tag || by_name) {
        return false;
    }
    if filter.older_than.is_zero() {
        return true;
    }
    let created = tags.get(CREATED_TAG).and_then(|v| match v {
        Value::String(s) => s.parse::<u64>().ok(),
        Value::Number(n) => n.as_u64(),
        _ => None,
    });
    created.is_some_and(|c| now.saturating_sub(c) >= filter.older_than.as_secs())
}

#[async_trait]
impl Sweeper for TritonSweeper {
    /// Lists with CloudAPI `ListMachines` (every page) and `ListImages`
    /// (`state=all`), then deletes each match: `DeleteMachine` and a wait
    /// until it is gone, `DeleteImage`.
    async fn sweep(&self, filter: &SweepFilter, cancel: &CancellationToken) -> SweepReport {
        let mut report = SweepReport::default();
        let now = now_secs();
        let machines: Result<Vec<Machine>, _> = self
            .client
            .list_machines_stream(&ListMachines::new(), 1000)
            .try_collect()
            .await;
        match machines {
            Ok(ms) => {
                for m in ms
                    .into_iter()
                    .filter(|m| matches(filter, &m.tags, Some(&m.name), now))
                {
                    if cancel.is_cancelled() {
                        break;
                    }
                    let res = Resource::new("machine", m.id.to_string()).named(m.name.clone());
                    let r = remove_machine(
                        &self.client,
                        &m.id,
                        self.delete_timeout,
                        self.poll_cap,
                        cancel,
                    );
                    report.cleanup.entries.push(sweep_one(filter, res, r).await);
                }
            }
            Err(e) => report
                .list_errors
                .push(Error::provider("listing machines to sweep", e)),
        }
        match self
            .client
            .list_images(&ListImages::new().all_states())
            .await
        {
            Ok(images) => {
                let mine = |i: &Image| !i.public && matches(filter, &i.tags, None, now);
                for i in images.into_iter().filter(mine) {
                    if cancel.is_cancelled() {
                        break;
                    }
                    let res = Resource::new("image", i.id.to_string())
                        .named(format!("{}@{}", i.name, i.version));
                    let r = remove_image(&self.client, &i.id);
                    report.cleanup.entries.push(sweep_one(filter, res, r).await);
                }
            }
            Err(e) => report
                .list_errors
                .push(Error::provider("listing images to sweep", e)),
        }
        report
    }

    /// `machine` (DeleteMachine, wait until gone) and `image` (DeleteImage).
    async fn remove(&self, resource: &Resource, cancel: &CancellationToken) -> Result<(), Error> {
        let bad_id =
            |e: triton_client::Error| Error::Config(format!("{resource}: not a Triton id: {e}"));
        match resource.kind.as_str() {
            "machine" => {
                let id = resource.id.parse().map_err(bad_id)?;
                remove_machine(
                    &self.client,
                    &id,
                    self.delete_timeout,
                    self.poll_cap,
                    cancel,
                )
                .await
            }
            "image" => remove_image(&self.client, &resource.id.parse().map_err(bad_id)?).await,
            _ => Err(unknown_kind(resource)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn matches_by_tag_or_name_and_age() {
        let tags = |b: &str, created: Option<u64>| {
            let mut t = BTreeMap::new();
            t.insert(BUILD_TAG.to_owned(), Value::from(b));
            if let Some(c) = created {
                t.insert(CREATED_TAG.to_owned(), Value::from(c.to_string()));
            }
            t
        };
        let all = SweepFilter::all_builds(Duration::from_secs(3600));
        assert!(matches(
            &all,
            &tags("ib-abcdefghij", Some(1000)),
            None,
            10_000
        ));
        assert!(!matches(
            &all,
            &tags("ib-abcdefghij", Some(9000)),
            None,
            10_000
        ));
        assert!(!matches(&all, &tags("ib-abcdefghij", None), None, 10_000));
        assert!(!matches(&all, &tags("other", Some(1)), None, 10_000));
        assert!(matches(
            &all,
            &tags("other", Some(1)),
            Some("ib-x-img"),
            10_000
        ));
        let zero = SweepFilter::all_builds(Duration::ZERO);
        assert!(matches(&zero, &tags("ib-abcdefghij", None), None, 10_000));
    }
}

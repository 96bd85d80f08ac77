//! The actions: request bodies (strict: unknown fields are refused, as the
//! schemas' `additionalProperties: false` says), rules, and answers.

use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use tokio::time::Instant;

use super::Shared;
use super::error::{OscError, OscResult};
use super::filters::{self, IMAGE_FILTERS, SNAPSHOT_FILTERS, Table, VM_FILTERS, VOLUME_FILTERS};
use super::state::{ACCOUNT_ID, Perms, State};
use requests::{DryOnly, PermsChangeReq, ReadReq};

mod images;
mod requests;
mod snapshots;
mod tags;
mod volumes;

/// Actions the simulator answers.
pub(crate) const ACTIONS: &[&str] = &[
    "ReadVms",
    "ReadAccounts",
    "ReadImages",
    "CreateImage",
    "UpdateImage",
    "DeleteImage",
    "CreateVolume",
    "ReadVolumes",
    "LinkVolume",
    "UnlinkVolume",
    "DeleteVolume",
    "CreateSnapshot",
    "ReadSnapshots",
    "UpdateSnapshot",
    "DeleteSnapshot",
    "CreateTags",
    "DeleteTags",
];

fn parse<T: DeserializeOwned>(body: &Value) -> OscResult<T> {
    serde_json::from_value(body.clone()).map_err(|e| OscError::validation(e.to_string()))
}

fn need<'a, T>(v: &'a Option<T>, name: &str) -> OscResult<&'a T> {
    v.as_ref().ok_or_else(|| OscError::missing(name))
}

/// The state, locked. Actions that copy files take it by value and let it
/// go while they copy, so other requests are answered meanwhile.
pub(crate) type Locked<'a> = tokio::sync::MutexGuard<'a, State>;

/// Runs one action on the state. `fail` comes from a `FailResource` fault.
pub(crate) async fn dispatch(sh: &Shared, action: &str, body: &Value, fail: bool) -> OscResult {
    if body.get("DryRun").and_then(Value::as_bool) == Some(true) {
        return Ok(json!({}));
    }
    let mut st = sh.state.lock().await;
    st.settle(Instant::now());
    match action {
        "ReadVms" => {
            let views = st.vms.values().map(|v| st.vm_view(v)).collect();
            read(body, views, VM_FILTERS, "Vms")
        }
        "ReadAccounts" => {
            parse::<DryOnly>(body)?;
            Ok(json!({"Accounts": [{
                "AccountId": ACCOUNT_ID,
                "CustomerId": "87654321",
                "Email": "builder@example.invalid",
                "CompanyName": "imagebake simulator",
                "OutscaleLoginAllowed": false,
            }]}))
        }
        "ReadImages" => {
            let views = st
                .images
                .values()
                .filter(|i| State::image_visible(i, ACCOUNT_ID))
                .map(|i| st.image_view(i))
                .collect();
            read(body, views, IMAGE_FILTERS, "Images")
        }
        "ReadVolumes" => {
            let views = st.volumes.values().map(|v| st.volume_view(v)).collect();
            read(body, views, VOLUME_FILTERS, "Volumes")
        }
        "ReadSnapshots" => {
            let views = st
                .snapshots
                .values()
                .filter(|s| State::snapshot_visible(s, ACCOUNT_ID))
                .map(|s| st.snapshot_view(s))
                .collect();
            read(body, views, SNAPSHOT_FILTERS, "Snapshots")
        }
        "CreateVolume" => volumes::create_volume(sh, st, parse(body)?, fail).await,
        "LinkVolume" => volumes::link_volume(sh, st, parse(body)?, fail).await,
        "UnlinkVolume" => volumes::unlink_volume(sh, &mut st, parse(body)?).await,
        "DeleteVolume" => volumes::delete_volume(&mut st, parse(body)?).await,
        "CreateSnapshot" => snapshots::create_snapshot(sh, st, parse(body)?, fail).await,
        "UpdateSnapshot" => snapshots::update_snapshot(&mut st, parse(body)?),
        "DeleteSnapshot" => snapshots::delete_snapshot(&mut st, parse(body)?).await,
        "CreateImage" => images::create_image(sh, st, parse(body)?, fail).await,
        "UpdateImage" => images::update_image(&mut st, parse(body)?),
        "DeleteImage" => images::delete_image(&mut st, parse(body)?),
        "CreateTags" => tags::create_tags(&mut st, parse(body)?),
        "DeleteTags" => tags::delete_tags(&mut st, parse(body)?),
        other => Err(OscError::no_such_call(other)),
    }
}

fn read(body: &Value, mut views: Vec<Value>, table: Table, key: &str) -> OscResult {
    let req: ReadReq = parse(body)?;
    views = filters::apply(views, req.filters.as_ref(), table)?;
    let (items, next) = filters::page(views, req.results_per_page, req.next_page_token.as_deref())?;
    let mut out = json!({ key: items });
    if let Some(n) = next {
        out["NextPageToken"] = json!(n);
    }
    Ok(out)
}

fn change_perms(p: &mut Perms, change: PermsChangeReq) {
    if let Some(add) = change.additions {
        for a in add.account_ids.unwrap_or_default() {
            if !p.account_ids.contains(&a) {
                p.account_ids.push(a);
            }
        }
        if add.global_permission == Some(true) {
            p.global = true;
        }
    }
    if let Some(rm) = change.removals {
        let gone = rm.account_ids.unwrap_or_default();
        p.account_ids.retain(|a| !gone.contains(a));
        if rm.global_permission == Some(true) {
            p.global = false;
        }
    }
}

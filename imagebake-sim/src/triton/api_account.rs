//! GetAccount, the account's keys, packages, networks and datacenters.

use axum::http::{StatusCode, header};
use serde_json::{Value, json};

use super::error::{ApiError, ApiResult, Reply};
use super::keys::{self, RegisteredKey};
use super::params::Params;
use super::routes::Context;
use super::seed;
use super::state::{Network, Package, Store};
use super::time::rfc3339;

/// GetAccount: `GET /:login`.
pub(crate) fn get_account(store: &Store) -> ApiResult {
    let a = &store.account;
    let created = rfc3339(a.created);
    Ok(Reply::ok(json!({
        "id": a.id,
        "login": a.login,
        "email": format!("{}@imagebake.invalid", a.login),
        "companyName": "imagebake",
        "firstName": "Image",
        "lastName": "Baker",
        "address": "1 Simulator Way",
        "postalCode": "00000",
        "city": "Localhost",
        "state": "LH",
        "country": "USA",
        "phone": "+1 555 0100",
        "created": created,
        "updated": created,
        "triton_cns_enabled": false,
    })))
}

fn key_json(k: &RegisteredKey) -> Value {
    json!({ "name": k.name, "fingerprint": k.fingerprint, "key": k.line })
}

/// ListKeys: `GET /:login/keys`.
pub(crate) fn list_keys(store: &Store) -> ApiResult {
    Ok(Reply::ok(Value::Array(
        store.account.keys.iter().map(key_json).collect(),
    )))
}

fn find_key<'a>(store: &'a Store, key: &str) -> Result<&'a RegisteredKey, ApiError> {
    store
        .account
        .keys
        .iter()
        .find(|k| k.matches(key))
        .ok_or_else(|| ApiError::not_found(format!("{key} does not exist")))
}

/// GetKey: `GET /:login/keys/:key` (name or MD5 fingerprint).
pub(crate) fn get_key(store: &Store, key: &str) -> ApiResult {
    find_key(store, key).map(|k| Reply::ok(key_json(k)))
}

/// CreateKey: `POST /:login/keys` with `key` (OpenSSH line) and `name`.
pub(crate) fn create_key(store: &mut Store, cx: &Context, params: &Params) -> ApiResult {
    let line = params.required("key")?;
    let name = params.str("name").unwrap_or_default();
    let key = keys::parse_public_key(&name, &line)
        .map_err(|e| ApiError::invalid_argument(format!("key is invalid: {e}")))?;
    if store
        .account
        .keys
        .iter()
        .any(|k| k.fingerprint == key.fingerprint || k.name == key.name)
    {
        return Err(ApiError::invalid_argument(format!(
            "key {} already exists",
            key.name
        )));
    }
    let body = key_json(&key);
    let location = format!("/{}/keys/{}", cx.login, key.name);
    store.account.keys.push(key);
    Ok(Reply::json(StatusCode::CREATED, body).header(header::LOCATION, location))
}

/// DeleteKey: `DELETE /:login/keys/:key`.
pub(crate) fn delete_key(store: &mut Store, key: &str) -> ApiResult {
    let fingerprint = find_key(store, key)?.fingerprint.clone();
    store.account.keys.retain(|k| k.fingerprint != fingerprint);
    Ok(Reply::empty(StatusCode::NO_CONTENT))
}

fn package_json(p: &Package) -> Value {
    json!({
        "id": p.id,
        "name": p.name,
        "memory": p.memory,
        "disk": p.disk,
        "swap": p.swap,
        "lwps": p.lwps,
        "vcpus": p.vcpus,
        "version": p.version,
        "group": p.group,
        "description": p.description,
        "default": p.default,
    })
}

/// `*` wildcards in string filters, as ListPackages allows.
fn wildcard_match(pattern: &str, value: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == value;
    }
    let mut rest = value;
    for (i, part) in parts.iter().enumerate() {
        if i == 0 {
            let Some(r) = rest.strip_prefix(part) else {
                return false;
            };
            rest = r;
        } else if i == parts.len() - 1 {
            return rest.ends_with(part);
        } else if let Some(pos) = rest.find(part) {
            rest = &rest[pos + part.len()..];
        } else {
            return false;
        }
    }
    true
}

/// ListPackages: `GET /:login/packages` with filters name, memory, disk,
/// swap, lwps, vcpus, version, group.
pub(crate) fn list_packages(store: &Store, params: &Params) -> ApiResult {
    let listed = store
        .packages
        .iter()
        .filter(|p| {
            let json = package_json(p);
            [
                "name", "memory", "disk", "swap", "lwps", "vcpus", "version", "group",
            ]
            .iter()
            .all(|f| match params.str(f) {
                None => true,
                Some(want) => {
                    let have = match &json[*f] {
                        Value::String(s) => s.clone(),
                        other => other.to_string(),
                    };
                    wildcard_match(&want, &have)
                }
            })
        })
        .map(package_json)
        .collect();
    Ok(Reply::ok(Value::Array(listed)))
}

/// Finds a package by UUID or name.
pub(crate) fn find_package<'a>(store: &'a Store, id: &str) -> Option<&'a Package> {
    store
        .packages
        .iter()
        .find(|p| p.id.to_string() == id || p.name == id)
}

/// GetPackage: `GET /:login/packages/:id` (UUID or name).
pub(crate) fn get_package(store: &Store, id: &str) -> ApiResult {
    find_package(store, id)
        .map(|p| Reply::ok(package_json(p)))
        .ok_or_else(|| ApiError::not_found(format!("package {id} not found")))
}

fn network_json(n: &Network) -> Value {
    let mut v = json!({
        "id": n.id,
        "name": n.name,
        "public": n.public,
        "fabric": n.fabric,
        "description": n.description,
    });
    if n.fabric && n.id == seed::NET_FABRIC {
        v["vlan_id"] = json!(2);
        v["subnet"] = json!("192.168.128.0/22");
        v["provision_start_ip"] = json!("192.168.128.5");
        v["provision_end_ip"] = json!("192.168.131.250");
        v["gateway"] = json!("192.168.128.1");
        v["resolvers"] = json!(["8.8.8.8", "8.8.4.4"]);
        v["internet_nat"] = json!(true);
    }
    v
}

/// ListNetworks: `GET /:login/networks`.
pub(crate) fn list_networks(store: &Store) -> ApiResult {
    Ok(Reply::ok(Value::Array(
        store.networks.iter().map(network_json).collect(),
    )))
}

/// GetNetwork: `GET /:login/networks/:id`.
pub(crate) fn get_network(store: &Store, id: &str) -> ApiResult {
    store
        .networks
        .iter()
        .find(|n| n.id.to_string() == id)
        .map(|n| Reply::ok(network_json(n)))
        .ok_or_else(|| ApiError::not_found(format!("network {id} not found")))
}

/// ListDatacenters: `GET /:login/datacenters` → `{name: url}` (the one
/// simulated datacenter, at the URL the request was sent to).
pub(crate) fn list_datacenters(cx: &Context) -> ApiResult {
    Ok(Reply::ok(json!({ super::http::DATACENTER: cx.url })))
}

#[cfg(test)]
mod tests {
    use super::wildcard_match;

    #[test]
    fn wildcards() {
        assert!(wildcard_match("g1.*", "g1.small"));
        assert!(wildcard_match("*small", "g1.small"));
        assert!(wildcard_match("g*.s*l", "g1.small"));
        assert!(!wildcard_match("g2.*", "g1.small"));
        assert!(wildcard_match("g1.small", "g1.small"));
    }
}

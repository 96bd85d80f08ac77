//! CloudAPI's route table: method + path (+ `action`) → operation, and the
//! dispatch of each operation to its handler.

use axum::http::Method;

use super::error::{ApiError, ApiResult};
use super::params::Params;
use super::state::Store;
use super::{api_account as account, api_images as images};
use super::{api_machine_meta as meta, api_machines as machines};

/// One CloudAPI operation with its path arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Op {
    GetAccount,
    ListKeys,
    GetKey(String),
    CreateKey,
    DeleteKey(String),
    ListPackages,
    GetPackage(String),
    ListNetworks,
    GetNetwork(String),
    ListImages,
    GetImage(String),
    CreateImageFromMachine,
    UpdateImage(String),
    ExportImage(String),
    DeleteImage(String),
    ListMachines,
    CreateMachine,
    GetMachine(String),
    StopMachine(String),
    StartMachine(String),
    RebootMachine(String),
    DeleteMachine(String),
    ListMachineTags(String),
    AddMachineTags(String),
    ReplaceMachineTags(String),
    GetMachineTag(String, String),
    DeleteMachineTag(String, String),
    DeleteMachineTags(String),
    ListMachineMetadata(String),
    AddMachineMetadata(String),
    GetMachineMetadata(String, String),
    DeleteMachineMetadata(String, String),
    DeleteAllMachineMetadata(String),
    MachineAudit(String),
    RenameMachine(String),
    ListDatacenters,
}

/// Every operation name the simulator serves ([`Op::name`]); faults can be
/// queued for these only.
pub(crate) const OPERATIONS: &[&str] = &[
    "GetAccount",
    "ListKeys",
    "GetKey",
    "CreateKey",
    "DeleteKey",
    "ListPackages",
    "GetPackage",
    "ListNetworks",
    "GetNetwork",
    "ListImages",
    "GetImage",
    "CreateImageFromMachine",
    "UpdateImage",
    "ExportImage",
    "DeleteImage",
    "ListMachines",
    "CreateMachine",
    "GetMachine",
    "StopMachine",
    "StartMachine",
    "RebootMachine",
    "DeleteMachine",
    "ListMachineTags",
    "AddMachineTags",
    "ReplaceMachineTags",
    "GetMachineTag",
    "DeleteMachineTag",
    "DeleteMachineTags",
    "ListMachineMetadata",
    "AddMachineMetadata",
    "GetMachineMetadata",
    "DeleteMachineMetadata",
    "DeleteAllMachineMetadata",
    "MachineAudit",
    "RenameMachine",
    "ListDatacenters",
];

impl Op {
    /// CloudAPI's operation name (the key faults are queued under).
    pub fn name(&self) -> &'static str {
        match self {
            Self::GetAccount => "GetAccount",
            Self::ListKeys => "ListKeys",
            Self::GetKey(_) => "GetKey",
            Self::CreateKey => "CreateKey",
            Self::DeleteKey(_) => "DeleteKey",
            Self::ListPackages => "ListPackages",
            Self::GetPackage(_) => "GetPackage",
            Self::ListNetworks => "ListNetworks",
            Self::GetNetwork(_) => "GetNetwork",
            Self::ListImages => "ListImages",
            Self::GetImage(_) => "GetImage",
            Self::CreateImageFromMachine => "CreateImageFromMachine",
            Self::UpdateImage(_) => "UpdateImage",
            Self::ExportImage(_) => "ExportImage",
            Self::DeleteImage(_) => "DeleteImage",
            Self::ListMachines => "ListMachines",
            Self::CreateMachine => "CreateMachine",
            Self::GetMachine(_) => "GetMachine",
            Self::StopMachine(_) => "StopMachine",
            Self::StartMachine(_) => "StartMachine",
            Self::RebootMachine(_) => "RebootMachine",
            Self::DeleteMachine(_) => "DeleteMachine",
            Self::ListMachineTags(_) => "ListMachineTags",
            Self::AddMachineTags(_) => "AddMachineTags",
            Self::ReplaceMachineTags(_) => "ReplaceMachineTags",
            Self::GetMachineTag(..) => "GetMachineTag",
            Self::DeleteMachineTag(..) => "DeleteMachineTag",
            Self::DeleteMachineTags(_) => "DeleteMachineTags",
            Self::ListMachineMetadata(_) => "ListMachineMetadata",
            Self::AddMachineMetadata(_) => "AddMachineMetadata",
            Self::GetMachineMetadata(..) => "GetMachineMetadata",
            Self::DeleteMachineMetadata(..) => "DeleteMachineMetadata",
            Self::DeleteAllMachineMetadata(_) => "DeleteAllMachineMetadata",
            Self::MachineAudit(_) => "MachineAudit",
            Self::RenameMachine(_) => "RenameMachine",
            Self::ListDatacenters => "ListDatacenters",
        }
    }

    /// Resolves a request under `/:login` (`rest` = the segments after the
    /// login, percent-decoded).
    pub fn resolve(method: &Method, rest: &[String], params: &Params) -> Result<Op, ApiError> {
        let action = params.str("action");
        let seg: Vec<&str> = rest.iter().map(String::as_str).collect();
        let m = method.as_str();
        let op = match (seg.as_slice(), m) {
            ([], "GET" | "HEAD") => Op::GetAccount,
            (["keys"], "GET" | "HEAD") => Op::ListKeys,
            (["keys"], "POST") => Op::CreateKey,
            (["keys", k], "GET" | "HEAD") => Op::GetKey((*k).to_owned()),
            (["keys", k], "DELETE") => Op::DeleteKey((*k).to_owned()),
            (["packages"], "GET" | "HEAD") => Op::ListPackages,
            (["packages", p], "GET" | "HEAD") => Op::GetPackage((*p).to_owned()),
            (["networks"], "GET" | "HEAD") => Op::ListNetworks,
            (["networks", n], "GET" | "HEAD") => Op::GetNetwork((*n).to_owned()),
            (["images"], "GET" | "HEAD") => Op::ListImages,
            (["images"], "POST") => match action.as_deref() {
                None | Some("") => Op::CreateImageFromMachine,
                Some(other) => return Err(unsupported_action(other)),
            },
            (["images", id], "GET" | "HEAD") => Op::GetImage((*id).to_owned()),
            (["images", id], "DELETE") => Op::DeleteImage((*id).to_owned()),
            (["images", id], "POST") => match action.as_deref() {
                Some("update") => Op::UpdateImage((*id).to_owned()),
                Some("export") => Op::ExportImage((*id).to_owned()),
                None | Some("") => return Err(ApiError::missing("action")),
                Some(other) => return Err(unsupported_action(other)),
            },
            (["machines"], "GET" | "HEAD") => Op::ListMachines,
            (["machines"], "POST") => Op::CreateMachine,
            (["machines", id], "GET" | "HEAD") => Op::GetMachine((*id).to_owned()),
            (["machines", id], "DELETE") => Op::DeleteMachine((*id).to_owned()),
            (["machines", id], "POST") => match action.as_deref() {
                Some("stop") => Op::StopMachine((*id).to_owned()),
                Some("start") => Op::StartMachine((*id).to_owned()),
                Some("reboot") => Op::RebootMachine((*id).to_owned()),
                Some("rename") => Op::RenameMachine((*id).to_owned()),
                None | Some("") => return Err(ApiError::missing("action")),
                Some(other) => return Err(unsupported_action(other)),
            },
            (["machines", id, "tags"], "GET" | "HEAD") => Op::ListMachineTags((*id).to_owned()),
            (["machines", id, "tags"], "POST") => Op::AddMachineTags((*id).to_owned()),
            (["machines", id, "tags"], "PUT") => Op::ReplaceMachineTags((*id).to_owned()),
            (["machines", id, "tags"], "DELETE") => Op::DeleteMachineTags((*id).to_owned()),
            (["machines", id, "tags", t], "GET" | "HEAD") => {
                Op::GetMachineTag((*id).to_owned(), (*t).to_owned())
            }
            (["machines", id, "tags", t], "DELETE") => {
                Op::DeleteMachineTag((*id).to_owned(), (*t).to_owned())
            }
            (["machines", id, "metadata"], "GET" | "HEAD") => {
                Op::ListMachineMetadata((*id).to_owned())
            }
            (["machines", id, "metadata"], "POST") => Op::AddMachineMetadata((*id).to_owned()),
            (["machines", id, "metadata"], "DELETE") => {
                Op::DeleteAllMachineMetadata((*id).to_owned())
            }
            (["machines", id, "metadata", k], "GET" | "HEAD") => {
                Op::GetMachineMetadata((*id).to_owned(), (*k).to_owned())
            }
            (["machines", id, "metadata", k], "DELETE") => {
                Op::DeleteMachineMetadata((*id).to_owned(), (*k).to_owned())
            }
            (["machines", id, "audit"], "GET" | "HEAD") => Op::MachineAudit((*id).to_owned()),
            (["datacenters"], "GET" | "HEAD") => Op::ListDatacenters,
            _ => {
                return Err(ApiError::new(
                    405,
                    "BadMethod",
                    format!("{m} is not allowed"),
                ));
            }
        };
        Ok(op)
    }

    /// Runs the operation against the store.
    pub fn execute(&self, cx: &Context, params: &Params, store: &mut Store) -> ApiResult {
        match self {
            Op::GetAccount => account::get_account(store),
            Op::ListKeys => account::list_keys(store),
            Op::GetKey(k) => account::get_key(store, k),
            Op::CreateKey => account::create_key(store, cx, params),
            Op::DeleteKey(k) => account::delete_key(store, k),
            Op::ListPackages => account::list_packages(store, params),
            Op::GetPackage(p) => account::get_package(store, p),
            Op::ListNetworks => account::list_networks(store),
            Op::GetNetwork(n) => account::get_network(store, n),
            Op::ListImages => images::list(store, params),
            Op::GetImage(id) => images::get(store, id),
            Op::CreateImageFromMachine => images::create_from_machine(store, cx, params),
            Op::UpdateImage(id) => images::update(store, id, params),
            Op::ExportImage(id) => images::export(store, cx, id, params),
            Op::DeleteImage(id) => images::delete(store, id),
            Op::ListMachines => machines::list(store, params),
            Op::CreateMachine => machines::create(store, cx, params),
            Op::GetMachine(id) => machines::get(store, id),
            Op::StopMachine(id) => machines::stop(store, cx, id, params),
            Op::StartMachine(id) => machines::start(store, cx, id, params),
            Op::RebootMachine(id) => machines::reboot(store, cx, id, params),
            Op::DeleteMachine(id) => machines::delete(store, cx, id, params),
            Op::ListMachineTags(id) => meta::list_tags(store, id),
            Op::AddMachineTags(id) => meta::add_tags(store, id, params, false),
            Op::ReplaceMachineTags(id) => meta::add_tags(store, id, params, true),
            Op::GetMachineTag(id, t) => meta::get_tag(store, cx, id, t),
            Op::DeleteMachineTag(id, t) => meta::delete_tag(store, id, Some(t)),
            Op::DeleteMachineTags(id) => meta::delete_tag(store, id, None),
            Op::ListMachineMetadata(id) => meta::list_metadata(store, id),
            Op::AddMachineMetadata(id) => meta::add_metadata(store, id, params),
            Op::GetMachineMetadata(id, k) => meta::get_metadata(store, cx, id, k),
            Op::DeleteMachineMetadata(id, k) => meta::delete_metadata(store, id, Some(k)),
            Op::DeleteAllMachineMetadata(id) => meta::delete_metadata(store, id, None),
            Op::MachineAudit(id) => machines::audit(store, id),
            Op::RenameMachine(id) => machines::rename(store, cx, id, params),
            Op::ListDatacenters => account::list_datacenters(cx),
        }
    }
}

/// What a handler knows about the request besides its parameters.
#[derive(Debug, Clone)]
pub(crate) struct Context {
    /// The real account login (also when the path used `my`).
    pub login: String,
    /// The request's `Accept` header.
    pub accept: Option<String>,
    /// `Fault::FailResource` was injected: the resource this request starts
    /// ends `failed`.
    pub fail_resource: bool,
    /// MachineAudit's `caller` for actions this request starts
    /// (`{type: "signature", ip, keyId}`).
    pub caller: serde_json::Value,
    /// The datacenter's own URL (ListDatacenters), from the `Host` header.
    pub url: String,
    /// The Manta ExportImage writes into.
    pub manta: Option<std::sync::Arc<crate::manta::MantaShared>>,
}

impl Context {
    /// True when the client asked for `text/plain` (GetMachineTag and
    /// GetMachineMetadata then answer the bare value).
    pub fn wants_text(&self) -> bool {
        self.accept
            .as_deref()
            .is_some_and(|a| a.contains("text/plain") && !a.contains("application/json"))
    }
}

fn unsupported_action(action: &str) -> ApiError {
    ApiError::invalid_argument(format!("{action} is not a supported action"))
}

/// restify's routing, which runs before authentication: a path no route
/// has is 404 `ResourceNotFound` "PATH does not exist", a method the path
/// does not take is 405 `BadMethod`. `rest` = the segments after the login.
pub(crate) fn check_route(path: &str, rest: &[String], method: &Method) -> Result<(), ApiError> {
    let seg: Vec<&str> = rest.iter().map(String::as_str).collect();
    const READ: &[&str] = &["GET", "HEAD"];
    const READ_POST: &[&str] = &["GET", "HEAD", "POST"];
    const READ_DELETE: &[&str] = &["GET", "HEAD", "DELETE"];
    const READ_POST_DELETE: &[&str] = &["GET", "HEAD", "POST", "DELETE"];
    let allowed: &[&str] = match seg.as_slice() {
        [] | ["packages" | "networks" | "datacenters"] => READ,
        ["packages" | "networks", _] | ["machines", _, "audit"] => READ,
        ["keys" | "images" | "machines"] => READ_POST,
        ["keys", _] | ["machines", _, "tags" | "metadata", _] => READ_DELETE,
        ["images" | "machines", _] | ["machines", _, "metadata"] => READ_POST_DELETE,
        ["machines", _, "tags"] => &["GET", "HEAD", "POST", "PUT", "DELETE"],
        _ => return Err(ApiError::not_found(format!("{path} does not exist"))),
    };
    if allowed.contains(&method.as_str()) {
        Ok(())
    } else {
        Err(ApiError::new(
            405,
            "BadMethod",
            format!("{method} is not allowed"),
        ))
    }
}

/// Splits a path into percent-decoded segments (empty ones dropped).
pub(crate) fn segments(path: &str) -> Vec<String> {
    path.split('/')
        .filter(|s| !s.is_empty())
        .map(percent_decode)
        .collect()
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2]))
        {
            out.push(u8::try_from(h * 16 + l).unwrap_or(b'?'));
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_resolve_with_actions() {
        let p = |q: &str| Params::merge(Some(q), None, b"").expect("params");
        let seg = |s: &str| segments(s);
        assert_eq!(
            Op::resolve(&Method::POST, &seg("machines/abc"), &p("action=stop")).expect("stop"),
            Op::StopMachine("abc".into())
        );
        assert_eq!(
            Op::resolve(&Method::POST, &seg("images/i"), &p("action=export")).expect("export"),
            Op::ExportImage("i".into())
        );
        assert_eq!(
            Op::resolve(&Method::GET, &seg("machines/m/tags/a%20b"), &p("")).expect("tag"),
            Op::GetMachineTag("m".into(), "a b".into())
        );
        assert_eq!(
            Op::resolve(
                &Method::POST,
                &seg("machines/m"),
                &p("action=rename&name=x")
            )
            .expect("rename"),
            Op::RenameMachine("m".into())
        );
        assert!(Op::resolve(&Method::PUT, &seg("machines"), &p("")).is_err());
        let route = |m: Method, s: &str| check_route(&format!("/l/{s}"), &seg(s), &m);
        assert!(route(Method::GET, "machines/m/audit").is_ok());
        assert!(route(Method::PUT, "machines/m/tags").is_ok());
        assert!(matches!(
            route(Method::GET, "nothing/here"),
            Err(ApiError::Error { code: "ResourceNotFound", ref message, .. })
                if message == "/l/nothing/here does not exist"
        ));
        assert!(matches!(
            route(Method::PUT, "machines"),
            Err(ApiError::Error {
                code: "BadMethod",
                ..
            })
        ));
        assert_eq!(percent_decode("50%"), "50%");
    }

    #[test]
    fn every_route_resolves_to_a_listed_operation_and_every_listed_one_is_served() {
        let p = |q: &str| Params::merge(Some(q), None, b"").expect("params");
        let requests: &[(Method, &str, &str)] = &[
            (Method::GET, "", ""),
            (Method::GET, "keys", ""),
            (Method::POST, "keys", ""),
            (Method::GET, "keys/k", ""),
            (Method::DELETE, "keys/k", ""),
            (Method::GET, "packages", ""),
            (Method::GET, "packages/p", ""),
            (Method::GET, "networks", ""),
            (Method::GET, "networks/n", ""),
            (Method::GET, "images", ""),
            (Method::POST, "images", ""),
            (Method::GET, "images/i", ""),
            (Method::POST, "images/i", "action=update"),
            (Method::POST, "images/i", "action=export"),
            (Method::DELETE, "images/i", ""),
            (Method::GET, "machines", ""),
            (Method::POST, "machines", ""),
            (Method::GET, "machines/m", ""),
            (Method::POST, "machines/m", "action=stop"),
            (Method::POST, "machines/m", "action=start"),
            (Method::POST, "machines/m", "action=reboot"),
            (Method::POST, "machines/m", "action=rename"),
            (Method::DELETE, "machines/m", ""),
            (Method::GET, "machines/m/tags", ""),
            (Method::POST, "machines/m/tags", ""),
            (Method::PUT, "machines/m/tags", ""),
            (Method::DELETE, "machines/m/tags", ""),
            (Method::GET, "machines/m/tags/t", ""),
            (Method::DELETE, "machines/m/tags/t", ""),
            (Method::GET, "machines/m/metadata", ""),
            (Method::POST, "machines/m/metadata", ""),
            (Method::DELETE, "machines/m/metadata", ""),
            (Method::GET, "machines/m/metadata/k", ""),
            (Method::DELETE, "machines/m/metadata/k", ""),
            (Method::GET, "machines/m/audit", ""),
            (Method::GET, "datacenters", ""),
        ];
        let mut served = std::collections::BTreeSet::new();
        for (method, path, query) in requests {
            let seg = segments(path);
            check_route(path, &seg, method).expect(path);
            let op = Op::resolve(method, &seg, &p(query)).expect(path);
            assert!(OPERATIONS.contains(&op.name()), "{} not listed", op.name());
            served.insert(op.name());
        }
        let listed: std::collections::BTreeSet<_> = OPERATIONS.iter().copied().collect();
        assert_eq!(served, listed);
    }
}

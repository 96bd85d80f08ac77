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
}

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
            _ => return Err(no_route(&seg, m)),
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
            Op::StopMachine(id) => machines::stop(store, id),
            Op::StartMachine(id) => machines::start(store, id),
            Op::RebootMachine(id) => machines::reboot(store, id),
            Op::DeleteMachine(id) => machines::delete(store, id),
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

fn no_route(seg: &[&str], method: &str) -> ApiError {
    let known = matches!(
        seg,
        [] | ["keys" | "packages" | "networks" | "images" | "machines"]
            | ["keys" | "packages" | "networks" | "images" | "machines", _]
            | ["machines", _, "tags" | "metadata"]
            | ["machines", _, "tags" | "metadata", _]
    );
    if known {
        ApiError::new(405, "BadMethod", format!("{method} is not allowed"))
    } else {
        ApiError::not_found(format!("/{} does not exist", seg.join("/")))
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
        assert!(Op::resolve(&Method::PUT, &seg("machines"), &p("")).is_err());
        assert!(Op::resolve(&Method::GET, &seg("nothing/here"), &p("")).is_err());
        assert_eq!(percent_decode("50%"), "50%");
    }
}

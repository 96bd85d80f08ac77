//! What the builds of a bake may leave behind if the process ended now (a
//! second Ctrl-C), and the `imagebake sweep` command that removes it.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use crate::{BuildId, Event, Resource, StepOutcome, UndoOutcome, UndoWhen};

/// The `--cloud` of `imagebake sweep` for a builder type; `None` for a
/// builder that makes nothing in a cloud (`local-chroot`).
pub(crate) fn cloud_of(builder_type: &str) -> Option<&'static str> {
    match builder_type {
        "triton" => Some("triton"),
        t if t.starts_with("oxide") => Some("oxide"),
        t if t.starts_with("osc") || t.starts_with("outscale") => Some("osc"),
        _ => None,
    }
}

/// What one build may leave behind.
#[derive(Debug, Default)]
struct Ledger {
    cloud: Option<&'static str>,
    build_id: Option<BuildId>,
    resources: Vec<(Resource, UndoWhen)>,
}

/// What each build of a bake may leave behind if the process ended now:
/// every resource whose undo is registered (or whose create is in flight)
/// and has not yet run, from the builds' events. Cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct Leftovers {
    builds: Arc<Mutex<BTreeMap<String, Ledger>>>,
}

impl Leftovers {
    /// Records `event` of build `name` (made by a builder of `cloud`).
    pub fn record(&self, name: &str, cloud: Option<&'static str>, event: &Event) {
        let mut builds = self.builds.lock().unwrap_or_else(|e| e.into_inner());
        let ledger = builds.entry(name.to_owned()).or_default();
        ledger.cloud = cloud;
        let mut forget = |r: &Resource| {
            if let Some(at) = ledger.resources.iter().position(|(x, _)| x == r) {
                ledger.resources.remove(at);
            }
        };
        match event {
            Event::BuildStarted { build_id, .. } => ledger.build_id = Some(build_id.clone()),
            Event::UndoRegistered { resource, when } => {
                ledger.resources.push((resource.clone(), *when));
            }
            Event::UndoDismissed { resource } => forget(resource),
            Event::UndoFinished {
                resource,
                outcome: UndoOutcome::Removed | UndoOutcome::NotMade,
            } => forget(resource),
            // A successful build keeps its result (undos run on failure only).
            Event::BuildFinished {
                outcome: StepOutcome::Ok,
                ..
            } => ledger.resources.retain(|(_, w)| *w != UndoWhen::OnFailure),
            _ => {}
        }
    }

    /// One line per build that may leave something: the resources and the
    /// command that removes them.
    pub fn lines(&self) -> Vec<String> {
        let builds = self.builds.lock().unwrap_or_else(|e| e.into_inner());
        builds
            .iter()
            .filter(|(_, l)| !l.resources.is_empty())
            .map(|(name, l)| {
                let what: Vec<String> = l.resources.iter().map(|(r, _)| r.to_string()).collect();
                let build = l
                    .build_id
                    .as_ref()
                    .map_or_else(String::new, |id| format!(" (build {id})"));
                let sweep = match l.cloud {
                    Some(cloud) => format!("; remove them with: imagebake sweep --cloud {cloud}"),
                    None => String::new(),
                };
                format!("{name}{build} may leave: {}{sweep}", what.join(", "))
            })
            .collect()
    }
}

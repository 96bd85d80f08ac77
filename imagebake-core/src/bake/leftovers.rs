//! What the builds of a bake may leave behind if the process ended now (a
//! second Ctrl-C) or after `-on-error=abort`, and the command that removes
//! it: `imagebake cleanup <build id>` for a journaled build (its journal
//! knows every resource), `imagebake sweep` only for a build without one.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use crate::journal::Journaling;
use crate::{BuildId, Event, Resource, StepOutcome, UndoOutcome, UndoWhen, shell_quote};

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
    /// `Some` when the build keeps a journal on disk: the template it
    /// records, if any.
    journal: Option<Option<PathBuf>>,
    build_id: Option<BuildId>,
    resources: Vec<(Resource, UndoWhen)>,
}

impl Ledger {
    /// The command that removes what this build left.
    fn remedy(&self, id: &str) -> String {
        match (&self.journal, self.cloud) {
            (Some(Some(template)), Some(_)) => format!(
                "remove them with: imagebake cleanup {id} --template {}",
                shell_quote(&template.to_string_lossy())
            ),
            (Some(_), _) => format!("remove them with: imagebake cleanup {id}"),
            (None, Some(cloud)) => format!(
                "this build has no journal, so remove them with: imagebake sweep --cloud {cloud} --build {id} --older-than 0s"
            ),
            (None, None) => "this build has no journal: remove them by hand".to_owned(),
        }
    }
}

/// What each build of a bake may leave behind if the process ended now:
/// every resource whose undo is registered (or whose create is in flight)
/// and has not yet run, from the builds' events. Cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct Leftovers {
    builds: Arc<Mutex<BTreeMap<String, Ledger>>>,
}

impl Leftovers {
    /// Records `event` of build `name` (made by a builder of `cloud`, with
    /// its journal on disk in `journal`, if any).
    pub fn record(
        &self,
        name: &str,
        cloud: Option<&'static str>,
        journal: Option<&Journaling>,
        event: &Event,
    ) {
        let mut builds = self.builds.lock().unwrap_or_else(|e| e.into_inner());
        let ledger = builds.entry(name.to_owned()).or_default();
        ledger.cloud = cloud;
        ledger.journal = journal.map(|j| j.template_path().map(PathBuf::from));
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
                let id = l.build_id.as_ref().map(BuildId::as_str);
                let build = id.map_or_else(String::new, |id| format!(" (build {id})"));
                let remedy = l.remedy(id.unwrap_or("<build id>"));
                format!("{name}{build} may leave: {}; {remedy}", what.join(", "))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A build `web` of `cloud` that made a machine, recorded with `journal`.
    fn one_machine(cloud: Option<&'static str>, journal: Option<&Journaling>) -> Vec<String> {
        let left = Leftovers::default();
        let id: BuildId = "ib-0123456789".parse().unwrap();
        let events = [
            Event::BuildStarted {
                build_id: id,
                name: "web".into(),
            },
            Event::UndoRegistered {
                resource: Resource::new("machine", "m-1"),
                when: UndoWhen::Always,
            },
        ];
        for e in &events {
            left.record("web", cloud, journal, e);
        }
        left.lines()
    }

    #[test]
    fn a_journaled_build_is_removed_by_imagebake_cleanup() {
        let j = Journaling::in_dir("/state/builds");
        assert_eq!(
            one_machine(Some("triton"), Some(&j)),
            [
                "web (build ib-0123456789) may leave: machine m-1; remove them with: imagebake cleanup ib-0123456789"
            ]
        );
        let j = j.template("/work/my templates/t.pkr.hcl");
        assert_eq!(
            one_machine(Some("oxide"), Some(&j)),
            [
                "web (build ib-0123456789) may leave: machine m-1; remove them with: imagebake cleanup ib-0123456789 --template '/work/my templates/t.pkr.hcl'"
            ]
        );
        // Local resources need no credentials: no template.
        assert_eq!(
            one_machine(None, Some(&j)),
            [
                "web (build ib-0123456789) may leave: machine m-1; remove them with: imagebake cleanup ib-0123456789"
            ]
        );
    }

    #[test]
    fn without_a_journal_the_sweep_is_named_and_why() {
        assert_eq!(
            one_machine(Some("osc"), None),
            [
                "web (build ib-0123456789) may leave: machine m-1; this build has no journal, so remove them with: imagebake sweep --cloud osc --build ib-0123456789 --older-than 0s"
            ]
        );
        assert_eq!(
            one_machine(None, None),
            [
                "web (build ib-0123456789) may leave: machine m-1; this build has no journal: remove them by hand"
            ]
        );
    }
}

//! Operations, one file per resource, each an `impl Client` block whose
//! methods are named after the API's operation ids.

mod disks;
mod external_ips;
mod images;
mod instances;
mod ip_pools;
mod projects;
mod serial_console;
mod snapshots;
mod ssh_keys;

use crate::error::{Error, Result};
use crate::types::NameOrId;

/// Whether a name without a project means something (images: a silo image)
/// or is an error (every project-scoped resource).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum NameScope {
    /// A name needs a project.
    Project,
    /// A name without a project is a silo-level lookup.
    ProjectOrSilo,
}

/// Applies the lookup rule: a resource given by ID is sent without `project`;
/// one given by name is sent with it. Also checks the names involved.
/// Returns the `project` query value to send, if any.
pub(crate) fn lookup_project(
    operation: &'static str,
    field: &'static str,
    resource: &NameOrId,
    project: Option<&NameOrId>,
    scope: NameScope,
) -> Result<Option<String>> {
    resource.validate(field)?;
    match (resource, project) {
        (NameOrId::Id(_), _) => Ok(None),
        (NameOrId::Name(_), Some(p)) => {
            p.validate("project")?;
            Ok(Some(p.to_string()))
        }
        (NameOrId::Name(_), None) if scope == NameScope::ProjectOrSilo => Ok(None),
        (NameOrId::Name(n), None) => Err(Error::InvalidRequest {
            operation,
            reason: format!("{field} {n:?} is given by name, so a project is needed"),
        }),
    }
}

/// Checks a required project selector and returns its query value.
pub(crate) fn project_query(project: &NameOrId) -> Result<String> {
    project.validate("project")?;
    Ok(project.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    #[test]
    fn ids_drop_the_project_and_names_keep_it() {
        let p = NameOrId::from("imagebake");
        let id = NameOrId::Id(Uuid::nil());
        assert_eq!(
            lookup_project("op", "instance", &id, Some(&p), NameScope::Project).unwrap(),
            None
        );
        let by_name = NameOrId::from("web");
        assert_eq!(
            lookup_project("op", "instance", &by_name, Some(&p), NameScope::Project).unwrap(),
            Some("imagebake".into())
        );
        assert!(lookup_project("op", "instance", &by_name, None, NameScope::Project).is_err());
        assert_eq!(
            lookup_project("op", "image", &by_name, None, NameScope::ProjectOrSilo).unwrap(),
            None
        );
        let bad = NameOrId::from("Bad_Name");
        let e = lookup_project("op", "instance", &bad, Some(&p), NameScope::Project).unwrap_err();
        assert!(
            matches!(
                e,
                Error::InvalidName {
                    field: "instance",
                    ..
                }
            ),
            "{e}"
        );
    }
}

use std::fmt;

use serde::Serialize;

use super::UndoWhen;
use crate::Error;

/// A cloud resource a build created: what kind, its id and (optionally) its
/// name. Reports and events name resources this way so that anything left
/// behind can be found by id.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct Resource {
    /// The kind ("machine", "image", "ssh key", "snapshot").
    pub kind: String,
    /// The cloud's id for it.
    pub id: String,
    /// Its name, when it has one.
    pub name: Option<String>,
}

impl Resource {
    /// A resource of this kind with this id.
    pub fn new(kind: impl Into<String>, id: impl Into<String>) -> Self {
        Self {
            kind: kind.into(),
            id: id.into(),
            name: None,
        }
    }

    /// A resource whose create is in flight: its id is not known yet.
    pub fn being_created(kind: impl Into<String>) -> Self {
        Self::new(kind, "")
    }

    /// Whether its id is known (not a create in flight).
    pub fn has_id(&self) -> bool {
        !self.id.is_empty()
    }

    /// Sets its name.
    pub fn named(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }
}

impl fmt::Display for Resource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.has_id() {
            write!(f, "{} {}", self.kind, self.id)?;
        } else {
            write!(f, "{} <create in flight, id unknown>", self.kind)?;
        }
        if let Some(n) = &self.name {
            write!(f, " ({n})")?;
        }
        Ok(())
    }
}

/// What cleanup did with one resource.
#[derive(Debug)]
#[non_exhaustive]
pub enum CleanupOutcome {
    /// The undo succeeded: the resource is gone.
    Removed,
    /// The resource was not there any more (removed before, or never
    /// finished): nothing to do.
    AlreadyGone,
    /// A resource whose create was never answered, found (by the build's
    /// tag or its unique name) and removed.
    Adopted,
    /// The undo failed (or timed out, [`Error::Timeout`]): the resource may
    /// still exist.
    Failed(Error),
    /// Left in place on purpose (`OnError::Keep`).
    Kept,
}

/// One resource in a [`CleanupReport`].
#[derive(Debug)]
pub struct CleanupEntry {
    /// The resource.
    pub resource: Resource,
    /// When its undo was meant to run.
    pub when: UndoWhen,
    /// What happened.
    pub outcome: CleanupOutcome,
}

impl CleanupEntry {
    /// Whether the resource may still exist.
    pub fn is_left(&self) -> bool {
        !matches!(
            self.outcome,
            CleanupOutcome::Removed | CleanupOutcome::AlreadyGone | CleanupOutcome::Adopted
        )
    }
}

/// What the cleanup at the end of a build did, in the order the undos ran
/// (the reverse of creation).
#[derive(Debug, Default)]
pub struct CleanupReport {
    /// One entry per undo that was due.
    pub entries: Vec<CleanupEntry>,
}

impl CleanupReport {
    /// The resources that are gone (removed, adopted and removed, or
    /// already gone).
    pub fn removed(&self) -> impl Iterator<Item = &Resource> {
        self.entries
            .iter()
            .filter(|e| !e.is_left())
            .map(|e| &e.resource)
    }

    /// The entries whose resource may still exist (failed, timed out, kept).
    pub fn left(&self) -> impl Iterator<Item = &CleanupEntry> {
        self.entries.iter().filter(|e| e.is_left())
    }

    /// Whether nothing was left behind.
    pub fn is_clean(&self) -> bool {
        self.left().next().is_none()
    }
}

impl fmt::Display for CleanupReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.entries.is_empty() {
            return f.write_str("nothing to clean up");
        }
        let removed = self.removed().count();
        let left = self.entries.len() - removed;
        write!(f, "{removed} removed, {left} left")?;
        for e in &self.entries {
            match &e.outcome {
                CleanupOutcome::Removed => write!(f, "\n  removed {}", e.resource)?,
                CleanupOutcome::AlreadyGone => write!(f, "\n  already gone {}", e.resource)?,
                CleanupOutcome::Adopted => {
                    write!(f, "\n  adopted and removed {}", e.resource)?;
                }
                CleanupOutcome::Kept => write!(f, "\n  kept {}", e.resource)?,
                CleanupOutcome::Failed(err) => {
                    write!(f, "\n  NOT removed {}: {}", e.resource, crate::chain(err))?;
                }
            }
        }
        Ok(())
    }
}

//! The neutral plan a template evaluates to: variables, and per build the
//! builder type with its configuration, provisioners and post-processor
//! chains. The command, the examples and the Python package all run builds
//! from a [`Plan`]; nothing in it depends on the template's syntax.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::time::Duration;

use serde_json::Value;

use super::error::{Location, TemplateError};

/// The syntax a template was written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TemplateKind {
    /// HCL2 (`.pkr.hcl`, `.pkr.json`, a directory).
    Hcl2,
    /// Packer's legacy JSON (`.json`).
    Json,
}

/// An evaluated template.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// HCL2 or legacy JSON: decides how `-only`/`-except` match.
    pub kind: TemplateKind,
    /// The input variables with their final values, sorted by name.
    pub variables: Vec<PlannedVariable>,
    /// The HCL2 locals with their values, sorted by name (`description` is
    /// always `None`).
    pub locals: Vec<PlannedVariable>,
    /// The builds, in the order Packer runs them.
    pub builds: Vec<PlannedBuild>,
    /// Every string that comes from a sensitive variable or local: mask
    /// them in anything shown to a person.
    pub sensitive: Sensitive,
    /// Things worth telling the user that are not errors (an ignored
    /// `packer` block, an undeclared variable in a var-file...).
    pub warnings: Vec<String>,
}

/// One input variable.
#[derive(Clone, PartialEq)]
pub struct PlannedVariable {
    /// Its name (`var.NAME`, `{{user `NAME`}}`).
    pub name: String,
    /// Its final value.
    pub value: Value,
    /// Whether it was declared `sensitive` (HCL2) or listed in
    /// `sensitive-variables` (JSON).
    pub sensitive: bool,
    /// Its `description`.
    pub description: Option<String>,
}

impl fmt::Debug for PlannedVariable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let value: &dyn fmt::Debug = if self.sensitive {
            &"<sensitive>"
        } else {
            &self.value
        };
        f.debug_struct("PlannedVariable")
            .field("name", &self.name)
            .field("value", value)
            .field("sensitive", &self.sensitive)
            .field("description", &self.description)
            .finish()
    }
}

/// One build: a source (HCL2) or builder (JSON) with what runs after it.
#[derive(Clone, PartialEq)]
pub struct PlannedBuild {
    /// The build's full name, used by `-only`/`-except`, the UI prefix and
    /// the machine-readable target: `[BUILD.]TYPE.NAME` in HCL2, the
    /// builder's `name` (else its `type`) in JSON.
    pub name: String,
    /// Packer's `packer_build_name` (`PACKER_BUILD_NAME`, the manifest's
    /// `name`, `{{build_name}}`): the source's label in HCL2 (before any
    /// rename), the builder's name in JSON.
    pub packer_build_name: String,
    /// The name of the HCL2 `build` block, if it has one.
    pub build_block: Option<String>,
    /// The `description` of the HCL2 `build` block (or the JSON template).
    pub description: Option<String>,
    /// The builder type (`triton`, `oxide-instance`, `osc-chroot`...).
    pub builder_type: String,
    /// The builder's keys, every expression evaluated; `null` values (HCL2's
    /// "unset") are left out; Go-template text such as `{{.Device}}` is
    /// passed through untouched. An object.
    pub config: Value,
    /// Where each top-level key of `config` was written (for errors a
    /// builder reports about one key).
    pub key_locations: BTreeMap<String, Location>,
    /// The provisioners that apply to this build (their `only`/`except`
    /// already applied, their `override` for this build merged in), in order.
    pub provisioners: Vec<PlannedProvisioner>,
    /// The `error-cleanup-provisioner`, if any.
    pub error_cleanup_provisioner: Option<PlannedProvisioner>,
    /// The post-processor chains that apply to this build: each chain
    /// starts from the builder's artifact, each element feeds the next.
    pub post_processors: Vec<Vec<PlannedPostProcessor>>,
    /// The template's sensitive strings (the same set as
    /// [`Plan::sensitive`]), so whoever runs this build alone can mask its
    /// output. `Debug` masks with it.
    pub sensitive: Sensitive,
}

impl fmt::Debug for PlannedBuild {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = &self.sensitive;
        let provisioners: Vec<Value> = self.provisioners.iter().map(|p| p.shown(s)).collect();
        let post_processors: Vec<Vec<Value>> = self
            .post_processors
            .iter()
            .map(|c| c.iter().map(|p| p.shown(s)).collect())
            .collect();
        f.debug_struct("PlannedBuild")
            .field("name", &self.name)
            .field("packer_build_name", &self.packer_build_name)
            .field("build_block", &self.build_block)
            .field("description", &self.description)
            .field("builder_type", &self.builder_type)
            .field("config", &s.mask_value(&self.config))
            .field("provisioners", &provisioners)
            .field(
                "error_cleanup_provisioner",
                &self.error_cleanup_provisioner.as_ref().map(|p| p.shown(s)),
            )
            .field("post_processors", &post_processors)
            .finish_non_exhaustive()
    }
}

impl PlannedBuild {
    /// Where `key` of the builder configuration was written, if known (a
    /// nested path like `filter.name` or `tags[0]` is located at its
    /// top-level key).
    pub fn locate(&self, key: &str) -> Option<&Location> {
        let top = key.split(['.', '[']).next().unwrap_or(key);
        self.key_locations.get(top)
    }

    /// A builder's or provisioner's configuration error about this build,
    /// located at the key it names (`` key `NAME` ``, see
    /// [`crate::Error::config_key`]) and masked, as a [`TemplateError`].
    pub fn config_error(&self, e: &crate::Error) -> TemplateError {
        let mut t = TemplateError::new(self.sensitive.mask(&e.to_string()))
            .in_block(format!("build {}", self.name));
        if let Some(loc) = e.config_key().and_then(|k| self.locate(k)) {
            t = t.at(loc.clone());
        }
        t
    }
}

/// One provisioner of a build.
#[derive(Clone, PartialEq)]
pub struct PlannedProvisioner {
    /// Its type (`shell`, `file`, `shell-local`, `breakpoint`).
    pub kind: String,
    /// Its `name`, if given.
    pub name: Option<String>,
    /// Its own keys (the meta keys below left out), evaluated.
    pub config: Value,
    /// `only` as written.
    pub only: Vec<String>,
    /// `except` as written.
    pub except: Vec<String>,
    /// `pause_before`.
    pub pause_before: Option<Duration>,
    /// `max_retries` (0: no retry).
    pub max_retries: u32,
    /// `timeout`.
    pub timeout: Option<Duration>,
    /// `continue_on_error`.
    pub continue_on_error: bool,
    /// Where the provisioner was written.
    pub location: Option<Location>,
}

impl PlannedProvisioner {
    /// Its type, name and masked configuration, for `Debug`.
    fn shown(&self, s: &Sensitive) -> Value {
        serde_json::json!({"type": self.kind, "name": self.name, "config": s.mask_value(&self.config)})
    }
}

/// Shows the keys of the configuration but not its values (they may hold
/// secrets; [`PlannedBuild`]'s `Debug` shows them masked).
impl fmt::Debug for PlannedProvisioner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PlannedProvisioner")
            .field("kind", &self.kind)
            .field("name", &self.name)
            .field("config_keys", &config_keys(&self.config))
            .field("only", &self.only)
            .field("except", &self.except)
            .field("pause_before", &self.pause_before)
            .field("max_retries", &self.max_retries)
            .field("timeout", &self.timeout)
            .field("continue_on_error", &self.continue_on_error)
            .field("location", &self.location)
            .finish()
    }
}

fn config_keys(v: &Value) -> Vec<&str> {
    v.as_object()
        .map(|o| o.keys().map(String::as_str).collect())
        .unwrap_or_default()
}

/// One post-processor of a chain.
#[derive(Clone, PartialEq)]
pub struct PlannedPostProcessor {
    /// Its type (`manifest`, `checksum`, `shell-local`...).
    pub kind: String,
    /// Its `name` (defaults to the type).
    pub name: String,
    /// Its own keys (meta keys left out), evaluated.
    pub config: Value,
    /// `keep_input_artifact`, if set.
    pub keep_input_artifact: Option<bool>,
    /// `only` as written.
    pub only: Vec<String>,
    /// `except` as written.
    pub except: Vec<String>,
    /// Where it was written.
    pub location: Option<Location>,
}

impl PlannedPostProcessor {
    /// Its type, name and masked configuration, for `Debug`.
    fn shown(&self, s: &Sensitive) -> Value {
        serde_json::json!({"type": self.kind, "name": self.name, "config": s.mask_value(&self.config)})
    }
}

/// Shows the keys of the configuration but not its values.
impl fmt::Debug for PlannedPostProcessor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PlannedPostProcessor")
            .field("kind", &self.kind)
            .field("name", &self.name)
            .field("config_keys", &config_keys(&self.config))
            .field("keep_input_artifact", &self.keep_input_artifact)
            .field("only", &self.only)
            .field("except", &self.except)
            .field("location", &self.location)
            .finish()
    }
}

/// The strings to hide: every string inside a sensitive variable's or
/// local's value.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Sensitive {
    values: BTreeSet<String>,
}

/// Shows how many values there are, never the values.
impl fmt::Debug for Sensitive {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Sensitive({} values)", self.values.len())
    }
}

impl Sensitive {
    /// Adds every string (and number) inside `value`.
    pub fn add(&mut self, value: &Value) {
        match value {
            Value::String(s) if !s.is_empty() => {
                self.values.insert(s.clone());
            }
            Value::Number(n) => {
                self.values.insert(n.to_string());
            }
            Value::Array(a) => a.iter().for_each(|v| self.add(v)),
            Value::Object(o) => o.values().for_each(|v| self.add(v)),
            _ => {}
        }
    }

    /// Whether there is nothing to hide.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// `text` with every sensitive string replaced by `<sensitive>` (longest
    /// first, so a secret containing another is hidden whole).
    pub fn mask(&self, text: &str) -> String {
        let mut secrets: Vec<&String> = self.values.iter().collect();
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        let mut out = text.to_owned();
        for s in secrets {
            if out.contains(s.as_str()) {
                out = out.replace(s.as_str(), "<sensitive>");
            }
        }
        out
    }

    /// `value` with every sensitive string inside replaced.
    pub fn mask_value(&self, value: &Value) -> Value {
        match value {
            Value::String(s) => Value::String(self.mask(s)),
            Value::Array(a) => Value::Array(a.iter().map(|v| self.mask_value(v)).collect()),
            Value::Object(o) => Value::Object(
                o.iter()
                    .map(|(k, v)| (k.clone(), self.mask_value(v)))
                    .collect(),
            ),
            Value::Number(n) if self.values.contains(&n.to_string()) => {
                Value::String("<sensitive>".into())
            }
            other => other.clone(),
        }
    }
}

impl Plan {
    /// Keeps the builds that `-only` and `-except` select (each a list of
    /// patterns, as given after splitting on commas), as Packer does:
    /// in HCL2 each pattern is a glob over the whole build name (`*` also
    /// matches `.`); in JSON names match exactly. `-except` also drops each
    /// post-processor whose name matches, with the rest of its chain.
    ///
    /// Patterns that match nothing give a warning listing the build names;
    /// no build left is an error ("No builds to run").
    pub fn select(&mut self, only: &[String], except: &[String]) -> Result<(), TemplateError> {
        let kind = self.kind;
        let matches = |pattern: &str, name: &str| match kind {
            TemplateKind::Hcl2 => glob_match(pattern, name),
            TemplateKind::Json => pattern == name,
        };
        let names: Vec<String> = self.builds.iter().map(|b| b.name.clone()).collect();
        for p in only.iter().chain(except) {
            if !names.iter().any(|n| matches(p, n)) {
                self.warnings.push(format!(
                    "-only/-except pattern {p:?} matches no build (builds: {})",
                    names.join(", ")
                ));
            }
        }
        self.builds.retain(|b| {
            (only.is_empty() || only.iter().any(|p| matches(p, &b.name)))
                && !except.iter().any(|p| matches(p, &b.name))
        });
        if !except.is_empty() {
            for b in &mut self.builds {
                for chain in &mut b.post_processors {
                    if let Some(cut) = chain
                        .iter()
                        .position(|pp| except.iter().any(|p| matches(p, &pp.name)))
                    {
                        chain.truncate(cut);
                    }
                }
                b.post_processors.retain(|c| !c.is_empty());
            }
        }
        if self.builds.is_empty() {
            return Err(TemplateError::new("No builds to run").fix(format!(
                "choose among the builds {} (HCL2 names are `[build.]type.name`; globs like `*.triton.*` work)",
                names.join(", ")
            )));
        }
        Ok(())
    }

    /// The variable `name`.
    pub fn variable(&self, name: &str) -> Option<&PlannedVariable> {
        self.variables.iter().find(|v| v.name == name)
    }

    /// The local `name`.
    pub fn local(&self, name: &str) -> Option<&PlannedVariable> {
        self.locals.iter().find(|v| v.name == name)
    }

    /// The build named `name`.
    pub fn build(&self, name: &str) -> Option<&PlannedBuild> {
        self.builds.iter().find(|b| b.name == name)
    }
}

/// Packer's `-only`/`-except` glob (gobwas/glob without separators): `*`
/// matches any run of characters (dots included), `?` one character,
/// `[abc]`/`[a-z]`/`[!a]` a class, `{a,b}` alternatives, `\` escapes.
pub fn glob_match(pattern: &str, name: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    glob_at(&p, &n)
}

fn glob_at(p: &[char], n: &[char]) -> bool {
    let Some((&c, rest)) = p.split_first() else {
        return n.is_empty();
    };
    match c {
        '*' => (0..=n.len()).any(|i| glob_at(rest, &n[i..])),
        '?' => !n.is_empty() && glob_at(rest, &n[1..]),
        '[' => {
            let Some(close) = rest.iter().position(|&x| x == ']') else {
                return n.first() == Some(&'[') && glob_at(rest, &n[1..]);
            };
            let Some(&ch) = n.first() else { return false };
            let mut class = &rest[..close];
            let negate = matches!(class.first(), Some('!' | '^'));
            if negate {
                class = &class[1..];
            }
            let mut hit = false;
            let mut i = 0;
            while i < class.len() {
                if i + 2 < class.len() && class[i + 1] == '-' {
                    hit |= class[i] <= ch && ch <= class[i + 2];
                    i += 3;
                } else {
                    hit |= class[i] == ch;
                    i += 1;
                }
            }
            hit != negate && glob_at(&rest[close + 1..], &n[1..])
        }
        '{' => {
            let Some(close) = rest.iter().position(|&x| x == '}') else {
                return n.first() == Some(&'{') && glob_at(rest, &n[1..]);
            };
            let after = &rest[close + 1..];
            rest[..close].split(|&x| x == ',').any(|alt| {
                let mut candidate = alt.to_vec();
                candidate.extend_from_slice(after);
                glob_at(&candidate, n)
            })
        }
        '\\' if !rest.is_empty() => n.first() == Some(&rest[0]) && glob_at(&rest[1..], &n[1..]),
        _ => n.first() == Some(&c) && glob_at(rest, &n[1..]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_match_as_packer_does() {
        assert!(glob_match("triton.*", "triton.web"));
        assert!(glob_match("*.triton.web", "b.triton.web"));
        assert!(!glob_match("triton.web", "b.triton.web"));
        assert!(glob_match("*", "b.triton.web"));
        assert!(glob_match("tri?on.[vw]eb", "triton.web"));
        assert!(!glob_match("triton.[!w]eb", "triton.web"));
        assert!(glob_match("{oxide,triton}.*", "triton.web"));
        assert!(glob_match("a\\*", "a*"));
        assert!(!glob_match("a\\*", "ab"));
    }

    #[test]
    fn masking_hides_every_sensitive_string() {
        let mut s = Sensitive::default();
        s.add(&serde_json::json!({"t": "hunter2", "n": ["abc"]}));
        assert_eq!(s.mask("token hunter2 abc"), "token <sensitive> <sensitive>");
        assert_eq!(
            s.mask_value(&serde_json::json!(["x hunter2"])),
            serde_json::json!(["x <sensitive>"])
        );
    }
}

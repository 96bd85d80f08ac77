//! Legacy JSON templates as Packer reads them: `variables` and
//! `{{user `x`}}`, `sensitive-variables`, `builders`, `provisioners`,
//! `post-processors`, `_comment` keys.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::Duration;

use serde_json::{Map, Value};

use super::error::{Location, TemplateError};
use super::gotmpl::{self, GoCtx};
use super::hcljson::{self, Kind, Node};
use super::plan::{
    Plan, PlannedBuild, PlannedPostProcessor, PlannedProvisioner, PlannedVariable, Sensitive,
    TemplateKind,
};
use super::{Options, Run, weak};
use crate::postprocess::TYPES as POST_PROCESSORS;

const ROOT_KEYS: &[&str] = &[
    "builders",
    "provisioners",
    "post-processors",
    "variables",
    "sensitive-variables",
    "error-cleanup-provisioner",
    "description",
    "min_packer_version",
];

/// Byte offsets of every value by path (`builders[0].type`), and the first
/// duplicate key, found by scanning text that is already valid JSON.
struct Index {
    at: BTreeMap<String, usize>,
    duplicate: Option<(String, usize)>,
}

/// The [`Index`] of `text`, valid JSON, from its positioned tree.
fn index(file: &Path, text: &str) -> Index {
    fn walk(n: &Node, path: &str, ix: &mut Index) {
        ix.at.insert(path.to_owned(), n.at);
        match &n.kind {
            Kind::Object(members) => {
                let mut seen = BTreeSet::new();
                for m in members {
                    let p = if path.is_empty() {
                        m.key.clone()
                    } else {
                        format!("{path}.{}", m.key)
                    };
                    if !seen.insert(m.key.as_str()) && ix.duplicate.is_none() {
                        ix.duplicate = Some((p.clone(), m.key_at));
                    }
                    ix.at.insert(format!("{p}#key"), m.key_at);
                    walk(&m.value, &p, ix);
                }
            }
            Kind::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    walk(item, &format!("{path}[{i}]"), ix);
                }
            }
            _ => {}
        }
    }
    let mut ix = Index {
        at: BTreeMap::new(),
        duplicate: None,
    };
    if let Ok(root) = hcljson::parse(file, text) {
        walk(&root, "", &mut ix);
    }
    ix
}

struct Doc<'a> {
    file: &'a Path,
    text: String,
    index: Index,
}

impl Doc<'_> {
    /// The location of the value at `path` (or of its nearest parent).
    fn loc(&self, path: &str) -> Location {
        let mut p = path.to_owned();
        loop {
            if let Some(&o) = self
                .index
                .at
                .get(&format!("{p}#key"))
                .or_else(|| self.index.at.get(&p))
            {
                return Location::at(self.file, &self.text, o);
            }
            match p.rfind(['.', '[']) {
                Some(i) => p.truncate(i),
                None => return Location::file(self.file),
            }
        }
    }

    fn err(
        &self,
        path: &str,
        block: &str,
        key: Option<&str>,
        message: impl Into<String>,
    ) -> TemplateError {
        let message = message.into();
        let mut e = TemplateError::new(message.clone())
            .at(self.loc(path))
            .in_block(block);
        if let Some(fix) = default_fix(&message) {
            e = e.fix(fix);
        }
        match key {
            Some(k) => e.key(k),
            None => e,
        }
    }
}

/// How to fix a wrong-type or missing-key error, from its message (a
/// more specific `.fix()` replaces it).
fn default_fix(message: &str) -> Option<&'static str> {
    let fixes: &[(&str, &str)] = &[
        (
            "duration",
            "write a duration string such as \"30s\", \"5m\" or \"1h30m\"",
        ),
        (
            "must be true or false",
            "write true or false (\"true\"/\"false\" work too)",
        ),
        ("must be a whole number", "write a whole number such as 3"),
        (
            "non-empty list of builder objects",
            "write \"builders\": [{\"type\": \"triton\", ...}]",
        ),
        ("must be a list", "write a JSON list such as [\"a\", \"b\"]"),
        ("must be a string", "quote the value"),
        (
            "must be an object",
            "write a JSON object {\"type\": \"...\", ...}",
        ),
        (
            "missing required key `type`",
            "add \"type\": \"...\" (the builder or provisioner type)",
        ),
    ];
    fixes
        .iter()
        .find(|(pattern, _)| message.contains(pattern))
        .map(|(_, fix)| *fix)
}

fn strings(v: Option<&Value>) -> Option<Vec<String>> {
    match v {
        None | Some(Value::Null) => Some(Vec::new()),
        Some(v) => weak::to_string_list(v),
    }
}

fn duration(v: Option<&Value>) -> Result<Option<Duration>, String> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.is_empty() => Ok(None),
        Some(Value::String(s)) => crate::builders::packer::parse_duration(s)
            .map(Some)
            .ok_or_else(|| format!("{s:?} is not a duration (like 30s, 5m, 1h30m)")),
        Some(_) => Err("must be a duration string (like \"30s\")".into()),
    }
}

/// Reads and parses the template: its text with the offsets of its
/// values, and its root object.
fn load<'a>(file: &'a Path, shown: &Path) -> Result<(Doc<'a>, Map<String, Value>), TemplateError> {
    let text = std::fs::read_to_string(file).map_err(|e| {
        TemplateError::new(format!("cannot read {}: {e}", shown.display()))
            .at(Location::file(shown))
            .fix("check the path and its permissions")
    })?;
    let root: Value =
        serde_json::from_str(&text).map_err(|e| TemplateError::json_syntax(file, &e))?;
    let doc = Doc {
        file,
        index: index(file, &text),
        text,
    };
    if let Some((p, o)) = &doc.index.duplicate {
        return Err(
            TemplateError::new(format!("template has duplicate field: {p}"))
                .at(Location::at(file, &doc.text, *o))
                .fix("remove one of the two"),
        );
    }
    let Value::Object(root) = root else {
        return Err(doc.err("", "template", None, "the template must be a JSON object"));
    };
    Ok((doc, root))
}

/// The `"name": "value"` pairs of `-var-file` `f` (values decoded weakly
/// to strings), each error located at the key.
fn var_file_values(f: &Path, opts: &Options) -> Result<Map<String, Value>, TemplateError> {
    let p = if f.is_absolute() {
        f.to_path_buf()
    } else {
        opts.cwd.join(f)
    };
    let t = std::fs::read_to_string(&p).map_err(|e| {
        TemplateError::new(format!("cannot read var file {}: {e}", f.display()))
            .at(Location::file(f))
            .fix("check the -var-file path")
    })?;
    let v: Value = serde_json::from_str(&t).map_err(|e| {
        TemplateError::json_syntax(f, &e).fix("a var file is a JSON object of \"name\": \"value\"")
    })?;
    let doc = Doc {
        file: f,
        index: index(f, &t),
        text: t.clone(),
    };
    let Value::Object(o) = v else {
        return Err(
            TemplateError::new("a var file must be a JSON object of \"name\": \"value\"")
                .at(Location::file(f)),
        );
    };
    let mut values = Map::new();
    for (k, v) in o {
        let s = weak::to_string(&v).ok_or_else(|| {
            TemplateError::new(format!("the value of `{k}` must be a string"))
                .at(doc.loc(&k))
                .key(k.clone())
                .fix("quote the value")
        })?;
        values.insert(k, Value::String(s));
    }
    Ok(values)
}

/// Packer's `validate -syntax-only` for a legacy JSON template: the
/// template and its var files parse.
pub(crate) fn check_syntax(file: &Path, shown: &Path, opts: &Options) -> Result<(), TemplateError> {
    load(file, shown)?;
    for f in &opts.var_files {
        var_file_values(f, opts)?;
    }
    Ok(())
}

/// Loads and evaluates a legacy JSON template.
pub(crate) fn plan(
    file: &Path,
    shown: &Path,
    opts: &Options,
    run: &Run,
) -> Result<Plan, TemplateError> {
    let (doc, root) = load(file, shown)?;
    for (k, v) in &root {
        if k.starts_with('_') {
            if !v.is_string() {
                return Err(doc.err(k, "template", Some(k), "a `_` comment must be a string"));
            }
            continue;
        }
        if !ROOT_KEYS.contains(&k.as_str()) {
            return Err(doc
                .err(
                    k,
                    "template",
                    None,
                    format!("Unknown root level key in template: '{k}'"),
                )
                .fix(format!("root keys are: {}", ROOT_KEYS.join(", "))));
        }
    }
    if let Some(v) = root.get("min_packer_version") {
        let want = v.as_str().unwrap_or("");
        if version_less(gotmpl::PACKER_VERSION, want) {
            return Err(doc.err("min_packer_version", "template", Some("min_packer_version"), format!(
                "This template requires Packer version {want} or higher; imagebake follows Packer {}",
                gotmpl::PACKER_VERSION
            ))
            .fix(format!(
                "lower min_packer_version to {} or less",
                gotmpl::PACKER_VERSION
            )));
        }
    }
    let template_dir = file
        .parent()
        .map(|p| p.to_string_lossy().to_string())
        .unwrap_or_default();
    let pwd = opts.cwd.to_string_lossy().to_string();

    // Variables.
    let decls = match root.get("variables") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(o)) => o.clone(),
        Some(_) => {
            return Err(doc.err(
                "variables",
                "variables",
                None,
                "must be an object of `\"name\": \"default\"`",
            ));
        }
    };
    let mut values: Map<String, Value> = Map::new();
    let mut required = Vec::new();
    for (k, v) in &decls {
        match v {
            Value::Null => required.push(k.clone()),
            Value::String(_) => {
                values.insert(k.clone(), v.clone());
            }
            other => match weak::to_string(other) {
                Some(s) => {
                    values.insert(k.clone(), Value::String(s));
                }
                None => {
                    return Err(doc
                        .err(
                            &format!("variables.{k}"),
                            "variables",
                            Some(k),
                            "a default must be a string (or null for a required variable)",
                        )
                        .fix("quote the value"));
                }
            },
        }
    }
    for f in &opts.var_files {
        values.extend(var_file_values(f, opts)?);
    }
    for (k, v) in &opts.vars {
        values.insert(k.clone(), Value::String(v.clone()));
    }
    for r in &required {
        if !values.contains_key(r) {
            return Err(doc
                .err(
                    &format!("variables.{r}"),
                    "variables",
                    Some(r),
                    format!("required variable not set: {r}"),
                )
                .fix(format!("give it a value: -var {r}=... or a -var-file")));
        }
    }
    // Render defaults: {{env}} allowed, {{user}} refers to the others.
    for _ in 0..100 {
        let snapshot = values.clone();
        let go = GoCtx {
            user: Some(&snapshot),
            env: Some(&opts.env),
            build_name: None,
            build_type: None,
            template_dir: Some(&template_dir),
            pwd: &pwd,
            init: run.init,
            uuid: &run.uuid,
        };
        let mut next = Map::new();
        for (k, v) in &snapshot {
            let s = v.as_str().unwrap_or_default();
            let r = gotmpl::render(s, &go)
                .map_err(|e| doc.err(&format!("variables.{k}"), "variables", Some(k), e))?;
            next.insert(k.clone(), Value::String(r));
        }
        let done = next == snapshot;
        values = next;
        if done {
            break;
        }
    }
    let sensitive_names = strings(root.get("sensitive-variables")).ok_or_else(|| {
        doc.err(
            "sensitive-variables",
            "template",
            Some("sensitive-variables"),
            "must be a list of variable names",
        )
    })?;
    let mut sensitive = Sensitive::default();
    let mut variables = Vec::new();
    for (k, v) in &values {
        let s = sensitive_names.contains(k);
        if s {
            sensitive.add(v);
        }
        variables.push(PlannedVariable {
            name: k.clone(),
            value: v.clone(),
            sensitive: s,
            description: None,
        });
    }
    variables.sort_by(|a, b| a.name.cmp(&b.name));

    // Builders.
    let builders = match root.get("builders") {
        Some(Value::Array(b)) if !b.is_empty() => b,
        _ => {
            return Err(doc.err(
                "builders",
                "template",
                Some("builders"),
                "`builders` must be a non-empty list of builder objects",
            ));
        }
    };
    let mut builds: Vec<(String, String, Map<String, Value>, String)> = Vec::new();
    for (i, b) in builders.iter().enumerate() {
        let path = format!("builders[{i}]");
        let Value::Object(o) = b else {
            return Err(doc.err(&path, &path, None, "a builder must be an object"));
        };
        let t = o
            .get("type")
            .and_then(Value::as_str)
            .ok_or_else(|| doc.err(&path, &path, Some("type"), "missing required key `type`"))?;
        let name = match o.get("name") {
            Some(n) => n.as_str().ok_or_else(|| {
                doc.err(
                    &format!("{path}.name"),
                    &path,
                    Some("name"),
                    "must be a string",
                )
            })?,
            None => t,
        };
        if builds.iter().any(|(n, ..)| n == name) {
            return Err(doc
                .err(
                    &path,
                    &path,
                    None,
                    format!("builder name {name:?} is used twice"),
                )
                .fix("give each builder a distinct `name`"));
        }
        let mut config = Map::new();
        for (k, v) in o {
            if k == "type" || k == "name" {
                continue;
            }
            if k.starts_with('_') {
                return Err(doc
                    .err(
                        &format!("{path}.{k}"),
                        &path,
                        Some(k),
                        format!("unknown configuration key: '{k}'"),
                    )
                    .fix("`_` comments are allowed only at the template's root"));
            }
            config.insert(k.clone(), v.clone());
        }
        builds.push((name.to_owned(), t.to_owned(), config, path));
    }
    builds.sort_by(|a, b| a.0.cmp(&b.0));
    let names: Vec<&str> = builds.iter().map(|b| b.0.as_str()).collect();
    let check_names = |list: &[String], path: &str, key: &str| -> Result<(), TemplateError> {
        for n in list {
            if !names.contains(&n.as_str()) {
                return Err(doc
                    .err(path, path, Some(key), format!("unknown builder name {n:?}"))
                    .fix(format!("builders are: {}", names.join(", "))));
            }
        }
        Ok(())
    };

    // Provisioners (checked once, planned per build).
    let provs = match root.get("provisioners") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(p)) => p.clone(),
        Some(_) => {
            return Err(doc.err(
                "provisioners",
                "template",
                Some("provisioners"),
                "must be a list",
            ));
        }
    };
    for (i, p) in provs.iter().enumerate() {
        let path = format!("provisioners[{i}]");
        prov_check(&doc, p, &path)?;
        check_names(&strings(p.get("only")).unwrap_or_default(), &path, "only")?;
        check_names(
            &strings(p.get("except")).unwrap_or_default(),
            &path,
            "except",
        )?;
    }
    let cleanup = root
        .get("error-cleanup-provisioner")
        .filter(|v| !v.is_null());
    if let Some(c) = cleanup {
        prov_check(&doc, c, "error-cleanup-provisioner")?;
    }
    let chains = post_processor_chains(&doc, root.get("post-processors"))?;

    let mut planned = Vec::new();
    let description = root
        .get("description")
        .and_then(Value::as_str)
        .map(str::to_owned);
    for (name, t, config, path) in &builds {
        let go = GoCtx {
            user: Some(&values),
            env: None,
            build_name: Some(name),
            build_type: Some(t),
            template_dir: Some(&template_dir),
            pwd: &pwd,
            init: run.init,
            uuid: &run.uuid,
        };
        let render = |v: &Value, at: &str, block: &str| -> Result<Value, TemplateError> {
            gotmpl::render_value(v, &go).map_err(|(p, m)| {
                let full = if p.is_empty() {
                    at.to_owned()
                } else {
                    format!("{at}.{p}")
                };
                doc.err(&full, block, Some(&p), m).fix(gotmpl::FIX)
            })
        };
        // oxide-instance does no Go-template pass (the plugin's #95).
        let config = if t == "oxide-instance" {
            Value::Object(config.clone())
        } else {
            render(&Value::Object(config.clone()), path, path)?
        };
        let key_locations = config
            .as_object()
            .map(|o| {
                o.keys()
                    .map(|k| (k.clone(), doc.loc(&format!("{path}.{k}"))))
                    .collect()
            })
            .unwrap_or_default();
        let mut provisioners = Vec::new();
        for (i, p) in provs.iter().enumerate() {
            let ppath = format!("provisioners[{i}]");
            if let Some(pp) = provisioner(&doc, p, &ppath, name, &render)? {
                provisioners.push(pp);
            }
        }
        let error_cleanup_provisioner = match cleanup {
            Some(c) => provisioner(&doc, c, "error-cleanup-provisioner", name, &render)?,
            None => None,
        };
        let mut post_processors = Vec::new();
        for (ci, chain) in chains.iter().enumerate() {
            let mut c = Vec::new();
            for (pi, (ppath, pp)) in chain.iter().enumerate() {
                let _ = (ci, pi);
                let only = strings(pp.get("only")).unwrap_or_default();
                let except = strings(pp.get("except")).unwrap_or_default();
                if (!only.is_empty() && !only.contains(name)) || except.contains(name) {
                    continue;
                }
                let kind = pp
                    .get("type")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned();
                let mut cfg = Map::new();
                for (k, v) in pp {
                    if !matches!(
                        k.as_str(),
                        "type" | "name" | "only" | "except" | "keep_input_artifact"
                    ) {
                        cfg.insert(k.clone(), v.clone());
                    }
                }
                let keep_input_artifact = match pp.get("keep_input_artifact") {
                    None | Some(Value::Null) => None,
                    Some(v) => Some(weak::to_bool(v).ok_or_else(|| {
                        doc.err(
                            ppath,
                            ppath,
                            Some("keep_input_artifact"),
                            "must be true or false",
                        )
                    })?),
                };
                c.push(PlannedPostProcessor {
                    name: pp
                        .get("name")
                        .and_then(Value::as_str)
                        .map_or_else(|| kind.clone(), str::to_owned),
                    kind,
                    config: render(&Value::Object(cfg), ppath, ppath)?,
                    keep_input_artifact,
                    only,
                    except,
                    location: Some(doc.loc(ppath)),
                });
            }
            if !c.is_empty() {
                post_processors.push(c);
            }
        }
        planned.push(PlannedBuild {
            name: name.clone(),
            packer_build_name: name.clone(),
            build_block: None,
            description: description.clone(),
            builder_type: t.clone(),
            config,
            key_locations,
            provisioners,
            error_cleanup_provisioner,
            post_processors,
            sensitive: sensitive.clone(),
        });
    }
    Ok(Plan {
        kind: TemplateKind::Json,
        variables,
        locals: Vec::new(),
        builds: planned,
        sensitive,
        warnings: Vec::new(),
    })
}

const PROVISIONERS: &[&str] = &["shell", "file", "shell-local", "breakpoint", "image-spec"];

fn prov_check(doc: &Doc<'_>, p: &Value, path: &str) -> Result<(), TemplateError> {
    let Value::Object(o) = p else {
        return Err(doc.err(path, path, None, "a provisioner must be an object"));
    };
    let t = o
        .get("type")
        .and_then(Value::as_str)
        .ok_or_else(|| doc.err(path, path, Some("type"), "missing required key `type`"))?;
    if matches!(t, "windows-restart" | "powershell" | "windows-shell") {
        return Err(doc
            .err(
                path,
                path,
                Some("type"),
                format!("the `{t}` provisioner is not supported: imagebake bakes Unix-like images"),
            )
            .fix("use `shell` (with \"expect_disconnect\": true for a reboot)"));
    }
    if !PROVISIONERS.contains(&t) {
        return Err(doc
            .err(
                path,
                path,
                Some("type"),
                format!("unknown provisioner type {t:?}"),
            )
            .fix(format!("provisioner types: {}", PROVISIONERS.join(", "))));
    }
    for k in o.keys() {
        if k.starts_with('_') {
            return Err(doc.err(
                &format!("{path}.{k}"),
                path,
                Some(k),
                format!("unknown configuration key: '{k}'"),
            ));
        }
    }
    Ok(())
}

fn provisioner(
    doc: &Doc<'_>,
    p: &Value,
    path: &str,
    build: &str,
    render: &dyn Fn(&Value, &str, &str) -> Result<Value, TemplateError>,
) -> Result<Option<PlannedProvisioner>, TemplateError> {
    let o = p.as_object().cloned().unwrap_or_default();
    let only = strings(o.get("only"))
        .ok_or_else(|| doc.err(path, path, Some("only"), "must be a list of builder names"))?;
    let except = strings(o.get("except")).ok_or_else(|| {
        doc.err(
            path,
            path,
            Some("except"),
            "must be a list of builder names",
        )
    })?;
    if (!only.is_empty() && !only.iter().any(|n| n == build)) || except.iter().any(|n| n == build) {
        return Ok(None);
    }
    let mut config = Map::new();
    for (k, v) in &o {
        if !matches!(
            k.as_str(),
            "type"
                | "name"
                | "only"
                | "except"
                | "override"
                | "pause_before"
                | "max_retries"
                | "timeout"
        ) {
            config.insert(k.clone(), v.clone());
        }
    }
    if let Some(Value::Object(ov)) = o.get("override")
        && let Some(Value::Object(extra)) = ov.get(build)
    {
        for (k, v) in extra {
            config.insert(k.clone(), v.clone());
        }
    }
    let bad = |k: &str, m: String| doc.err(&format!("{path}.{k}"), path, Some(k), m);
    let max_retries = match o.get("max_retries") {
        None | Some(Value::Null) => 0,
        Some(v) => weak::to_i64(v)
            .and_then(|n| u32::try_from(n).ok())
            .ok_or_else(|| bad("max_retries", "must be a whole number".into()))?,
    };
    Ok(Some(PlannedProvisioner {
        kind: o
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned(),
        name: o.get("name").and_then(Value::as_str).map(str::to_owned),
        config: render(&Value::Object(config), path, path)?,
        only,
        except,
        pause_before: duration(o.get("pause_before")).map_err(|m| bad("pause_before", m))?,
        max_retries,
        timeout: duration(o.get("timeout")).map_err(|m| bad("timeout", m))?,
        continue_on_error: false,
        location: Some(doc.loc(path)),
    }))
}

/// `post-processors`: each element a chain — a type name, an object, or a
/// list of those.
/// A post-processor chain: each element's path and object.
type Chain = Vec<(String, Map<String, Value>)>;

fn post_processor_chains(doc: &Doc<'_>, v: Option<&Value>) -> Result<Vec<Chain>, TemplateError> {
    let Some(v) = v.filter(|v| !v.is_null()) else {
        return Ok(Vec::new());
    };
    let Value::Array(list) = v else {
        return Err(doc.err(
            "post-processors",
            "template",
            Some("post-processors"),
            "must be a list",
        ));
    };
    let one =
        |v: &Value, path: String| -> Result<(String, Map<String, Value>), TemplateError> {
            let o = match v {
                Value::String(t) => {
                    let mut m = Map::new();
                    m.insert("type".into(), Value::String(t.clone()));
                    m
                }
                Value::Object(o) => o.clone(),
                _ => return Err(doc.err(
                    &path,
                    &path,
                    None,
                    "a post-processor is a type name or an object (nested lists are not allowed)",
                )),
            };
            let t = o.get("type").and_then(Value::as_str).ok_or_else(|| {
                doc.err(&path, &path, Some("type"), "missing required key `type`")
            })?;
            if !POST_PROCESSORS.contains(&t) {
                return Err(doc
                    .err(
                        &path,
                        &path,
                        Some("type"),
                        format!("unknown post-processor type {t:?}"),
                    )
                    .fix(format!(
                        "post-processor types: {}",
                        POST_PROCESSORS.join(", ")
                    )));
            }
            Ok((path, o))
        };
    let mut chains = Vec::new();
    for (i, el) in list.iter().enumerate() {
        let path = format!("post-processors[{i}]");
        chains.push(match el {
            Value::Array(a) => a
                .iter()
                .enumerate()
                .map(|(j, x)| one(x, format!("{path}[{j}]")))
                .collect::<Result<Vec<_>, _>>()?,
            other => vec![one(other, path)?],
        });
    }
    Ok(chains)
}

/// Whether version `a` is lower than `b` (dotted numbers; a `v` prefix and
/// suffixes after `-` ignored).
fn version_less(a: &str, b: &str) -> bool {
    let parse = |s: &str| -> Vec<u64> {
        s.trim()
            .trim_start_matches('v')
            .split('-')
            .next()
            .unwrap_or("")
            .split('.')
            .map(|p| p.parse().unwrap_or(0))
            .collect()
    };
    parse(a) < parse(b)
}

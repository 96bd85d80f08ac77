//! HCL2 templates: blocks, variables with Packer's precedence, locals and
//! data sources, sources and builds, evaluated into a [`Plan`].

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use hcl::edit::Span;
use hcl::edit::expr::Expression;
use hcl::edit::structure::{Attribute, Block, BlockLabel, Body, Structure};
use serde_json::{Map, Value};

use super::error::{Location, Source, TemplateError};
use super::eval::{EvalError, Scope};
use super::funcs::{FuncEnv, FuncSet};
use super::gotmpl::{self, GoCtx};
use super::hcljson;
use super::plan::{
    Plan, PlannedBuild, PlannedPostProcessor, PlannedProvisioner, PlannedVariable, Sensitive,
    TemplateKind,
};
use super::types::{self, Type};
use super::{DataSources, Options, Run};
use crate::postprocess::TYPES as POST_PROCESSORS;

/// Nested blocks that repeat into a list, per builder type (the plugins'
/// `BlockListSpec`); any other nested block is a single object.
pub(super) const LIST_BLOCKS: &[(&str, &[&str])] = &[
    ("triton", &["source_machine_tag", "image_tag"]),
    ("osc-chroot", &["omi_block_device_mappings"]),
    ("outscale-chroot", &["omi_block_device_mappings"]),
    ("local-chroot", &[]),
    ("oxide-instance", &[]),
];

/// Builder keys that must be written as blocks (`x { … }`), not `x = {…}`.
pub(super) const SINGLE_BLOCKS: &[(&str, &[&str])] = &[
    ("triton", &["source_machine_image_filter"]),
    ("osc-chroot", &["source_omi_filter"]),
    ("outscale-chroot", &["source_omi_filter"]),
];

const PROVISIONERS: &[&str] = &["shell", "file", "shell-local", "breakpoint", "image-spec"];
const WINDOWS_PROVISIONERS: &[&str] = &["windows-restart", "powershell", "windows-shell"];
/// Data source types with their arguments (the first one is required).
const DATA_SOURCES: &[(&str, &[&str])] = &[(
    "oxide-image",
    &[
        "name",
        "project",
        "host",
        "token",
        "profile",
        "insecure_skip_verify",
    ],
)];

/// `build.X` values other than `name`: builder data known only while the
/// build runs, left as the Go-template action that provisioners render
/// then (as JSON templates write them).
const BUILD_DATA: &[&str] = &[
    "ID",
    "Host",
    "Port",
    "User",
    "Password",
    "ConnType",
    "PackerRunUUID",
    "PackerHTTPAddr",
    "PackerHTTPIP",
    "PackerHTTPPort",
    "SSHPublicKey",
    "SSHPrivateKey",
    "SourceImageName",
];

struct File {
    src: Source,
    body: Body,
}

fn label(l: &BlockLabel) -> &str {
    match l {
        BlockLabel::Ident(i) => i.as_str(),
        BlockLabel::String(s) => s.value(),
    }
}

fn describe(b: &Block) -> String {
    let mut s = b.ident.as_str().to_owned();
    for l in &b.labels {
        s.push_str(&format!(" \"{}\"", label(l)));
    }
    s
}

/// Reads and parses one file: native HCL, or HCL's JSON syntax when the
/// name ends in `.json` (`var_file`: a var file, arguments only).
fn parse_file(path: &Path, var_file: bool) -> Result<File, TemplateError> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        TemplateError::new(format!("cannot read {}: {e}", path.display()))
            .at(Location::file(path))
            .fix("check the path and its permissions")
    })?;
    let (hcl_text, map) = if path.extension().is_some_and(|e| e == "json") {
        let (t, m) = hcljson::to_hcl(path, &text, var_file)?;
        (Some(t), Some(m))
    } else {
        (None, None)
    };
    let src = Source {
        path: path.to_path_buf(),
        text,
        map,
    };
    let parsed = hcl_text.as_deref().unwrap_or(&src.text);
    let body = hcl::edit::parser::parse_body(parsed).map_err(|e| {
        let (line, column) = (e.location().line(), e.location().column());
        let loc = if src.map.is_some() {
            // A template inside a JSON string (`"${"`): the place in the
            // generated text, mapped back to the JSON file.
            let offset = e.location().offset();
            src.loc(Some(offset..offset))
        } else {
            Location {
                file: path.to_path_buf(),
                line,
                column,
            }
        };
        let fix = if src.map.is_some() {
            "check the `${...}` and `%{...}` templates inside the JSON strings (write `$${` for a literal `${`)".to_owned()
        } else {
            format!("check the HCL syntax of: {}", e.line().trim())
        };
        TemplateError::new(format!("syntax error: {}", e.message()))
            .at(loc)
            .fix(fix)
    })?;
    Ok(File { src, body })
}

struct VarDecl<'a> {
    name: String,
    ty: Option<Type>,
    default: Option<&'a Expression>,
    description: Option<String>,
    sensitive: bool,
    validations: Vec<(&'a Expression, String)>,
    file: usize,
    loc: Location,
}

struct Ctx<'a> {
    files: &'a [File],
    opts: &'a Options,
    run: &'a Run,
    root: String,
    cwd: String,
    template_dir: PathBuf,
    warnings: Vec<String>,
}

impl<'a> Ctx<'a> {
    fn fenv(&self, set: FuncSet) -> FuncEnv<'_> {
        FuncEnv {
            set,
            env: &self.opts.env,
            template_dir: &self.template_dir,
            cwd: &self.opts.cwd,
        }
    }

    fn eval(
        &self,
        file: usize,
        expr: &Expression,
        roots: &Map<String, Value>,
        set: FuncSet,
        pending: &BTreeSet<String>,
    ) -> Result<Value, EvalError> {
        Scope {
            src: &self.files[file].src,
            funcs: self.fenv(set),
            roots,
            pending,
            iter_vars: Vec::new(),
        }
        .eval(expr)
    }

    fn constant(&self, file: usize, expr: &Expression) -> Result<Value, TemplateError> {
        self.eval(file, expr, &Map::new(), FuncSet::None, &BTreeSet::new())
            .map_err(Into::into)
    }

    fn loc(&self, file: usize, span: Option<std::ops::Range<usize>>) -> Location {
        self.files[file].src.loc(span)
    }
}

fn unknown_key(
    ctx: &Ctx<'_>,
    file: usize,
    s: &Structure,
    block: &str,
    allowed: &str,
) -> TemplateError {
    let (what, name, span) = match s {
        Structure::Attribute(a) => ("argument", a.key.as_str().to_owned(), a.span()),
        Structure::Block(b) => ("block", b.ident.as_str().to_owned(), b.span()),
    };
    TemplateError::new(format!("unsupported {what} `{name}`"))
        .at(ctx.loc(file, span))
        .in_block(block)
        .fix(format!("the {block} block takes: {allowed}"))
}

/// The attributes of a body that may hold only attributes.
fn attributes<'b>(
    ctx: &Ctx<'_>,
    file: usize,
    body: &'b Body,
    block: &str,
    allowed: &str,
) -> Result<Vec<&'b Attribute>, TemplateError> {
    body.iter()
        .map(|s| match s {
            Structure::Attribute(a) => Ok(a),
            Structure::Block(_) => Err(unknown_key(ctx, file, s, block, allowed)),
        })
        .collect()
}

fn string_of(v: &Value, what: &str) -> Result<String, String> {
    types::to_string(v).ok_or_else(|| format!("{what} must be a string"))
}

fn string_list(v: &Value) -> Result<Vec<String>, String> {
    match v {
        Value::Null => Ok(Vec::new()),
        Value::Array(a) => a
            .iter()
            .map(|x| types::to_string(x).ok_or_else(|| "must be a list of strings".to_string()))
            .collect(),
        _ => Err("must be a list of strings".into()),
    }
}

fn duration(v: &Value) -> Result<Option<Duration>, String> {
    match v {
        Value::Null => Ok(None),
        Value::String(s) => crate::builders::packer::parse_duration(s)
            .map(Some)
            .ok_or_else(|| format!("{s:?} is not a duration (like 30s, 5m, 1h30m)")),
        _ => Err("must be a duration string (like \"30s\")".into()),
    }
}

/// The paths of the auto var files, then of the `-var-file`s.
fn var_file_paths(opts: &Options, auto_var_files: &[PathBuf]) -> Vec<PathBuf> {
    auto_var_files
        .iter()
        .cloned()
        .chain(opts.var_files.iter().map(|p| {
            if p.is_absolute() {
                p.clone()
            } else {
                opts.cwd.join(p)
            }
        }))
        .collect()
}

/// Parses the HCL2 files `paths` and the var files, evaluating nothing.
pub(crate) fn check_syntax(
    paths: &[PathBuf],
    auto_var_files: &[PathBuf],
    opts: &Options,
) -> Result<(), TemplateError> {
    for p in paths {
        parse_file(p, false)?;
    }
    for p in var_file_paths(opts, auto_var_files) {
        read_var_file(&p)?;
    }
    Ok(())
}

/// Loads and evaluates the HCL2 files `paths` (with `auto_var_files`).
pub(crate) async fn plan(
    paths: &[PathBuf],
    auto_var_files: &[PathBuf],
    root: &Path,
    opts: &Options,
    data: &dyn DataSources,
    run: &Run,
) -> Result<Plan, TemplateError> {
    let mut files = Vec::new();
    for p in paths {
        files.push(parse_file(p, false)?);
    }
    // path.root: the path as given, or its directory (often `.`); file()
    // and templatefile() resolve relative paths against it, and it is
    // relative to the working directory.
    let is_dir = if root.is_absolute() {
        root.is_dir()
    } else {
        opts.cwd.join(root).is_dir()
    };
    let base = if is_dir {
        root.to_path_buf()
    } else {
        root.parent().map(Path::to_path_buf).unwrap_or_default()
    };
    let base = if base.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        base
    };
    let root_s = base.to_string_lossy().replace('\\', "/");
    let template_dir = opts.cwd.join(&base);
    let mut ctx = Ctx {
        files: &files,
        opts,
        run,
        root: root_s,
        cwd: opts.cwd.to_string_lossy().replace('\\', "/"),
        template_dir,
        warnings: Vec::new(),
    };

    // 1. Top-level blocks.
    let mut decls: Vec<VarDecl<'_>> = Vec::new();
    let mut locals: Vec<(String, usize, &Expression, bool)> = Vec::new();
    let mut sources: BTreeMap<(String, String), (usize, &Block)> = BTreeMap::new();
    let mut datas: Vec<(String, String, usize, &Block)> = Vec::new();
    let mut builds: Vec<(usize, &Block)> = Vec::new();
    const TOP: &str = "packer, variable, variables, locals, local, source, data, build";
    for (fi, f) in files.iter().enumerate() {
        for s in f.body.iter() {
            let b = match s {
                Structure::Attribute(a) => {
                    return Err(TemplateError::new(format!(
                        "unsupported argument `{}` at the top level",
                        a.key.as_str()
                    ))
                    .at(ctx.loc(fi, a.span()))
                    .fix(format!("put it inside a block ({TOP})")));
                }
                Structure::Block(b) => b,
            };
            let want_labels = |n: usize| -> Result<(), TemplateError> {
                if b.labels.len() == n {
                    Ok(())
                } else {
                    Err(TemplateError::new(format!(
                        "a `{}` block takes {n} label(s), not {}",
                        b.ident.as_str(),
                        b.labels.len()
                    ))
                    .at(ctx.loc(fi, b.span())))
                }
            };
            match b.ident.as_str() {
                "packer" => {
                    ctx.warnings.push(format!(
                        "{}: the `packer` block (required_version, required_plugins) is accepted and ignored",
                        ctx.loc(fi, b.span())
                    ));
                }
                "hcp_packer_registry" => ctx.warnings.push(format!(
                    "{}: `hcp_packer_registry` is ignored",
                    ctx.loc(fi, b.span())
                )),
                "variable" => {
                    want_labels(1)?;
                    decls.push(var_decl(&ctx, fi, b)?);
                }
                "variables" => {
                    want_labels(0)?;
                    for a in attributes(&ctx, fi, &b.body, "variables", "`name = default`")? {
                        decls.push(VarDecl {
                            name: a.key.as_str().to_owned(),
                            ty: None,
                            default: Some(&a.value),
                            description: None,
                            sensitive: false,
                            validations: Vec::new(),
                            file: fi,
                            loc: ctx.loc(fi, a.span()),
                        });
                    }
                }
                "locals" => {
                    want_labels(0)?;
                    for a in attributes(&ctx, fi, &b.body, "locals", "`name = expression`")? {
                        locals.push((a.key.as_str().to_owned(), fi, &a.value, false));
                    }
                }
                "local" => {
                    want_labels(1)?;
                    let name = label(&b.labels[0]).to_owned();
                    let block = format!("local \"{name}\"");
                    let mut expr = None;
                    let mut sensitive = false;
                    for s in b.body.iter() {
                        match s {
                            Structure::Attribute(a) if a.key.as_str() == "expression" => {
                                expr = Some(&a.value)
                            }
                            Structure::Attribute(a) if a.key.as_str() == "sensitive" => {
                                sensitive =
                                    ctx.constant(fi, &a.value)?.as_bool().ok_or_else(|| {
                                        TemplateError::new("must be true or false")
                                            .at(ctx.loc(fi, a.span()))
                                            .in_block(&block)
                                            .key("sensitive")
                                    })?;
                            }
                            _ => {
                                return Err(unknown_key(
                                    &ctx,
                                    fi,
                                    s,
                                    &block,
                                    "expression, sensitive",
                                ));
                            }
                        }
                    }
                    let expr = expr.ok_or_else(|| {
                        TemplateError::new("missing required argument `expression`")
                            .at(ctx.loc(fi, b.span()))
                            .in_block(&block)
                    })?;
                    locals.push((name, fi, expr, sensitive));
                }
                "source" => {
                    want_labels(2)?;
                    let key = (
                        label(&b.labels[0]).to_owned(),
                        label(&b.labels[1]).to_owned(),
                    );
                    if let Some((pf, pb)) = sources.get(&key) {
                        return Err(TemplateError::new(format!(
                            "duplicate source \"{}\" \"{}\" (first defined at {})",
                            key.0,
                            key.1,
                            ctx.loc(*pf, pb.span())
                        ))
                        .at(ctx.loc(fi, b.span()))
                        .fix("give each source a distinct name"));
                    }
                    sources.insert(key, (fi, b));
                }
                "data" => {
                    want_labels(2)?;
                    let (t, n) = (
                        label(&b.labels[0]).to_owned(),
                        label(&b.labels[1]).to_owned(),
                    );
                    if !DATA_SOURCES.iter().any(|(k, _)| *k == t) {
                        return Err(
                            TemplateError::new(format!("unknown data source type `{t}`"))
                                .at(ctx.loc(fi, b.span()))
                                .fix("imagebake has the `oxide-image` data source"),
                        );
                    }
                    if datas.iter().any(|(dt, dn, _, _)| *dt == t && *dn == n) {
                        return Err(
                            TemplateError::new(format!("duplicate data \"{t}\" \"{n}\""))
                                .at(ctx.loc(fi, b.span())),
                        );
                    }
                    datas.push((t, n, fi, b));
                }
                "build" => {
                    want_labels(0)?;
                    builds.push((fi, b));
                }
                "communicator" => {
                    return Err(TemplateError::new(
                        "top-level `communicator` blocks are not supported",
                    )
                    .at(ctx.loc(fi, b.span()))
                    .fix("set the communicator keys (ssh_username, ...) in the source"));
                }
                other => {
                    return Err(TemplateError::new(format!("unknown block type `{other}`"))
                        .at(ctx.loc(fi, b.span()))
                        .fix(format!("top-level blocks are: {TOP}")));
                }
            }
        }
    }

    // 2. Variables.
    let mut seen = BTreeMap::new();
    for d in &decls {
        if let Some(first) = seen.insert(d.name.clone(), d.loc.clone()) {
            return Err(TemplateError::new(format!(
                "duplicate variable `{}` (first declared at {first})",
                d.name
            ))
            .at(d.loc.clone()));
        }
    }
    let values = variable_values(&mut ctx, &decls, auto_var_files)?;
    let mut sensitive = Sensitive::default();
    let mut variables = Vec::new();
    let mut var_obj = Map::new();
    for d in &decls {
        let v = values.get(&d.name).cloned().unwrap_or(Value::Null);
        if d.sensitive {
            sensitive.add(&v);
        }
        var_obj.insert(d.name.clone(), v.clone());
        variables.push(PlannedVariable {
            name: d.name.clone(),
            value: v,
            sensitive: d.sensitive,
            description: d.description.clone(),
        });
    }
    variables.sort_by(|a, b| a.name.cmp(&b.name));
    // Validation blocks: only `var.<self>` in scope.
    for d in &decls {
        for (cond, msg) in &d.validations {
            let mut only_self = Map::new();
            only_self.insert(d.name.clone(), var_obj[&d.name].clone());
            let mut roots = Map::new();
            roots.insert("var".into(), Value::Object(only_self));
            let ok = ctx
                .eval(d.file, cond, &roots, FuncSet::All, &BTreeSet::new())
                .map_err(|e| {
                    TemplateError::from(e)
                        .in_block(format!("variable \"{}\"", d.name))
                        .key("validation.condition")
                })?;
            if ok != Value::Bool(true) {
                return Err(
                    TemplateError::new(format!("invalid value for variable: {msg}"))
                        .at(ctx.loc(d.file, cond.span()))
                        .in_block(format!("variable \"{}\"", d.name))
                        .fix("give the variable a value that meets its validation condition"),
                );
            }
        }
    }

    // 3. Locals and data sources, in dependency order.
    let mut roots = Map::new();
    roots.insert("var".into(), Value::Object(var_obj));
    roots.insert("local".into(), Value::Object(Map::new()));
    roots.insert("data".into(), Value::Object(Map::new()));
    let mut path = Map::new();
    path.insert("root".into(), Value::String(ctx.root.clone()));
    path.insert("cwd".into(), Value::String(ctx.cwd.clone()));
    roots.insert("path".into(), Value::Object(path));
    let mut packer = Map::new();
    packer.insert(
        "version".into(),
        Value::String(gotmpl::PACKER_VERSION.into()),
    );
    roots.insert("packer".into(), Value::Object(packer));
    {
        let mut seen = BTreeSet::new();
        for (n, fi, e, _) in &locals {
            if !seen.insert(n.clone()) {
                return Err(TemplateError::new(format!("duplicate local `{n}`"))
                    .at(ctx.loc(*fi, e.span()))
                    .fix("give each local a distinct name"));
            }
        }
    }
    let mut pending: BTreeSet<String> = locals
        .iter()
        .map(|(n, ..)| format!("local.{n}"))
        .chain(datas.iter().map(|(t, n, ..)| format!("data.{t}.{n}")))
        .collect();
    let mut local_sensitive = Vec::new();
    loop {
        let before = pending.len();
        let mut last_err: Option<EvalError> = None;
        for (n, fi, e, sens) in &locals {
            let key = format!("local.{n}");
            if !pending.contains(&key) {
                continue;
            }
            match ctx.eval(*fi, e, &roots, FuncSet::All, &pending) {
                Ok(v) => {
                    if *sens {
                        local_sensitive.push(v.clone());
                    }
                    if let Some(Value::Object(l)) = roots.get_mut("local") {
                        l.insert(n.clone(), v);
                    }
                    pending.remove(&key);
                }
                Err(err) if err.pending => last_err = Some(err),
                Err(err) => return Err(TemplateError::from(err).in_block("locals").key(n.clone())),
            }
        }
        for (t, n, fi, b) in &datas {
            let key = format!("data.{t}.{n}");
            if !pending.contains(&key) {
                continue;
            }
            let block = describe(b);
            let keys = DATA_SOURCES
                .iter()
                .find(|(k, _)| k == t)
                .map_or(&[][..], |(_, keys)| keys);
            let allowed = keys.join(", ");
            let attrs = attributes(&ctx, *fi, &b.body, &block, &allowed)?;
            for a in &attrs {
                if !keys.contains(&a.key.as_str()) {
                    return Err(unknown_key(
                        &ctx,
                        *fi,
                        &Structure::Attribute((*a).clone()),
                        &block,
                        &allowed,
                    ));
                }
            }
            if let Some(required) = keys.first()
                && !attrs.iter().any(|a| a.key.as_str() == *required)
            {
                return Err(
                    TemplateError::new(format!("missing required argument `{required}`"))
                        .at(ctx.loc(*fi, b.span()))
                        .in_block(&block)
                        .fix(format!("add `{required} = ...`")),
                );
            }
            let mut args = Map::new();
            let mut blocked = None;
            for a in attrs {
                match ctx.eval(*fi, &a.value, &roots, FuncSet::All, &pending) {
                    Ok(Value::Null) => {}
                    Ok(v) => {
                        args.insert(a.key.as_str().to_owned(), v);
                    }
                    Err(err) if err.pending => {
                        blocked = Some(err);
                        break;
                    }
                    Err(err) => {
                        return Err(TemplateError::from(err).in_block(block).key(a.key.as_str()));
                    }
                }
            }
            if let Some(err) = blocked {
                last_err = Some(err);
                continue;
            }
            let out = data.read(t, n, &args).await.map_err(|m| {
                TemplateError::new(m)
                    .at(ctx.loc(*fi, b.span()))
                    .in_block(&block)
            })?;
            if let Some(Value::Object(d)) = roots.get_mut("data") {
                let per_type = d
                    .entry(t.clone())
                    .or_insert_with(|| Value::Object(Map::new()));
                if let Value::Object(pt) = per_type {
                    pt.insert(n.clone(), Value::Object(out));
                }
            }
            pending.remove(&key);
        }
        if pending.is_empty() {
            break;
        }
        if pending.len() == before {
            let err = last_err
                .map(TemplateError::from)
                .unwrap_or_else(|| TemplateError::new("cycle"));
            return Err(err.fix(format!(
                "these refer to each other in a cycle: {}",
                pending.iter().cloned().collect::<Vec<_>>().join(", ")
            )));
        }
    }
    for v in &local_sensitive {
        sensitive.add(v);
    }
    let mut planned_locals: Vec<PlannedVariable> = match roots.get("local") {
        Some(Value::Object(l)) => l
            .iter()
            .map(|(n, v)| PlannedVariable {
                name: n.clone(),
                value: v.clone(),
                sensitive: locals.iter().any(|(ln, _, _, s)| ln == n && *s),
                description: None,
            })
            .collect(),
        _ => Vec::new(),
    };
    planned_locals.sort_by(|a, b| a.name.cmp(&b.name));

    // 4. Builds.
    let mut planned = Vec::new();
    for (bi, (fi, b)) in builds.iter().enumerate() {
        planned.extend(build(&ctx, *fi, b, bi, &roots, &sources)?);
    }
    for b in &mut planned {
        b.sensitive = sensitive.clone();
    }
    let _ = ctx.run;
    Ok(Plan {
        kind: TemplateKind::Hcl2,
        variables,
        locals: planned_locals,
        builds: planned,
        sensitive,
        warnings: ctx.warnings,
    })
}

fn var_decl<'a>(ctx: &Ctx<'_>, fi: usize, b: &'a Block) -> Result<VarDecl<'a>, TemplateError> {
    let name = label(&b.labels[0]).to_owned();
    let block = format!("variable \"{name}\"");
    let mut d = VarDecl {
        name,
        ty: None,
        default: None,
        description: None,
        sensitive: false,
        validations: Vec::new(),
        file: fi,
        loc: ctx.loc(fi, b.span()),
    };
    for s in b.body.iter() {
        match s {
            Structure::Attribute(a) => {
                let err = |m: String| {
                    TemplateError::new(m)
                        .at(ctx.loc(fi, a.span()))
                        .in_block(&block)
                        .key(a.key.as_str())
                };
                match a.key.as_str() {
                    "type" => d.ty = Some(Type::parse(&a.value).map_err(err)?),
                    "default" => d.default = Some(&a.value),
                    "description" => {
                        d.description = Some(
                            string_of(&ctx.constant(fi, &a.value)?, "description").map_err(err)?,
                        )
                    }
                    "sensitive" => {
                        d.sensitive = ctx
                            .constant(fi, &a.value)?
                            .as_bool()
                            .ok_or_else(|| err("must be true or false".into()))?
                    }
                    "nullable" => {}
                    _ => {
                        return Err(unknown_key(
                            ctx,
                            fi,
                            s,
                            &block,
                            "type, default, description, sensitive, validation",
                        ));
                    }
                }
            }
            Structure::Block(v) if v.ident.as_str() == "validation" => {
                let vb = format!("{block} validation");
                let mut cond = None;
                let mut msg = None;
                for s in v.body.iter() {
                    match s {
                        Structure::Attribute(a) if a.key.as_str() == "condition" => {
                            cond = Some(&a.value)
                        }
                        Structure::Attribute(a) if a.key.as_str() == "error_message" => {
                            let m = string_of(&ctx.constant(fi, &a.value)?, "error_message")
                                .map_err(|e| {
                                    TemplateError::new(e)
                                        .at(ctx.loc(fi, a.span()))
                                        .in_block(&vb)
                                        .key("error_message")
                                })?;
                            let good = m.chars().next().is_some_and(char::is_uppercase)
                                && m.trim_end().ends_with(['.', '?', '!']);
                            if !good {
                                return Err(TemplateError::new("the error message must start with an upper-case letter and end with `.`, `?` or `!`")
                                    .at(ctx.loc(fi, a.span())).in_block(&vb).key("error_message"));
                            }
                            msg = Some(m);
                        }
                        _ => return Err(unknown_key(ctx, fi, s, &vb, "condition, error_message")),
                    }
                }
                match (cond, msg) {
                    (Some(c), Some(m)) => d.validations.push((c, m)),
                    _ => {
                        return Err(TemplateError::new(
                            "a validation block needs `condition` and `error_message`",
                        )
                        .at(ctx.loc(fi, v.span()))
                        .in_block(&block));
                    }
                }
            }
            Structure::Block(_) => {
                return Err(unknown_key(
                    ctx,
                    fi,
                    s,
                    &block,
                    "type, default, description, sensitive, validation",
                ));
            }
        }
    }
    Ok(d)
}

/// A value given as text (`-var`, `PKR_VAR_`): a literal string for
/// string/number/any types, else an HCL expression.
fn text_value(text: &str, ty: Option<&Type>) -> Result<Value, String> {
    match ty {
        None => Ok(Value::String(text.to_owned())),
        Some(t) if t.takes_literal() => Ok(Value::String(text.to_owned())),
        Some(_) => {
            let expr = hcl::edit::parser::parse_expr(text)
                .map_err(|e| format!("is not a valid HCL value: {}", e.message()))?;
            let src = Source {
                path: PathBuf::from("<value>"),
                text: text.to_owned(),
                map: None,
            };
            let env = BTreeMap::new();
            Scope {
                src: &src,
                funcs: FuncEnv {
                    set: FuncSet::None,
                    env: &env,
                    template_dir: Path::new("."),
                    cwd: Path::new("."),
                },
                roots: &Map::new(),
                pending: &BTreeSet::new(),
                iter_vars: Vec::new(),
            }
            .eval(&expr)
            .map_err(|e| e.message)
        }
    }
}

fn variable_values(
    ctx: &mut Ctx<'_>,
    decls: &[VarDecl<'_>],
    auto_var_files: &[PathBuf],
) -> Result<BTreeMap<String, Value>, TemplateError> {
    let find = |n: &str| decls.iter().find(|d| d.name == n);
    let mut values: BTreeMap<String, Value> = BTreeMap::new();
    let convert = |d: &VarDecl<'_>, v: Value, from: &str| -> Result<Value, TemplateError> {
        match &d.ty {
            Some(t) => types::convert(&v, t).map_err(|e| {
                TemplateError::new(format!(
                    "invalid value for variable `{}` from {from}: {e}",
                    d.name
                ))
                .at(d.loc.clone())
                .fix(format!("give a value of type {}", t.name()))
            }),
            None => Ok(v),
        }
    };
    // 1. defaults (only env() in scope)
    for d in decls {
        if let Some(e) = d.default {
            let v = ctx
                .eval(d.file, e, &Map::new(), FuncSet::OnlyEnv, &BTreeSet::new())
                .map_err(|e| {
                    TemplateError::from(e)
                        .in_block(format!("variable \"{}\"", d.name))
                        .key("default")
                })?;
            values.insert(d.name.clone(), convert(d, v, "its default")?);
        }
    }
    // 2. PKR_VAR_name
    for d in decls {
        if let Some(text) = ctx.opts.env.get(&format!("PKR_VAR_{}", d.name)) {
            let from = format!("PKR_VAR_{}", d.name);
            let v = text_value(text, d.ty.as_ref())
                .map_err(|e| TemplateError::new(format!("{from} {e}")).at(d.loc.clone()))?;
            values.insert(d.name.clone(), convert(d, v, &from)?);
        }
    }
    // 3. auto var files, then -var-file in order
    let files = var_file_paths(ctx.opts, auto_var_files);
    for path in &files {
        for (name, v, loc) in read_var_file(path)? {
            match find(&name) {
                Some(d) => {
                    let v = convert(d, v, &loc.to_string()).map_err(|mut e| {
                        e.location = Some(loc.clone());
                        e
                    })?;
                    values.insert(name, v);
                }
                None => ctx.warnings.push(format!(
                    "{loc}: undeclared variable `{name}` in a var file is ignored"
                )),
            }
        }
    }
    // 4. -var, last wins
    for (name, text) in &ctx.opts.vars {
        let d = find(name).ok_or_else(|| {
            TemplateError::new(format!("Undefined -var variable `{name}`")).fix(format!(
                "declare it in the template: variable \"{name}\" {{ type = string }}"
            ))
        })?;
        let from = format!("-var {name}=...");
        let v = text_value(text, d.ty.as_ref())
            .map_err(|e| TemplateError::new(format!("{from} {e}")).at(d.loc.clone()))?;
        values.insert(name.clone(), convert(d, v, &from)?);
    }
    for d in decls {
        if !values.contains_key(&d.name) {
            return Err(TemplateError::new(format!("Unset variable \"{}\"", d.name))
                .at(d.loc.clone())
                .in_block(format!("variable \"{}\"", d.name))
                .fix(format!(
                    "give it a value: -var {0}=..., a -var-file, a *.auto.pkrvars.hcl file, PKR_VAR_{0}, or a default",
                    d.name
                )));
        }
    }
    Ok(values)
}

/// The `name = value` pairs of a var file (`.hcl`, or `.json` in HCL's
/// JSON syntax).
fn read_var_file(path: &Path) -> Result<Vec<(String, Value, Location)>, TemplateError> {
    let name = path.to_string_lossy();
    if !name.ends_with(".hcl") && !name.ends_with(".json") {
        return Err(
            TemplateError::new(format!("Could not guess format of {}", path.display()))
                .at(Location::file(path))
                .fix("name var files *.pkrvars.hcl or *.pkrvars.json"),
        );
    }
    let f = parse_file(path, true)?;
    let env = BTreeMap::new();
    let mut out = Vec::new();
    for s in f.body.iter() {
        let Structure::Attribute(a) = s else {
            return Err(TemplateError::new(
                "a var file holds only `name = value` lines, not blocks",
            )
            .at(f.src.loc(s.span()))
            .fix("declare variables in the template, set their values here"));
        };
        let v = Scope {
            src: &f.src,
            funcs: FuncEnv {
                set: FuncSet::None,
                env: &env,
                template_dir: Path::new("."),
                cwd: Path::new("."),
            },
            roots: &Map::new(),
            pending: &BTreeSet::new(),
            iter_vars: Vec::new(),
        }
        .eval(&a.value)
        .map_err(|e| TemplateError::from(e).key(a.key.as_str()))?;
        out.push((a.key.as_str().to_owned(), v, f.src.loc(a.span())));
    }
    Ok(out)
}

/// A block body as a configuration object.
struct BodyDecoder<'c, 'a> {
    ctx: &'c Ctx<'a>,
    file: usize,
    roots: &'c Map<String, Value>,
    builder_type: Option<&'c str>,
}

impl BodyDecoder<'_, '_> {
    fn eval(&self, e: &Expression) -> Result<Value, EvalError> {
        self.ctx
            .eval(self.file, e, self.roots, FuncSet::All, &BTreeSet::new())
    }

    fn list_blocks(&self) -> &'static [&'static str] {
        self.builder_type
            .and_then(|t| LIST_BLOCKS.iter().find(|(b, _)| *b == t))
            .map_or(&[], |(_, l)| l)
    }

    fn single_blocks(&self) -> &'static [&'static str] {
        self.builder_type
            .and_then(|t| SINGLE_BLOCKS.iter().find(|(b, _)| *b == t))
            .map_or(&[], |(_, l)| l)
    }

    /// Decodes `body` (skipping `skip` keys) into `out`; `locations` gets
    /// each top-level key's place.
    fn decode(
        &self,
        body: &Body,
        block: &str,
        skip: &[&str],
        out: &mut Map<String, Value>,
        mut locations: Option<&mut BTreeMap<String, Location>>,
        nested: bool,
    ) -> Result<(), TemplateError> {
        let list_blocks = if nested { &[][..] } else { self.list_blocks() };
        let single_blocks = if nested {
            &[][..]
        } else {
            self.single_blocks()
        };
        for s in body.iter() {
            match s {
                Structure::Attribute(a) => {
                    let key = a.key.as_str();
                    if skip.contains(&key) {
                        continue;
                    }
                    let loc = self.ctx.loc(self.file, a.span());
                    if list_blocks.contains(&key) || single_blocks.contains(&key) {
                        return Err(TemplateError::new(format!(
                            "`{key}` is a block, not an argument"
                        ))
                        .at(loc)
                        .in_block(block)
                        .key(key)
                        .fix(format!("write `{key} {{ ... }}` without `=`")));
                    }
                    if out.contains_key(key) {
                        return Err(TemplateError::new("set twice")
                            .at(loc)
                            .in_block(block)
                            .key(key)
                            .fix("set each argument once (a build's source block may only add arguments)"));
                    }
                    let v = self
                        .eval(&a.value)
                        .map_err(|e| TemplateError::from(e).in_block(block).key(key))?;
                    if !v.is_null() {
                        out.insert(key.to_owned(), v);
                        if let Some(l) = locations.as_deref_mut() {
                            l.insert(key.to_owned(), loc);
                        }
                    }
                }
                Structure::Block(b) => {
                    let key = b.ident.as_str();
                    let loc = self.ctx.loc(self.file, b.span());
                    if !b.labels.is_empty() {
                        return Err(TemplateError::new(format!(
                            "the nested block `{key}` takes no label"
                        ))
                        .at(loc)
                        .in_block(block));
                    }
                    let mut inner = Map::new();
                    self.decode(
                        &b.body,
                        &format!("{block} {key}"),
                        &[],
                        &mut inner,
                        None,
                        true,
                    )?;
                    let repeatable = list_blocks.contains(&key) || nested;
                    match out.get_mut(key) {
                        Some(Value::Array(a)) if repeatable => a.push(Value::Object(inner)),
                        Some(Value::Object(_)) if nested => {
                            let first = out.remove(key).unwrap_or(Value::Null);
                            out.insert(
                                key.to_owned(),
                                Value::Array(vec![first, Value::Object(inner)]),
                            );
                        }
                        Some(_) => {
                            return Err(TemplateError::new(format!(
                                "the block `{key}` may appear only once"
                            ))
                            .at(loc)
                            .in_block(block)
                            .key(key));
                        }
                        None if list_blocks.contains(&key) => {
                            out.insert(key.to_owned(), Value::Array(vec![Value::Object(inner)]));
                        }
                        None => {
                            out.insert(key.to_owned(), Value::Object(inner));
                        }
                    }
                    if let Some(l) = locations.as_deref_mut() {
                        l.entry(key.to_owned()).or_insert(loc);
                    }
                }
            }
        }
        Ok(())
    }
}

/// `"source.T.N"` or `"T.N"`.
fn source_ref(r: &str) -> Option<(String, String)> {
    let r = r.strip_prefix("source.").unwrap_or(r);
    let (t, n) = r.split_once('.')?;
    let ident = |s: &str| {
        !s.is_empty()
            && s.chars()
                .next()
                .is_some_and(|c| c.is_alphabetic() || c == '_')
            && s.chars()
                .all(|c| c.is_alphanumeric() || c == '_' || c == '-')
    };
    (ident(t) && ident(n)).then(|| (t.to_owned(), n.to_owned()))
}

type Sources<'a> = BTreeMap<(String, String), (usize, &'a Block)>;

fn build(
    ctx: &Ctx<'_>,
    fi: usize,
    b: &Block,
    index: usize,
    roots: &Map<String, Value>,
    sources: &Sources<'_>,
) -> Result<Vec<PlannedBuild>, TemplateError> {
    let block = format!("build #{}", index + 1);
    let mut name: Option<String> = None;
    let mut description = None;
    let mut uses: Vec<((String, String), Option<&Block>, Location)> = Vec::new();
    let mut provs: Vec<&Block> = Vec::new();
    let mut cleanup: Option<&Block> = None;
    let mut chains: Vec<Vec<&Block>> = Vec::new();
    let eval = |e: &Expression, key: &str| -> Result<Value, TemplateError> {
        ctx.eval(fi, e, roots, FuncSet::All, &BTreeSet::new())
            .map_err(|err| TemplateError::from(err).in_block(&block).key(key))
    };
    let known_sources = || {
        sources
            .keys()
            .map(|(t, n)| format!("source.{t}.{n}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    for s in b.body.iter() {
        match s {
            Structure::Attribute(a) => {
                let key = a.key.as_str();
                let loc = ctx.loc(fi, a.span());
                let bad = |m: String| {
                    TemplateError::new(m)
                        .at(loc.clone())
                        .in_block(&block)
                        .key(key)
                };
                match key {
                    "name" => name = Some(string_of(&eval(&a.value, key)?, "name").map_err(bad)?),
                    "description" => {
                        description =
                            Some(string_of(&eval(&a.value, key)?, "description").map_err(bad)?)
                    }
                    "sources" => {
                        for r in string_list(&eval(&a.value, key)?).map_err(bad)? {
                            let k = source_ref(&r).ok_or_else(|| {
                                bad(format!(
                                    "{r:?} is not a source reference (write \"source.TYPE.NAME\")"
                                ))
                            })?;
                            if !sources.contains_key(&k) {
                                return Err(bad(format!("there is no source {r:?}")).fix(format!(
                                    "define it, or use one of: {}",
                                    known_sources()
                                )));
                            }
                            uses.push((k, None, loc.clone()));
                        }
                    }
                    _ => {
                        return Err(unknown_key(
                            ctx,
                            fi,
                            s,
                            "build",
                            "name, description, sources, source, provisioner, error-cleanup-provisioner, post-processor, post-processors",
                        ));
                    }
                }
            }
            Structure::Block(sb) => {
                let loc = ctx.loc(fi, sb.span());
                match sb.ident.as_str() {
                    "source" => {
                        let r = sb.labels.first().map(label).unwrap_or("");
                        let k = source_ref(r).filter(|_| sb.labels.len() == 1).ok_or_else(|| {
                            TemplateError::new(format!("a build's source block takes one label \"source.TYPE.NAME\", not {r:?}")).at(loc.clone()).in_block(&block)
                        })?;
                        if !sources.contains_key(&k) {
                            return Err(TemplateError::new(format!("there is no source {r:?}"))
                                .at(loc)
                                .in_block(&block)
                                .fix(format!("define it, or use one of: {}", known_sources())));
                        }
                        uses.push((k, Some(sb), loc));
                    }
                    "provisioner" => provs.push(sb),
                    "error-cleanup-provisioner" => {
                        if cleanup.replace(sb).is_some() {
                            return Err(TemplateError::new(
                                "at most one error-cleanup-provisioner per build",
                            )
                            .at(loc)
                            .in_block(&block));
                        }
                    }
                    "post-processor" => chains.push(vec![sb]),
                    "post-processors" => {
                        let mut chain = Vec::new();
                        for s in sb.body.iter() {
                            match s {
                                Structure::Block(pp) if pp.ident.as_str() == "post-processor" => {
                                    chain.push(pp)
                                }
                                _ => {
                                    return Err(unknown_key(
                                        ctx,
                                        fi,
                                        s,
                                        "post-processors",
                                        "post-processor blocks",
                                    ));
                                }
                            }
                        }
                        chains.push(chain);
                    }
                    "hcp_packer_registry" => {}
                    _ => {
                        return Err(unknown_key(
                            ctx,
                            fi,
                            s,
                            "build",
                            "name, description, sources, source, provisioner, error-cleanup-provisioner, post-processor, post-processors",
                        ));
                    }
                }
            }
        }
    }
    let mut out = Vec::new();
    for ((t, n), over, _loc) in uses {
        let (sfi, sblock) = sources[&(t.clone(), n.clone())];
        let mut renamed = n.clone();
        if let Some(ob) = over
            && let Some(a) = ob.body.get_attribute("name")
        {
            renamed = string_of(&eval(&a.value, "name")?, "name").map_err(|m| {
                TemplateError::new(m)
                    .at(ctx.loc(fi, a.span()))
                    .in_block(describe(ob))
                    .key("name")
            })?;
        }
        let mut rs = roots.clone();
        let mut src_obj = Map::new();
        src_obj.insert("name".into(), Value::String(renamed.clone()));
        src_obj.insert("type".into(), Value::String(t.clone()));
        rs.insert("source".into(), Value::Object(src_obj));
        let mut build_obj = Map::new();
        build_obj.insert(
            "name".into(),
            Value::String(name.clone().unwrap_or_default()),
        );
        for k in BUILD_DATA {
            build_obj.insert((*k).into(), Value::String(format!("{{{{ build `{k}` }}}}")));
        }
        rs.insert("build".into(), Value::Object(build_obj));
        let mut config = Map::new();
        let mut locations = BTreeMap::new();
        let sdesc = describe(sblock);
        BodyDecoder {
            ctx,
            file: sfi,
            roots: &rs,
            builder_type: Some(&t),
        }
        .decode(
            &sblock.body,
            &sdesc,
            &[],
            &mut config,
            Some(&mut locations),
            false,
        )?;
        if let Some(ob) = over {
            BodyDecoder {
                ctx,
                file: fi,
                roots: &rs,
                builder_type: Some(&t),
            }
            .decode(
                &ob.body,
                &format!("{block} {}", describe(ob)),
                &["name"],
                &mut config,
                Some(&mut locations),
                false,
            )?;
        }
        let src_ref = format!("{t}.{renamed}");
        let full = match &name {
            Some(b) => format!("{b}.{src_ref}"),
            None => src_ref.clone(),
        };
        let go = GoCtx {
            user: None,
            env: None,
            build_name: Some(&n),
            build_type: Some(&t),
            template_dir: None,
            pwd: &ctx.cwd,
            init: ctx.run.init,
            uuid: &ctx.run.uuid,
        };
        let mut config = Value::Object(config);
        if t != "oxide-instance" {
            config = gotmpl::render_value(&config, &go).map_err(|(path, m)| {
                let top = path.split(['.', '[']).next().unwrap_or("").to_owned();
                let mut e = TemplateError::new(m)
                    .in_block(&sdesc)
                    .key(path)
                    .fix(gotmpl::FIX);
                e.location = locations.get(&top).cloned();
                e
            })?;
        }
        let mut provisioners = Vec::new();
        for p in &provs {
            if let Some(p) = provisioner(ctx, fi, p, &rs, &src_ref, &renamed, &n, &go)? {
                provisioners.push(p);
            }
        }
        let error_cleanup_provisioner = match cleanup {
            Some(p) => provisioner(ctx, fi, p, &rs, &src_ref, &renamed, &n, &go)?,
            None => None,
        };
        let mut post_processors = Vec::new();
        for chain in &chains {
            let mut c = Vec::new();
            for pp in chain {
                if let Some(p) = post_processor(ctx, fi, pp, &rs, &src_ref, &go)? {
                    c.push(p);
                }
            }
            if !c.is_empty() {
                post_processors.push(c);
            }
        }
        out.push(PlannedBuild {
            name: full,
            packer_build_name: n.clone(),
            build_block: name.clone(),
            description: description.clone(),
            builder_type: t.clone(),
            config,
            key_locations: locations,
            provisioners,
            error_cleanup_provisioner,
            post_processors,
            sensitive: Sensitive::default(),
        });
    }
    Ok(out)
}

struct Meta {
    name: Option<String>,
    only: Vec<String>,
    except: Vec<String>,
    config: Map<String, Value>,
    raw: Map<String, Value>,
}

/// Decodes a provisioner or post-processor body: its meta keys apart,
/// the rest rendered as its configuration.
fn meta_body(
    ctx: &Ctx<'_>,
    fi: usize,
    b: &Block,
    roots: &Map<String, Value>,
    meta_keys: &[&str],
    go: &GoCtx<'_>,
) -> Result<(Meta, String), TemplateError> {
    let desc = describe(b);
    let mut all = Map::new();
    BodyDecoder {
        ctx,
        file: fi,
        roots,
        builder_type: None,
    }
    .decode(&b.body, &desc, &[], &mut all, None, false)?;
    let mut raw = Map::new();
    let mut config = Map::new();
    for (k, v) in all {
        if meta_keys.contains(&k.as_str()) {
            raw.insert(k, v);
        } else {
            config.insert(k, v);
        }
    }
    let at = |k: &str, m: String| -> TemplateError {
        let loc = b
            .body
            .get_attribute(k)
            .map(|a| ctx.loc(fi, a.span()))
            .unwrap_or_else(|| ctx.loc(fi, b.span()));
        TemplateError::new(m).at(loc).in_block(desc.clone()).key(k)
    };
    let name = match raw.get("name") {
        Some(v) => Some(string_of(v, "name").map_err(|m| at("name", m))?),
        None => None,
    };
    let only = string_list(raw.get("only").unwrap_or(&Value::Null)).map_err(|m| at("only", m))?;
    let except =
        string_list(raw.get("except").unwrap_or(&Value::Null)).map_err(|m| at("except", m))?;
    if !only.is_empty() && !except.is_empty() {
        return Err(at("only", "`only` and `except` cannot both be set".into()));
    }
    let config = match gotmpl::render_value(&Value::Object(config), go) {
        Ok(Value::Object(c)) => c,
        Ok(_) => Map::new(),
        Err((path, m)) => return Err(at(&path, m).fix(gotmpl::FIX)),
    };
    Ok((
        Meta {
            name,
            only,
            except,
            config,
            raw,
        },
        desc,
    ))
}

#[allow(clippy::too_many_arguments)]
fn provisioner(
    ctx: &Ctx<'_>,
    fi: usize,
    b: &Block,
    roots: &Map<String, Value>,
    src_ref: &str,
    renamed: &str,
    label_name: &str,
    go: &GoCtx<'_>,
) -> Result<Option<PlannedProvisioner>, TemplateError> {
    let kind = b.labels.first().map(label).unwrap_or("").to_owned();
    let loc = ctx.loc(fi, b.span());
    if WINDOWS_PROVISIONERS.contains(&kind.as_str()) {
        return Err(TemplateError::new(format!(
            "the `{kind}` provisioner is not supported: imagebake bakes Unix-like images"
        ))
        .at(loc)
        .fix("use `shell` (with expect_disconnect = true for a reboot)"));
    }
    if b.labels.len() != 1 || !PROVISIONERS.contains(&kind.as_str()) {
        return Err(
            TemplateError::new(format!("unknown provisioner type {kind:?}"))
                .at(loc)
                .fix(format!("provisioner types: {}", PROVISIONERS.join(", "))),
        );
    }
    let (m, desc) = meta_body(
        ctx,
        fi,
        b,
        roots,
        &[
            "name",
            "only",
            "except",
            "pause_before",
            "timeout",
            "max_retries",
            "continue_on_error",
            "override",
        ],
        go,
    )?;
    if (!m.only.is_empty() && !m.only.iter().any(|o| o == src_ref))
        || m.except.iter().any(|e| e == src_ref)
    {
        return Ok(None);
    }
    let bad = |k: &str, e: String| {
        TemplateError::new(e)
            .at(loc.clone())
            .in_block(desc.clone())
            .key(k)
    };
    let mut config = m.config;
    if let Some(o) = m.raw.get("override") {
        let Value::Object(o) = o else {
            return Err(bad(
                "override",
                "must be a map of source name to settings".into(),
            ));
        };
        if let Some(Value::Object(extra)) = o.get(renamed).or_else(|| o.get(label_name)) {
            for (k, v) in extra {
                config.insert(k.clone(), v.clone());
            }
        }
    }
    let max_retries = match m.raw.get("max_retries") {
        None => 0,
        Some(v) => types::convert(v, &Type::Number)
            .ok()
            .and_then(|n| n.as_u64())
            .and_then(|n| u32::try_from(n).ok())
            .ok_or_else(|| bad("max_retries", "must be a whole number".into()))?,
    };
    let continue_on_error = match m.raw.get("continue_on_error") {
        None => false,
        Some(v) => match types::convert(v, &Type::Bool) {
            Ok(Value::Bool(b)) => b,
            _ => return Err(bad("continue_on_error", "must be true or false".into())),
        },
    };
    Ok(Some(PlannedProvisioner {
        kind,
        name: m.name,
        config: Value::Object(config),
        only: m.only,
        except: m.except,
        pause_before: duration(m.raw.get("pause_before").unwrap_or(&Value::Null))
            .map_err(|e| bad("pause_before", e))?,
        max_retries,
        timeout: duration(m.raw.get("timeout").unwrap_or(&Value::Null))
            .map_err(|e| bad("timeout", e))?,
        continue_on_error,
        location: Some(loc.clone()),
    }))
}

fn post_processor(
    ctx: &Ctx<'_>,
    fi: usize,
    b: &Block,
    roots: &Map<String, Value>,
    src_ref: &str,
    go: &GoCtx<'_>,
) -> Result<Option<PlannedPostProcessor>, TemplateError> {
    let kind = b.labels.first().map(label).unwrap_or("").to_owned();
    let loc = ctx.loc(fi, b.span());
    if b.labels.len() != 1 || !POST_PROCESSORS.contains(&kind.as_str()) {
        return Err(
            TemplateError::new(format!("unknown post-processor type {kind:?}"))
                .at(loc)
                .fix(format!(
                    "post-processor types: {}",
                    POST_PROCESSORS.join(", ")
                )),
        );
    }
    let (m, desc) = meta_body(
        ctx,
        fi,
        b,
        roots,
        &["name", "only", "except", "keep_input_artifact"],
        go,
    )?;
    if (!m.only.is_empty() && !m.only.iter().any(|o| o == src_ref))
        || m.except.iter().any(|e| e == src_ref)
    {
        return Ok(None);
    }
    let keep_input_artifact = match m.raw.get("keep_input_artifact") {
        None => None,
        Some(v) => match types::convert(v, &Type::Bool) {
            Ok(Value::Bool(b)) => Some(b),
            _ => {
                return Err(TemplateError::new("must be true or false")
                    .at(loc)
                    .in_block(desc)
                    .key("keep_input_artifact"));
            }
        },
    };
    Ok(Some(PlannedPostProcessor {
        name: m.name.unwrap_or_else(|| kind.clone()),
        kind,
        config: Value::Object(m.config),
        keep_input_artifact,
        only: m.only,
        except: m.except,
        location: Some(loc),
    }))
}

//! `imagebake inspect`: a template's variables, builds, provisioners and
//! post-processors, in Packer's layout.

use std::fmt::Write as _;

use imagebake_core::template::{
    self, Placeholders, Plan, PlannedBuild, PlannedProvisioner, PlannedVariable, TemplateKind,
};
use serde_json::Value;

use crate::args::InspectArgs;

/// Runs the verb; returns the exit code.
pub async fn run(args: &InspectArgs) -> u8 {
    let plan = match args.vars.options() {
        Ok(opts) => template::plan(&args.path, &opts, &Placeholders).await,
        Err(e) => Err(e),
    };
    match plan {
        Ok(plan) => {
            print!("{}", render(&plan));
            0
        }
        Err(e) => {
            eprintln!("Error: {e}");
            1
        }
    }
}

/// Packer's `%q` of a value as inspect prints it: a string as itself,
/// anything else as its JSON text; a sensitive value as `<sensitive>`.
fn shown(plan: &Plan, v: &PlannedVariable) -> String {
    let text = if v.sensitive {
        "<sensitive>".to_owned()
    } else {
        match &v.value {
            Value::String(s) => plan.sensitive.mask(s),
            other => plan.sensitive.mask(&other.to_string()),
        }
    };
    Value::String(text).to_string()
}

/// The provisioners of `builds` (each build lists those that apply to it),
/// once each, in the template's order.
fn provisioners<'p>(builds: &[&'p PlannedBuild]) -> Vec<&'p PlannedProvisioner> {
    let mut all: Vec<&PlannedProvisioner> = Vec::new();
    for b in builds {
        for p in &b.provisioners {
            if !all
                .iter()
                .any(|q| q.location == p.location && q.kind == p.kind)
            {
                all.push(p);
            }
        }
    }
    all.sort_by_key(|p| {
        p.location
            .as_ref()
            .map(|l| (l.file.clone(), l.line, l.column))
    });
    all
}

/// `T` or `T.NAME`.
fn typed_name(kind: &str, name: Option<&str>) -> String {
    match name {
        Some(n) if n != kind => format!("{kind}.{n}"),
        _ => kind.to_owned(),
    }
}

/// The whole inspect text, in Packer's layout for the template's kind.
fn render(plan: &Plan) -> String {
    match plan.kind {
        TemplateKind::Hcl2 => render_hcl2(plan),
        TemplateKind::Json => render_json(plan),
    }
}

/// Packer's HCL2 layout (hcl2template `printVariables`, `printBuilds`).
fn render_hcl2(plan: &Plan) -> String {
    let mut out = String::from("Packer Inspect: HCL2 mode\n\n> input-variables:\n\n");
    for v in &plan.variables {
        let _ = writeln!(out, "var.{}: {}", v.name, shown(plan, v));
    }
    out.push_str("\n> local-variables:\n\n");
    for v in &plan.locals {
        let _ = writeln!(out, "local.{}: {}", v.name, shown(plan, v));
    }
    out.push_str("\n> builds:\n");
    // Consecutive builds of one build block share its name and description.
    let mut groups: Vec<Vec<&PlannedBuild>> = Vec::new();
    for b in &plan.builds {
        match groups.last_mut() {
            Some(g) if g[0].build_block == b.build_block && g[0].description == b.description => {
                g.push(b);
            }
            _ => groups.push(vec![b]),
        }
    }
    for (i, group) in groups.iter().enumerate() {
        let first = group[0];
        match &first.build_block {
            Some(name) => {
                let _ = writeln!(out, "\n  > {name}:");
            }
            None => {
                let _ = writeln!(out, "\n  > <unnamed build {i}>:");
            }
        }
        if let Some(d) = &first.description {
            let _ = writeln!(out, "\n  > Description: {}", plan.sensitive.mask(d));
        }
        out.push_str("\n    sources:\n");
        for b in group {
            let source = match &b.build_block {
                Some(block) => b.name.strip_prefix(&format!("{block}.")).unwrap_or(&b.name),
                None => &b.name,
            };
            let _ = writeln!(out, "\n      {source}");
        }
        out.push_str("\n    provisioners:\n\n");
        let provs = provisioners(group);
        if provs.is_empty() {
            out.push_str("      <no provisioner>\n");
        }
        for p in provs {
            let _ = writeln!(out, "      {}", typed_name(&p.kind, p.name.as_deref()));
        }
        out.push_str("\n    post-processors:\n");
        if first.post_processors.is_empty() {
            out.push_str("\n      <no post-processor>\n");
        }
        for (j, chain) in first.post_processors.iter().enumerate() {
            let _ = writeln!(out, "\n      {j}:");
            for pp in chain {
                let _ = writeln!(out, "        {}", typed_name(&pp.kind, Some(&pp.name)));
            }
        }
    }
    out.push('\n');
    out
}

/// Packer's legacy JSON layout (`Core.InspectConfig`): variables with
/// their values, builders by name, provisioners by type.
fn render_json(plan: &Plan) -> String {
    let mut out = String::from("Packer Inspect: JSON mode\n");
    if let Some(d) = plan.builds.first().and_then(|b| b.description.as_ref()) {
        let _ = write!(out, "Description:\n\n{}\n\n", plan.sensitive.mask(d));
    }
    if plan.variables.is_empty() {
        out.push_str("Variables:\n\n  <No variables>\n");
    } else {
        out.push_str("Optional variables and their defaults:\n\n");
        let width = plan
            .variables
            .iter()
            .map(|v| v.name.len())
            .max()
            .unwrap_or(0);
        for v in &plan.variables {
            let value = if v.sensitive {
                "<sensitive>".to_owned()
            } else {
                plan.sensitive.mask(
                    &v.value
                        .as_str()
                        .map_or_else(|| v.value.to_string(), str::to_owned),
                )
            };
            let _ = writeln!(out, "  {:width$} = {value}", v.name);
        }
    }
    out.push_str("\nBuilders:\n\n");
    if plan.builds.is_empty() {
        out.push_str("  <No builders>\n");
    }
    let mut builds: Vec<&PlannedBuild> = plan.builds.iter().collect();
    builds.sort_by(|a, b| a.name.cmp(&b.name));
    let width = builds.iter().map(|b| b.name.len()).max().unwrap_or(0);
    for b in &builds {
        if b.name == b.builder_type {
            let _ = writeln!(out, "  {}", b.name);
        } else {
            let _ = writeln!(out, "  {:width$} ({})", b.name, b.builder_type);
        }
    }
    out.push_str("\nProvisioners:\n\n");
    let provs = provisioners(&builds);
    if provs.is_empty() {
        out.push_str("  <No provisioners>\n");
    }
    for p in provs {
        let _ = writeln!(out, "  {}", p.kind);
    }
    out.push_str(
        "\nNote: If your build names contain user variables or template\n\
         functions such as 'timestamp', these are processed at build time,\n\
         and therefore only show in their raw form here.\n",
    );
    out
}

//! `imagebake inspect`: a template's variables, builds, provisioners and
//! post-processors, in Packer's layout.

use std::fmt::Write as _;

use imagebake_core::template::{self, Placeholders, Plan, PlannedVariable, TemplateKind};

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

/// `var.NAME: VALUE` lines, sensitive values masked.
fn variables(out: &mut String, plan: &Plan, prefix: &str, vars: &[PlannedVariable]) {
    for v in vars {
        let value = if v.sensitive {
            "<sensitive>".to_owned()
        } else {
            plan.sensitive.mask(&v.value.to_string())
        };
        let _ = writeln!(out, "{prefix}.{}: {value}", v.name);
    }
    out.push('\n');
}

/// The whole inspect text.
fn render(plan: &Plan) -> String {
    let mut out = String::new();
    let mode = match plan.kind {
        TemplateKind::Hcl2 => "HCL2",
        TemplateKind::Json => "JSON",
    };
    let _ = writeln!(out, "Packer Inspect: {mode} mode\n");
    out.push_str("> input-variables:\n\n");
    variables(&mut out, plan, "var", &plan.variables);
    out.push_str("> local-variables:\n\n");
    variables(&mut out, plan, "local", &plan.locals);
    out.push_str("> builds:\n\n");
    // Consecutive builds of one build block share its name and description.
    let mut groups: Vec<Vec<&template::PlannedBuild>> = Vec::new();
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
                let _ = writeln!(out, "  > {name}:\n");
            }
            None => {
                let _ = writeln!(out, "  > <unnamed build {i}>:\n");
            }
        }
        if let Some(d) = &first.description {
            let _ = writeln!(out, "    description: {}\n", plan.sensitive.mask(d));
        }
        out.push_str("    sources:\n\n");
        for b in group {
            let source = match &b.build_block {
                Some(block) => b.name.strip_prefix(&format!("{block}.")).unwrap_or(&b.name),
                None => &b.name,
            };
            let _ = writeln!(out, "      {source}");
        }
        out.push('\n');
        out.push_str("    provisioners:\n\n");
        for p in &first.provisioners {
            match &p.name {
                Some(n) => {
                    let _ = writeln!(out, "      {}.{n}", p.kind);
                }
                None => {
                    let _ = writeln!(out, "      {}", p.kind);
                }
            }
        }
        out.push('\n');
        out.push_str("    post-processors:\n\n");
        for (j, chain) in first.post_processors.iter().enumerate() {
            let _ = writeln!(out, "      {j}:");
            for pp in chain {
                if pp.name == pp.kind {
                    let _ = writeln!(out, "        {}", pp.kind);
                } else {
                    let _ = writeln!(out, "        {}.{}", pp.kind, pp.name);
                }
            }
        }
        out.push('\n');
    }
    out
}

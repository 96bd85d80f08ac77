//! `imagebake validate`: everything that can be checked without creating
//! anything.

use imagebake_core::builders::BuilderRegistry;
use imagebake_core::builders::oxide::ImageDataSource;
use imagebake_core::packer_template::provisioner;
use imagebake_core::template::{self, DataSources, Placeholders, PlannedBuild, TemplateError};
use serde_json::Value;

use crate::args::ValidateArgs;

/// Runs the verb; returns the exit code.
pub async fn run(args: &ValidateArgs) -> u8 {
    match check(args).await {
        Ok(warnings) => {
            for w in warnings {
                eprintln!("Warning: {w}");
            }
            if args.syntax_only {
                println!("Syntax-only check passed. Everything looks okay.");
            } else {
                println!("The configuration is valid.");
            }
            0
        }
        Err(errors) => {
            for e in errors {
                eprintln!("Error: {e}");
            }
            1
        }
    }
}

/// The warnings on success, every error otherwise.
async fn check(args: &ValidateArgs) -> Result<Vec<String>, Vec<TemplateError>> {
    let opts = args.vars.options().map_err(|e| vec![e])?;
    if args.syntax_only {
        template::check_syntax(&args.path, &opts).map_err(|e| vec![e])?;
        return Ok(Vec::new());
    }
    // Without -evaluate-datasources no API is called: each data source
    // attribute is a placeholder, as in Packer.
    let data: &dyn DataSources = if args.evaluate_datasources {
        &ImageDataSource
    } else {
        &Placeholders
    };
    let mut plan = template::plan(&args.path, &opts, data)
        .await
        .map_err(|e| vec![e])?;
    plan.select(&args.only, &args.except).map_err(|e| vec![e])?;
    let errors: Vec<TemplateError> = plan.builds.iter().flat_map(check_build).collect();
    if errors.is_empty() {
        Ok(plan.warnings)
    } else {
        Err(errors)
    }
}

/// Whether the builder refused a key whose value comes from a data source
/// that was not read (`<unknown>`): as in Packer, unknown values are not
/// checked.
fn from_placeholder(build: &PlannedBuild, e: &imagebake_core::Error) -> bool {
    fn has_unknown(v: &Value) -> bool {
        match v {
            Value::String(s) => s.contains(template::UNKNOWN),
            Value::Array(a) => a.iter().any(has_unknown),
            Value::Object(o) => o.values().any(has_unknown),
            _ => false,
        }
    }
    e.config_key()
        .and_then(|k| build.config.get(k.split(['.', '[']).next().unwrap_or(k)))
        .is_some_and(has_unknown)
}

/// Decodes the build's builder configuration, provisioners and
/// post-processors as the build would, creating nothing; each error
/// located at the key it names.
fn check_build(build: &PlannedBuild) -> Vec<TemplateError> {
    let mut errors = Vec::new();
    if let Err(e) =
        BuilderRegistry::default().builder(&build.builder_type, &build.config, Vec::new())
        && !from_placeholder(build, &e)
    {
        errors.push(build.config_error(&e));
    }
    for p in &build.provisioners {
        let mut block = p.config.clone();
        if let Value::Object(m) = &mut block {
            m.insert("type".into(), Value::String(p.kind.clone()));
        }
        if let Err(e) = provisioner(&block) {
            let msg = build.sensitive.mask(&e.to_string());
            let mut t = TemplateError::new(msg).in_block(format!(
                "build {}, provisioner {:?}",
                build.name,
                p.name.as_deref().unwrap_or(&p.kind)
            ));
            if let Some(l) = &p.location {
                t = t.at(l.clone());
            }
            errors.push(t);
        }
    }
    if let Err(e) = imagebake_core::postprocess::check(build) {
        errors.push(e);
    }
    errors
}

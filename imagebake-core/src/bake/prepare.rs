//! Checks one build of a plan before any build starts: its builder (with
//! `packer_force` under `-force`), its provisioners and its
//! post-processors. Errors are located in the template.

use serde_json::Value;

use super::provisioner::guarded;
use crate::builders::{AnyBuilder, BuilderRegistry, Provisioner};
use crate::packer_template;
use crate::postprocess;
use crate::template::{PlannedBuild, PlannedProvisioner, TemplateError};

/// The builder of `build`, provisioners added (with their
/// `pause_before`, `max_retries`, `timeout`), ready to run; its
/// post-processors checked. With `force`, the builder gets
/// `packer_force: true`. Errors are located in the template.
pub fn prepare(
    build: &PlannedBuild,
    registry: &BuilderRegistry,
    force: bool,
) -> Result<AnyBuilder, TemplateError> {
    let (builder, notes) = prepare_with_notes(build, registry, force)?;
    for note in notes {
        tracing::warn!("{note}");
    }
    Ok(builder)
}

/// [`prepare`], with the notes to show the user: which of a builder key
/// and an image spec's value wins where both are set.
pub(crate) fn prepare_with_notes(
    build: &PlannedBuild,
    registry: &BuilderRegistry,
    force: bool,
) -> Result<(AnyBuilder, Vec<String>), TemplateError> {
    let provisioners = build
        .provisioners
        .iter()
        .map(|p| provisioner(build, p))
        .collect::<Result<Vec<_>, _>>()?;
    let mut config = builder_config(build, force);
    let notes = apply_specs(build, &mut config)?;
    let builder = registry
        .builder(&build.builder_type, &config, provisioners)
        .map_err(|e| build.config_error(&e))?;
    postprocess::check(build)?;
    Ok((builder, notes))
}

/// The builder's configuration: the plan's, with `packer_force: true` when
/// `force` (Packer sets `PackerForce` on every builder under `-force`).
pub(crate) fn builder_config(build: &PlannedBuild, force: bool) -> Value {
    let mut config = build.config.clone();
    if force && let Value::Object(m) = &mut config {
        m.insert("packer_force".into(), Value::Bool(true));
    }
    config
}

/// Fills the builder keys `config` leaves unset from the spec of each
/// `image-spec` provisioner (name, version, description, ...); returns
/// the notes on keys set both ways (the builder's wins).
fn apply_specs(build: &PlannedBuild, config: &mut Value) -> Result<Vec<String>, TemplateError> {
    let mut notes = Vec::new();
    for p in build.provisioners.iter().filter(|p| p.kind == "image-spec") {
        if let Some(dir) = p.config.get("path").and_then(Value::as_str) {
            let spec = crate::spec::Spec::load(dir).map_err(|e| {
                let mut t = TemplateError::new(e.to_string())
                    .in_block(format!("build {}: provisioner image-spec", build.name));
                if let Some(loc) = &p.location {
                    t = t.at(loc.clone());
                }
                t
            })?;
            notes.extend(crate::spec::apply_to_builder_block(
                &build.builder_type,
                config,
                &spec,
            ));
        }
    }
    Ok(notes)
}

/// One provisioner's step, its meta keys applied.
fn provisioner(build: &PlannedBuild, p: &PlannedProvisioner) -> Result<Provisioner, TemplateError> {
    let mut block = p.config.clone();
    if let Value::Object(m) = &mut block {
        m.insert("type".into(), Value::String(p.kind.clone()));
    }
    let step = packer_template::provisioner(&block).map_err(|e| {
        let mut t = TemplateError::new(build.sensitive.mask(&e.to_string()))
            .in_block(format!("build {}: provisioner {}", build.name, p.kind));
        if let Some(loc) = &p.location {
            t = t.at(loc.clone());
        }
        t
    })?;
    Ok(guarded(step, p))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn build(config: Value) -> PlannedBuild {
        PlannedBuild {
            name: "local-chroot".into(),
            packer_build_name: "local-chroot".into(),
            build_block: None,
            description: None,
            builder_type: "local-chroot".into(),
            config,
            key_locations: Default::default(),
            provisioners: Vec::new(),
            error_cleanup_provisioner: None,
            post_processors: Vec::new(),
            sensitive: Default::default(),
        }
    }

    #[test]
    fn force_sets_packer_force_in_the_builder_config() {
        let b = build(serde_json::json!({"output_path": "/tmp/x.raw"}));
        assert_eq!(builder_config(&b, false), b.config);
        assert_eq!(
            builder_config(&b, true),
            serde_json::json!({"output_path": "/tmp/x.raw", "packer_force": true})
        );
    }
}

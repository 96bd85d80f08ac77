//! The [`BuilderRegistry`]: builder type names → [`Builder`]s, so templates,
//! the command and the Python package make any builder from its block the
//! same way, and a Rust user's own builder runs like the built-in ones.
//!
//! ```no_run
//! use imagebake_core::builders::{AnyBuilder, BuilderRegistry};
//! # use imagebake_core::builders::{Builder, BuilderConfig, Provisioners, TemplateVars};
//! # use imagebake_core::builders::local_chroot::LocalChrootArtifact;
//! # use imagebake_core::{BuildError, CancellationToken, Error, Runner};
//! # #[derive(Debug, Default)] struct MyBuilder(Provisioners);
//! # struct MyConfig;
//! # impl BuilderConfig for MyConfig {
//! #     fn from_block(_: &serde_json::Value) -> Result<Self, Error> { Ok(MyConfig) }
//! # }
//! # impl Builder for MyBuilder {
//! #     const TYPE: &'static str = "my-cloud";
//! #     type Config = MyConfig;
//! #     type Artifact = LocalChrootArtifact;
//! #     fn with_vars(_: MyConfig, _: &TemplateVars) -> Result<Self, Error> { Ok(Self::default()) }
//! #     fn provisioners_mut(&mut self) -> &mut Provisioners { &mut self.0 }
//! #     async fn run(&self, _: &Runner, _: CancellationToken) -> Result<LocalChrootArtifact, BuildError> { unimplemented!() }
//! # }
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let mut registry = BuilderRegistry::default();
//! registry.register::<MyBuilder>();
//! let block = serde_json::json!({"type": "my-cloud"});
//! let builder: AnyBuilder = registry.builder_from_block(&block, Vec::new())?;
//! let artifact = builder.run(&Runner::new(), CancellationToken::new()).await?;
//! println!("{artifact}");
//! # Ok(())
//! # }
//! ```

use std::fmt;

use async_trait::async_trait;
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use super::artifact::{Artifact, AsAny};
use super::builder::{Builder, Provisioner, Provisioners};
use super::packer::TemplateVars;
use crate::journal::Scope;
use crate::{BuildError, Error, Runner, Sweeper};

/// What the registry holds: any [`Builder`], its artifact boxed.
#[async_trait]
trait DynBuilder: AsAny + fmt::Debug + Send + Sync {
    fn provisioners_mut(&mut self) -> &mut Provisioners;
    async fn run(
        &self,
        runner: &Runner,
        token: CancellationToken,
    ) -> Result<Box<dyn Artifact>, BuildError>;
    fn sweeper(&self) -> Option<Box<dyn Sweeper>>;
    fn scope(&self) -> Option<Scope>;
}

#[async_trait]
impl<B: Builder> DynBuilder for B {
    fn provisioners_mut(&mut self) -> &mut Provisioners {
        Builder::provisioners_mut(self)
    }

    async fn run(
        &self,
        runner: &Runner,
        token: CancellationToken,
    ) -> Result<Box<dyn Artifact>, BuildError> {
        Ok(Box::new(Builder::run(self, runner, token).await?))
    }

    fn sweeper(&self) -> Option<Box<dyn Sweeper>> {
        Builder::sweeper(self)
    }

    fn scope(&self) -> Option<Scope> {
        Builder::scope(self)
    }
}

type Make = fn(&Value, &TemplateVars) -> Result<Box<dyn DynBuilder>, Error>;

#[derive(Clone)]
struct Entry {
    name: &'static str,
    aliases: &'static [&'static str],
    make: Make,
}

fn make<B: Builder>(block: &Value, vars: &TemplateVars) -> Result<Box<dyn DynBuilder>, Error> {
    Ok(Box::new(B::from_block(block, vars)?))
}

/// The builder types a template may name, each with the [`Builder`] that
/// decodes its block. [`BuilderRegistry::default`] holds the built-in
/// builders of this crate's features (`triton`, `oxide-instance`,
/// `osc-chroot` alias `outscale-chroot`, `local-chroot`);
/// [`BuilderRegistry::register`] adds one.
#[derive(Clone)]
pub struct BuilderRegistry {
    entries: Vec<Entry>,
}

impl fmt::Debug for BuilderRegistry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("BuilderRegistry")
            .field(&self.types())
            .finish()
    }
}

impl Default for BuilderRegistry {
    fn default() -> Self {
        let mut r = Self::empty();
        #[cfg(feature = "triton")]
        r.register::<super::triton::TritonBuilder>();
        #[cfg(feature = "oxide")]
        r.register::<super::oxide::OxideBuilder>();
        #[cfg(feature = "osc")]
        r.register::<super::osc_chroot::OscChrootBuilder>();
        r.register::<super::local_chroot::LocalChrootBuilder>();
        r
    }
}

impl BuilderRegistry {
    /// A registry without any builder.
    pub fn empty() -> Self {
        Self {
            entries: Vec::new(),
        }
    }

    /// Adds builder `B` under its [`Builder::TYPE`] and
    /// [`Builder::ALIASES`]; it replaces a builder registered before under
    /// any of these names.
    pub fn register<B: Builder>(&mut self) -> &mut Self {
        let entry = Entry {
            name: B::TYPE,
            aliases: B::ALIASES,
            make: make::<B>,
        };
        let names: Vec<&str> = std::iter::once(entry.name)
            .chain(entry.aliases.iter().copied())
            .collect();
        self.entries.retain(|e| !names.iter().any(|n| e.answers(n)));
        self.entries.push(entry);
        self
    }

    /// The type names registered (without aliases), in registration order.
    pub fn types(&self) -> Vec<&'static str> {
        self.entries.iter().map(|e| e.name).collect()
    }

    /// The type name `name` stands for (itself, or the type it is an alias
    /// of), if registered.
    pub fn resolve(&self, name: &str) -> Option<&'static str> {
        self.entry(name).map(|e| e.name)
    }

    fn entry(&self, name: &str) -> Option<&Entry> {
        self.entries.iter().find(|e| e.answers(name))
    }

    /// Checks the configuration `config` of a builder of type `kind` (a
    /// JSON object of its keys; a `type` key in it is ignored), with
    /// `{{timestamp}}` and `{{uuid}}` taken now, and adds the provisioners.
    /// An unknown type is an error listing the known ones; the builder's
    /// errors name its keys.
    pub fn builder(
        &self,
        kind: &str,
        config: &Value,
        provisioners: Vec<Provisioner>,
    ) -> Result<AnyBuilder, Error> {
        self.builder_with_vars(kind, config, &TemplateVars::now(), provisioners)
    }

    /// [`BuilderRegistry::builder`] with given template values.
    pub fn builder_with_vars(
        &self,
        kind: &str,
        config: &Value,
        vars: &TemplateVars,
        provisioners: Vec<Provisioner>,
    ) -> Result<AnyBuilder, Error> {
        let entry = self.entry(kind).ok_or_else(|| {
            Error::config_at(
                "type",
                format!(
                    "template: builder: key `type`: {kind:?} is not a known builder ({})",
                    self.types().join(", ")
                ),
            )
        })?;
        let config = match config {
            Value::Object(obj) if obj.contains_key("type") => {
                let mut obj = obj.clone();
                obj.remove("type");
                Value::Object(obj)
            }
            other => other.clone(),
        };
        let mut inner = (entry.make)(&config, vars)?;
        inner.provisioners_mut().extend(provisioners);
        Ok(AnyBuilder {
            builder_type: entry.name,
            inner,
        })
    }

    /// [`BuilderRegistry::builder`] from a template's builder block, whose
    /// `type` key picks the builder.
    pub fn builder_from_block(
        &self,
        block: &Value,
        provisioners: Vec<Provisioner>,
    ) -> Result<AnyBuilder, Error> {
        let kind = block.get("type").and_then(Value::as_str).ok_or_else(|| {
            Error::config_at(
                "type",
                format!(
                    "template: builder: missing required key `type` ({})",
                    self.types().join(", ")
                ),
            )
        })?;
        self.builder(kind, block, provisioners)
    }
}

impl Entry {
    fn answers(&self, name: &str) -> bool {
        self.name == name || self.aliases.contains(&name)
    }
}

/// Any registered builder, checked and ready to run.
pub struct AnyBuilder {
    builder_type: &'static str,
    inner: Box<dyn DynBuilder>,
}

impl fmt::Debug for AnyBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.inner, f)
    }
}

impl AnyBuilder {
    /// The builder's type name (`triton`, `oxide-instance`, ...; never an
    /// alias).
    pub fn builder_type(&self) -> &'static str {
        self.builder_type
    }

    /// The builder, if it is a `B`.
    pub fn downcast_ref<B: Builder>(&self) -> Option<&B> {
        self.inner.as_ref().as_any().downcast_ref()
    }

    /// Runs the build (see [`Builder::run`]).
    pub async fn run(
        &self,
        runner: &Runner,
        token: CancellationToken,
    ) -> Result<Box<dyn Artifact>, BuildError> {
        self.inner.run(runner, token).await
    }

    /// The builder's sweeper (see [`Builder::sweeper`]).
    pub fn sweeper(&self) -> Option<Box<dyn Sweeper>> {
        self.inner.sweeper()
    }

    /// Where the builder's resources live (see [`Builder::scope`]).
    pub fn scope(&self) -> Option<Scope> {
        self.inner.scope()
    }
}

#[cfg(all(test, feature = "triton", feature = "oxide", feature = "osc"))]
mod tests {
    use super::*;
    use serde_json::json;

    fn local_block() -> Value {
        json!({"type": "local-chroot", "output_path": "/tmp/x.raw",
               "from_scratch": true, "image_size": "64M"})
    }

    #[test]
    fn built_in_types_aliases_and_errors() {
        let r = BuilderRegistry::default();
        assert_eq!(
            r.types(),
            ["triton", "oxide-instance", "osc-chroot", "local-chroot"]
        );
        assert_eq!(r.resolve("outscale-chroot"), Some("osc-chroot"));
        assert_eq!(r.resolve("amazon-ebs"), None);

        // The type comes with the block, or apart from the configuration
        // (a `type` key in it is ignored then).
        let b = r.builder_from_block(&local_block(), Vec::new()).unwrap();
        assert_eq!(b.builder_type(), "local-chroot");
        assert!(
            b.downcast_ref::<crate::builders::local_chroot::LocalChrootBuilder>()
                .is_some()
        );
        assert!(b.sweeper().is_none());
        let b = r
            .builder("local-chroot", &local_block(), Vec::new())
            .unwrap();
        assert_eq!(b.builder_type(), "local-chroot");

        let e = r
            .builder("amazon-ebs", &json!({}), Vec::new())
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("\"amazon-ebs\" is not a known builder (triton, oxide-instance"),
            "{e}"
        );
        let e = r.builder_from_block(&json!({}), Vec::new()).unwrap_err();
        assert!(e.to_string().contains("missing required key `type`"), "{e}");
        assert_eq!(e.config_key(), Some("type"));
        let e = r
            .builder(
                "local-chroot",
                &json!({"output_path": "/x.raw", "bogus": 1}),
                vec![],
            )
            .unwrap_err();
        assert_eq!(e.config_key(), Some("bogus"), "{e}");
    }

    #[test]
    fn a_cloud_builder_comes_with_its_sweeper() {
        let block = json!({"type": "outscale-chroot", "omi_name": "img",
            "source_omi": "ami-12345678", "access_key": "a", "secret_key": "s",
            "region": "eu-west-2"});
        let b = BuilderRegistry::default()
            .builder_from_block(&block, Vec::new())
            .unwrap();
        assert_eq!(b.builder_type(), "osc-chroot");
        assert!(b.sweeper().is_some());
    }

    #[test]
    fn registering_replaces_every_name_it_takes() {
        let mut r = BuilderRegistry::empty();
        assert!(r.types().is_empty());
        r.register::<crate::builders::osc_chroot::OscChrootBuilder>();
        r.register::<crate::builders::local_chroot::LocalChrootBuilder>();
        // The same builder again: still one entry, now last.
        r.register::<crate::builders::osc_chroot::OscChrootBuilder>();
        assert_eq!(r.types(), ["local-chroot", "osc-chroot"]);
        assert_eq!(r.resolve("outscale-chroot"), Some("osc-chroot"));
    }
}

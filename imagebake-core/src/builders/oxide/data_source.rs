//! The Oxide plugin's `oxide-image` data source, for real: `data
//! "oxide-image" "N" { name, project, host, token, profile,
//! insecure_skip_verify }` looks the image up by name (`GET
//! /v1/images/{name}[?project=P]`: without `project`, among the silo's
//! images) and gives `data.oxide-image.N.image_id`.

use serde_json::{Map, Value};

use oxide_client::{Client, NameOrId};

use super::OxideConfig;
use super::plan::client_config;
use crate::template::DataSources;

/// The data source type this reads.
pub const DATA_SOURCE: &str = "oxide-image";

/// Reads `oxide-image` data sources from the rack, with the data block's
/// `host`/`token` (or `profile`), else the Oxide client's usual sources
/// (`OXIDE_HOST`/`OXIDE_TOKEN`, `~/.config/oxide`). What `imagebake build`
/// and `imagebake validate -evaluate-datasources` use.
#[derive(Debug, Clone, Copy, Default)]
pub struct ImageDataSource;

fn string_arg(args: &Map<String, Value>, key: &str) -> Result<Option<String>, String> {
    match args.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.is_empty() => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(Value::Number(n)) => Ok(Some(n.to_string())),
        Some(_) => Err(format!("key `{key}` must be a string")),
    }
}

#[async_trait::async_trait]
impl DataSources for ImageDataSource {
    async fn read(
        &self,
        kind: &str,
        _name: &str,
        args: &Map<String, Value>,
    ) -> Result<Map<String, Value>, String> {
        if kind != DATA_SOURCE {
            return Err(format!("unknown data source type `{kind}`"));
        }
        let name = string_arg(args, "name")?
            .ok_or("key `name` is required: the name (or ID) of the image")?;
        let project = string_arg(args, "project")?;
        let insecure = match args.get("insecure_skip_verify") {
            None | Some(Value::Null) => false,
            Some(v) => crate::template::weak::to_bool(v)
                .ok_or("key `insecure_skip_verify` must be true or false".to_owned())?,
        };
        let c = OxideConfig {
            host: string_arg(args, "host")?,
            token: string_arg(args, "token")?.map(Into::into),
            profile: string_arg(args, "profile")?,
            insecure_skip_verify: insecure,
            ..OxideConfig::default()
        };
        let config = client_config(&c).map_err(|e| e.to_string())?;
        let client = Client::new(config.insecure(insecure)).map_err(|e| e.to_string())?;
        let project = project.map(NameOrId::from);
        match client
            .image_view(NameOrId::from(name.as_str()), project.as_ref())
            .await
        {
            Ok(image) => {
                let mut out = Map::new();
                out.insert("image_id".into(), Value::String(image.id.to_string()));
                Ok(out)
            }
            Err(e) if e.is_not_found() => Err(match &project {
                Some(p) => format!(
                    "image {name:?} not found in project \"{p}\" (a project lookup does not fall back to silo images; leave `project` out to look among the silo's images)"
                ),
                None => format!(
                    "image {name:?} not found among the silo's images (set `project` to look among a project's images)"
                ),
            }),
            Err(e) => Err(format!("looking up image {name:?}: {e}")),
        }
    }
}

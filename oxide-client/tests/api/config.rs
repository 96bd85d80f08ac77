use std::collections::HashMap;
use std::path::Path;

use oxide_client::{Config, Error};

fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
    let map: HashMap<String, String> = pairs
        .iter()
        .map(|(k, v)| ((*k).into(), (*v).into()))
        .collect();
    move |k| map.get(k).cloned()
}

fn home_with(credentials: Option<&str>, config: Option<&str>) -> tempfile::TempDir {
    let home = tempfile::tempdir().unwrap();
    let dir = home.path().join(".config/oxide");
    std::fs::create_dir_all(&dir).unwrap();
    if let Some(c) = credentials {
        std::fs::write(dir.join("credentials.toml"), c).unwrap();
    }
    if let Some(c) = config {
        std::fs::write(dir.join("config.toml"), c).unwrap();
    }
    home
}

const CREDS: &str = r#"
[profile.work]
host = "https://work.example.com"
token = "tok-work-secret"
user = "0c8e0f3e-0000-4000-8000-000000000001"

[profile.lab]
host = "https://lab.example.com/"
token = "tok-lab-secret"
user = "0c8e0f3e-0000-4000-8000-000000000002"
"#;

#[test]
fn explicit_host_and_token_come_first() {
    let c = Config::new("https://x.example.com/", "t");
    assert_eq!(c.host(), "https://x.example.com");
    assert!(!c.is_insecure());
    assert!(c.insecure(true).is_insecure());
}

#[test]
fn oxide_token_with_oxide_host_wins_over_files() {
    let home = home_with(Some(CREDS), Some("default-profile = \"work\""));
    let c = Config::from_env_with(
        env(&[
            ("OXIDE_TOKEN", "env-secret"),
            ("OXIDE_HOST", "https://env.example.com"),
        ]),
        home.path(),
    )
    .unwrap();
    assert_eq!(c.host(), "https://env.example.com");
    assert!(!format!("{c:?}").contains("env-secret"));
}

#[test]
fn oxide_token_without_host_is_an_error() {
    let e =
        Config::from_env_with(env(&[("OXIDE_TOKEN", "x")]), Path::new("/nonexistent")).unwrap_err();
    assert!(matches!(e, Error::MissingHost), "{e:?}");
}

#[test]
fn host_and_profile_together_are_an_error() {
    let home = home_with(Some(CREDS), None);
    let e = Config::from_env_with(
        env(&[
            ("OXIDE_HOST", "https://work.example.com"),
            ("OXIDE_PROFILE", "work"),
        ]),
        home.path(),
    )
    .unwrap_err();
    assert!(matches!(e, Error::HostProfileConflict), "{e:?}");
}

#[test]
fn oxide_profile_picks_a_profile() {
    let home = home_with(Some(CREDS), Some("default-profile = \"work\""));
    let c = Config::from_env_with(env(&[("OXIDE_PROFILE", "lab")]), home.path()).unwrap();
    assert_eq!(c.host(), "https://lab.example.com");
}

#[test]
fn default_profile_comes_from_config_toml() {
    let home = home_with(Some(CREDS), Some("default-profile = \"work\"\nother = 1\n"));
    let c = Config::from_env_with(env(&[]), home.path()).unwrap();
    assert_eq!(c.host(), "https://work.example.com");
}

#[test]
fn oxide_host_alone_picks_the_profile_with_that_host() {
    let home = home_with(Some(CREDS), None);
    let c = Config::from_env_with(
        env(&[("OXIDE_HOST", "https://lab.example.com")]),
        home.path(),
    )
    .unwrap();
    assert_eq!(c.host(), "https://lab.example.com");
    let e = Config::from_env_with(
        env(&[("OXIDE_HOST", "https://none.example.com")]),
        home.path(),
    )
    .unwrap_err();
    assert!(matches!(e, Error::MissingToken { .. }), "{e:?}");
}

#[test]
fn missing_files_and_profiles_are_named() {
    let empty = home_with(None, None);
    let e = Config::from_env_with(env(&[]), empty.path()).unwrap_err();
    assert!(matches!(e, Error::NoAuthenticatedHosts { .. }), "{e:?}");

    let no_config = home_with(Some(CREDS), None);
    let e = Config::from_env_with(env(&[]), no_config.path()).unwrap_err();
    assert!(matches!(e, Error::NoDefaultProfile { .. }), "{e:?}");

    let e = Config::from_env_with(env(&[("OXIDE_PROFILE", "nope")]), no_config.path()).unwrap_err();
    assert!(
        matches!(&e, Error::NoProfile { profile, .. } if profile == "nope"),
        "{e:?}"
    );

    let c = Config::from_profile("work", no_config.path()).unwrap();
    assert_eq!(c.host(), "https://work.example.com");
}

#[test]
fn parse_errors_do_not_quote_the_token() {
    let home = home_with(
        Some("[profile.x]\nhost = \"h\"\ntoken = \"tok-leak\" oops\n"),
        None,
    );
    let e = Config::from_env_with(env(&[("OXIDE_PROFILE", "x")]), home.path()).unwrap_err();
    assert!(
        matches!(e, Error::ConfigParse { line: Some(3), .. }),
        "{e:?}"
    );
    assert!(!format!("{e} {e:?}").contains("tok-leak"), "{e}");
}

//! The parser and decoders never panic, whatever the input: random
//! pieces, and the real seed templates (Packer JSON, HCL2, `.pkr.json`)
//! mutated; then each builder's config decoding, from the seeds' builder
//! blocks mutated and from objects of its keys with wrong values.

use std::path::{Path, PathBuf};
use std::sync::LazyLock;

use imagebake_core::builders::BuilderRegistry;
use imagebake_core::template::{Placeholders, Plan};
use imagebake_testing::props::{config, keyed, mutated_json, mutated_text};
use proptest::prelude::*;
use serde_json::{Value, json};

use super::{fixtures, opts, run};

fn plan_text(name: &str, text: &str) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(name), text).unwrap();
    let mut o = opts(&[("PKR_VAR_x", "1")]);
    o.cwd = dir.path().to_path_buf();
    let _ = run(Path::new(name), &o);
}

/// A template file the project ships: its file name (which picks the
/// format) and its text.
#[derive(Debug, Clone)]
struct Seed {
    name: String,
    text: String,
}

/// Every JSON and HCL2 template of the seed, example and fixture
/// directories.
static SEEDS: LazyLock<Vec<Seed>> = LazyLock::new(|| {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let dirs: Vec<PathBuf> = [
        root.join("imagebake-cli/tests/templates/seed"),
        root.join("examples/templates"),
        fixtures().join("same"),
        fixtures().join("mixed"),
        fixtures().join("full"),
        fixtures().join("oxide"),
    ]
    .into();
    let mut seeds = Vec::new();
    for dir in dirs {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|e| e.expect("dir entry").path())
            .filter(|p| p.extension().is_some_and(|x| x == "json" || x == "hcl"))
            .collect();
        entries.sort();
        for path in entries {
            let name = path
                .file_name()
                .expect("file name")
                .to_string_lossy()
                .into_owned();
            let text = std::fs::read_to_string(&path).expect("seed text");
            seeds.push(Seed { name, text });
        }
    }
    assert!(seeds.len() >= 10, "seed templates found: {seeds:?}");
    seeds
});

/// The JSON seeds (Packer JSON and `.pkr.json`) as values.
fn json_seeds() -> Vec<(String, Value)> {
    SEEDS
        .iter()
        .filter(|s| s.name.ends_with(".json"))
        .filter_map(|s| Some((s.name.clone(), serde_json::from_str(&s.text).ok()?)))
        .collect()
}

/// Plans a seed template as the CLI would (`Placeholders` for data sources).
fn plan_seed(seed: &Seed) -> Option<Plan> {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(&seed.name), &seed.text).unwrap();
    let mut o = opts(&[]);
    o.cwd = dir.path().to_path_buf();
    futures::executor::block_on(imagebake_core::template::plan(
        Path::new(&seed.name),
        &o,
        &Placeholders,
    ))
    .ok()
}

/// Pieces of both syntaxes, spliced into the seeds.
const SEED_PIECES: &[&str] = &[
    "{",
    "}",
    "[",
    "]",
    "\"",
    ",",
    ":",
    "=",
    "\n",
    "${",
    "%{",
    "}}",
    "{{",
    "~",
    "null",
    "true",
    "-1",
    "1e999",
    "\\",
    "var.",
    "local.",
    "source.",
    "build",
    "source",
    "variable",
    "locals",
    "provisioner",
    "post-processor",
    "dynamic",
    "for",
    "in",
    "if",
    "endif",
    "{{user `x`}}",
    "{{timestamp}}",
    "{{ .Name }}",
    "format(",
    "upper(",
    "file(",
    "/*",
    "*/",
    "#",
    "//",
    "<<EOF\n",
    "\nEOF\n",
    "é",
];

/// Seeds of one builder's block: (builder type, config) from planning each
/// seed, plus a local-chroot block (no template in the seeds uses it).
static BUILDER_SEEDS: LazyLock<Vec<(String, Value)>> = LazyLock::new(|| {
    let mut seeds: Vec<(String, Value)> = SEEDS
        .iter()
        .filter_map(plan_seed)
        .flat_map(|p| p.builds)
        .map(|b| (b.builder_type, b.config))
        .collect();
    seeds.push((
        "local-chroot".into(),
        json!({"output_path": "/tmp/x.raw", "from_scratch": true, "image_size": "64M"}),
    ));
    let registry = BuilderRegistry::default();
    for kind in ["triton", "oxide-instance", "osc-chroot", "local-chroot"] {
        assert!(
            seeds.iter().any(|(k, _)| registry.resolve(k) == Some(kind)),
            "no seed block of {kind}: {seeds:?}"
        );
    }
    seeds
});

/// Each builder type with every key it accepts.
fn builder_keys() -> Vec<(&'static str, &'static [&'static str])> {
    use imagebake_core::builders::{local_chroot, osc_chroot, oxide, triton};
    let leak = |keys: Vec<&'static str>| -> &'static [&'static str] { keys.leak() };
    vec![
        ("triton", leak(triton::TritonConfig::all_keys().collect())),
        (
            "oxide-instance",
            leak(oxide::OxideConfig::all_keys().collect()),
        ),
        ("osc-chroot", osc_chroot::KEYS),
        ("local-chroot", local_chroot::KEYS),
    ]
}

/// Decodes `config` as a `kind` builder; an error must print.
fn decode_builder(kind: &str, config: &Value) {
    match BuilderRegistry::default().builder(kind, config, Vec::new()) {
        Ok(b) => {
            let _ = format!("{b:?}");
        }
        Err(e) => {
            let _ = (e.to_string(), format!("{e:?}"));
        }
    }
}

/// JSON's punctuation then `words`.
fn json_pieces(words: &[&'static str]) -> Vec<&'static str> {
    JSON_PUNCTUATION.iter().chain(words).copied().collect()
}

/// Plans the concatenation of `table[i]` for each of `pieces`, then
/// `noise`, written as `name`.
fn plan_pieces(name: &str, table: &[&str], pieces: &[usize], noise: &str) {
    let mut text: String = pieces.iter().map(|i| table[*i]).collect();
    text.push_str(noise);
    plan_text(name, &text);
}

/// Fragments of real templates, so random input reaches past the parser.
const HCL_PIECES: &[&str] = &[
    "variable \"x\" { type = number }\n",
    "locals { a = var.x + 1 }\n",
    "source \"triton\" \"a\" { v = \"${local.a}-{{.Device}}\" }\n",
    "build { sources = [\"source.triton.a\"] }\n",
    "build { source \"source.triton.a\" { name = \"b\" } }\n",
    "locals { f = [for i in range : i * 2] }\n",
    "locals { g = format(\"%d\", var.x) }\n",
    "}",
    "{",
    "\"",
    "${",
    "%{",
    "~",
    "[",
    "]",
    "=",
    "\n",
    "null",
    "1.5e3",
];

/// JSON's punctuation, drawn from by both JSON generators.
const JSON_PUNCTUATION: &[&str] = &["{", "}", "[", "]", ",", ":"];

const JSON_WORDS: &[&str] = &[
    "\"builders\"",
    "\"type\"",
    "\"triton\"",
    "\"variables\"",
    "\"{{user `x`}}\"",
    "\"{{isotime \\\"2006\\\"}}\"",
    "\"{{\"",
    "\"post-processors\"",
    "null",
    "1",
];

/// Fragments of HCL's JSON syntax (`.pkr.json`), so random input reaches
/// the block schema and the templates inside strings.
const PKR_JSON_WORDS: &[&str] = &[
    "\"variable\"",
    "\"source\"",
    "\"build\"",
    "\"locals\"",
    "\"triton\"",
    "\"provisioner\"",
    "\"post-processors\"",
    "\"source_machine_tag\"",
    "\"type\"",
    "\"sources\"",
    "\"//\"",
    "\"${var.x}\"",
    "\"${\"",
    "\"%{ if true }a%{ endif }\"",
    "\"${upper(\\\"}\\\")}\"",
    "\"list(string)\"",
    "null",
    "1",
    "true",
];

proptest! {
    #![proptest_config(config(64))]

    #[test]
    fn hcl_never_panics(pieces in proptest::collection::vec(0..HCL_PIECES.len(), 0..12), noise in ".{0,40}") {
        plan_pieces("t.pkr.hcl", HCL_PIECES, &pieces, &noise);
    }

    #[test]
    fn json_never_panics(pieces in proptest::collection::vec(0..JSON_PUNCTUATION.len() + JSON_WORDS.len(), 0..16), noise in ".{0,20}") {
        plan_pieces("t.json", &json_pieces(JSON_WORDS), &pieces, &noise);
    }

    #[test]
    fn json_templates_with_random_strings_never_panic(s in ".{0,60}") {
        let text = serde_json::json!({"variables": {"x": s.clone()}, "builders": [{"type": "triton", "a": s}]}).to_string();
        plan_text("t.json", &text);
    }

    #[test]
    fn hcl_strings_never_panic(s in ".{0,60}") {
        let text = format!("source \"triton\" \"a\" {{ v = {} }}\nbuild {{ sources = [\"source.triton.a\"] }}\n", serde_json::to_string(&s).unwrap());
        plan_text("t.pkr.hcl", &text);
    }

    #[test]
    fn pkr_json_never_panics(pieces in proptest::collection::vec(0..JSON_PUNCTUATION.len() + PKR_JSON_WORDS.len(), 0..24), noise in ".{0,20}") {
        plan_pieces("t.pkr.json", &json_pieces(PKR_JSON_WORDS), &pieces, &noise);
    }

    #[test]
    fn pkr_json_strings_and_keys_never_panic(s in ".{0,60}", k in ".{0,12}") {
        let text = serde_json::json!({
            "variable": {"x": {"type": s.clone(), "default": s.clone()}},
            "locals": {k.clone(): s.clone()},
            "source": {"triton": {"a": {"v": s.clone(), k.clone(): {"n": s.clone()}}}},
            "build": {"sources": ["source.triton.a"], "provisioner": {"shell": {"inline": [s.clone()]}}}
        })
        .to_string();
        plan_text("t.pkr.json", &text);
    }
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn seed_templates_mutated_as_text_never_panic(
        (name, text) in prop::sample::select(SEEDS.clone()).prop_flat_map(|seed| {
            mutated_text(seed.text, SEED_PIECES).prop_map(move |t| (seed.name.clone(), t))
        }),
    ) {
        plan_text(&name, &text);
    }

    #[test]
    fn seed_json_templates_mutated_as_json_never_panic(
        (name, value) in prop::sample::select(json_seeds()).prop_flat_map(|(name, seed)| {
            mutated_json(seed).prop_map(move |v| (name.clone(), v))
        }),
    ) {
        plan_text(&name, &value.to_string());
    }

    #[test]
    fn builder_configs_from_mutated_seed_blocks_never_panic(
        (kind, config) in prop::sample::select(BUILDER_SEEDS.clone()).prop_flat_map(|(kind, seed)| {
            mutated_json(seed).prop_map(move |v| (kind.clone(), v))
        }),
    ) {
        decode_builder(&kind, &config);
    }

    #[test]
    fn builder_configs_of_right_keys_and_wrong_values_never_panic(
        (kind, config) in prop::sample::select(builder_keys()).prop_flat_map(|(kind, keys)| {
            keyed(keys).prop_map(move |v| (kind, v))
        }),
    ) {
        decode_builder(kind, &config);
    }
}

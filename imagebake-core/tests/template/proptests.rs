//! The parser and decoders never panic, whatever the input.

use std::path::Path;

use proptest::prelude::*;

use super::{opts, run};

fn plan_text(name: &str, text: &str) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(name), text).unwrap();
    let mut o = opts(&[("PKR_VAR_x", "1")]);
    o.cwd = dir.path().to_path_buf();
    let _ = run(Path::new(name), &o);
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
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

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

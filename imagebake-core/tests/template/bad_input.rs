//! Bad templates: each error names file:line:col, the block or key, and
//! the fix.

use std::path::Path;

use imagebake_core::template::TemplateError;

use super::{opts, run};

/// Writes `files` into a fresh directory and plans it (`path` inside it).
fn plan_err(
    files: &[(&str, &str)],
    path: &str,
    vars: &[(&str, &str)],
    var_files: &[&str],
) -> TemplateError {
    let dir = tempfile::tempdir().unwrap();
    for (n, t) in files {
        std::fs::write(dir.path().join(n), t).unwrap();
    }
    let mut o = opts(&[]);
    o.cwd = dir.path().to_path_buf();
    for (k, v) in vars {
        o = o.var(*k, *v);
    }
    for f in var_files {
        o = o.var_file(*f);
    }
    match run(Path::new(path), &o) {
        Ok(p) => panic!("expected an error, got {p:?}"),
        Err(e) => e,
    }
}

fn assert_at(e: &TemplateError, file: &str, line: usize, col: usize, words: &[&str]) {
    let l = e
        .location
        .as_ref()
        .unwrap_or_else(|| panic!("no location in {e}"));
    assert!(l.file.ends_with(file), "{e}");
    assert_eq!((l.line, l.column), (line, col), "{e}");
    let text = e.to_string();
    for w in words {
        assert!(text.contains(w), "{w:?} not in: {text}");
    }
    assert!(e.fix.is_some() || text.contains("fix"), "no fix in: {text}");
}

const BUILD: &str = "build { sources = [\"source.triton.a\"] }\n";

#[test]
fn syntax_error() {
    let e = plan_err(
        &[("t.pkr.hcl", "source \"triton\" \"a\" {\n  x = = 1\n}\n")],
        "t.pkr.hcl",
        &[],
        &[],
    );
    assert_at(&e, "t.pkr.hcl", 2, 7, &["syntax error"]);
}

#[test]
fn unknown_block_and_key() {
    let e = plan_err(
        &[("t.pkr.hcl", "sorce \"triton\" \"a\" {}\n")],
        "t.pkr.hcl",
        &[],
        &[],
    );
    assert_at(
        &e,
        "t.pkr.hcl",
        1,
        1,
        &["unknown block type `sorce`", "source"],
    );
    let e = plan_err(
        &[("t.pkr.hcl", "variable \"x\" {\n  typ = string\n}\n")],
        "t.pkr.hcl",
        &[],
        &[],
    );
    assert_at(
        &e,
        "t.pkr.hcl",
        2,
        3,
        &[
            "variable \"x\"",
            "unsupported argument `typ`",
            "type, default",
        ],
    );
    let e = plan_err(
        &[(
            "t.pkr.hcl",
            "source \"triton\" \"a\" {}\nbuild {\n  sources = [\"source.triton.a\"]\n  provisoner \"shell\" {}\n}\n",
        )],
        "t.pkr.hcl",
        &[],
        &[],
    );
    assert_at(
        &e,
        "t.pkr.hcl",
        4,
        3,
        &["unsupported block `provisoner`", "provisioner"],
    );
    let e = plan_err(
        &[(
            "t.pkr.hcl",
            &format!(
                "source \"triton\" \"a\" {{\n  source_machine_image_filter = {{ name = \"x\" }}\n}}\n{BUILD}"
            ),
        )],
        "t.pkr.hcl",
        &[],
        &[],
    );
    assert_at(
        &e,
        "t.pkr.hcl",
        2,
        3,
        &["source_machine_image_filter", "is a block", "without `=`"],
    );
}

#[test]
fn wrong_type() {
    let e = plan_err(
        &[(
            "t.pkr.hcl",
            &format!(
                "variable \"n\" {{\n  type = number\n}}\nsource \"triton\" \"a\" {{ v = var.n }}\n{BUILD}"
            ),
        )],
        "t.pkr.hcl",
        &[("n", "abc")],
        &[],
    );
    assert_at(&e, "t.pkr.hcl", 1, 1, &["variable `n`", "-var n", "number"]);
    assert!(
        !e.to_string().contains("abc"),
        "values never appear in errors: {e}"
    );
    let e = plan_err(
        &[(
            "t.pkr.hcl",
            &format!(
                "variable \"b\" {{\n  type = bool\n  default = \"True\"\n}}\nsource \"triton\" \"a\" {{}}\n{BUILD}"
            ),
        )],
        "t.pkr.hcl",
        &[],
        &[],
    );
    assert_at(&e, "t.pkr.hcl", 1, 1, &["lowercase"]);
}

#[test]
fn undefined_variable_and_unset_variable() {
    let e = plan_err(
        &[(
            "t.pkr.hcl",
            &format!("source \"triton\" \"a\" {{\n  image_name = \"x-${{var.nope}}\"\n}}\n{BUILD}"),
        )],
        "t.pkr.hcl",
        &[],
        &[],
    );
    assert_at(
        &e,
        "t.pkr.hcl",
        2,
        21,
        &[
            "source \"triton\" \"a\"",
            "image_name",
            "undefined reference `var.nope`",
            "variable \"nope\"",
        ],
    );
    let e = plan_err(
        &[("t.pkr.hcl", "variable \"token\" {\n  type = string\n}\n")],
        "t.pkr.hcl",
        &[],
        &[],
    );
    assert_at(
        &e,
        "t.pkr.hcl",
        1,
        1,
        &["Unset variable \"token\"", "PKR_VAR_token"],
    );
    let e = plan_err(&[("t.pkr.hcl", "")], "t.pkr.hcl", &[("ghost", "1")], &[]);
    assert!(
        e.to_string().contains("Undefined -var variable `ghost`"),
        "{e}"
    );
}

#[test]
fn unknown_function_and_env_outside_defaults() {
    let e = plan_err(
        &[(
            "t.pkr.hcl",
            &format!("locals {{\n  a = uper(\"x\")\n}}\nsource \"triton\" \"a\" {{}}\n{BUILD}"),
        )],
        "t.pkr.hcl",
        &[],
        &[],
    );
    assert_at(
        &e,
        "t.pkr.hcl",
        2,
        7,
        &["locals", "key `a`", "unknown function `uper`", "upper"],
    );
    let e = plan_err(
        &[(
            "t.pkr.hcl",
            &format!("locals {{\n  a = env(\"HOME\")\n}}\nsource \"triton\" \"a\" {{}}\n{BUILD}"),
        )],
        "t.pkr.hcl",
        &[],
        &[],
    );
    assert_at(
        &e,
        "t.pkr.hcl",
        2,
        7,
        &["env() is only allowed in a variable's default"],
    );
}

#[test]
fn unreadable_or_bad_var_file() {
    let t = "variable \"x\" {\n  default = 1\n}\n";
    let e = plan_err(
        &[("t.pkr.hcl", t)],
        "t.pkr.hcl",
        &[],
        &["missing.pkrvars.hcl"],
    );
    assert_at(
        &e,
        "missing.pkrvars.hcl",
        1,
        1,
        &["cannot read", "missing.pkrvars.hcl"],
    );
    let e = plan_err(
        &[("t.pkr.hcl", t), ("v.pkrvars.hcl", "x = 1\ny = var.x\n")],
        "t.pkr.hcl",
        &[],
        &["v.pkrvars.hcl"],
    );
    assert_at(&e, "v.pkrvars.hcl", 2, 5, &["not allowed here"]);
    let e = plan_err(
        &[("t.pkr.hcl", t), ("v.txt", "x = 1\n")],
        "t.pkr.hcl",
        &[],
        &["v.txt"],
    );
    assert!(e.to_string().contains("Could not guess format"), "{e}");
}

#[test]
fn duplicate_names_and_bad_references() {
    let e = plan_err(
        &[(
            "t.pkr.hcl",
            "source \"triton\" \"a\" {}\nsource \"triton\" \"a\" {}\n",
        )],
        "t.pkr.hcl",
        &[],
        &[],
    );
    assert_at(
        &e,
        "t.pkr.hcl",
        2,
        1,
        &["duplicate source", "t.pkr.hcl:1:1"],
    );
    let e = plan_err(
        &[(
            "t.pkr.hcl",
            "source \"triton\" \"a\" {}\nbuild {\n  sources = [\"source.triton.b\"]\n}\n",
        )],
        "t.pkr.hcl",
        &[],
        &[],
    );
    assert_at(
        &e,
        "t.pkr.hcl",
        3,
        3,
        &["there is no source \"source.triton.b\"", "source.triton.a"],
    );
    let e = plan_err(
        &[(
            "t.pkr.hcl",
            "source \"triton\" \"a\" {\n  x = 1\n}\nbuild {\n  source \"source.triton.a\" {\n    x = 2\n  }\n}\n",
        )],
        "t.pkr.hcl",
        &[],
        &[],
    );
    assert_at(&e, "t.pkr.hcl", 6, 5, &["key `x`", "set twice"]);
    let e = plan_err(
        &[(
            "t.pkr.hcl",
            "source \"triton\" \"a\" {}\nbuild {\n  sources = [\"source.triton.a\"]\n  provisioner \"powershell\" {}\n}\n",
        )],
        "t.pkr.hcl",
        &[],
        &[],
    );
    assert_at(&e, "t.pkr.hcl", 4, 3, &["powershell", "not supported"]);
    let e = plan_err(
        &[("t.pkr.hcl", "locals {\n  a = local.b\n  b = local.a\n}\n")],
        "t.pkr.hcl",
        &[],
        &[],
    );
    assert!(e.to_string().contains("cycle"), "{e}");
}

#[test]
fn validation_blocks_are_checked() {
    let t = "variable \"size\" {\n  type = number\n  default = 5\n  validation {\n    condition = var.size >= 10\n    error_message = \"The size must be at least 10.\"\n  }\n}\n";
    let e = plan_err(&[("t.pkr.hcl", t)], "t.pkr.hcl", &[], &[]);
    assert_at(&e, "t.pkr.hcl", 5, 17, &["The size must be at least 10."]);
}

#[test]
fn bad_json_templates() {
    // (template, line, column, words in the error)
    let cases: &[(&str, usize, usize, &[&str])] = &[
        (
            "{\n  \"builders\": [\n    {\"type\": \"triton\",}\n  ]\n}\n",
            3,
            23,
            &["syntax error"],
        ),
        (
            "{\n  \"builders\": [{\"type\": \"triton\"}],\n  \"varibles\": {}\n}\n",
            3,
            3,
            &["Unknown root level key in template: 'varibles'"],
        ),
        (
            "{\n  \"builders\": [{\"type\": \"triton\",\n    \"image_name\": \"{{env `HOME`}}\"}]\n}\n",
            3,
            5,
            &["builders[0]", "image_name", "env vars are not allowed here"],
        ),
        (
            "{\n  \"variables\": {\"x\": null},\n  \"builders\": [{\"type\": \"triton\"}]\n}\n",
            2,
            17,
            &["required variable not set: x"],
        ),
        (
            "{\"builders\": [{\"type\": \"triton\", \"_comment\": \"x\"}]}",
            1,
            34,
            &["unknown configuration key: '_comment'"],
        ),
        (
            "{\"builders\": [{\"type\": \"triton\", \"a\": 1, \"a\": 2}]}",
            1,
            42,
            &["duplicate field: builders[0].a"],
        ),
        (
            "{\n  \"min_packer_version\": \"99.0.0\",\n  \"builders\": [{\"type\": \"triton\"}]\n}\n",
            2,
            3,
            &["requires Packer version 99.0.0"],
        ),
    ];
    for (text, line, col, words) in cases {
        let e = plan_err(&[("t.json", text)], "t.json", &[], &[]);
        assert_at(&e, "t.json", *line, *col, words);
    }
}

/// Each case of issue 11's "Bad input" in HCL's JSON syntax: located in
/// the JSON file, with the fix.
#[test]
fn bad_pkr_json_templates() {
    // (template, -var, var files, line, column, words in the error)
    type Case<'a> = (
        &'a str,
        &'a [(&'a str, &'a str)],
        &'a [&'a str],
        usize,
        usize,
        &'a [&'a str],
    );
    let cases: &[Case<'_>] = &[
        // Syntax errors: the JSON's own, and a template inside a string.
        (
            "{\n  \"source\": {\n    \"triton\": [1,]\n  }\n}\n",
            &[],
            &[],
            3,
            18,
            &["syntax error"],
        ),
        (
            "{\n  \"source\": {\"triton\": {\"a\": {\n    \"v\": \"${\"\n  }}}\n}\n",
            &[],
            &[],
            3,
            5,
            &["syntax error", "$${"],
        ),
        // Unknown block, unknown key, a name HCL cannot have.
        (
            "{\n  \"sorce\": {}\n}\n",
            &[],
            &[],
            2,
            3,
            &["unknown block type `sorce`", "source"],
        ),
        (
            "{\n  \"variable\": {\n    \"x\": {\n      \"typ\": \"string\"\n    }\n  }\n}\n",
            &[],
            &[],
            4,
            7,
            &[
                "variable \"x\"",
                "unsupported argument `typ`",
                "type, default",
            ],
        ),
        (
            "{\n  \"source\": {\"triton\": {\"a\": {\n    \"bad key\": 1\n  }}}\n}\n",
            &[],
            &[],
            3,
            5,
            &["\"bad key\" is not a valid argument name"],
        ),
        // Wrong types: a -var value, a block written as a string, a bad
        // type expression, a label level that is no object.
        (
            "{\n  \"variable\": {\n    \"n\": {\"type\": \"number\"}\n  }\n}\n",
            &[("n", "abc")],
            &[],
            3,
            5,
            &["variable `n`", "number"],
        ),
        (
            "{\n  \"source\": {\"triton\": {\"a\": {\n    \"source_machine_image_filter\": \"x\"\n  }}}\n}\n",
            &[],
            &[],
            3,
            36,
            &["`source_machine_image_filter` block must be a JSON object"],
        ),
        (
            "{\n  \"variable\": {\"x\": {\n    \"type\": \"list(string\"\n  }}\n}\n",
            &[],
            &[],
            3,
            13,
            &["key `type`", "not a valid expression"],
        ),
        (
            "{\"source\": {\"triton\": 1}}",
            &[],
            &[],
            1,
            23,
            &["`source` needs 2 label(s)"],
        ),
        ("[1]", &[], &[], 1, 1, &["one JSON object"]),
        // An undefined reference, located inside the string.
        (
            "{\n  \"source\": {\"triton\": {\"a\": {\n    \"image_name\": \"x-${var.nope}\"\n  }}},\n  \"build\": {\"sources\": [\"source.triton.a\"]}\n}\n",
            &[],
            &[],
            3,
            24,
            &[
                "source \"triton\" \"a\"",
                "undefined reference `var.nope`",
                "variable \"nope\"",
            ],
        ),
        // Duplicate names.
        (
            "{\n  \"source\": [\n    {\"triton\": {\"a\": {}}},\n    {\"triton\": {\"a\": {}}}\n  ]\n}\n",
            &[],
            &[],
            4,
            17,
            &["duplicate source \"triton\" \"a\"", "t.pkr.json:3:17"],
        ),
        // An unknown function, with quotes inside the interpolation.
        (
            "{\n  \"locals\": {\n    \"a\": \"${uper(\\\"x\\\")}\"\n  }\n}\n",
            &[],
            &[],
            3,
            10,
            &["locals", "key `a`", "unknown function `uper`", "upper"],
        ),
        // An unreadable var file, and a bad one.
        (
            "{\"variable\": {\"x\": {\"default\": 1}}}",
            &[],
            &["missing.pkrvars.json"],
            1,
            1,
            &["cannot read", "missing.pkrvars.json"],
        ),
        // A Windows provisioner.
        (
            "{\"source\": {\"triton\": {\"a\": {}}},\n  \"build\": {\"sources\": [\"source.triton.a\"], \"provisioner\": {\"windows-restart\": {}}}}",
            &[],
            &[],
            2,
            61,
            &["`windows-restart` provisioner is not supported"],
        ),
    ];
    for (text, vars, var_files, line, col, words) in cases {
        let e = plan_err(&[("t.pkr.json", text)], "t.pkr.json", vars, var_files);
        let file = var_files.first().copied().unwrap_or("t.pkr.json");
        assert_at(&e, file, *line, *col, words);
    }
}

/// The cases the JSON table above does not cover for legacy JSON.
#[test]
fn more_bad_json_templates() {
    let b = "{\"builders\": [{\"type\": \"triton\"}], ";
    let cases: &[(String, usize, usize, &[&str])] = &[
        (
            "{\"builders\": [{\"type\": \"triton\", \"image_name\": \"{{nope}}\"}]}".into(),
            1,
            34,
            &["builders[0]", "image_name", "function \"nope\" not defined"],
        ),
        (
            "{\"builders\": {}}".into(),
            1,
            2,
            &["`builders` must be a non-empty list"],
        ),
        (
            format!("{b}\"provisioners\": [{{\"type\": \"shell\", \"pause_before\": 5}}]}}"),
            1,
            71,
            &["provisioners[0]", "pause_before", "duration"],
        ),
        (
            "{\"builders\": [{\"type\": \"triton\"}, {\"type\": \"triton\"}]}".into(),
            1,
            35,
            &["builder name \"triton\" is used twice"],
        ),
        (
            format!("{b}\"provisioners\": [{{\"type\": \"windows-restart\"}}]}}"),
            1,
            53,
            &["`windows-restart` provisioner is not supported"],
        ),
        (
            format!("{b}\"provisioners\": [{{\"type\": \"powershell\"}}]}}"),
            1,
            53,
            &["`powershell` provisioner is not supported"],
        ),
    ];
    for (text, line, col, words) in cases {
        let e = plan_err(&[("t.json", text)], "t.json", &[], &[]);
        assert_at(&e, "t.json", *line, *col, words);
    }
    let e = plan_err(
        &[("t.json", "{\"builders\": [{\"type\": \"triton\"}]}")],
        "t.json",
        &[],
        &["missing.json"],
    );
    assert_at(&e, "missing.json", 1, 1, &["cannot read var file"]);
}

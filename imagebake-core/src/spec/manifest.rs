//! mibe's `manifest`: bash `key="value"` lines, read by a strict parser and
//! never executed.

use std::collections::BTreeMap;
use std::path::Path;

use uuid::Uuid;

use super::{BaseRef, SpecError, SpecMetadata, SpecNetwork};

/// The keys mibe reads (plus `version`, from the older `mi-example` form);
/// a variable named after a listed network holds its description.
pub const MANIFEST_KEYS: &[&str] = &[
    "name",
    "version",
    "base",
    "organization",
    "brand",
    "description",
    "homepage",
    "users",
    "role",
    "minram",
    "networks",
    "owneruuid",
    "lbaas",
    "billingtags",
];

/// One `key=value` assignment and its line.
struct Assignment {
    line: usize,
    value: String,
}

/// Parses one line's value: `"…"` (with `\"`, `\\`, `\$` and `` \` ``
/// unescaped, and no unescaped `$` or `` ` ``, which bash would expand),
/// `'…'` (literal), or a bare word of safe characters.
fn value(raw: &str) -> Result<String, String> {
    if let Some(rest) = raw.strip_prefix('"') {
        let mut out = String::new();
        let mut chars = rest.chars();
        while let Some(c) = chars.next() {
            match c {
                '\\' => match chars.next() {
                    Some(e @ ('"' | '\\' | '$' | '`')) => out.push(e),
                    Some(e) => {
                        out.push('\\');
                        out.push(e);
                    }
                    None => return Err("the value ends inside a `\\` escape".into()),
                },
                '"' => {
                    let tail = chars.as_str();
                    return if tail.trim().is_empty() {
                        Ok(out)
                    } else {
                        Err(format!(
                            "text after the closing quote: {:?} (a second command is not allowed)",
                            short(tail)
                        ))
                    };
                }
                '$' | '`' => {
                    return Err(format!(
                        "`{c}` would make bash expand or run something; write `\\{c}` for the character"
                    ));
                }
                _ => out.push(c),
            }
        }
        return Err("the closing `\"` is missing (values span one line)".into());
    }
    if let Some(rest) = raw.strip_prefix('\'') {
        return match rest.split_once('\'') {
            Some((v, tail)) if tail.trim().is_empty() => Ok(v.to_owned()),
            Some((_, tail)) => Err(format!(
                "text after the closing quote: {:?} (a second command is not allowed)",
                short(tail)
            )),
            None => Err("the closing `'` is missing (values span one line)".into()),
        };
    }
    let word = raw.trim_end();
    if word
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "._-/:@+,%".contains(c))
    {
        Ok(word.to_owned())
    } else {
        Err("the value must be quoted: key=\"value\"".into())
    }
}

fn short(s: &str) -> String {
    s.chars().take(40).collect()
}

fn is_name(k: &str) -> bool {
    let mut c = k.chars();
    c.next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && c.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Parses the text of a mibe `manifest` (`file` names it in errors).
pub fn parse_manifest(file: &Path, text: &str) -> Result<SpecMetadata, SpecError> {
    let mut vars: BTreeMap<String, Assignment> = BTreeMap::new();
    for (i, raw) in text.lines().enumerate() {
        let n = i + 1;
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((key, rest)) = line.split_once('=') else {
            return Err(SpecError::line(
                file,
                n,
                format!(
                    "not a key=\"value\" line: {:?} (the manifest is read, never run)",
                    short(line)
                ),
            ));
        };
        if !is_name(key) {
            return Err(SpecError::line(
                file,
                n,
                format!(
                    "not a key=\"value\" line: {:?} (the manifest is read, never run)",
                    short(line)
                ),
            ));
        }
        let v = value(rest).map_err(|m| SpecError::line(file, n, m).with_key(key))?;
        if let Some(prev) = vars.get(key) {
            return Err(SpecError::line(
                file,
                n,
                format!("set again (first on line {})", prev.line),
            )
            .with_key(key));
        }
        vars.insert(key.to_owned(), Assignment { line: n, value: v });
    }
    metadata(file, vars)
}

fn metadata(
    file: &Path,
    mut vars: BTreeMap<String, Assignment>,
) -> Result<SpecMetadata, SpecError> {
    let mut take = |k: &str| vars.remove(k);
    let at = |a: &Assignment, k: &str, m: String| SpecError::line(file, a.line, m).with_key(k);
    let name = take("name").ok_or_else(|| {
        SpecError::file(file, "missing required key `name` (name=\"NAME-VERSION\")")
            .with_key("name")
    })?;
    let (name_s, version) = match take("version") {
        Some(v) => (name.value.clone(), v.value),
        None => match name.value.rsplit_once('-') {
            Some((n, v)) if !n.is_empty() && !v.is_empty() => (n.to_owned(), v.to_owned()),
            _ => {
                return Err(at(
                    &name,
                    "name",
                    format!(
                        "{:?} is not NAME-VERSION (the version follows the last `-`)",
                        name.value
                    ),
                ));
            }
        },
    };
    if name_s.trim().is_empty() || version.trim().is_empty() {
        return Err(at(
            &name,
            "name",
            "the name and version must not be empty".into(),
        ));
    }
    let base = match take("base") {
        Some(b) => Some(BaseRef::parse(&b.value).ok_or_else(|| {
            at(
                &b,
                "base",
                format!("{:?} is not an image reference", b.value),
            )
        })?),
        None => None,
    };
    let opt = |a: Option<Assignment>| a.map(|a| a.value).filter(|v| !v.is_empty());
    let organization = opt(take("organization"));
    let brand = opt(take("brand"));
    let description = opt(take("description"));
    let homepage = opt(take("homepage"));
    let role = opt(take("role"));
    let lbaas = opt(take("lbaas"));
    let users = take("users")
        .map(|a| a.value.split_whitespace().map(str::to_owned).collect())
        .unwrap_or_default();
    let billing_tags = take("billingtags")
        .map(|a| a.value.split_whitespace().map(str::to_owned).collect())
        .unwrap_or_default();
    let min_ram = match take("minram") {
        Some(a) if a.value.is_empty() => None,
        Some(a) => Some(
            a.value
                .parse::<u64>()
                .ok()
                .filter(|m| *m > 0)
                .ok_or_else(|| at(&a, "minram", format!("{:?} is not a size in MiB", a.value)))?,
        ),
        None => None,
    };
    let owner = match take("owneruuid") {
        Some(a) if a.value.is_empty() => None,
        Some(a) => Some(
            Uuid::parse_str(&a.value)
                .map_err(|_| at(&a, "owneruuid", format!("{:?} is not a UUID", a.value)))?,
        ),
        None => None,
    };
    let mut networks = Vec::new();
    if let Some(nets) = take("networks") {
        for net in nets.value.split_whitespace() {
            let description = take(net).map(|a| a.value).unwrap_or_default();
            networks.push(SpecNetwork {
                name: net.to_owned(),
                description,
            });
        }
    }
    if let Some((k, a)) = vars.iter().min_by_key(|(_, a)| a.line) {
        return Err(SpecError::line(
            file,
            a.line,
            format!(
                "unknown key (known: {}, and one per network listed in `networks`)",
                MANIFEST_KEYS.join(", ")
            ),
        )
        .with_key(k));
    }
    Ok(SpecMetadata {
        name: name_s,
        version,
        base,
        organization,
        brand,
        description,
        homepage,
        users,
        role,
        min_ram,
        networks,
        owner,
        lbaas,
        billing_tags,
        customer_metadata: serde_json::Map::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(t: &str) -> Result<SpecMetadata, SpecError> {
        parse_manifest(Path::new("mi-x/manifest"), t)
    }

    #[test]
    fn mibe_manifest_is_read() {
        let m = parse(
            r#"# a mibe manifest
name="base-multiarch-lts-22.4.1"
base="base-64-lts-22.4.0"

organization="Example Inc."
brand="Example \"Base\" Image"
description="A base image: costs \$0"
homepage="https://example.com/docs"
users="root admin"
role="base"
minram=512
networks="net0 net1"
net0="public"
net1='private net'
billingtags="a b"
"#,
        )
        .unwrap();
        assert_eq!(m.name, "base-multiarch-lts");
        assert_eq!(m.version, "22.4.1");
        assert_eq!(
            m.base,
            Some(BaseRef::NameVersion {
                name: "base-64-lts".into(),
                version: "22.4.0".into()
            })
        );
        assert_eq!(m.brand.as_deref(), Some("Example \"Base\" Image"));
        assert_eq!(m.description.as_deref(), Some("A base image: costs $0"));
        assert_eq!(m.users, ["root", "admin"]);
        assert_eq!(m.min_ram, Some(512));
        assert_eq!(m.networks.len(), 2);
        assert_eq!(m.networks[1].description, "private net");
        assert_eq!(m.billing_tags, ["a", "b"]);
        assert_eq!(m.tags().get("role").and_then(|v| v.as_str()), Some("base"));
    }

    #[test]
    fn older_form_with_version_key() {
        let m = parse("name=\"example\"\nversion=\"1.0.0\"\n").unwrap();
        assert_eq!((m.name.as_str(), m.version.as_str()), ("example", "1.0.0"));
    }

    #[test]
    fn hostile_lines_are_errors_naming_file_and_line() {
        let cases = [
            ("name=\"a-1\"\nbase=\"$(rm -rf /)\"\n", 2, "expand or run"),
            ("name=\"a-1\"\ndescription=\"`id`\"\n", 2, "expand or run"),
            ("name=\"a-1\"; rm -rf /\n", 1, "second command"),
            ("name=\"a-1\"\nrm -rf /\n", 2, "not a key=\"value\" line"),
            ("f() { id; }\nname=\"a-1\"\n", 1, "not a key=\"value\" line"),
            ("name=\"a-1\"\nbrand=$HOME\n", 2, "must be quoted"),
            (
                "name=\"a-1\"\nexport brand=\"x\"\n",
                2,
                "not a key=\"value\" line",
            ),
            ("name=\"a-1\"\nbrand=\"open\n", 2, "closing"),
            (
                "name=\"a-1\"\nbrand=\"x\"\nbrand=\"y\"\n",
                3,
                "first on line 2",
            ),
            ("name=\"a-1\"\nfoo=\"x\"\n", 2, "unknown key"),
            ("name=\"nodash\"\n", 1, "NAME-VERSION"),
            ("name=\"a-1\"\nminram=\"lots\"\n", 2, "MiB"),
            ("name=\"a-1\"\nowneruuid=\"x\"\n", 2, "UUID"),
        ];
        for (text, line, what) in cases {
            let e = parse(text).expect_err(text);
            assert_eq!(e.line, Some(line), "{text}: {e}");
            let s = e.to_string();
            assert!(s.starts_with(&format!("mi-x/manifest:{line}")), "{s}");
            assert!(s.contains(what), "{text}: {s}");
        }
        let e = parse("# nothing\n").unwrap_err();
        assert_eq!(e.key.as_deref(), Some("name"));
    }
}

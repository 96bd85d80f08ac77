//! The `packages` list.

use std::path::Path;

use super::SpecError;

/// Parses a `packages` file: one package per line (several separated by
/// spaces are accepted, as mibe passes the file's words to `pkg_add`),
/// `#` comments, blank lines and surrounding spaces ignored. A name may hold
/// letters, digits and `._+-@:<>=*[]` (pkgsrc patterns such as
/// `nginx>=1.24`), must not start with `-`, and never reaches a shell
/// unquoted.
pub fn parse_packages(file: &Path, text: &str) -> Result<Vec<String>, SpecError> {
    let mut out = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.split('#').next().unwrap_or("").trim();
        for word in line.split_whitespace() {
            let ok = !word.starts_with('-')
                && word
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "._+-@:<>=*[]".contains(c));
            if !ok {
                let shown: String = word.chars().take(40).collect();
                return Err(SpecError::line(
                    file,
                    i + 1,
                    format!("{shown:?} is not a package name"),
                ));
            }
            if !out.iter().any(|p| p == word) {
                out.push(word.to_owned());
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comments_blanks_and_spaces_are_ignored() {
        let p = parse_packages(
            Path::new("packages"),
            "# web\n  nginx  \n\ncurl # the client\ngsed patch\nnginx\n",
        )
        .unwrap();
        assert_eq!(p, ["nginx", "curl", "gsed", "patch"]);
    }

    #[test]
    fn shell_and_options_are_refused_with_the_line() {
        for (t, line) in [
            ("curl\n$(id)\n", 2),
            ("-f\n", 1),
            ("a;b\n", 1),
            ("nginx'\n", 1),
        ] {
            let e = parse_packages(Path::new("mi/packages"), t).unwrap_err();
            assert_eq!(e.line, Some(line), "{t}");
            assert!(
                e.to_string().starts_with(&format!("mi/packages:{line}")),
                "{e}"
            );
        }
    }
}

//! Packer-style command templates: `{{.Name}}` placeholders (spaces inside the
//! braces allowed), nothing else.

use crate::Error;

/// Renders `template`, replacing each `{{.Name}}` with the value `vars` gives
/// for `Name`. An unknown name or an unclosed `{{` is an error naming the
/// template (`what`).
pub(crate) fn render(what: &str, template: &str, vars: &[(&str, &str)]) -> Result<String, Error> {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else {
            return Err(Error::Config(format!(
                "{what}: unclosed `{{{{` in {template:?}"
            )));
        };
        let name = after[..end].trim();
        let value = name
            .strip_prefix('.')
            .and_then(|n| vars.iter().find(|(k, _)| *k == n))
            .map(|(_, v)| *v)
            .ok_or_else(|| {
                let known: Vec<String> =
                    vars.iter().map(|(k, _)| format!("{{{{.{k}}}}}")).collect();
                Error::Config(format!(
                    "{what}: unknown placeholder `{{{{{name}}}}}` (known: {})",
                    known.join(", ")
                ))
            })?;
        out.push_str(value);
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_known_placeholders() {
        let r = render(
            "t",
            "chmod +x {{.Path}}; {{ .Vars }} {{.Path}}",
            &[("Path", "/tmp/s.sh"), ("Vars", "A='1'")],
        )
        .unwrap();
        assert_eq!(r, "chmod +x /tmp/s.sh; A='1' /tmp/s.sh");
    }

    #[test]
    fn unknown_or_unclosed_is_an_error() {
        let e = render("execute_command", "{{.Nope}}", &[("Path", "x")]).unwrap_err();
        assert!(
            e.to_string().contains("{{.Nope}}") && e.to_string().contains("{{.Path}}"),
            "{e}"
        );
        assert!(render("t", "a {{.Path", &[("Path", "x")]).is_err());
    }
}

//! `/etc/motd` from the spec's `motd` template and `/etc/product` as mibe
//! writes them.

use super::{BaseRef, SpecMetadata};

/// Renders a `motd` template: `%brand%`, `%name%`, `%version%` and
/// `%homepage%` become the spec's values (empty when unset); any other text,
/// other `%…%` included, is kept as written. Substituted values are not
/// scanned again.
pub fn render_motd(template: &str, m: &SpecMetadata) -> String {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(at) = rest.find('%') {
        out.push_str(&rest[..at]);
        let tail = &rest[at..];
        let hit = [
            ("%brand%", m.brand.as_deref().unwrap_or("")),
            ("%name%", m.name.as_str()),
            ("%version%", m.version.as_str()),
            ("%homepage%", m.homepage.as_deref().unwrap_or("")),
        ]
        .into_iter()
        .find(|(k, _)| tail.starts_with(k));
        match hit {
            Some((k, v)) => {
                out.push_str(v);
                rest = &tail[k.len()..];
            }
            None => {
                out.push('%');
                rest = &tail[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// One line's value: line breaks would start a new `key: value` line.
fn one_line(s: &str) -> String {
    s.split(['\n', '\r']).collect::<Vec<_>>().join(" ")
}

/// `/etc/product` as mibe writes it:
///
/// ```text
/// Name: <organization> <brand>
/// Image: <name> <version>
/// Base Image: <base name> <base version>
/// Documentation: <homepage>
/// Description: <description>
/// ```
pub fn product_text(m: &SpecMetadata) -> String {
    let join = |a: Option<&str>, b: Option<&str>| {
        [a, b]
            .into_iter()
            .flatten()
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
            .join(" ")
    };
    let base = match &m.base {
        Some(BaseRef::Id(id)) => id.to_string(),
        Some(b) => join(b.name(), b.version()),
        None => String::new(),
    };
    format!(
        "Name: {}\nImage: {} {}\nBase Image: {}\nDocumentation: {}\nDescription: {}\n",
        one_line(&join(m.organization.as_deref(), m.brand.as_deref())),
        one_line(&m.name),
        one_line(&m.version),
        one_line(&base),
        one_line(m.homepage.as_deref().unwrap_or("")),
        one_line(m.description.as_deref().unwrap_or("")),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta() -> SpecMetadata {
        SpecMetadata {
            name: "nginx".into(),
            version: "1.2.3".into(),
            base: BaseRef::parse("base-64-lts@22.4.0"),
            organization: Some("Example".into()),
            brand: Some("%name% Web".into()),
            homepage: Some("https://example.com".into()),
            description: Some("two\nlines".into()),
            ..SpecMetadata::default()
        }
    }

    #[test]
    fn motd_substitutes_once() {
        let s = render_motd("%brand% (%version%) %homepage% 100% %nope% %", &meta());
        assert_eq!(s, "%name% Web (1.2.3) https://example.com 100% %nope% %");
    }

    #[test]
    fn product_is_mibe_s_layout() {
        assert_eq!(
            product_text(&meta()),
            "Name: Example %name% Web\nImage: nginx 1.2.3\nBase Image: base-64-lts 22.4.0\n\
             Documentation: https://example.com\nDescription: two lines\n"
        );
    }
}

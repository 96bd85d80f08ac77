//! Client-side checks of the API's `Name` and `Hostname` rules, so a bad name
//! fails before any request with an error naming the field.
//!
//! The spec's patterns use a look-ahead (`Name`) and a look-behind
//! (`Hostname`), which the `regex` crate lacks, so the rules are written out.

use crate::error::{Error, Result};

/// The longest `Name` the API accepts.
pub const NAME_MAX_LEN: usize = 63;
/// The longest `Hostname` the API accepts.
pub const HOSTNAME_MAX_LEN: usize = 253;

/// Why `value` is not a valid `Name`, or `None` when it is one.
///
/// A `Name` is 1 to 63 characters, starts with a lowercase ASCII letter, holds
/// only ASCII letters, digits and `-`, does not end with `-`, and is not
/// itself a UUID.
pub fn name_problem(value: &str) -> Option<&'static str> {
    if value.is_empty() {
        return Some("must not be empty");
    }
    if value.len() > NAME_MAX_LEN {
        return Some("must be at most 63 characters");
    }
    if !value.starts_with(|c: char| c.is_ascii_lowercase()) {
        return Some("must start with a lowercase ASCII letter");
    }
    if !value.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
        return Some("may contain only ASCII letters, digits and '-'");
    }
    if value.ends_with('-') {
        return Some("must not end with '-'");
    }
    if looks_like_uuid(value) {
        return Some("must not be a UUID");
    }
    None
}

/// Checks `value` against the `Name` rules; the error names `field`.
pub fn validate_name(field: &'static str, value: &str) -> Result<()> {
    match name_problem(value) {
        None => Ok(()),
        Some(reason) => Err(Error::InvalidName {
            field,
            value: value.to_owned(),
            reason,
        }),
    }
}

/// Checks `value` against the `Hostname` rules (RFC 1035 labels: letters,
/// digits and `-`, each label starting with a letter or digit and not ending
/// with `-`, dot-separated, at most 253 characters); the error names `field`.
pub fn validate_hostname(field: &'static str, value: &str) -> Result<()> {
    let problem = if value.is_empty() {
        Some("must not be empty")
    } else if value.len() > HOSTNAME_MAX_LEN {
        Some("must be at most 253 characters")
    } else {
        value.split('.').find_map(label_problem)
    };
    match problem {
        None => Ok(()),
        Some(reason) => Err(Error::InvalidName {
            field,
            value: value.to_owned(),
            reason,
        }),
    }
}

fn label_problem(label: &str) -> Option<&'static str> {
    if label.is_empty() {
        return Some("has an empty label");
    }
    if !label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
        return Some("labels may contain only ASCII letters, digits and '-'");
    }
    if label.starts_with('-') {
        return Some("labels must start with a letter or digit");
    }
    if label.ends_with('-') {
        return Some("labels must not end with '-'");
    }
    None
}

/// Whether `s` has the 8-4-4-4-12 hex shape of a UUID.
pub(crate) fn looks_like_uuid(s: &str) -> bool {
    let groups: Vec<&str> = s.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(g, n)| g.len() == n && g.chars().all(|c| c.is_ascii_hexdigit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_spec_pattern() {
        for ok in ["a", "debian-12", "aB9", "x-y-z", "packer-build-1a2b3c4d"] {
            assert_eq!(name_problem(ok), None, "{ok}");
        }
        let long = "a".repeat(64);
        for (bad, why) in [
            ("", "empty"),
            (long.as_str(), "63"),
            ("Debian", "lowercase"),
            ("1abc", "lowercase"),
            ("-abc", "lowercase"),
            ("abc-", "end"),
            ("a_b", "only"),
            ("a.b", "only"),
            ("d0c5a0d8-2f2f-4b4b-8c8c-0123456789ab", "UUID"),
        ] {
            let p = name_problem(bad).unwrap_or_else(|| panic!("{bad} accepted"));
            assert!(p.contains(why), "{bad}: {p}");
        }
        assert_eq!(name_problem(&"a".repeat(63)), None);
    }

    #[test]
    fn hostnames_follow_rfc1035() {
        for ok in ["a", "host-1", "Web01.example.com", "9lives"] {
            assert!(validate_hostname("hostname", ok).is_ok(), "{ok}");
        }
        for bad in ["", "a..b", "-a", "a-", "a-.b", "a_b", ".a"] {
            let e = validate_hostname("hostname", bad).unwrap_err();
            assert!(e.to_string().contains("hostname"), "{e}");
        }
        assert!(validate_hostname("hostname", &"a".repeat(254)).is_err());
    }
}

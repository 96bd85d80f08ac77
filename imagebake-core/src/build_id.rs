use std::fmt;
use std::str::FromStr;

use rand::Rng;

const PREFIX: &str = "ib-";
const LEN: usize = 10;
const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";

/// The id of one build: `ib-` and ten lowercase letters or digits. Every
/// resource a build creates carries it (as a tag, or in its name) so that a
/// sweep can find leftovers of builds that crashed.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(transparent)]
pub struct BuildId(String);

impl BuildId {
    /// The prefix every build id starts with (what a sweep of all builds matches).
    pub const PREFIX: &'static str = PREFIX;

    /// A new random id.
    pub fn generate() -> Self {
        let mut rng = rand::rng();
        let mut s = String::with_capacity(PREFIX.len() + LEN);
        s.push_str(PREFIX);
        for _ in 0..LEN {
            let i = rng.random_range(0..ALPHABET.len());
            s.push(char::from(ALPHABET[i]));
        }
        Self(s)
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for BuildId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A string that is not a build id.
#[derive(Debug, Clone, thiserror::Error)]
#[error("not a build id (want `ib-` and 10 lowercase letters or digits): {0:?}")]
pub struct InvalidBuildId(pub String);

impl FromStr for BuildId {
    type Err = InvalidBuildId;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let ok = s
            .strip_prefix(PREFIX)
            .is_some_and(|rest| rest.len() == LEN && rest.bytes().all(|b| ALPHABET.contains(&b)));
        if ok {
            Ok(Self(s.to_owned()))
        } else {
            Err(InvalidBuildId(s.to_owned()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_ids_parse_and_differ() {
        let a = BuildId::generate();
        let b = BuildId::generate();
        assert_ne!(a, b);
        assert_eq!(a.as_str().len(), 13);
        assert_eq!(a.as_str().parse::<BuildId>().unwrap(), a);
    }

    #[test]
    fn rejects_other_strings() {
        for s in ["ib-ABCDEFGHIJ", "ib-abc", "xx-abcdefghij", "ib-abcdefghij0"] {
            assert!(s.parse::<BuildId>().is_err(), "{s}");
        }
        assert!("ib-abcde12345".parse::<BuildId>().is_ok());
    }
}

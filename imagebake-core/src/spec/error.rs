use std::fmt;
use std::path::{Path, PathBuf};

/// What is wrong with an image spec folder: the file, the line when there
/// is one, and the key when the problem is one value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpecError {
    /// The file (or folder) at fault.
    pub file: PathBuf,
    /// The 1-based line, for line-oriented files.
    pub line: Option<usize>,
    /// The key whose value is wrong, when there is one.
    pub key: Option<String>,
    /// What is wrong.
    pub message: String,
}

impl SpecError {
    /// An error about `file` as a whole.
    pub fn file(file: &Path, message: impl Into<String>) -> Self {
        Self {
            file: file.to_owned(),
            line: None,
            key: None,
            message: message.into(),
        }
    }

    /// An error at `line` (1-based) of `file`.
    pub fn line(file: &Path, line: usize, message: impl Into<String>) -> Self {
        Self {
            line: Some(line),
            ..Self::file(file, message)
        }
    }

    /// Names the key the error is about.
    pub fn with_key(mut self, key: impl Into<String>) -> Self {
        self.key = Some(key.into());
        self
    }
}

impl fmt::Display for SpecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(l) = self.line {
            write!(f, ":{l}")?;
        }
        if let Some(k) = &self.key {
            write!(f, ": key `{k}`")?;
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for SpecError {}

impl From<SpecError> for crate::Error {
    fn from(e: SpecError) -> Self {
        let message = format!("image spec: {e}");
        match e.key {
            Some(k) => crate::Error::config_at(k, message),
            None => crate::Error::Config(message),
        }
    }
}

/// Reads a spec file as UTF-8 text, refusing files over `limit` bytes.
pub(crate) fn read_text(path: &Path, limit: u64) -> Result<String, SpecError> {
    let meta =
        std::fs::metadata(path).map_err(|e| SpecError::file(path, format!("cannot read: {e}")))?;
    if !meta.is_file() {
        return Err(SpecError::file(path, "is not a regular file"));
    }
    if meta.len() > limit {
        return Err(SpecError::file(
            path,
            format!(
                "is {} bytes, more than the {limit} a spec file may have",
                meta.len()
            ),
        ));
    }
    let bytes =
        std::fs::read(path).map_err(|e| SpecError::file(path, format!("cannot read: {e}")))?;
    String::from_utf8(bytes).map_err(|e| {
        let line = 1 + e.as_bytes()[..e.utf8_error().valid_up_to()]
            .iter()
            .filter(|b| **b == b'\n')
            .count();
        SpecError::line(path, line, "is not valid UTF-8 text")
    })
}

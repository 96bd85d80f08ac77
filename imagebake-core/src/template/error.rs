//! Template errors: each names the file, line and column, the block and the
//! key, and says how to fix it.

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

/// A place in a template file (1-based line and column).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// The file, as it was named (relative to the working directory when the
    /// template path was relative).
    pub file: PathBuf,
    /// 1-based line.
    pub line: usize,
    /// 1-based column, in characters.
    pub column: usize,
}

impl Location {
    /// The location of byte `offset` in `text`, read from `file`.
    pub fn at(file: &Path, text: &str, offset: usize) -> Self {
        let offset = offset.min(text.len());
        let mut offset = offset;
        while !text.is_char_boundary(offset) {
            offset -= 1;
        }
        let before = &text[..offset];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let column = before[line_start..].chars().count() + 1;
        Self {
            file: file.to_path_buf(),
            line,
            column,
        }
    }

    /// The start of a file (for errors about the file as a whole).
    pub fn file(file: &Path) -> Self {
        Self {
            file: file.to_path_buf(),
            line: 1,
            column: 1,
        }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file.display(), self.line, self.column)
    }
}

/// A bad template, variable value or var-file.
///
/// Shown as `FILE:LINE:COL: BLOCK, key `KEY`: MESSAGE (fix: FIX)`. Values of
/// variables are never part of the message (a sensitive value could leak).
/// Its parts are the fields of [`ErrorDetails`], reached through `Deref`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateError(Box<ErrorDetails>);

/// The parts of a [`TemplateError`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorDetails {
    /// Where, when the problem is in a file.
    pub location: Option<Location>,
    /// The block (`source "triton" "web"`, `variable "x"`, `builders[0]`).
    pub block: Option<String>,
    /// The key inside the block.
    pub key: Option<String>,
    /// What is wrong.
    pub message: String,
    /// How to fix it.
    pub fix: Option<String>,
}

impl std::ops::Deref for TemplateError {
    type Target = ErrorDetails;
    fn deref(&self) -> &ErrorDetails {
        &self.0
    }
}

impl std::ops::DerefMut for TemplateError {
    fn deref_mut(&mut self) -> &mut ErrorDetails {
        &mut self.0
    }
}

impl TemplateError {
    /// An error with only a message.
    pub fn new(message: impl Into<String>) -> Self {
        Self(Box::new(ErrorDetails {
            location: None,
            block: None,
            key: None,
            message: message.into(),
            fix: None,
        }))
    }

    /// Sets the location unless one is set already.
    pub fn at(mut self, location: Location) -> Self {
        self.location.get_or_insert(location);
        self
    }

    /// Sets the block unless one is set already.
    pub fn in_block(mut self, block: impl Into<String>) -> Self {
        if self.block.is_none() {
            self.block = Some(block.into());
        }
        self
    }

    /// Sets the key unless one is set already.
    pub fn key(mut self, key: impl Into<String>) -> Self {
        if self.key.is_none() {
            self.key = Some(key.into());
        }
        self
    }

    /// Sets how to fix it.
    pub fn fix(mut self, fix: impl Into<String>) -> Self {
        self.fix = Some(fix.into());
        self
    }
}

impl TemplateError {
    /// A JSON syntax error in `file`, at the line and column serde_json
    /// gives.
    pub(crate) fn json_syntax(file: &Path, e: &serde_json::Error) -> Self {
        Self::new(format!("syntax error: {e}"))
            .at(Location {
                file: file.to_path_buf(),
                line: e.line().max(1),
                column: e.column().max(1),
            })
            .fix("check the JSON syntax (a missing comma, quote or brace?)")
    }
}

impl fmt::Display for TemplateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(l) = &self.location {
            write!(f, "{l}: ")?;
        }
        if let Some(b) = &self.block {
            write!(f, "{b}")?;
            if self.key.is_some() {
                f.write_str(", ")?;
            } else {
                f.write_str(": ")?;
            }
        }
        if let Some(k) = &self.key {
            write!(f, "key `{k}`: ")?;
        }
        f.write_str(&self.message)?;
        if let Some(fix) = &self.fix {
            write!(f, " (fix: {fix})")?;
        }
        Ok(())
    }
}

impl std::error::Error for TemplateError {}

impl From<TemplateError> for crate::Error {
    fn from(e: TemplateError) -> Self {
        crate::Error::Config(e.to_string())
    }
}

/// The text of one template file, to turn byte spans into [`Location`]s.
#[derive(Debug, Clone)]
pub(crate) struct Source {
    pub path: PathBuf,
    /// The file's text.
    pub text: String,
    /// For HCL's JSON syntax: spans are in the generated HCL text, mapped
    /// back to `text` through this.
    pub map: Option<super::hcljson::OffsetMap>,
}

impl Source {
    /// The location of the start of `span` (the file's start without one).
    pub fn loc(&self, span: Option<Range<usize>>) -> Location {
        match span {
            Some(s) => {
                let at = self
                    .map
                    .as_ref()
                    .map_or(s.start, |m| m.json_offset(s.start));
                Location::at(&self.path, &self.text, at)
            }
            None => Location::file(&self.path),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_count_lines_and_characters() {
        let text = "a\nbé = 1\n";
        let l = Location::at(Path::new("t.pkr.hcl"), text, text.find('=').unwrap());
        assert_eq!(l.to_string(), "t.pkr.hcl:2:4");
        let e = TemplateError::new("is not a number")
            .at(l)
            .in_block("source \"triton\" \"web\"")
            .key("x")
            .fix("write a number");
        assert_eq!(
            e.to_string(),
            "t.pkr.hcl:2:4: source \"triton\" \"web\", key `x`: is not a number (fix: write a number)"
        );
    }
}
